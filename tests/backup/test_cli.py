"""`medunion backup` and `medunion restore` as an operator runs them, on the test world (with a
stored photo): the restored database has the manifest's rows and checksums (its audit log one
event longer: the restore's own), `medunion audit verify` passes on it, the keys notice is
printed, and a second restore over the data is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import translation

from medunion.files.actions import store_upload
from medunion.ops import postgres, sqlite
from medunion.ops.backup import Database
from tests.files.conftest import photo_bytes, upload

from .test_round_trip import stats_of

MEDUNION = str(Path(sys.executable).parent / "medunion")


def _env(tmp_path: Path, name: str, database: Database, file_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDUNION_", "DATABASE_URL"))}
    env.update({"MEDUNION_ENCRYPTION_KEYS": settings.MEDUNION_ENCRYPTION_KEYS,
                "MEDUNION_LOOKUP_KEY": settings.MEDUNION_LOOKUP_KEY, "MEDUNION_DATA_DIR": str(tmp_path / name),
                "MEDUNION_FILE_ROOT": str(file_root), "DJANGO_SETTINGS_MODULE": "medunion.settings"})
    if database.kind == "sqlite":
        env["MEDUNION_SQLITE_PATH"] = str(database.path)
    else:
        p = database.params
        host = urllib.parse.quote(p.get("host", ""), safe="")
        port = f":{p['port']}" if p.get("port") else ""
        env["DATABASE_URL"] = f"postgres://{p.get('user', '')}@{host}{port}/{p['dbname']}"
    return env


KEYS_NOTE = ("NOTE: the keys (MEDUNION_ENCRYPTION_KEYS, MEDUNION_LOOKUP_KEY) are not in the backup; the data "
             "cannot be read without them. Keep a copy of them, apart from the backup.")


def _said(msgid: str) -> str:
    """``msgid`` as the command prints it: in the platform's language (settings.LANGUAGE_CODE), as
    an operator at a Chinese hospital reads it."""
    with translation.override(settings.LANGUAGE_CODE):
        return translation.gettext(msgid)


def _medunion(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MEDUNION, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def source(world, tmp_path) -> Database:
    """The world, committed, as a database another process can open."""
    store_upload(acting=world.actor("village_doctor_a"), patient_id=world.patients["patient_a"].pk,
                 upload=upload("wound.jpg", photo_bytes()))
    if connection.vendor == "sqlite":
        path = tmp_path / "world.sqlite3"
        connection.ensure_connection()
        copy = sqlite.connect(path)
        connection.connection.backup(copy)
        copy.close()
        return Database("sqlite", path=path)
    return Database("postgresql", params=postgres.connection_params(connection.settings_dict))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_backup_and_restore_commands(source, tmp_path, file_root, pg_or_sqlite):
    backup = tmp_path / "backup"
    made = _medunion(_env(tmp_path, "src", source, file_root), "backup", str(backup), "--quiet")
    assert made.returncode == 0, made.stderr
    assert _said(KEYS_NOTE) in made.stdout
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["files"]["count"] == 1  # the photo (small: no preview)
    assert manifest["tables"]["patients_patient"]["rows"] > 0

    if pg_or_sqlite == "sqlite":
        target = Database("sqlite", path=tmp_path / "restored.sqlite3")
    else:
        target = Database("postgresql", params=pg_or_sqlite())
    env = _env(tmp_path, "restored", target, tmp_path / "restored-files")
    checked = _medunion(env, "restore", str(backup), "--check")
    assert checked.returncode == 0, checked.stderr
    assert _said("the backup is complete and readable with the current keys") in checked.stdout

    restored = _medunion(env, "restore", str(backup), "--quiet")
    assert restored.returncode == 0, restored.stderr
    sampled = _said("the current keys decrypt the restored data (%(n)d encrypted columns sampled)")
    assert sampled.split("%(n)d")[0] in restored.stdout
    assert _said(KEYS_NOTE) in restored.stdout
    found = stats_of(target, audit_upto=manifest["audit"]["last_seq"])
    assert found == manifest["tables"]
    assert stats_of(target)["audit_auditevent"]["rows"] == manifest["audit"]["events"] + 1
    assert sorted(p.name for p in (tmp_path / "restored-files").rglob("*") if p.is_file()) == \
        sorted(p.name for p in (backup / "files").rglob("*") if p.is_file())

    verified = _medunion(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout
    assert f"{manifest['audit']['events'] + 1} events, no broken link" in verified.stdout

    again = _medunion(env, "restore", str(backup), "--quiet")
    assert again.returncode == 2
    refusal = _said("The target database %(db)s holds data (%(tables)s); nothing was restored. A restore "
                    "replaces the whole database, its audit log included: restore into a new, empty "
                    "database, or, to replace this one, back it up and run again with --force.")
    assert refusal.split("%(tables)s")[1][:12] in again.stderr and "--force" in again.stderr
