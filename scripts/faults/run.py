#!/usr/bin/env python
# ruff: noqa: T201
"""Run every fault drill on SQLite and on PostgreSQL and print one table (`make faults`).

    .venv/bin/python scripts/faults/run.py [--only NAME ...] [--db sqlite|pg] [--quick]
                                           [--args 'NAME=--kills 20'] [--list] [--logs DIR]

A drill is any ``scripts/faults/<name>.py`` whose name does not start with ``_`` (``run.py``
itself aside). Each runs as its own process, once per database:

- SQLite: ``python <drill>.py --db sqlite``;
- PostgreSQL: ``scripts/with-postgres.sh python <drill>.py --db pg`` — a private, throw-away
  server per drill (its durability is off: fsync, synchronous_commit and full_page_writes; on
  for a drill that declares ``DURABLE``).

What a drill declares, at module level, as literals (read from the source, not imported):

- ``DATABASES = ("sqlite", "pg")`` — the databases it runs on; left out, both. A drill run on a
  database it does not apply to should print a RESULT line with ``"ok": true``, null counts and
  ``"detail": {"skipped": "why"}`` (``_common.not_applicable``).
- ``QUICK_ARGS = ["--kills", "10"]`` — optional: the arguments of a short run (``--quick``).
- ``DURABLE = True`` — optional: on PostgreSQL the drill needs a durable server
  (``MEDUNION_PG_DURABLE=1``: fsync, synchronous_commit and full_page_writes on), because it
  crashes the database server itself.

Every drill prints as the LAST line of its stdout
``RESULT {"drill", "db", "acknowledged", "present", "duplicated", "lost", "errors", "ok",
"detail"}`` (JSON; a count that does not apply is null; ``_common.result_line``). A drill is ok
when its RESULT says ok, lost, duplicated and errors are 0 or null, and it exited with 0. No
RESULT line (a crash, a timeout) is not ok. The output of each run is kept in --logs (a new
directory under the system's temporary directory by default), and the last lines of a failed run
are printed. The exit status is 1 when any drill is not ok.

The drills are heavy (servers, kill loops, a demo build each): on a shared machine run them
one at a time, apart from the benchmarks.
"""

from __future__ import annotations

import argparse
import ast
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from _common import DATABASES, parse_result  # noqa: E402

COLUMNS = ("drill", "db", "acknowledged", "present", "duplicated", "lost", "errors", "ok", "seconds")


def drills() -> dict[str, Path]:
    return {p.stem: p for p in sorted(HERE.glob("*.py")) if not p.stem.startswith("_") and p.stem != "run"}


def declared(path: Path, name: str) -> Any:
    """A module-level literal assignment of the drill (None when it has none)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) and node.value is not None else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id == name:
                try:
                    return ast.literal_eval(node.value)  # type: ignore[arg-type]
                except ValueError:
                    return None
    return None


def databases_of(path: Path) -> tuple[str, ...]:
    found = declared(path, "DATABASES")
    if not found:
        return DATABASES
    return tuple(db for db in DATABASES if db in found)


def command(path: Path, db: str, extra: list[str]) -> list[str]:
    argv = [sys.executable, str(path), "--db", db, *extra]
    if db == "pg":
        return [str(REPO / "scripts" / "with-postgres.sh"), *argv]
    return argv


def run_one(name: str, path: Path, db: str, extra: list[str], logs: Path, timeout: float) -> dict[str, Any]:
    log = logs / f"{name}-{db}.log"
    argv = command(path, db, extra)
    shown = shlex.join([f"scripts/faults/{path.name}", "--db", db, *extra])
    durable = db == "pg" and bool(declared(path, "DURABLE"))
    if db == "pg":
        shown = ("MEDUNION_PG_DURABLE=1 " if durable else "") + "scripts/with-postgres.sh … " + shown
    print(f"--- {name} on {db}: {shown} (log: {log})", flush=True)
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" or db == "pg"}
    if durable:
        env["MEDUNION_PG_DURABLE"] = "1"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env,
                                start_new_session=True)
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
            status = None
    seconds = time.monotonic() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    result = parse_result(text) or {}
    row: dict[str, Any] = {"drill": name, "db": db, "seconds": round(seconds)}
    for key in COLUMNS[2:8]:
        row[key] = result.get(key)
    problems = []
    if not result:
        problems.append("timed out" if status is None else f"no RESULT line (exit status {status})")
    elif status != 0:
        problems.append(f"exit status {status}")
    for key in ("lost", "duplicated", "errors"):
        if result.get(key):
            problems.append(f"{key} {result[key]}")
    if result and not result.get("ok"):
        problems.append("not ok")
    row["ok"] = not problems
    row["problems"] = problems
    row["skipped"] = (result.get("detail") or {}).get("skipped") if isinstance(result.get("detail"), dict) else None
    if problems:
        tail = "\n".join(text.splitlines()[-25:])
        print(f"    NOT OK ({'; '.join(problems)}); the end of its output:\n{tail}", flush=True)
    else:
        print(f"    ok in {seconds:.0f} s", flush=True)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    def cell(row: dict[str, Any], key: str) -> str:
        value = row.get(key)
        if key == "ok":
            return ("skipped" if row.get("skipped") else "yes") if value else "NO"
        return "-" if value is None else str(value)

    cells = [[cell(r, k) for k in COLUMNS] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(COLUMNS)]
    lines = [" | ".join(k.ljust(w) for k, w in zip(COLUMNS, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this drill (repeatable)")
    p.add_argument("--db", choices=DATABASES, help="one database only")
    p.add_argument("--quick", action="store_true", help="each drill's QUICK_ARGS (a short run)")
    p.add_argument("--args", action="append", default=[], metavar="NAME=ARGS",
                   help="more arguments for one drill, e.g. 'crash=--kills 20' (repeatable)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per drill run")
    p.add_argument("--logs", help="directory for the drills' output (default: a new temporary one)")
    p.add_argument("--list", action="store_true", help="list the drills and their databases")
    args = p.parse_args(argv)

    found = drills()
    unknown = [n for n in args.only if n not in found]
    if unknown:
        p.error(f"unknown drill(s): {', '.join(unknown)}; there are: {', '.join(found)}")
    if args.list:
        for name, path in found.items():
            quick = declared(path, "QUICK_ARGS")
            print(f"{name:20} {', '.join(databases_of(path)):12} {'quick: ' + shlex.join(quick) if quick else ''}")
        return 0
    extra: dict[str, list[str]] = {}
    for item in args.args:
        name, _, rest = item.partition("=")
        if name not in found:
            p.error(f"--args: unknown drill {name!r}")
        extra.setdefault(name, []).extend(shlex.split(rest))
    logs = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="medunion-faults-"))
    logs.mkdir(parents=True, exist_ok=True)

    rows = []
    for name, path in found.items():
        if args.only and name not in args.only:
            continue
        for db in databases_of(path):
            if args.db and db != args.db:
                continue
            more = list(declared(path, "QUICK_ARGS") or []) if args.quick else []
            rows.append(run_one(name, path, db, more + extra.get(name, []), logs, args.timeout))
    if not rows:
        print("no drill to run")
        return 1
    print()
    print(table(rows))
    bad = [r for r in rows if not r["ok"]]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} drill runs ok; logs in {logs}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
