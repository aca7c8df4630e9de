"""PostgreSQL's planning and execution time of each read path's SQL, with the joins of the list
and load queries kept in the order written (``medunion.core.planner``) and without.

    MEDUNION_PG_KEEP=<cluster dir> scripts/with-postgres.sh .venv/bin/python benchmarks/plan_times.py
    scripts/with-postgres.sh .venv/bin/python benchmarks/plan_times.py --demo     # the demo consortium

The paths and accounts are those of ``read_paths.py``. Each path's statements are captured from a
request (in a transaction rolled back), then every SELECT among them is run again under
``EXPLAIN (ANALYZE, FORMAT JSON)``, once as the request ran it (the ``SET join_collapse_limit``
before a joined query included) and once with the planner searching every join order
(PostgreSQL's default); medians of ``--repeat`` rounds, in a transaction rolled back. Writes (the
audit rows) are left out.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import read_paths  # noqa: E402  (this directory)

PLANNER_SETTING = "SET JOIN_COLLAPSE_LIMIT"


def _is_select(sql: str) -> bool:
    return sql.lstrip().lstrip("(").upper().startswith(("SELECT", "WITH"))


def explain_round(statements: list[str], *, as_written: bool) -> tuple[float, float]:
    """Planning and execution milliseconds of the SELECTs, summed."""
    from django.db import connection, transaction

    planning = execution = 0.0
    with transaction.atomic():
        with connection.cursor() as cursor:
            for sql in statements:
                upper = sql.lstrip().upper()
                if upper.startswith((PLANNER_SETTING, "RESET JOIN_COLLAPSE_LIMIT")):
                    if as_written:
                        cursor.execute(sql)
                    continue
                if not _is_select(sql):
                    continue
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                plan = cursor.fetchone()[0]
                plan = plan[0] if isinstance(plan, list) else plan
                planning += plan["Planning Time"]
                execution += plan["Execution Time"]
        transaction.set_rollback(True)
    return planning, execution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", action="store_true", help="build the demo consortium into a fresh database")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="medunion-plans-") as tmp:
        read_paths._setup(args.demo, Path(tmp) if args.demo else None)
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("plan_times.py measures PostgreSQL's planner: run it under scripts/with-postgres.sh")
        paths = read_paths.pick_paths()
        clients = read_paths.clients_for(paths)
        print("| path | SELECTs | joined queries | planning ms as written | execution ms | planning ms, "
              "every order searched | execution ms |\n|---|---|---|---|---|---|---|")
        for path in paths:
            client, _headers = clients[(path.username, path.auth)]
            statements = read_paths.capture(client, path.url)
            rounds: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
            for _ in range(args.repeat):
                for as_written in (True, False):
                    rounds[as_written].append(explain_round(statements, as_written=as_written))
            med = {k: (statistics.median(p for p, _e in v), statistics.median(e for _p, e in v))
                   for k, v in rounds.items()}
            selects = sum(1 for s in statements if _is_select(s))
            joined = sum(1 for s in statements if s.lstrip().upper().startswith(PLANNER_SETTING))
            print(f"| {path.label} | {selects} | {joined} | {med[True][0]:.1f} | {med[True][1]:.1f} "
                  f"| {med[False][0]:.1f} | {med[False][1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
