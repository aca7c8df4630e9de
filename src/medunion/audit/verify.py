"""Verifying the chain: recompute every hash in order and report the first broken link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .models import GENESIS, AuditEvent


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


def verify_chain(progress: Callable[[int], None] | None = None, batch: int = 5000) -> VerifyResult:
    prev = GENESIS
    checked = 0
    last_seq = 0
    while True:
        rows = list(AuditEvent.objects.filter(seq__gt=last_seq).order_by("seq")[:batch])
        if not rows:
            break
        for row in rows:
            if row.prev_hash != prev:
                return VerifyResult(False, checked, row.seq, "the link to the previous row is broken "
                                                             "(a row was removed or inserted before this one)")
            if row.compute_hash() != row.hash:
                return VerifyResult(False, checked, row.seq, "the row's content does not match its hash "
                                                             "(the row was changed)")
            prev = row.hash
            checked += 1
            last_seq = row.seq
        if progress:
            progress(checked)
    return VerifyResult(True, checked)
