"""Backups of real databases: a copy of the test world (committed, so that a second connection and
pg_dump see it), or a tiny database made here with the tables the manifest looks at, on SQLite
(a file) and on PostgreSQL (a fresh database in the test cluster, dropped afterwards)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from medunion.core.crypto import keyring
from medunion.files.storage import LocalStorage, get_storage
from medunion.ops import postgres
from medunion.ops.backup import Database

ID_NUMBER = "11010519491231002X"
TINY_TABLES = [
    "CREATE TABLE patients_patient (id integer PRIMARY KEY, name text, id_number text, phone text, address text)",
    "CREATE TABLE audit_auditevent (seq integer PRIMARY KEY, hash text)",
    "CREATE TABLE files_storedfile (id integer PRIMARY KEY, storage_key text, preview_key text, sha256 text, "
    "size integer)",
    "CREATE TABLE django_migrations (id integer PRIMARY KEY, app text, name text)",
    "CREATE TABLE notes (id integer PRIMARY KEY, txn integer, body text)",
]
PHOTO = b"\x89PNG\r\n\x1a\n" + b"not really a photo, bytes are bytes" * 10
PHOTO_KEY = "patients/tiny/photo.png"


@pytest.fixture(autouse=True)
def file_root(settings, tmp_path) -> Path:
    root = tmp_path / "files"
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(root)}}
    return root


@pytest.fixture
def restored_storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "restored-files")


def tiny_rows(notes: int = 40) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The rows of the tiny database (its one stored file is saved into the storage here)."""
    import hashlib

    if not get_storage().exists(PHOTO_KEY):
        get_storage().save(PHOTO_KEY, PHOTO)
    token = keyring().encrypt(ID_NUMBER, "patients.patient.id_number")
    return [
        ("patients_patient", [(i, f"患者{i}", token, "", "") for i in range(1, 6)]),
        ("audit_auditevent", [(i, f"{i:064x}") for i in range(1, 4)]),
        ("files_storedfile", [(1, PHOTO_KEY, "", hashlib.sha256(PHOTO).hexdigest(), len(PHOTO))]),
        ("django_migrations", [(1, "patients", "0001_initial")]),
        ("notes", [(i, i // 2, f"note {i}") for i in range(1, notes + 1)]),
    ]


def make_tiny_sqlite(path: Path, notes: int = 40) -> Database:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for ddl in TINY_TABLES:
        conn.execute(ddl)
    conn.execute("BEGIN")
    for table, rows in tiny_rows(notes):
        conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    conn.execute("COMMIT")
    conn.close()
    return Database("sqlite", path=path)


def make_tiny_pg(params: dict[str, str], notes: int = 40) -> Database:
    with postgres.connect(params, autocommit=True) as conn:
        for ddl in TINY_TABLES:
            conn.execute(ddl)
        for table, rows in tiny_rows(notes):
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(rows[0]))})", rows)
    return Database("postgresql", params=params)


@pytest.fixture
def pg_databases() -> Iterator[Callable[[], dict[str, str]]]:
    """Makes fresh, empty PostgreSQL databases (dropped at the end)."""
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump and pg_restore need PostgreSQL")
    base = postgres.connection_params(connection.settings_dict)
    made: list[str] = []

    def new() -> dict[str, str]:
        name = f"backup_{uuid.uuid4().hex[:12]}"
        with postgres.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return {**base, "dbname": name}

    yield new
    with postgres.connect(base, autocommit=True) as conn:
        for name in made:
            postgres.drop_database(conn, name)


@pytest.fixture
def tiny(tmp_path, pg_or_sqlite) -> Database:
    """A tiny database of the kind the suite runs on."""
    if pg_or_sqlite == "sqlite":
        return make_tiny_sqlite(tmp_path / "tiny.sqlite3")
    return make_tiny_pg(pg_or_sqlite())


@pytest.fixture
def empty_target(tmp_path, pg_or_sqlite) -> Database:
    if pg_or_sqlite == "sqlite":
        return Database("sqlite", path=tmp_path / "restored.sqlite3")
    return Database("postgresql", params=pg_or_sqlite())


@pytest.fixture
def pg_or_sqlite(request) -> Any:
    """"sqlite" when the suite runs on SQLite; on PostgreSQL, a maker of fresh databases."""
    if connection.vendor == "postgresql":
        return request.getfixturevalue("pg_databases")
    return "sqlite"
