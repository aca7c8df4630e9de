"""medunion.core.sqlite_backend: a writer holds ``<database>.writers`` from BEGIN to the end of its
transaction (commit, rollback, a failed commit's rollback, close), a second writer waits for it and
then goes, gives up with "database is locked" after the configured timeout; an in-memory database
takes no lock, a lock file that cannot be opened leaves the writes to SQLite's own lock (with one
warning), and the file is as readable as the database. On temporary database files, whatever the
suite's own database is."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest
from django.db import IntegrityError
from django.db.utils import ConnectionHandler, OperationalError


def wrapper(path: str, timeout: float = 5.0):
    handler = ConnectionHandler({"default": {
        "ENGINE": "medunion.core.sqlite_backend", "NAME": path,
        "OPTIONS": {"timeout": timeout, "transaction_mode": "IMMEDIATE"}}})
    return handler["default"]


def taken(path: str) -> bool:
    """Whether someone holds the writers' lock (asked through a descriptor of our own)."""
    fd = os.open(f"{path}.writers", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def begin(conn) -> None:
    conn.ensure_connection()
    conn._start_transaction_under_autocommit()  # what transaction.atomic() calls, outermost


@pytest.fixture(autouse=True)
def _own_databases(django_db_blocker):
    with django_db_blocker.unblock():  # these tests open their own database files, not the suite's
        yield


@pytest.fixture
def dbfile(tmp_path: Path, _own_databases) -> str:
    path = str(tmp_path / "writers.sqlite3")
    conn = wrapper(path)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, parent INTEGER "
                    "REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED)")
    conn.close()
    return path


def test_held_from_begin_to_commit_rollback_and_close(dbfile):
    conn = wrapper(dbfile)
    for end in (conn.commit, conn.rollback, conn.close):
        assert not taken(dbfile)
        begin(conn)
        assert taken(dbfile)
        with conn.cursor() as cur:
            cur.execute("INSERT INTO t (parent) VALUES (NULL)")
        end()
        assert not taken(dbfile), end
    check = wrapper(dbfile)
    with check.cursor() as cur:  # commit kept its row, rollback and close did not
        cur.execute("SELECT COUNT(*) FROM t")
        assert cur.fetchone()[0] == 1
    check.close()


def test_a_failed_commit_keeps_the_turn_until_its_rollback(dbfile):
    conn = wrapper(dbfile)
    begin(conn)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO t (parent) VALUES (999)")  # a deferred foreign key: fails at commit
    with pytest.raises(IntegrityError):
        conn.commit()
    assert conn.connection.in_transaction and taken(dbfile)
    conn.rollback()
    assert not taken(dbfile)
    conn.close()


def test_a_second_writer_waits_for_the_first_then_goes(dbfile):
    first = wrapper(dbfile)
    begin(first)
    began = threading.Event()

    def write() -> None:
        second = wrapper(dbfile)  # a connection belongs to its thread
        begin(second)  # waits here
        began.set()
        with second.cursor() as cur:
            cur.execute("INSERT INTO t (parent) VALUES (NULL)")
        second.commit()
        second.close()

    worker = threading.Thread(target=write)
    worker.start()
    assert not began.wait(0.3)  # the first still writes
    with first.cursor() as cur:
        cur.execute("INSERT INTO t (parent) VALUES (NULL)")
    first.commit()
    assert began.wait(5)
    worker.join(5)
    first.close()
    assert not taken(dbfile)
    check = wrapper(dbfile)
    with check.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM t")
        assert cur.fetchone()[0] == 2
    check.close()


def test_gives_up_after_the_timeout_with_database_is_locked(dbfile):
    holder, late = wrapper(dbfile), wrapper(dbfile, timeout=0.2)
    begin(holder)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        begin(late)
    assert 0.2 <= time.monotonic() - started < 3
    assert not late.connection.in_transaction  # nothing begun, no turn kept
    holder.rollback()
    begin(late)  # free again
    late.rollback()
    holder.close()
    late.close()


def test_an_in_memory_database_takes_no_lock(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conn = wrapper(":memory:")
    begin(conn)
    conn.rollback()
    assert not list(tmp_path.iterdir())


def test_without_its_lock_file_a_writer_still_writes_and_a_warning_says_so(dbfile, caplog):
    os.mkdir(f"{dbfile}.writers")  # a directory where the lock file would be: it cannot be opened
    conn = wrapper(dbfile)
    with caplog.at_level("WARNING", logger="medunion.core.sqlite_backend.base"):
        for _ in range(2):
            begin(conn)
            with conn.cursor() as cur:
                cur.execute("INSERT INTO t (parent) VALUES (NULL)")
            conn.commit()
    assert [r.getMessage() for r in caplog.records].count(
        f"writers take no turns: {dbfile}.writers cannot be opened (Is a directory)") == 1
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM t")
        assert cur.fetchone()[0] == 2
    conn.close()


def test_the_lock_file_is_as_readable_as_the_database_and_a_read_only_one_serves(dbfile):
    assert not os.path.exists(f"{dbfile}.writers")  # made by the first transaction
    conn = wrapper(dbfile)
    begin(conn)
    conn.rollback()
    assert os.stat(f"{dbfile}.writers").st_mode & 0o777 == os.stat(dbfile).st_mode & 0o777
    conn.close()
    os.chmod(f"{dbfile}.writers", 0o444)  # made by another account: we may only read it
    other = wrapper(dbfile)
    begin(other)
    assert taken(dbfile)
    other.commit()
    assert not taken(dbfile)
    other.close()
