"""SQLite's planner statistics (medunion.ops.planner_statistics): what a refresh costs on a data set.

    MEDUNION_DATA_DIR=<data dir> .venv/bin/python benchmarks/planner_statistics.py
    MEDUNION_DATA_DIR=<data dir> .venv/bin/python benchmarks/planner_statistics.py --without-statistics

The data set is the one the environment names (a generated province or the demo; the refresh
writes only SQLite's statistics table). ``--without-statistics`` first drops every statistic (as a
deployment that was never analysed has none): use it on a copy. Then it times the survey (every
table counted, the statistics read), the refresh (each stale table analysed, index by index, each
in its own transaction) and the longest single ``ANALYZE`` (the longest a writer waits for it), and
a second refresh, which should find nothing to do. To see what the statistics change, run
``benchmarks/read_paths.py`` before and after. Numbers last seen: benchmarks/README.md ("SQLite's
planner statistics").
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--without-statistics", action="store_true", help="drop every statistic first")
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection

    from medunion.ops.planner_statistics import refresh_statistics, survey

    if connection.vendor != "sqlite":
        raise SystemExit("SQLite only: PostgreSQL's autovacuum keeps its statistics")
    if args.without_statistics:
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS sqlite_stat1")
    analyses: list[float] = []

    def timed_analyze(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if sql.startswith("ANALYZE"):
                analyses.append(time.perf_counter() - started)

    started = time.perf_counter()
    tables = survey()
    print(f"survey: {len(tables)} tables, {sum(t.rows for t in tables):,} rows, "
          f"{sum(t.stale for t in tables)} stale; {time.perf_counter() - started:.2f} s", flush=True)
    for attempt in ("refresh", "again"):
        analyses.clear()
        started = time.perf_counter()
        with connection.execute_wrapper(timed_analyze):
            done = refresh_statistics()
        print(f"{attempt}: {len(done)} tables analysed, {len(analyses)} ANALYZE statements, "
              f"{time.perf_counter() - started:.1f} s; longest ANALYZE "
              f"{max(analyses, default=0):.2f} s", flush=True)


if __name__ == "__main__":
    main()
