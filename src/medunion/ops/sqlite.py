"""SQLite: the online backup (the sqlite3 backup API), per-table statistics, the restore.

The backup copies the database page by page while holding one read transaction on the source,
so the copy is the database as it was when that transaction began (in WAL mode, the server
keeps writing meanwhile; in rollback-journal mode, writers wait until the copy is done). The
restore copies the backup's pages into the target the same way; SQLite holds one write
transaction on the target from the first page to the last, so a restore that stops half-way
(an error, a kill) leaves the target as it was.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from .common import AUDIT_TABLE, BOOKKEEPING, BackupError, Stats, bar, check_name, counter

KIND = "sqlite"
PAGES_PER_STEP = 2048  # 8 MB per step with 4 KB pages: the progress bar moves, the lock is one


def _fail(what: str, exc: Exception) -> BackupError:
    return BackupError(_("%(what)s: %(error)s") % {"what": what, "error": exc})


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection (autocommit; transactions are begun explicitly)."""
    if readonly:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False, timeout=60)
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection, *, progress: bool, desc: str) -> None:
    with counter(enabled=progress, desc=desc, total=None, unit="page") as pages:
        def step(status: int, remaining: int, total: int) -> None:
            pages.total = total
            pages.n = total - remaining
            pages.refresh()

        src.backup(dst, pages=PAGES_PER_STEP, progress=step)


def integrity(conn: sqlite3.Connection, *, quick: bool = False) -> list[str]:
    """The problems PRAGMA integrity_check (or quick_check) reports; empty when there are none."""
    found = [row[0] for row in conn.execute(f"PRAGMA {'quick_check' if quick else 'integrity_check'}")]
    return [] if found == ["ok"] else found


def snapshot(source: Path, out: Path, *, progress: bool) -> None:
    """Copy the live database at ``source`` into the new file ``out``; check the copy."""
    if not source.is_file():
        raise BackupError(_("There is no SQLite database at %(path)s.") % {"path": source})
    try:
        src = connect(source)
        try:
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot begins here
            dst = connect(out)
            try:
                _copy(src, dst, progress=progress, desc=_("copying the database"))
                src.execute("COMMIT")
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
                problems = integrity(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.DatabaseError as exc:
        raise _fail(_("The SQLite database could not be copied"), exc) from exc
    if problems:
        raise BackupError(_("The copy of the database fails its integrity check: %(problems)s")
                          % {"problems": "; ".join(problems[:5])})


class SqliteReader:
    """Queries on one SQLite database file (a backup's copy, or a restored database)."""

    kind = KIND

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql).fetchall()

    def tables(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name")]

    def stats(self, *, audit_upto: int | None = None, progress: bool = False) -> Stats:
        """Rows and a checksum per table: the sum (mod 2^64) of a 64-bit BLAKE2b hash of every row,
        so the order the rows are read in does not matter."""
        out: Stats = {}
        for table in bar(self.tables(), enabled=progress, desc=_("checksums")):
            sql = f'SELECT * FROM "{check_name(table)}"'  # noqa: S608 - names checked (check_name), numbers int()
            if table == AUDIT_TABLE and audit_upto is not None:
                sql += f" WHERE seq <= {int(audit_upto)}"
            n = total = 0
            for row in self.conn.execute(sql):
                total += int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=8).digest(), "big")
                n += 1
            out[table] = {"rows": n, "checksum": f"blake2b64-sum:{total & 0xFFFFFFFFFFFFFFFF:016x}"}
        return out

    def key_ids(self, table: str, column: str) -> set[str]:
        t, c = check_name(table), check_name(column)
        return {r[0] for r in self.conn.execute(
            f'SELECT DISTINCT substr("{c}", 1, instr("{c}", \'$\') - 1) FROM "{t}" WHERE "{c}" <> \'\'')}  # noqa: S608 - names checked (check_name), numbers int()


def tables_with_data(path: Path) -> list[str]:
    """The tables of the database at ``path`` (if any) that hold rows `migrate` does not write."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        conn = connect(path, readonly=True)
        try:
            reader = SqliteReader(conn)
            return [t for t in reader.tables() if t not in BOOKKEEPING
                    and conn.execute(f'SELECT 1 FROM "{check_name(t)}" LIMIT 1').fetchone()]  # noqa: S608 - names checked (check_name), numbers int()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _fail(_("The target %(path)s is not a readable SQLite database") % {"path": path}, exc) from exc


def restore(backup_file: Path, target: Path, *, progress: bool) -> None:
    """Copy the backup's database into ``target`` in one write transaction; check the result."""
    if not target.parent.is_dir():
        raise BackupError(_("The directory of the target database does not exist: %(path)s")
                          % {"path": target.parent})
    try:
        src = connect(backup_file, readonly=True)
        try:
            dst = connect(target)
            try:
                dst.execute("PRAGMA busy_timeout = 60000")
                _copy(src, dst, progress=progress, desc=_("restoring the database"))
                dst.execute("PRAGMA journal_mode=WAL")
                problems = integrity(dst, quick=True)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.DatabaseError as exc:
        raise _fail(_("The database could not be restored (the target is unchanged)"), exc) from exc
    if problems:
        raise BackupError(_("The restored database fails its integrity check: %(problems)s")
                          % {"problems": "; ".join(problems[:5])})
