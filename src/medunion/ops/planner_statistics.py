"""The query planner's statistics: SQLite's kept fresh by the housekeeping.

A planner picks an index by how many rows it expects it to return. PostgreSQL keeps its
statistics itself (autovacuum runs ``ANALYZE`` on a table once enough of it has changed). SQLite
has none until ``ANALYZE`` runs and then keeps what that found until it runs again; without any it
guesses, and its guesses choose badly on a large database: on the province data set without
statistics the bare SQL of the pool's queue page took 23 ms and the referral list's 35 ms, with
them 1 and 1.5 (benchmarks/README.md, "SQLite's planner statistics").

:func:`refresh_statistics` re-analyses a table that has rows and an index never analysed (a new
deployment, an index a migration added), or whose row count is off by more than a quarter from
the count its statistics hold (once it has statistics, a table of more than
``LARGEST_ANALYSED_AGAIN`` rows only for an index without); an unchanged table is left alone.
Counting the province's tables costs 0.2–3.5 s of reading. ``ANALYZE`` runs index by index, each
in its own short transaction, so writers wait at most for one index (3 s for the largest on the
province, the audit trail's): SQLite has one write lock. A connection loads the statistics with the schema when it opens, and
``ANALYZE`` does not change the schema, so the server's connections take the new ones within
``MEDUNION_SQLITE_CONN_MAX_AGE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

GROWTH = 1.25  # re-analysed once the row count is outside [count / GROWTH, count * GROWTH]
# Writers wait while an index is analysed: on the province 0.4-0.8 s a million rows (3 s for the
# audit trail's largest index, 3.8 million rows, read from disk). A table with more rows than this
# keeps the statistics it has once it has them: the shape of its rows moves slowly, while the
# audit trail, which every read of patient data adds to, would be analysed again every few days
# and in time for longer than a writer waits for its turn (20 s, settings). An index it has no
# statistics for (a migration added it) is still analysed, once.
LARGEST_ANALYSED_AGAIN = 5_000_000


@dataclass(frozen=True)
class TableStatistics:
    table: str
    rows: int
    analysed_rows: int | None  # the row count the statistics hold (None: never analysed)
    indexes: tuple[str, ...]
    unanalysed: tuple[str, ...]  # indexes without statistics

    def to_analyse(self) -> tuple[str, ...]:
        """The indexes (or, for a table without any, the table) to analyse now; none when fresh."""
        everything = self.indexes or (self.table,)
        if self.rows == 0:  # ANALYZE of an empty table removes its statistics
            return (self.table,) if self.analysed_rows is not None else ()
        if self.analysed_rows is None:
            return everything
        if self.rows > LARGEST_ANALYSED_AGAIN:
            return self.unanalysed
        if self.unanalysed or not self.analysed_rows / GROWTH <= self.rows <= self.analysed_rows * GROWTH:
            return everything
        return ()

    @property
    def stale(self) -> bool:
        return bool(self.to_analyse())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def survey() -> list[TableStatistics]:
    """Every table of the SQLite database with its row count and what its statistics hold."""
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                    "ORDER BY name")
        tables = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        held: dict[tuple[str, str | None], int] = {}
        if cur.fetchone()[0]:
            cur.execute("SELECT tbl, idx, stat FROM sqlite_stat1")
            held = {(tbl, idx): int(stat.split()[0]) for tbl, idx, stat in cur.fetchall()}
        found = []
        for table in tables:
            cur.execute(f"SELECT count(*) FROM {_quote(table)}")  # noqa: S608 - the schema's own name, quoted
            rows = cur.fetchone()[0]
            # PRAGMA index_list: seq, name, unique, origin, partial. A partial index's statistics
            # count the rows it holds, not the table's.
            cur.execute(f"PRAGMA index_list({_quote(table)})")
            listed = [(row[1], bool(row[4])) for row in cur.fetchall()]
            indexes = tuple(name for name, _partial in listed)
            counts = [held[table, name] for name, partial in listed if not partial and (table, name) in held]
            if not listed and (table, None) in held:
                counts = [held[table, None]]
            found.append(TableStatistics(
                table=table, rows=rows, analysed_rows=max(counts) if counts else None, indexes=indexes,
                unanalysed=tuple(name for name, partial in listed if (table, name) not in held
                                 and (not partial or _holds_rows(cur, table, name)))))
    return found


def _holds_rows(cur: Any, table: str, index: str) -> bool:
    """Whether a partial index holds any row: ANALYZE keeps no statistics for one that holds none
    (say, uploads with no patient), so its having none is no sign of its never being analysed."""
    cur.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [index])
    condition = re.split(r"\bWHERE\b", cur.fetchone()[0], flags=re.IGNORECASE)[-1]
    # The schema's own name and the index's own condition, as the database holds them.
    cur.execute(f"SELECT EXISTS (SELECT 1 FROM {_quote(table)} WHERE {condition})")  # noqa: S608
    return bool(cur.fetchone()[0])


def refresh_statistics() -> list[str]:
    """Re-analyse the SQLite tables whose statistics are missing or stale; the tables analysed.
    Nothing on PostgreSQL, whose autovacuum does the same."""
    if connection.vendor != "sqlite":
        return []
    analysed = []
    for table in survey():
        names = table.to_analyse()
        for name in names:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(f"ANALYZE {_quote(name)}")
        if names:
            analysed.append(table.table)
    return analysed
