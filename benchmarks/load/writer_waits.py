"""How long SQLite writers wait for their turn and hold it, in a running server.

As a gunicorn config module (each worker, after the fork, wraps the SQLite backend's transaction
start, commit and rollback) with a summary of what the workers wrote:

    GUNICORN_CMD_ARGS="--keep-alive 30 --config python:writer_waits" PYTHONPATH=benchmarks/load \\
        MEDUNION_WRITER_WAITS=<dir> MEDUNION_DATA_DIR=<data dir> \\
        .venv/bin/python benchmarks/mixed_load.py --configs 2x4 --rates 8 --seconds 30
    .venv/bin/python benchmarks/load/writer_waits.py <dir>

The figures before the writers' lock (Django's own SQLite backend) come from this file run against
the commit before it. A *wait* is the time from asking to begin a transaction (``BEGIN IMMEDIATE``,
and the writers' lock before it) to having begun; a *hold* is the time from having begun to the end
of the commit or rollback, with the code that began it. Only those of 20 ms or more are written.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

THRESHOLD_MS = 20.0


def post_fork(server: Any, worker: Any) -> None:
    from importlib import import_module

    from django.conf import settings

    # The backend the settings name (Django's own before medunion.core.sqlite_backend: this file
    # copied into an older checkout measures that).
    base = import_module(settings.DATABASES["default"]["ENGINE"] + ".base")

    log_path = Path(os.environ["MEDUNION_WRITER_WAITS"]) / f"waits-{os.getpid()}.log"
    out = open(log_path, "a", buffering=1)  # noqa: SIM115  (open for the worker's life)
    local = threading.local()
    begin, commit, rollback = (base.DatabaseWrapper._start_transaction_under_autocommit,
                               base.DatabaseWrapper._commit, base.DatabaseWrapper._rollback)

    def timed_begin(self: Any) -> None:
        asked = time.perf_counter()
        begin(self)
        local.began = time.perf_counter()
        local.where = " < ".join(f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno}"
                                 for f in traceback.extract_stack(limit=14)
                                 if "/medunion/" in f.filename and "/benchmarks/" not in f.filename)
        if (waited := (local.began - asked) * 1000) >= THRESHOLD_MS:
            out.write(f"wait {waited:.0f}\n")

    def ending(end: Any) -> Any:
        def timed_end(self: Any) -> Any:
            try:
                return end(self)
            finally:
                began = getattr(local, "began", None)
                if began is not None:
                    local.began = None
                    if (held := (time.perf_counter() - began) * 1000) >= THRESHOLD_MS:
                        out.write(f"hold {held:.0f} {local.where}\n")
        return timed_end

    base.DatabaseWrapper._start_transaction_under_autocommit = timed_begin
    base.DatabaseWrapper._commit = ending(commit)
    base.DatabaseWrapper._rollback = ending(rollback)


def summary(folder: Path) -> None:
    waits: list[float] = []
    holds: list[float] = []
    where: Counter[str] = Counter()
    for log in folder.glob("waits-*.log"):
        for line in log.read_text().splitlines():
            kind, ms, *rest = line.split(" ", 2)
            (waits if kind == "wait" else holds).append(float(ms))
            if kind == "hold" and rest:
                where[rest[0].split(" < ")[-1]] += 1
    for name, values in (("waits", waits), ("holds", holds)):
        values.sort()
        if values:
            median, p90 = values[len(values) // 2], values[int(len(values) * 0.9)]
            print(f"{name} of {THRESHOLD_MS:.0f} ms or more: {len(values)}; median {median:.0f} ms, "
                  f"p90 {p90:.0f} ms, longest {values[-1]:.0f} ms")
        else:
            print(f"{name} of {THRESHOLD_MS:.0f} ms or more: none")
    for place, count in where.most_common(5):
        print(f"  held from {place}: {count}")


if __name__ == "__main__":
    summary(Path(sys.argv[1]))
