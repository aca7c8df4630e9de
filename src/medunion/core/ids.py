"""Public identifiers are UUIDs (DESIGN §4.9).

UUIDv7 (RFC 9562): time-ordered, so B-tree indexes stay compact on PostgreSQL, yet not
guessable (74 random bits) and mergeable across offline devices.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
