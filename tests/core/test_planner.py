"""``joins_as_written``: on PostgreSQL the query is planned with ``join_collapse_limit = 1`` and the
connection's setting is back as it was after it, also when the query fails; on SQLite nothing is
added. The rows are the same either way. ``narrowed``: the same rows as the plain AND, in each
database's form. ``rows_by_key``: a slice's keys, then its rows."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from medunion.core.planner import RESET, SET, joins_as_written, narrowed, rows_by_key
from medunion.core.statements import Statement
from medunion.network.models import PracticeSite

PG = connection.vendor == "postgresql"


def _setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW join_collapse_limit")
        return str(cursor.fetchone()[0])


def _sites():
    return PracticeSite.objects.select_related("practitioner", "organisation", "department").order_by("id")


def _seen_by_the_planner() -> str:
    """The setting as the planner sees it while the query runs: the query itself reads it."""
    qs = joins_as_written(_sites().extra(select={"limit_seen": "current_setting('join_collapse_limit')"}))
    return str(qs[0].limit_seen)


# The same queries compiled once (core.statements): they keep the order written as well.
_SEEN = Statement(lambda: joins_as_written(
    _sites().extra(select={"limit_seen": "current_setting('join_collapse_limit')"}))[:1])
_SITE = Statement(lambda pk: joins_as_written(_sites()).filter(pk=pk))
_BROKEN = Statement(lambda: joins_as_written(_sites().extra(where=["1 / (organisation_id IS NULL)::int = 1"])))


def test_the_same_rows_and_related_rows(world):
    plain = [(s.pk, s.practitioner.name, s.organisation.name, s.department_id) for s in _sites()]
    assert plain
    written = [(s.pk, s.practitioner.name, s.organisation.name, s.department_id) for s in joins_as_written(_sites())]
    assert written == plain
    # Chaining keeps it: a filter, a slice, get().
    first = plain[0][0]
    assert joins_as_written(_sites()).filter(pk=first).get().pk == first
    assert [s.pk for s in joins_as_written(_sites())[1:3]] == [row[0] for row in plain[1:3]]


def test_statements_around_the_query(world):
    first = _sites().first()
    assert first is not None
    # Evaluated whole, and after chaining (a filter and get(), a slice).
    for evaluate in (lambda: list(joins_as_written(_sites())),
                     lambda: joins_as_written(_sites()).filter(pk=first.pk).get(),
                     lambda: list(joins_as_written(_sites())[1:3])):
        with CaptureQueriesContext(connection) as ctx:
            evaluate()
        statements = [q["sql"] for q in ctx.captured_queries]
        if PG:
            assert statements[0] == SET and statements[-1] == RESET and len(statements) == 3, statements
        else:
            assert len(statements) == 1 and statements[0].startswith("SELECT"), statements
    # A compiled statement of such a query: the same statements around it, the same rows.
    for site in _sites():
        with CaptureQueriesContext(connection) as ctx:
            got = _SITE.first(site.pk)
        assert (got.pk, got.practitioner.name, got.organisation.name) == (
            site.pk, site.practitioner.name, site.organisation.name)
        statements = [q["sql"] for q in ctx.captured_queries]
        if PG:
            assert statements[0] == SET and statements[-1] == RESET and len(statements) == 3, statements
        else:
            assert len(statements) == 1 and statements[0].startswith("SELECT"), statements
    with CaptureQueriesContext(connection) as ctx:  # values(), count(): planned as usual
        joins_as_written(_sites()).count()
        list(joins_as_written(_sites()).values_list("pk", flat=True))
    assert len(ctx.captured_queries) == 2


@pytest.mark.skipif(not PG, reason="a PostgreSQL planner setting")
def test_in_effect_during_the_query_and_not_after(world):
    before = _setting()
    assert before != "1"
    assert _seen_by_the_planner() == "1"
    assert _setting() == before
    # Compiled, run on the database's own cursor (no query is being captured here).
    assert str(_SEEN.first().limit_seen) == "1"
    assert _setting() == before


@pytest.mark.skipif(not PG, reason="a PostgreSQL planner setting")
@pytest.mark.django_db(transaction=True)
def test_a_failing_query_leaves_the_setting_as_it_was(world):
    before = _setting()
    broken = joins_as_written(_sites().extra(where=["1 / (organisation_id IS NULL)::int = 1"]))
    with pytest.raises(DatabaseError):  # autocommit: put back at once
        list(broken)
    assert _setting() == before
    with transaction.atomic():  # in a transaction: its rollback puts it back
        with pytest.raises(DatabaseError):
            list(broken)
    assert _setting() == before
    with transaction.atomic():
        with pytest.raises(DatabaseError), transaction.atomic():  # a savepoint's rollback as well
            list(broken)
        assert _setting() == before
    assert _seen_by_the_planner() == "1" and _setting() == before
    with pytest.raises(DatabaseError):  # compiled (core.statements): the same
        _BROKEN.all()
    assert _setting() == before
    with transaction.atomic():
        with pytest.raises(DatabaseError), transaction.atomic():
            _BROKEN.all()
        assert _setting() == before
    assert str(_SEEN.first().limit_seen) == "1" and _setting() == before


def test_rows_by_key_is_the_slice_in_two_queries(world):
    plain = list(_sites())
    assert len(plain) >= 4
    for start, stop in ((0, 2), (1, 4), (2, 3), (0, len(plain) + 5), (-3, 2)):
        with CaptureQueriesContext(connection) as ctx:
            rows = rows_by_key(joins_as_written(_sites()), start, stop)
        assert [r.pk for r in rows] == [s.pk for s in plain[max(0, start):stop]]
        # The joined rows came with the second query: reading them asks nothing more.
        with CaptureQueriesContext(connection) as after:
            names = [(r.practitioner.name, r.organisation.name) for r in rows]
        assert names == [(s.practitioner.name, s.organisation.name) for s in plain[max(0, start):stop]]
        assert not after.captured_queries
        selects = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
        assert len(selects) == 2, selects
        keys, joined = selects
        assert " JOIN " not in keys and " LIMIT " in keys, keys
        assert " JOIN " in joined and " LIMIT " not in joined, joined
    with CaptureQueriesContext(connection) as ctx:  # past the end: one query, no rows
        assert rows_by_key(_sites(), len(plain) + 1, len(plain) + 10) == []
    assert len(ctx.captured_queries) == 1


def test_rows_by_key_leaves_out_a_row_that_left_the_list_in_between(world):
    plain = list(_sites().filter(active=True)[:3])
    assert len(plain) == 3
    leaving = plain[1].pk
    seen: list[str] = []

    def between(execute, sql, params, many, context):  # another clinician's write, just before the rows
        if " JOIN " in sql and not seen:
            seen.append(sql)
            PracticeSite.objects.filter(pk=leaving).update(active=False)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(between):
        rows = rows_by_key(_sites().filter(active=True), 0, 3)
    assert len(seen) == 1
    # The keys held it, the rows query's WHERE no longer does: not shown, the others in order.
    assert [r.pk for r in rows] == [plain[0].pk, plain[2].pk]


def test_narrowed_holds_the_rows_of_the_plain_and(world):
    sites = list(PracticeSite.objects.order_by("id"))
    org = sites[0].organisation_id
    # In the list, not visible:
    PracticeSite.objects.filter(pk=sites[0].pk).update(active=False, primary=False)
    visible = PracticeSite.objects.filter(Q(active=True) | Q(primary=True))
    where = Q(organisation_id=org) | Q(practitioner_id=sites[-1].practitioner_id)
    plain = sorted(s.pk for s in visible.filter(where))
    got = narrowed(visible, where)
    assert sorted(s.pk for s in got) == plain and plain
    assert sites[0].pk not in plain
    assert got.count() == len(plain)
    sql = str(got.query)
    # SQLite: the list's clause as a subquery on the key; PostgreSQL: the plain AND.
    assert ("IN (SELECT" in sql) == (not PG), sql
