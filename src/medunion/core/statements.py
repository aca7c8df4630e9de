"""Querysets compiled once per database connection, then run again with new values.

Django compiles a queryset into SQL every time it is evaluated. For the small fixed-shape queries
of a hot path (a FHIR read: the bearer token with the actor's places and teams, the patient with
the reader's relationship to it, the regions of the address) compiling cost five to ten times
running the query (benchmarks/README.md, "FHIR throughput"). A :class:`Statement` is written as a
function from values to a queryset, as anywhere else, so the policy and the models stay the one
source of the SQL. The first time a connection runs it with values of a given shape, the function
is called with stand-ins (a fresh random UUID, string, number or time for each value), twice, with
stand-ins unlike each other; both querysets are compiled, their SQL must be the same, and each
value's place is the parameter where both compiles put their own stand-in (a constant that happens
to equal one stays a constant). Later calls put the real values in those places and run the SQL as
compiled. A number's stand-in lies within every integer field's range (Django decides that a lookup
out of the field's range matches nothing before it writes any SQL). Rows come back as the queryset
gives them: the same converters (decryption, UUIDs, times), the same models and ``select_related``
objects.

Compiled SQL runs on the database's own cursor, with its placeholders already in the database's
form (SQLite's ``?``), and errors raised as Django raises them: passing over Django's cursor
wrapper and SQLite's rewriting of ``%s`` on every run took a sixth of a FHIR read
(benchmarks/README.md). When queries are logged (``DEBUG``, a test counting them) or an execute
wrapper is installed, the statement runs through Django's cursor instead, and is seen and counted
like any other.

The shape is the key: the type of each value, the length of each list, and the value itself of
``None``, ``True`` and ``False`` (they may change the SQL: ``IS NULL``, an empty ``IN`` dropped
from an OR). So the function must build its queryset from the shapes of its values alone, never
from what they hold — a condition on a value's content must be a separate statement (when the two
compiles disagree, the statement is refused).

Strict by construction: a value the compiled SQL does not carry unchanged (a ``contains`` lookup
wraps it in ``%``; a function may drop it) fails the compile with :class:`StatementError`; values
of a type not listed, mixed lists, and lists longer than :data:`MAX_LIST` are run through the ORM
uncompiled. The cache lives on the connection object (one per thread), so compiled SQL and its
converters are never shared between threads, and it holds a few entries per statement.

A queryset made with :func:`medunion.core.planner.joins_as_written` keeps it: on PostgreSQL its
compiled SQL runs between the same ``SET`` and ``RESET``.

:class:`Insert` does the same for appending rows of one model (the audit row every read writes).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX
from django.db.models import AutoField, QuerySet
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesListIterable,
    get_related_populators,
)
from django.db.models.sql import InsertQuery

from medunion.core.planner import JoinsAsWritten, keeping_joins_as_written

MAX_LIST = 32
"""A longer list is run uncompiled: each length is a compiled entry of its own."""

_CACHE_ATTR = "medunion_statements"


class StatementError(TypeError):
    """The queryset cannot be compiled once and reused (a value is transformed or dropped)."""


_SCALARS = (uuid.UUID, str, int, dt.datetime, dt.date)


def _draw(kind: type) -> Any:
    rnd = random.SystemRandom()
    if kind is uuid.UUID:
        return uuid.uuid4()
    if kind is str:
        return f"\x1fstand-in:{uuid.uuid4().hex}\x1f"
    if kind is int:
        # Within every integer field's range on every database (PostgreSQL's smallint ends at
        # 32,767): Django turns a lookup with a value out of the field's range into "matches
        # nothing" (or "matches everything") before any SQL is written.
        return rnd.randrange(1 << 14, 1 << 15)
    if kind is dt.datetime:
        return dt.datetime(1901, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=rnd.getrandbits(50))
    if kind is dt.date:
        return dt.date(1001, 1, 1) + dt.timedelta(days=rnd.randrange(300_000))
    raise AssertionError(kind)


def _stand_in(kind: type, used: set[Any]) -> Any:
    """A stand-in of this kind unlike every other of the compile (``used``)."""
    while True:
        value = _draw(kind)
        if value not in used:
            used.add(value)
            return value


def _kind(value: Any) -> type | None:
    for kind in _SCALARS:  # datetime before date: a datetime is a date
        if type(value) is kind or (kind is str and isinstance(value, str)):
            return kind
    return None


def _shape(args: Sequence[Any]) -> tuple[Any, ...] | None:
    """The compiled entry's key, or None when the values cannot be compiled."""
    shape: list[Any] = []
    for value in args:
        if value is None or value is True or value is False:
            shape.append(value)
        elif isinstance(value, (list, tuple, set, frozenset)):
            kinds = {_kind(v) for v in value}
            if len(value) > MAX_LIST or None in kinds or len(kinds) > 1:
                return None
            shape.append(("list", len(value), next(iter(kinds)) if kinds else None))
        else:
            kind = _kind(value)
            if kind is None:
                return None
            shape.append(kind)
    return tuple(shape)


def _stand_ins(part: Any, used: set[Any]) -> Any:
    """Values of one part of a shape: itself for None and booleans, a list, or one value."""
    if part is None or part is True or part is False:
        return part
    if isinstance(part, tuple):  # ("list", length, kind)
        _list, length, kind = part
        return [_stand_in(kind, used) for _ in range(length)]
    return _stand_in(part, used)


def _forms(connection: Any, value: Any) -> list[Any]:
    """What a value may become in the compiled parameters, as functions of the value."""
    ops = connection.ops
    if isinstance(value, uuid.UUID):
        return [lambda v: v, lambda v: v.hex]  # native UUID, or the hex of SQLite's char(32)
    if isinstance(value, dt.datetime):
        return [lambda v: v, ops.adapt_datetimefield_value]
    if isinstance(value, dt.date):
        return [lambda v: v, ops.adapt_datefield_value]
    if isinstance(value, int):
        # PostgreSQL's backend (psycopg 3) passes an integer field's value as its sized type.
        sized = {t.__name__: t for t in getattr(ops, "integerfield_type_map", {}).values()}
        return [lambda v: v, *(lambda v, t=t: t(v) for _name, t in sorted(sized.items()))]
    return [lambda v: v]


def _match(connection: Any, param: Any, wanted: dict[tuple[int, int | None], Any]) -> Any:
    """Which stand-in this compiled parameter is, and in which form, or None (a constant)."""
    for place, stand_in in wanted.items():
        for form in _forms(connection, stand_in):
            value = form(stand_in)
            if type(param) is type(value) and param == value:
                return place, form
    return None


def _native(connection: Any, sql: str) -> str:
    """The SQL as the database's own cursor takes it: SQLite's ``?`` for Django's ``%s`` (the
    rewriting Django's SQLite cursor does on every run); other databases take ``%s`` themselves."""
    if connection.vendor == "sqlite":
        return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")
    return sql


def _fetch(connection: Any, sql: str, native: str, params: Sequence[Any]) -> list[Any]:
    """Run compiled SQL and return its rows: ``native`` on the database's own cursor, or ``sql``
    through Django's cursor when queries are logged or an execute wrapper is installed. Either way
    as Django runs a query: the connection opened or health-checked first, a transaction that
    must be rolled back refused, the driver's errors raised as Django's (``django.db.utils``)."""
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        if connection.vendor == "sqlite":
            return connection.connection.execute(native, params).fetchall()
        cursor = connection.create_cursor()
        try:
            cursor.execute(native, params)
            return cursor.fetchall()
        finally:
            cursor.close()


def run(sql: str, params: Sequence[Any], *, using: str = DEFAULT_DB_ALIAS) -> list[Any]:
    """SQL written by hand (``%s`` placeholders), run as a compiled statement runs: on the
    database's own cursor unless queries are logged, its errors Django's. Its rows."""
    connection = connections[using]
    return _fetch(connection, sql, _native(connection, sql), params)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    native: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, int, int | None, Callable[[Any], Any]], ...]  # place, arg, item, form
    rows: Callable[[list[Any]], list[Any]] | None  # None: the compiled SQL can match nothing
    as_written: bool = False  # made with core.planner.joins_as_written


class Statement:
    """``Statement(lambda a, b: Model.objects.filter(...))``; ``.all(a, b)``, ``.first``,
    ``.exists``. See the module's docstring for what the function may do."""

    def __init__(self, build: Callable[..., QuerySet[Any]], *, name: str = "") -> None:
        self.build = build
        self.name = name or getattr(build, "__qualname__", "statement")

    def __repr__(self) -> str:
        return f"<Statement {self.name}>"

    # --- running ------------------------------------------------------------------------------

    def all(self, *args: Any, using: str = DEFAULT_DB_ALIAS) -> list[Any]:
        compiled = self._compiled("all", args, using)
        if compiled is None:
            return list(self.build(*args).using(using))
        return self._run(compiled, args, using)

    def first(self, *args: Any, using: str = DEFAULT_DB_ALIAS) -> Any:
        """The first row as the queryset orders them (no ORDER BY is added: for unique keys)."""
        rows = self.all(*args, using=using)
        return rows[0] if rows else None

    def exists(self, *args: Any, using: str = DEFAULT_DB_ALIAS) -> bool:
        compiled = self._compiled("exists", args, using)
        if compiled is None:
            return self.build(*args).using(using).exists()
        return bool(self._run(compiled, args, using))

    def _run(self, compiled: _Compiled, args: Sequence[Any], using: str) -> list[Any]:
        if compiled.rows is None:
            return []
        params = list(compiled.params)
        values = [list(a) if isinstance(a, (list, tuple, set, frozenset)) else a for a in args]
        for place, arg, item, form in compiled.slots:
            params[place] = form(values[arg] if item is None else values[arg][item])
        connection = connections[using]
        if compiled.as_written:
            with keeping_joins_as_written(connection):
                return compiled.rows(_fetch(connection, compiled.sql, compiled.native, params))
        return compiled.rows(_fetch(connection, compiled.sql, compiled.native, params))

    # --- compiling ------------------------------------------------------------------------------

    def _compiled(self, kind: str, args: Sequence[Any], using: str) -> _Compiled | None:
        shape = _shape(args)
        if shape is None:
            return None
        connection = connections[using]
        cache = connection.__dict__.setdefault(_CACHE_ATTR, {})
        key = (self, kind, shape)
        compiled = cache.get(key)
        if compiled is None:
            compiled = cache[key] = self.compile(kind, args, using)
        return compiled

    def compile(self, kind: str, args: Sequence[Any], using: str = DEFAULT_DB_ALIAS) -> _Compiled:
        """Compile with stand-ins shaped like ``args`` (public for tests)."""
        connection = connections[using]
        shape = _shape(args)
        if shape is None:
            raise StatementError(f"{self.name}: these values are not compiled (see the module)")
        # Compiled twice, with stand-ins unlike each other: the SQL must be the same, and a
        # parameter is a value's place only where both compiles put their own stand-in there. So
        # a constant that happens to equal a stand-in stays a constant, and a queryset that
        # depends on what its values hold (not only their shape) is refused, not cached.
        used: set[Any] = set()
        first, second = (self._sql(kind, shape, using, used) for _ in range(2))
        if (first is None) != (second is None) or (first is not None and second is not None
                                                   and first[2] != second[2]):
            raise StatementError(f"{self.name}: the SQL depends on what the values hold, not only on "
                                 "their shape")
        if first is None or second is None:  # the shape matches nothing (an empty list, say)
            return _Compiled("", "", (), (), None)
        qs, compiler, sql, params, stand_ins = first
        other_params, other_stand_ins = second[3], second[4]
        wanted, other = (
            {(i, j): v for i, s in enumerate(values) for j, v in
             ([(None, s)] if not isinstance(s, list) else enumerate(s)) if s not in (None, True, False)}
            for values in (stand_ins, other_stand_ins))
        slots, found = [], set()
        for place, (param, other_param) in enumerate(zip(params, other_params, strict=True)):
            match = _match(connection, param, wanted)
            if match is not None:
                (arg, item), form = match
                if _match(connection, other_param, {(arg, item): other[(arg, item)]}) is not None:
                    slots.append((place, arg, item, form))
                    found.add((arg, item))
                    continue
            if param != other_param:
                raise StatementError(f"{self.name}: a value is transformed in the SQL ({param!r})")
            if isinstance(param, str) and any(isinstance(v, str) and v in param for v in wanted.values()):
                raise StatementError(f"{self.name}: a value is transformed in the SQL ({param!r})")
        missing = set(wanted) - found
        if missing:
            raise StatementError(f"{self.name}: values {sorted(a for a, _ in missing)} are not parameters of "
                                 "the compiled SQL")
        return _Compiled(sql, _native(connection, sql), tuple(params), tuple(slots),
                         self._reader(kind, qs, compiler, using),
                         as_written=kind != "exists" and issubclass(qs._iterable_class, JoinsAsWritten))

    def _sql(self, kind: str, shape: tuple[Any, ...], using: str,
             used: set[Any]) -> tuple[QuerySet[Any], Any, str, tuple[Any, ...], list[Any]] | None:
        """The queryset, its compiler, SQL and parameters with new stand-ins for ``shape``, and the
        stand-ins; None when Django finds it can match nothing."""
        stand_ins = [_stand_ins(part, used) for part in shape]
        qs = self.build(*stand_ins).using(using)
        if getattr(qs, "_known_related_objects", None) or qs.query.combinator:  # checked, not used
            raise StatementError(f"{self.name}: related-object caches and combined queries are not compiled")
        query = qs.query.exists(limit=True) if kind == "exists" else qs.query
        compiler = query.get_compiler(using=using)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return None
        return qs, compiler, sql, tuple(params), stand_ins

    @staticmethod
    def _reader(kind: str, qs: QuerySet[Any], compiler: Any, using: str) -> Callable[[list[Any]], list[Any]]:
        if kind == "exists":
            return lambda rows: rows
        fields = [s[0] for s in compiler.select[0:compiler.col_count]]
        if compiler.has_composite_fields(fields):
            raise StatementError("composite fields are not compiled")
        converters = compiler.get_converters(fields)

        def converted(rows: list[Any]) -> list[Any]:
            return list(compiler.apply_converters(rows, converters)) if converters else rows

        iterable = qs._iterable_class  # noqa: SLF001 - how the queryset gives its rows
        if iterable is FlatValuesListIterable:
            return lambda rows: [r[0] for r in converted(rows)]
        if iterable is ValuesListIterable:
            return lambda rows: [tuple(r) for r in converted(rows)]
        if not issubclass(iterable, ModelIterable):
            raise StatementError(f"{iterable.__name__} is not compiled (models, values_list)")
        select, klass_info, annotations = compiler.select, compiler.klass_info, compiler.annotation_col_map
        model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [f[0].target.attname for f in select[start:end]]
        populators = get_related_populators(klass_info, select, using)  # type: ignore[call-arg]  # stubs: 6.0

        def models(rows: list[Any]) -> list[Any]:
            out = []
            for row in converted(rows):
                obj = model.from_db(using, init_list, row[start:end])
                for populator in populators:
                    populator.populate(row, obj)
                for attr, position in (annotations or {}).items():
                    setattr(obj, attr, row[position])
                out.append(obj)
            return out

        return models


class Insert:
    """New rows of one model in one ``INSERT … RETURNING`` their keys, its SQL compiled once per
    connection and number of rows. The values are prepared by Django's own insert compiler
    (``pre_save``, ``get_db_prep_save``: JSON, times, UUIDs) exactly as ``bulk_create`` prepares
    them; only the SQL text is reused. Anything ``bulk_create`` would do differently — rows that
    carry their key, expressions as values, more than :data:`MAX_LIST` rows, a database that cannot
    return keys from a multi-row insert — goes through ``bulk_create``."""

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        opts = model._meta
        self.fields = [f for f in opts.concrete_fields if not f.generated and not isinstance(f, AutoField)]
        self.simple = not any(hasattr(f, "get_placeholder") for f in self.fields)

    def __repr__(self) -> str:
        return f"<Insert {self.model._meta.label}>"

    def __call__(self, objs: list[Any], *, using: str = DEFAULT_DB_ALIAS) -> None:
        connection = connections[using]
        if (not objs or len(objs) > MAX_LIST or not self.simple or any(o._is_pk_set() for o in objs)
                or not connection.features.can_return_rows_from_bulk_insert):
            self.model._default_manager.using(using).bulk_create(objs)
            return
        cache = connection.__dict__.setdefault(_CACHE_ATTR, {})
        key = (self, "insert", len(objs))
        compiled = cache.get(key)
        if compiled is None:
            compiled = cache[key] = self._compile(objs, using)
        sql, native, compiler, per_row, returning = compiled
        rows = self._values(compiler, objs)
        if any(hasattr(v, "as_sql") for row in rows for v in row):  # an expression: its own SQL
            self.model._default_manager.using(using).bulk_create(objs)
            return
        if per_row:  # one %s a value, row by row
            params = [v for row in rows for v in row]
        else:  # the database's own form (PostgreSQL: one array a column, through UNNEST)
            params = [v for row in compiler.assemble_as_sql(self.fields, rows)[1] for v in row]
        keys = _fetch(connection, sql, native, [*params, *returning])
        pk = self.model._meta.pk
        for obj, row in zip(objs, keys, strict=True):
            setattr(obj, pk.attname, row[0])
            obj._state.adding = False
            obj._state.db = using

    def _values(self, compiler: Any, objs: list[Any]) -> list[list[Any]]:
        """Each row's values as Django's insert compiler prepares them (pre_save, db prep)."""
        return [[compiler.prepare_value(f, compiler.pre_save_val(f, o)) for f in self.fields] for o in objs]

    def _compile(self, objs: list[Any], using: str) -> tuple[str, str, Any, bool, tuple[Any, ...]]:
        query = InsertQuery(self.model)
        query.insert_values(self.fields, objs)
        compiler = query.get_compiler(using=using)
        compiler.returning_fields = [self.model._meta.pk]
        [(sql, params)] = compiler.as_sql()
        returning = tuple(compiler.returning_params)
        placeholders, param_rows = compiler.assemble_as_sql(self.fields, self._values(compiler, objs))
        per_row = type(placeholders) is list and all(p == "%s" for row in placeholders for p in row)
        if len(params) != sum(len(r) for r in param_rows) + len(returning):
            raise StatementError(f"{self!r}: the values are not parameters of the compiled statement")
        query.objs = []  # the values are prepared per call; keep no rows alive in the cache
        return sql, _native(connections[using], sql), compiler, per_row, returning
