"""How long `medunion demo` takes to build the demo consortium into a fresh SQLite database.

    .venv/bin/python benchmarks/demo_build.py          # 3 builds, each into a new database
    .venv/bin/python benchmarks/demo_build.py 5

Prints the time of each build and the rows written; the numbers last seen are in
benchmarks/README.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import os, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from medunion.demo.build import build_demo
report = build_demo()
print(f"{report.seconds:.2f} " + " ".join(f"{k}={v}" for k, v in sorted(report.counts.items())))
"""


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "MEDUNION_DATA_DIR": tmp, "MEDUNION_SQLITE_PATH": str(Path(tmp) / "demo.sqlite3"),
                   "MEDUNION_LOG_LEVEL": "WARNING"}
            env.pop("DATABASE_URL", None)
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
            total = time.perf_counter() - started
            build, _, counts = out.stdout.strip().partition(" ")
            print(f"run {i + 1}: build {float(build):.2f} s, whole process (start, migrate, build) {total:.2f} s")
            if i == 0:
                print(f"  {counts}")


if __name__ == "__main__":
    main()
