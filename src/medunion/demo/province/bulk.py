"""The bulk paths of the generator: deterministic ids, rows written in large batches (PostgreSQL
``COPY``, SQLite ``executemany`` inside the stage's transaction), and audit rows appended to the
hash chain in order.

Rows are plain dicts of attribute names (``patient_id``, not ``patient``) holding Python values;
:class:`Sink` fills in each model's defaults, converts what the database needs converted (UUIDs,
datetimes, JSON on SQLite; JSON on PostgreSQL) and writes a table's rows whenever its batch is
full. Nothing here goes through the ORM's per-row machinery or the actions: the generator is the
one place that writes records without them, and it writes the audit rows the actions would have.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.db import connection, models
from tqdm import tqdm

from medunion.audit.models import GENESIS, AuditEvent
from medunion.core.crypto import keyring

BATCH = 20_000

# Kinds of generated ids (each kind numbers its rows from 0; the pair is unique).
KINDS = {name: n for n, name in enumerate((
    "org", "department", "consortium", "membership", "route", "practitioner", "specialty", "site", "training",
    "exam_result", "licence", "team", "team_member", "user", "patient", "care", "consult", "message", "participant",
    "answer", "rating", "referral", "entry", "task", "examination", "study", "series", "instance", "report",
    "critical", "audit", "coordinator"), start=1)}

_BITS74 = (1 << 74) - 1
_ODD = 0x9E3779B97F4A7C15F3  # odd: multiplying by it is a bijection modulo 2**74


class Ids:
    """UUIDs shaped like uuid7 (the time of the record, then 74 scrambled bits), computed from a
    kind, a row number and the seed: the same seed gives the same ids for the same times, rows
    sort by time in the index as uuid7 rows do, and no two rows share an id."""

    def __init__(self, seed: int):
        self.salt = (seed * 0x5851F42D4C957F2D + 0x14057B7EF767814F) & _BITS74

    def make(self, kind: str, n: int, at: dt.datetime) -> uuid.UUID:
        rand = (((KINDS[kind] << 48) | n) * _ODD ^ self.salt) & _BITS74
        ms = int(at.timestamp() * 1000) & ((1 << 48) - 1)
        return uuid.UUID(int=(ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1)))


@functools.cache
def _context(model: type[models.Model], field: str) -> str:
    return model._meta.get_field(field)._context()  # type: ignore[union-attr]


def encrypt(model: type[models.Model], field: str, value: str) -> str:
    """A sensitive column's stored form, as the model's EncryptedTextField writes it (the same
    key ring and column context)."""
    return keyring().encrypt(value, _context(model, field))


class _Table:
    """A model's columns, defaults and conversions, compiled into one function from a row dict
    to the tuple the database takes (a generated function: this runs millions of times)."""

    def __init__(self, model: type[models.Model], vendor: str):
        # An integer primary key is the database's to number (the audit chain's ``seq`` aside,
        # which the chain gives explicitly).
        fields = [f for f in model._meta.concrete_fields
                  if not (isinstance(f, models.AutoField) and model is not AuditEvent)]
        self.model = model
        self.name = model._meta.db_table
        self.attnames = [f.attname for f in fields]
        self.columns = [f.column for f in fields]
        env: dict[str, Any] = {"_REQUIRED": _REQUIRED}
        parts = []
        for i, f in enumerate(fields):
            default = _default(f)
            conv = _converter(f, vendor)
            if default is _REQUIRED:
                value = f"r[{f.attname!r}]"
            elif default is None or isinstance(default, bool):
                value = f"r.get({f.attname!r}, {default!r})"
            elif isinstance(default, str):
                value = f"r.get({f.attname!r}, {str(default)!r})"
            elif isinstance(default, int):
                value = f"r.get({f.attname!r}, {int(default)!r})"
            else:
                env[f"d{i}"] = default
                value = f"r.get({f.attname!r}, d{i})"
            if conv is not None:
                env[f"c{i}"] = conv
                value = f"(None if (v{i} := {value}) is None else c{i}(v{i}))"
            parts.append(value)
        source = f"def tuple_of(r):\n    return ({', '.join(parts)},)\n"
        exec(source, env)  # noqa: S102 - code built from the model's own field names
        self.tuple_of: Any = env["tuple_of"]
        quote = connection.ops.quote_name
        cols = ", ".join(quote(str(c)) for c in self.columns)
        if vendor == "postgresql":
            self.sql = f"COPY {quote(self.name)} ({cols}) FROM STDIN"
        else:
            self.sql = f"INSERT INTO {quote(self.name)} ({cols}) VALUES ({', '.join('?' * len(self.columns))})"  # noqa: S608 - names from the models


_REQUIRED = object()


def _default(f: models.Field[Any, Any]) -> Any:
    if f.primary_key or f.has_default() and callable(f.default) and not isinstance(f, models.JSONField):
        return _REQUIRED  # ids and times (uuid7, clock.now) are always given by the rows
    if f.has_default():
        return f.get_default()
    if f.null:
        return None
    if isinstance(f, (models.CharField, models.TextField)):
        return ""
    return _REQUIRED


def _utc_text(v: dt.datetime) -> str:
    if v.tzinfo is not dt.UTC:
        v = v.astimezone(dt.UTC)
    return v.isoformat(" ")[:-6]  # without "+00:00", as Django stores it


def _json(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _converter(f: models.Field[Any, Any], vendor: str) -> Any:
    if isinstance(f, models.JSONField):
        return _json
    if vendor == "postgresql":
        return None
    if isinstance(f, models.UUIDField) or isinstance(f, models.ForeignKey) and \
            isinstance(f.target_field, models.UUIDField):
        return lambda v: v.hex
    if isinstance(f, models.DateTimeField):
        return _utc_text
    if isinstance(f, models.DateField):
        return lambda v: v.isoformat()
    if isinstance(f, models.DecimalField):
        return str
    return None


class Sink:
    """Buffers rows per table and writes a table's batch when it is full (and everything at
    :meth:`flush`). Counts what it wrote; advances the stage's progress bar."""

    def __init__(self, progress: bool):
        self.vendor = connection.vendor
        self.tables: dict[type[models.Model], _Table] = {}
        self.buffers: dict[type[models.Model], list[tuple[Any, ...]]] = {}
        self.counts: dict[str, int] = {}
        self.progress = progress
        self.bar: tqdm[Any] | None = None
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medunion-generate")
        self.pending: list[Future[None]] = []

    # --- stages ---------------------------------------------------------------------------

    def stage(self, label: str, expected: int) -> None:
        self.close_bar()
        self.bar = tqdm(total=expected, desc=label, unit="rows", unit_scale=True, file=sys.stderr,
                        disable=not self.progress, dynamic_ncols=True, mininterval=0.5)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    # --- rows -----------------------------------------------------------------------------

    def add(self, model: type[models.Model], row: dict[str, Any]) -> None:
        table = self.tables.get(model)
        if table is None:
            table = self.tables[model] = _Table(model, self.vendor)
            self.buffers[model] = []
        buf = self.buffers[model]
        buf.append(table.tuple_of(row))
        if len(buf) >= BATCH:
            self._write(model)

    def add_many(self, model: type[models.Model], rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(model, row)

    def flush(self) -> None:
        """Write every buffered row and wait until the writer thread is done (before a commit)."""
        for model in list(self.buffers):
            if self.buffers[model]:
                self._write(model)
        self.wait()

    def _write(self, model: type[models.Model]) -> None:
        """Hand the batch to the writer thread: the database works (SQLite's C code and
        PostgreSQL's COPY release the GIL) while the next rows are generated."""
        table, rows = self.tables[model], self.buffers[model]
        self.buffers[model] = []
        connection.ensure_connection()
        while len(self.pending) >= 3:  # bounded: a few batches in flight
            self.pending.pop(0).result()
        self.pending.append(self.writer.submit(self._write_rows, connection.connection, table, rows))
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        if self.bar is not None:
            self.bar.update(len(rows))

    def wait(self) -> None:
        while self.pending:
            self.pending.pop(0).result()

    def _write_rows(self, raw: Any, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        cursor = raw.cursor()
        try:
            if self.vendor == "postgresql":
                with cursor.copy(table.sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(table.sql, rows)
        finally:
            cursor.close()


class ActorRow:
    """Who an audit row names: an account as ``actor_for`` describes it, or the system."""

    __slots__ = ("user_id", "display", "role", "surface", "purpose")

    def __init__(self, user_id: uuid.UUID | None, display: str, role: str, surface: str = "page",
                 purpose: str = "treatment"):
        self.user_id, self.display, self.role, self.surface, self.purpose = user_id, display[:200], role, surface, \
            purpose


SYSTEM = ActorRow(None, "system:demo", "system", "cli", "operations")


class AuditChain:
    """Appends audit rows after the last row of the chain, computing each row's ``prev_hash`` and
    ``hash`` with :meth:`AuditEvent.compute_hash` in order, exactly as ``audit.actions`` does."""

    def __init__(self, sink: Sink, ids: Ids):
        last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        self.seq, self.prev = last if last else (0, GENESIS)
        self.first_seq = self.seq + 1
        self.sink, self.ids = sink, ids
        self.event = AuditEvent()  # one instance, re-filled for every row: only its hash is used
        self.written = 0

    def lock(self) -> None:
        """Hold the chain's advisory lock for the stage's transaction (PostgreSQL), as appends do."""
        from medunion.audit import actions

        actions._lock_chain()

    def add(self, at: dt.datetime, actor: ActorRow, action: str, verb: str, *, object_type: str = "",
            object_id: Any = "", patient_id: uuid.UUID | None = None, detail: dict[str, Any] | None = None) -> None:
        self.seq += 1
        e = self.event
        e.uid = self.ids.make("audit", self.seq, at)
        e.at = at
        e.actor_id = actor.user_id
        e.actor_display = actor.display
        e.actor_role = actor.role
        e.on_behalf_of = ""
        e.action = action
        e.verb = verb
        e.object_type = object_type
        e.object_id = str(object_id) if object_id else ""
        e.patient_id = patient_id
        e.purpose = actor.purpose
        e.surface = actor.surface
        e.request_id = ""
        e.outcome = "success"
        e.detail = detail or {}
        e.prev_hash = self.prev
        digest = e.compute_hash()
        self.sink.add(AuditEvent, {
            "seq": self.seq, "uid": e.uid, "at": at, "actor_id": e.actor_id, "actor_display": e.actor_display,
            "actor_role": e.actor_role, "action": action, "verb": verb, "object_type": object_type,
            "object_id": e.object_id, "patient_id": patient_id, "purpose": e.purpose, "surface": e.surface,
            "outcome": "success", "detail": e.detail, "prev_hash": self.prev, "hash": digest})
        self.prev = digest
        self.written += 1


def finish_sequences() -> None:
    """PostgreSQL: move the audit chain's sequence past the rows written with explicit numbers
    (SQLite's AUTOINCREMENT follows by itself)."""
    if connection.vendor != "postgresql":
        return
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), "  # noqa: S608 - the model's table
                       f"(SELECT COALESCE(MAX(seq), 1) FROM {table}))")


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
