"""PostgreSQL's planner, told to keep a list query's joins in the order written.

A list page's query joins each row to what the page shows about it (``select_related``: a
consultation's patient, consortium, asker, organisation, assignee, target practitioner and team,
eight tables in all). Every one of those joins is a row's own related row, found by its key, so
the order written (the listed table first) is a good plan. PostgreSQL nevertheless searches every
order of up to ``join_collapse_limit`` (8) tables at each execution; on the province data set that
search took 2–21 ms a query, more than most of them took to run (benchmarks/README.md,
"PostgreSQL's planner"). :func:`joins_as_written` evaluates a queryset with
``join_collapse_limit = 1`` and puts the setting back at once; the planner still picks each join's
method and which side leads.
SQLite plans such a query in microseconds and is left alone.

:func:`narrowed` ANDs a list's own clause to a visibility clause in the form each database's
planner reads by the list's own indexes.

:func:`rows_by_key` cuts a page of a joined list in two queries, the page's keys and then its
rows: both databases join every row the WHERE finds before they sort and cut (SQLite always; on
the province the reading worklist joined ≈2,500 waiting examinations to keep 51).

Only for querysets whose joins reach a row's own related rows. A filter's joins come first in the
written order (``select_related`` joins are added when the query is compiled), so a condition on
one joined table (a case's patient, found by ID number) may still lead the plan; a filter through
two or more joined tables, or through a to-many relation, needs the planner's search.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

from django.db import DatabaseError, connections
from django.db.models import Model, Q, QuerySet
from django.db.models.query import ModelIterable

M = TypeVar("M", bound=Model)

SET = "SET join_collapse_limit = 1"
RESET = "RESET join_collapse_limit"


@contextlib.contextmanager
def keeping_joins_as_written(connection: Any) -> Iterator[None]:
    """Run the block's queries with PostgreSQL keeping their joins in the order written: one
    ``SET`` before and one ``RESET`` after (other databases: nothing). Also used by compiled
    statements (``core.statements``) of querysets made with :func:`joins_as_written`."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(SET)
    try:
        yield
    except BaseException:
        # In a transaction the error aborted, its rollback undoes the SET (settings are
        # transactional in PostgreSQL); otherwise put it back now.
        if not connection.needs_rollback:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute(RESET)
        raise
    with connection.cursor() as cursor:
        cursor.execute(RESET)


class JoinsAsWritten(ModelIterable):  # type: ignore[type-arg]
    def __iter__(self) -> Iterator[Any]:
        with keeping_joins_as_written(connections[self.queryset.db]):
            rows = list(super().__iter__())
        yield from rows


def narrowed(visible: QuerySet[M], where: Q) -> QuerySet[M]:
    """``visible.filter(where)``: ``visible`` a visibility clause (an OR of several, one of them an
    IN over a subquery such as a care team's patients), ``where`` a list's own, narrower clause.

    SQLite's planner reads by the indexes of one OR and took the visibility clause's (on the
    province, a township GP's incoming referrals: every referral of the care team's ≈7,000
    patients, 19 ms a query, to keep 15); with the list's clause asked as a subquery on the key it
    reads by that clause's indexes (0.8 ms). PostgreSQL does so with the plain AND (0.9 ms) and
    scanned the whole table with the subquery form (45 ms), so each database gets its own."""
    if connections[visible.db].vendor == "sqlite":
        return visible.filter(pk__in=visible.model._default_manager.filter(where).values("pk"))
    return visible.filter(where)


def rows_by_key(qs: QuerySet[M], start: int, stop: int) -> list[M]:
    """``list(qs[start:stop])`` in two queries: the keys of that slice (the list's own table, so an
    index on the WHERE and the order can answer it alone), then those rows with the rows
    ``select_related`` joins to them, in the same order. The second query keeps the whole WHERE:
    a row that left the list between the two (claimed, answered) is not shown."""
    keys = list(qs.values_list("pk", flat=True)[max(0, start):max(0, stop)])
    if not keys:
        return []
    return list(qs.filter(pk__in=keys))


def joins_as_written(qs: QuerySet[M]) -> QuerySet[M]:
    """The same queryset, evaluated with PostgreSQL keeping its joins in the order written (one
    ``SET`` before the query and one ``RESET`` after it). Chaining keeps it: filter, order, slice,
    ``get()``; ``values()``, ``count()`` and ``exists()`` are planned as usual."""
    clone = qs.all()
    clone._iterable_class = JoinsAsWritten  # the hook Django's values() and values_list() use
    return clone
