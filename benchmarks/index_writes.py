"""What the foreign keys' own indexes cost an insert: the tables' rows copied with and without the
index Django would give each foreign key that a longer index of its table begins with, which the
models leave out (migrations ``*_foreign_keys_indexed_by_longer_indexes``, and ``consults.0003``
for the consult's patient).

    MEDUNION_PG_KEEP=<cluster dir> scripts/with-postgres.sh .venv/bin/python benchmarks/index_writes.py

On the data set the environment names (PostgreSQL; the generated province has the rows to copy).
For each table, ``--rows`` of its rows are copied into a temporary table with new keys, then
inserted back in one ``INSERT … SELECT``, inside a transaction that is rolled back: once with the
dropped indexes made again in that transaction, once without; ``--rounds`` rounds, the order
alternating. Microseconds a row, medians.

``--reads``: the read paths of ``read_paths.py`` too, their SELECTs (the audit row left out) run
with and without those indexes in the same way: milliseconds a request, medians of ``--rounds``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import read_paths  # noqa: E402  (this directory)

# What a copied row must change besides its key to satisfy the table's other constraints.
TABLES = {
    "consults_consult": ("", ""),
    "referrals_referral": ("WHERE state = 'completed'", ""),  # one live referral a patient and direction
    "diagnostics_examination": ("", ", accession = left(accession, 40) || 'c'"),
    "consults_consultmessage": ("", ", seq = seq + 1000000"),
    "referrals_referralentry": ("", ", seq = seq + 1000000"),
}


def dropped_indexes() -> dict[str, list[str]]:
    """By table, the statements that make again each foreign key's own index that the models now
    leave out because a longer index of the table begins with the key (Django's own name)."""
    from django.apps import apps
    from django.db import connection, models

    out: dict[str, list[str]] = {}
    with connection.schema_editor() as editor:
        for model in apps.get_models():
            if not model.__module__.startswith("medunion."):
                continue
            table = model._meta.db_table
            firsts = {ix.fields[0] for ix in model._meta.indexes if ix.fields and ix.condition is None}
            firsts |= {c.fields[0] for c in model._meta.constraints
                       if isinstance(c, models.UniqueConstraint) and c.fields and c.condition is None}
            for field in model._meta.fields:
                if field.is_relation and not field.db_index and not field.unique and field.name in firsts:
                    name = editor._create_index_name(table, [field.column], suffix="")
                    out.setdefault(table, []).append(f'CREATE INDEX "{name}" ON "{table}" ("{field.column}")')
    return out


def insert_cost(table: str, rows: int, indexes: list[str]) -> float:
    from django.db import connection, transaction

    where, change = TABLES[table]
    with transaction.atomic(), connection.cursor() as cur:
        for statement in indexes:
            cur.execute(statement)
        cur.execute(f"CREATE TEMP TABLE copied ON COMMIT DROP AS SELECT * FROM {table} {where} LIMIT {rows}")
        cur.execute(f"UPDATE copied SET id = gen_random_uuid() {change}")
        started = time.perf_counter()
        cur.execute(f"INSERT INTO {table} SELECT * FROM copied")
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed / rows * 1e6


def read_cost(statements: list[str], indexes: list[str]) -> float:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        for statement in indexes:
            cur.execute(statement)
        started = time.perf_counter()
        for sql in statements:
            cur.execute(sql)
            cur.fetchall()
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed * 1000


def reads(dropped: list[str], rounds: int) -> None:
    paths = read_paths.pick_paths()
    clients = read_paths.clients_for(paths)
    print("\n| read path | SELECTs | ms with them | without |")
    print("|---|---|---|---|")
    for p in paths:
        statements = [sql for sql in read_paths.capture(clients[(p.username, p.auth)][0], p.url)
                      if sql.lstrip().upper().startswith("SELECT") and "audit_append" not in sql]
        runs: dict[bool, list[float]] = {True: [], False: []}
        for n in range(rounds):
            for with_them in ((True, False) if n % 2 == 0 else (False, True)):
                runs[with_them].append(read_cost(statements, dropped if with_them else []))
        print(f"| {p.label} | {len(statements)} | {statistics.median(runs[True]):.2f} | "
              f"{statistics.median(runs[False]):.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reads", action="store_true", help="the read paths' SELECTs too")
    args = parser.parse_args()
    read_paths._setup(False, None)
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only: run through scripts/with-postgres.sh with MEDUNION_PG_KEEP")
    dropped = dropped_indexes()
    print("| table | indexes dropped | µs a row with them | without |")
    print("|---|---|---|---|")
    for table in TABLES:
        runs: dict[bool, list[float]] = {True: [], False: []}
        for n in range(args.rounds):
            for with_them in ((True, False) if n % 2 == 0 else (False, True)):
                indexes = dropped.get(table, []) if with_them else []
                runs[with_them].append(insert_cost(table, args.rows, indexes))
        print(f"| {table} | {len(dropped.get(table, []))} | {statistics.median(runs[True]):.1f} | "
              f"{statistics.median(runs[False]):.1f} |", flush=True)
    if args.reads:
        reads([s for statements in dropped.values() for s in statements], args.rounds * 3)


if __name__ == "__main__":
    main()
