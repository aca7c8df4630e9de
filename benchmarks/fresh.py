"""A fresh, migrated database for a benchmark script: SQLite in ``workdir``, or (``pg=True`` and
``DATABASE_URL`` set, as ``scripts/with-postgres.sh`` does) the empty PostgreSQL database it names."""

from __future__ import annotations

import os
from pathlib import Path


def fresh_database(workdir: Path, *, pg: bool = False) -> None:
    if not pg:
        os.environ.pop("DATABASE_URL", None)
    os.environ["MEDUNION_DATA_DIR"] = str(workdir)
    os.environ["MEDUNION_SQLITE_PATH"] = str(workdir / "bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
    os.environ.setdefault("MEDUNION_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
