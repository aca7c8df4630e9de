"""Every bad input is refused with its message, before anything is written: a missing, foreign,
damaged or incomplete backup; the wrong kind of database; a target that holds data; keys that
cannot read the data; a backup from a newer MedUnion; a destination that exists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from medunion.files.storage import get_storage
from medunion.ops import sqlite
from medunion.ops.backup import Database, check_backup, create_backup, restore_backup
from medunion.ops.common import BackupError

from .conftest import PHOTO_KEY, make_tiny_sqlite


@pytest.fixture
def backup(tmp_path) -> Path:
    dest = tmp_path / "backup"
    create_backup(dest, database=make_tiny_sqlite(tmp_path / "tiny.sqlite3"))
    return dest


@pytest.fixture
def target(tmp_path) -> Database:
    return Database("sqlite", path=tmp_path / "restored.sqlite3")


def _manifest(backup: Path) -> dict:
    return json.loads((backup / "manifest.json").read_text())


def _rewrite(backup: Path, change) -> None:
    manifest = _manifest(backup)
    change(manifest)
    (backup / "manifest.json").write_text(json.dumps(manifest))


def _refused(src: Path, target: Database, storage, match: str, **kwargs) -> None:
    with pytest.raises(BackupError, match=match):
        restore_backup(src, database=target, storage=storage, **kwargs)
    assert not target.path.exists() or sqlite.tables_with_data(target.path) == []
    assert not any(storage.iter_keys())


def test_missing_backup(tmp_path, target, restored_storage):
    _refused(tmp_path / "nowhere", target, restored_storage, "There is no backup at")


def test_directory_without_manifest(tmp_path, target, restored_storage):
    (tmp_path / "junk").mkdir()
    _refused(tmp_path / "junk", target, restored_storage, "is not a MedUnion backup")


def test_damaged_manifest(backup, target, restored_storage):
    (backup / "manifest.json").write_text('{"format": "medunion-backup", "vers')
    _refused(backup, target, restored_storage, "manifest cannot be read")


def test_foreign_json_and_unknown_version(backup, target, restored_storage):
    _rewrite(backup, lambda m: m.update(version=99))
    _refused(backup, target, restored_storage, "format version 99")
    _rewrite(backup, lambda m: m.update(format="something-else"))
    _refused(backup, target, restored_storage, "is not a MedUnion backup")


def test_incomplete_manifest(backup, target, restored_storage):
    _rewrite(backup, lambda m: m.pop("files"))
    _refused(backup, target, restored_storage, "manifest is incomplete")


def test_damaged_database_file(backup, target, restored_storage):
    data = bytearray((backup / "database.sqlite3").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (backup / "database.sqlite3").write_bytes(bytes(data))
    _refused(backup, target, restored_storage, "database file does not match its checksum")


def test_missing_database_file(backup, target, restored_storage):
    (backup / "database.sqlite3").unlink()
    _refused(backup, target, restored_storage, "has no database file")


def test_damaged_files_index(backup, target, restored_storage):
    (backup / "files.json").write_text("[]")
    _refused(backup, target, restored_storage, "files index is missing or damaged")


def test_damaged_stored_file_stops_before_the_database(backup, target, restored_storage):
    path = backup / "files" / PHOTO_KEY
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(BackupError, match="does not match its checksum: the backup is damaged"):
        restore_backup(backup, database=target, storage=restored_storage)
    assert not target.path.exists()


def test_wrong_kind_of_database(backup, restored_storage):
    pg = Database("postgresql", params={"dbname": "medunion"})
    with pytest.raises(BackupError, match="backup is of a sqlite database; the target is postgresql"):
        restore_backup(backup, database=pg, storage=restored_storage)


def test_target_with_data_is_refused_unless_forced(tmp_path, backup, restored_storage):
    occupied = make_tiny_sqlite(tmp_path / "occupied.sqlite3", notes=3)
    with pytest.raises(BackupError, match="holds data .*nothing was restored.*--force"):
        restore_backup(backup, database=occupied, storage=restored_storage)
    conn = sqlite.connect(occupied.path, readonly=True)
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (3,)
    conn.close()
    # The storage the tiny world saved its photo into has the same bytes under the same key.
    restore_backup(backup, database=occupied, storage=get_storage(), force=True)
    conn = sqlite.connect(occupied.path, readonly=True)
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (40,)
    conn.close()


def test_keys_that_cannot_read_the_data(backup, target, restored_storage, settings):
    settings.MEDUNION_ENCRYPTION_KEYS = "k2:" + "A" * 43 + "="
    settings.MEDUNION_LOOKUP_KEY = "B" * 43 + "="
    with pytest.raises(BackupError) as refused:
        restore_backup(backup, database=target, storage=restored_storage)
    assert "encrypted under key id dev1, which MEDUNION_ENCRYPTION_KEYS does not hold" in refused.value.message
    assert "MEDUNION_LOOKUP_KEY is not the lookup key" in refused.value.message
    assert not target.path.exists()
    # The same key id with other bytes is told apart too.
    settings.MEDUNION_ENCRYPTION_KEYS = "dev1:" + "A" * 43 + "="
    with pytest.raises(BackupError, match="key with id dev1 .* is not the key of that id"):
        check_backup(backup, database=target)
    # Told to, the restore goes on, and says the data cannot be decrypted.
    outcome = restore_backup(backup, database=target, storage=restored_storage, key_check=False)
    assert any("cannot be decrypted with the current keys" in n for n in outcome.notes)


def test_backup_from_a_newer_medunion(backup, target, restored_storage):
    _rewrite(backup, lambda m: m["migrations"].append("patients.9999_from_the_future"))
    _refused(backup, target, restored_storage, "made by a newer MedUnion .*patients.9999_from_the_future")


def test_target_is_the_backup_itself(backup, restored_storage):
    with pytest.raises(BackupError, match="the backup's own file"):
        restore_backup(backup, database=Database("sqlite", path=backup / "database.sqlite3"),
                       storage=restored_storage)


def test_backup_destination_that_exists(tmp_path, backup):
    source = Database("sqlite", path=tmp_path / "tiny.sqlite3")
    with pytest.raises(BackupError, match="exists already"):
        create_backup(backup, database=source)
    with pytest.raises(BackupError, match="does not exist"):
        create_backup(tmp_path / "no" / "such" / "dir", database=source)
    with pytest.raises(BackupError, match="There is no SQLite database"):
        create_backup(tmp_path / "b2", database=Database("sqlite", path=tmp_path / "none.sqlite3"))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_missing_stored_file_fails_the_backup_unless_allowed(tmp_path, file_root):
    source = make_tiny_sqlite(tmp_path / "tiny.sqlite3")
    (file_root / PHOTO_KEY).unlink()
    with pytest.raises(BackupError, match="1 stored file.* missing from the file store .*allow-missing-files"):
        create_backup(tmp_path / "b", database=source)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".") or p.name == "b"] == []
    outcome = create_backup(tmp_path / "b", database=source, allow_missing_files=True)
    assert outcome.manifest["files"]["missing"] == [PHOTO_KEY]
    assert outcome.manifest["files"]["count"] == 0


def test_a_damaged_stored_file_fails_the_backup(tmp_path, file_root):
    source = make_tiny_sqlite(tmp_path / "tiny.sqlite3")
    shutil.copy(file_root / PHOTO_KEY, tmp_path / "orig")
    (file_root / PHOTO_KEY).chmod(0o644)
    (file_root / PHOTO_KEY).write_bytes(b"changed")
    with pytest.raises(BackupError, match="does not match its recorded checksum"):
        create_backup(tmp_path / "b", database=source)
    assert not (tmp_path / "b").exists()
