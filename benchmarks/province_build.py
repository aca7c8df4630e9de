"""How long `medunion generate` takes to build a generated data set, per stage, with its peak memory,
database size and the load average around it.

    .venv/bin/python benchmarks/province_build.py --scale small           # a new SQLite database in a temp dir
    .venv/bin/python benchmarks/province_build.py --scale province --data-dir DIR   # keep it in DIR
    scripts/with-postgres.sh .venv/bin/python benchmarks/province_build.py --scale province   # PostgreSQL
                                                                          # (DATABASE_URL: an empty database)

Run it on a quiet machine (it is CPU-bound; other work lengthens it). The encryption
and lookup keys come from the environment (``medunion keygen``); MEDUNION_DEMO=1 is set for the
child. Prints the generator's summary (seconds and rows per stage, totals), then the child's peak
resident memory, the database size and the load average before and after; the numbers last seen
are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _size(env: dict[str, str]) -> str:
    if env.get("DATABASE_URL"):
        code = ("import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'medunion.settings'); "
                "django.setup(); from django.db import connection; c = connection.cursor(); "
                "c.execute('SELECT pg_size_pretty(pg_database_size(current_database()))'); print(c.fetchone()[0])")
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()
    path = Path(env["MEDUNION_SQLITE_PATH"])
    total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return f"{total / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small", choices=["province", "small", "tiny"])
    parser.add_argument("--seed", type=int, default=810)
    parser.add_argument("--data-dir", help="SQLite: build here (kept); default: a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data_dir or tmp)
        env = {**os.environ, "MEDUNION_DEMO": "1", "MEDUNION_DATA_DIR": str(data)}
        if not env.get("DATABASE_URL"):
            env.setdefault("MEDUNION_SQLITE_PATH", str(data / "medunion.sqlite3"))
        before = os.getloadavg()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "medunion.cli", "generate", "--scale", args.scale, "--seed",
                        str(args.seed), "--quiet"], env=env, check=True)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        after = os.getloadavg()
        print(f"wall {seconds:.0f} s; peak resident memory {peak:.0f} MiB; database {_size(env)}; "
              f"load average {before[0]:.2f} before, {after[0]:.2f} after")


if __name__ == "__main__":
    main()
