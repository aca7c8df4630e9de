"""Writing the audit trail. Every read and write of patient data calls :func:`record`
inside the transaction of the work it records (DESIGN §4.1, §4.4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from medunion.core import clock
from medunion.core.middleware import current_request_id
from medunion.core.statements import Insert, Statement

from .models import GENESIS, AuditEvent, Outcome, Verb

if TYPE_CHECKING:
    from medunion.access.actor import Actor

# An arbitrary constant: the PostgreSQL advisory lock that serialises appends to the chain.
_CHAIN_LOCK = 0x4D55_4144  # "MUAD"


@dataclass
class Entry:
    action: str
    verb: str
    object_type: str = ""
    object_id: str = ""
    patient_id: uuid.UUID | None = None
    purpose: str = ""
    outcome: str = Outcome.SUCCESS
    detail: dict[str, Any] = field(default_factory=dict)


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
    # SQLite: transactions begin IMMEDIATE (settings), so writers are already serialised.


# Compiled once per connection (core.statements): on a read that writes one audit row, Django's
# compiler cost 8 times the query.
_LAST_HASH = Statement(lambda: AuditEvent.objects.order_by("-seq").values_list("hash", flat=True)[:1])


def _last_hash() -> str:
    """The newest row's hash."""
    return _LAST_HASH.first() or GENESIS


_INSERT = Insert(AuditEvent)  # every read of patient data writes one row (core.statements)


def record_many(actor: Actor, entries: Iterable[Entry]) -> list[AuditEvent]:
    """Append entries for one actor, in order, to the chain. Runs in (or opens) a transaction."""
    entries = list(entries)
    if not entries:
        return []
    with transaction.atomic():
        _lock_chain()
        prev = _last_hash()
        rows = []
        now = clock.now()
        rid = current_request_id()
        for e in entries:
            row = AuditEvent(
                at=now,
                actor_id=actor.user_id,
                actor_display=actor.display[:200],
                actor_role=actor.role,
                on_behalf_of=actor.on_behalf_of[:200],
                action=e.action,
                verb=e.verb,
                object_type=e.object_type,
                object_id=str(e.object_id) if e.object_id else "",
                patient_id=e.patient_id,
                purpose=e.purpose or actor.purpose,
                surface=actor.surface,
                request_id=rid,
                outcome=e.outcome,
                detail=e.detail,
                prev_hash=prev,
            )
            row.hash = row.compute_hash()
            prev = row.hash
            rows.append(row)
        _INSERT(rows)
        return rows


def record(actor: Actor, action: str, verb: str = Verb.READ, *, obj: Any = None, object_type: str = "",
           object_id: Any = "", patient_id: uuid.UUID | None = None, purpose: str = "",
           outcome: str = Outcome.SUCCESS, detail: dict[str, Any] | None = None) -> AuditEvent:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        if patient_id is None:
            patient_id = getattr(obj, "patient_id", None)
    return record_many(actor, [Entry(action=action, verb=verb, object_type=object_type,
                                     object_id=str(object_id) if object_id else "", patient_id=patient_id,
                                     purpose=purpose, outcome=outcome, detail=detail or {})])[0]
