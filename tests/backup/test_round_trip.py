"""Backup and restore round trips on the database the suite runs on (SQLite or PostgreSQL): the
restored tables have the manifest's row counts and checksums, the stored files their bytes; the
backup is consistent while a writer commits; a restore that does not match its manifest is
rolled back; the manifest holds no key."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Any

import pytest
from django.conf import settings

from medunion.ops import postgres, sqlite
from medunion.ops.backup import Database, create_backup, restore_backup
from medunion.ops.common import BackupError

from .conftest import PHOTO, PHOTO_KEY, make_tiny_pg, make_tiny_sqlite


def reader_for(db: Database) -> tuple[Any, Any]:
    if db.kind == "sqlite":
        conn = sqlite.connect(db.path, readonly=True)
        return conn, sqlite.SqliteReader(conn)
    conn = postgres.connect(db.params, autocommit=True)
    return conn, postgres.PgReader(conn)


def stats_of(db: Database, **kwargs: Any) -> dict:
    conn, reader = reader_for(db)
    try:
        return reader.stats(**kwargs)
    finally:
        conn.close()


def test_round_trip(tmp_path, tiny, empty_target, restored_storage):
    outcome = create_backup(tmp_path / "backup", database=tiny)
    manifest = outcome.manifest
    assert manifest["tables"]["notes"]["rows"] == 40
    assert manifest["tables"]["patients_patient"]["rows"] == 5
    assert manifest["audit"] == {"events": 3, "last_seq": 3, "last_hash": f"{3:064x}"}
    assert manifest["migrations"] == ["patients.0001_initial"]
    assert manifest["files"]["count"] == 1
    assert manifest["keys"]["in_use"]["patients_patient.id_number"] == ["dev1"]

    restored = restore_backup(tmp_path / "backup", database=empty_target, storage=restored_storage)
    assert stats_of(empty_target) == manifest["tables"] == stats_of(tiny)
    with restored_storage.open(PHOTO_KEY) as fh:
        assert fh.read() == PHOTO
    assert any("current keys decrypt the restored data (1 encrypted columns" in n for n in restored.notes)


def test_the_manifest_holds_no_key(tmp_path, tiny):
    create_backup(tmp_path / "backup", database=tiny)
    text = "".join(p.read_text(errors="replace") for p in (tmp_path / "backup").glob("*.json"))
    secrets = [entry.split(":", 1)[1] for entry in settings.MEDUNION_ENCRYPTION_KEYS.split(",")]
    assert not [s for s in [*secrets, settings.MEDUNION_LOOKUP_KEY, settings.SECRET_KEY] if s in text]
    assert json.loads((tmp_path / "backup" / "manifest.json").read_text())["keys"]["included"] is False


def test_a_checksum_change_is_seen(tmp_path, tiny):
    before = stats_of(tiny)
    if tiny.kind == "sqlite":
        conn = sqlite3.connect(tiny.path, isolation_level=None)
    else:
        conn = postgres.connect(tiny.params, autocommit=True)
    conn.execute("UPDATE notes SET body = 'changed' WHERE id = 7")
    conn.close()
    after = stats_of(tiny)
    assert after["notes"]["rows"] == before["notes"]["rows"]
    assert after["notes"]["checksum"] != before["notes"]["checksum"]
    assert after["patients_patient"] == before["patients_patient"]


def test_pg_restore_that_does_not_match_is_rolled_back(tmp_path, pg_databases, restored_storage):
    source = make_tiny_pg(pg_databases())
    create_backup(tmp_path / "backup", database=source)
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    manifest["tables"]["notes"]["rows"] = 41
    (tmp_path / "backup" / "manifest.json").write_text(json.dumps(manifest))
    target = Database("postgresql", params=pg_databases())
    with pytest.raises(BackupError, match=r"(?s)rolled back .*table notes: 40 rows .* the backup has 41"):
        restore_backup(tmp_path / "backup", database=target, storage=restored_storage)
    conn, reader = reader_for(target)
    with conn:
        assert reader.tables() == []


def test_pg_restore_with_force_replaces_the_schema(tmp_path, pg_databases, restored_storage):
    source = make_tiny_pg(pg_databases())
    create_backup(tmp_path / "backup", database=source)
    target = make_tiny_pg(pg_databases(), notes=3)
    with postgres.connect(target.params, autocommit=True) as conn:
        conn.execute("CREATE TABLE leftover (id integer)")
    with pytest.raises(BackupError, match="holds data"):
        restore_backup(tmp_path / "backup", database=target, storage=restored_storage)
    restore_backup(tmp_path / "backup", database=target, storage=restored_storage, force=True)
    assert stats_of(target) == stats_of(source)


class Writer(threading.Thread):
    """Commits two rows per transaction (the same ``txn``) into ``notes`` until stopped."""

    def __init__(self, execute_pair: Any):
        super().__init__(daemon=True)
        self.execute_pair = execute_pair
        self.stop = threading.Event()
        self.commits: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        txn = 1000
        try:
            while not self.stop.is_set():
                txn += 1
                self.execute_pair(txn)
                self.commits.append(time.monotonic())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def _sqlite_pairs(path):
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA synchronous=OFF")  # the commits, not the disk, are what is tested

    def pair(txn: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO notes (txn, body) VALUES (?, 'a')", [txn])
        conn.execute("INSERT INTO notes (txn, body) VALUES (?, 'b')", [txn])
        conn.execute("COMMIT")
    return pair


def _pg_pairs(params):
    conn = postgres.connect(params)

    def pair(txn: int) -> None:
        with conn.transaction():
            conn.execute("INSERT INTO notes (id, txn, body) VALUES (%s, %s, 'a')", [2 * txn, txn])
            conn.execute("INSERT INTO notes (id, txn, body) VALUES (%s, %s, 'b')", [2 * txn + 1, txn])
    return pair


def test_online_backup_under_a_concurrent_writer(tmp_path, pg_or_sqlite, restored_storage, monkeypatch):
    if pg_or_sqlite == "sqlite":
        source = make_tiny_sqlite(tmp_path / "tiny.sqlite3")
        conn = sqlite3.connect(source.path, isolation_level=None)  # some volume: the copy takes many steps
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE filler (body text)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 2000,) for _ in range(1500)])
        conn.execute("COMMIT")
        conn.close()
        monkeypatch.setattr(sqlite, "PAGES_PER_STEP", 8)
        writer = Writer(_sqlite_pairs(source.path))
        target = Database("sqlite", path=tmp_path / "restored.sqlite3")
    else:
        source = make_tiny_pg(pg_or_sqlite())
        writer = Writer(_pg_pairs(source.params))
        target = Database("postgresql", params=pg_or_sqlite())
    writer.start()
    while len(writer.commits) < 5:
        time.sleep(0.01)
    started = time.monotonic()
    outcome = create_backup(tmp_path / "backup", database=source)
    ended = time.monotonic()
    time.sleep(0.05)
    writer.stop.set()
    writer.join(timeout=30)
    assert writer.error is None
    assert any(started < t < ended for t in writer.commits), "the writer committed while the backup ran"

    backed_up = outcome.manifest["tables"]["notes"]["rows"]
    assert stats_of(source)["notes"]["rows"] > backed_up > 40
    restore_backup(tmp_path / "backup", database=target, storage=restored_storage)
    assert stats_of(target) == outcome.manifest["tables"]
    conn, reader = reader_for(target)
    with conn:
        halves = reader.rows("SELECT txn, count(*) FROM notes WHERE txn > 1000 GROUP BY txn")
        txns = sorted(t for t, _n in halves)
    assert all(n == 2 for _t, n in halves), "a transaction is in the backup whole or not at all"
    assert txns == list(range(1001, 1001 + len(txns))), "the backup is one moment: every earlier commit is in it"
