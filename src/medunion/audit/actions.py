"""Writing the audit trail. Every read and write of patient data calls :func:`record`
inside the transaction of the work it records (DESIGN §4.1, §4.4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from medunion.core import clock
from medunion.core.middleware import current_request_id
from medunion.core.statements import Insert, Statement, run

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
    """Serialise appends to the chain until the transaction ends (the province's bulk load)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
    # SQLite: transactions begin IMMEDIATE (settings), so writers are already serialised.


# PostgreSQL appends in one statement (migration 0004). Each canonical body is the row: the
# function takes the chain's lock, reads the last hash (a statement of its own, so it sees what
# the lock's previous holder committed), and inserts each row with the SHA-256 of the previous
# hash and the body, the hash ``AuditEvent.compute_hash`` gives and ``medunion audit verify``
# checks. A read of patient data outside a transaction then costs one round trip for its audit
# row instead of five (BEGIN, the lock, the last hash, the INSERT, COMMIT); each round trip is
# ≈60 µs of the web server's CPU in psycopg and Django (benchmarks/README.md, FHIR throughput).
PG_APPEND_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_append(bodies text[])
RETURNS TABLE (new_seq bigint, new_prev_hash varchar, new_hash varchar)
LANGUAGE plpgsql AS $$
DECLARE
    prev varchar;
    body text;
    e jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock({_CHAIN_LOCK});
    SELECT a.hash INTO prev FROM audit_auditevent a ORDER BY a.seq DESC LIMIT 1;
    prev := coalesce(prev, '{GENESIS}');
    FOREACH body IN ARRAY bodies LOOP
        e := body::jsonb;
        new_prev_hash := prev;
        new_hash := encode(sha256(convert_to(prev || E'\\n' || body, 'UTF8')), 'hex');
        INSERT INTO audit_auditevent AS a (uid, at, actor_id, actor_display, actor_role, on_behalf_of,
                action, verb, object_type, object_id, patient_id, purpose, surface, request_id,
                outcome, detail, prev_hash, hash)
            VALUES ((e->>'uid')::uuid, (e->>'at')::timestamptz, nullif(e->>'actor_id', '')::uuid,
                    e->>'actor_display', e->>'actor_role', e->>'on_behalf_of', e->>'action', e->>'verb',
                    e->>'object_type', e->>'object_id', nullif(e->>'patient_id', '')::uuid,
                    e->>'purpose', e->>'surface', e->>'request_id', e->>'outcome', e->'detail',
                    new_prev_hash, new_hash)
            RETURNING a.seq INTO new_seq;
        RETURN NEXT;
        prev := new_hash;
    END LOOP;
END $$
"""  # noqa: S608 (the module's two constants, no input)
PG_DROP_APPEND_FUNCTION = "DROP FUNCTION IF EXISTS audit_append(text[])"


def _pg_append(n: int) -> str:
    # The bodies as n text parameters, not one list: psycopg quotes a string in C, but escapes
    # a list's elements for an array literal with a Python callback per quote (≈0.1 ms a row).
    placeholders = ", ".join(["%s"] * n)
    return f"SELECT new_seq, new_prev_hash, new_hash FROM audit_append(ARRAY[{placeholders}]::text[])"  # noqa: S608


# Compiled once per connection (core.statements): on a read that writes one audit row, Django's
# compiler cost 8 times the query.
_LAST_HASH = Statement(lambda: AuditEvent.objects.order_by("-seq").values_list("hash", flat=True)[:1])


def _last_hash() -> str:
    """The newest row's hash."""
    return _LAST_HASH.first() or GENESIS


_INSERT = Insert(AuditEvent)  # every read of patient data writes one row (core.statements)


def record_many(actor: Actor, entries: Iterable[Entry]) -> list[AuditEvent]:
    """Append entries for one actor, in order, to the chain: in the transaction the caller is in,
    or, outside one, atomically on their own."""
    now = clock.now()
    rid = current_request_id()
    rows = [AuditEvent(
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
    ) for e in entries]
    if not rows:
        return []
    if connection.vendor == "postgresql":
        _append_in_postgresql(rows)
        return rows
    with transaction.atomic():  # SQLite: BEGIN IMMEDIATE holds the writers' lock
        prev = _last_hash()
        for row in rows:
            row.prev_hash = prev
            row.hash = row.compute_hash()
            prev = row.hash
        _INSERT(rows)
    return rows


def _append_in_postgresql(rows: list[AuditEvent]) -> None:
    # Inside a transaction no savepoint (two more round trips): a failed append fails the
    # caller's transaction. Outside one the statement is a transaction of its own.
    block = transaction.atomic(savepoint=False) if connection.in_atomic_block else nullcontext()
    with block:
        appended = run(_pg_append(len(rows)), [row.body() for row in rows])
    for row, (seq, prev_hash, digest) in zip(rows, appended, strict=True):
        row.seq, row.prev_hash, row.hash = seq, prev_hash, digest
        row._state.adding = False
        row._state.db = connection.alias


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
