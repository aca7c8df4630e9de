"""``medunion backup DEST`` and ``medunion restore SRC`` (docs/backup.md).

A backup is a directory::

    manifest.json       what the backup holds: per-table rows and checksums at the snapshot, the
                        audit chain's last event, the applied migrations, the MedUnion version,
                        the time, the checksums of the files below, the key check (no keys)
    database.sqlite3    SQLite: the online copy (sqlite3 backup API), integrity-checked
    database.pgdump     PostgreSQL: pg_dump --format=custom of the same snapshot
    files.json          the stored files: key, SHA-256, size
    files/…             their bytes

It is written into a hidden ``.<name>.partial-…`` directory beside DEST and renamed to DEST
only when complete: DEST either holds a whole backup or does not exist.

A restore checks the backup (manifest, checksums of the dump and of the files index, the
migrations, the current keys against the key check) before it touches anything; refuses a
target that holds data unless ``force``; writes the stored files, then the database in one
transaction; then compares the restored tables with the manifest and decrypts a sample.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _

import medunion
from medunion.core import clock
from medunion.files.storage import Storage, get_storage

from . import files as stored_files
from . import keys, postgres, sqlite
from .common import AUDIT_TABLE, BackupError, Reader, Stats, compare_stats, counter

FORMAT = "medunion-backup"
VERSION = 1
MANIFEST = "manifest.json"
FILES_INDEX = "files.json"
DB_FILE = {sqlite.KIND: "database.sqlite3", postgres.KIND: "database.pgdump"}
Say = Callable[[str], None]


@dataclass(frozen=True)
class Database:
    """Where the database is: a SQLite file, or PostgreSQL connection parameters."""

    kind: str
    path: Path | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.kind == sqlite.KIND:
            return str(self.path)
        return f"{self.params.get('dbname', '')} ({self.params.get('host', 'localhost')})"


def database_from_settings() -> Database:
    db = settings.DATABASES["default"]
    vendor = connections["default"].vendor  # the backend's own name for its database
    if vendor == "sqlite":
        return Database(sqlite.KIND, path=Path(db["NAME"]))
    if vendor == "postgresql":
        return Database(postgres.KIND, params=postgres.connection_params(dict(db)))
    raise BackupError(_("Backups are made of SQLite and PostgreSQL databases, not %(engine)s.")
                      % {"engine": db["ENGINE"]})


@dataclass
class Outcome:
    manifest: dict[str, Any]
    seconds: float
    bytes: int = 0
    notes: list[str] = field(default_factory=list)


def _sha256(path: Path, *, progress: bool, desc: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh, counter(enabled=progress, desc=desc, total=path.stat().st_size, unit="B",
                                         unit_scale=True) as done:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            done.update(len(chunk))
    return digest.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    with open(path, "x", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(reader: Reader, stats: Stats) -> dict[str, Any]:
    """What the snapshot holds besides the tables: the audit chain's tail, the migrations."""
    audit: dict[str, Any] = {"events": 0, "last_seq": 0, "last_hash": ""}
    if AUDIT_TABLE in stats:
        tail = reader.rows(f"SELECT seq, hash FROM {AUDIT_TABLE} ORDER BY seq DESC LIMIT 1")  # noqa: S608 - names checked (check_name), numbers int()
        audit = {"events": stats[AUDIT_TABLE]["rows"], "last_seq": int(tail[0][0]) if tail else 0,
                 "last_hash": tail[0][1] if tail else ""}
    migrations = [f"{app}.{name}" for app, name in reader.rows(
        "SELECT app, name FROM django_migrations ORDER BY app, name")] if "django_migrations" in stats else []
    return {"audit": audit, "migrations": migrations}


def create_backup(dest: Path, *, database: Database, storage: Storage | None = None, progress: bool = False,
                  say: Say = lambda s: None, allow_missing_files: bool = False, compress: int = 1) -> Outcome:
    """Back up the database (online) and its stored files into the new directory ``dest``."""
    started = time.perf_counter()
    dest = Path(dest).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(_("%(dest)s exists already; a backup is written only into a new (or empty) directory.")
                          % {"dest": dest})
    if not dest.parent.is_dir():
        raise BackupError(_("The directory %(dir)s does not exist.") % {"dir": dest.parent})
    work = dest.parent / f".{dest.name}.partial-{secrets.token_hex(4)}"
    work.mkdir()
    try:
        manifest = _take(work, database, storage or get_storage(), progress, say, allow_missing_files, compress)
        manifest["seconds"] = round(time.perf_counter() - started, 1)
        _write_json(work / MANIFEST, manifest)
        _fsync_dir(work)
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    return Outcome(manifest, time.perf_counter() - started, size)


def _take(work: Path, database: Database, storage: Storage, progress: bool, say: Say, allow_missing: bool,
          compress: int) -> dict[str, Any]:
    db_file = work / DB_FILE[database.kind]
    info: dict[str, Any] = {"kind": database.kind, "file": db_file.name}
    if database.kind == sqlite.KIND:
        assert database.path is not None
        say(_("copying the SQLite database %(path)s online (sqlite3 backup API) and checking the copy")
            % {"path": database.path})
        sqlite.snapshot(database.path, db_file, progress=progress)
        conn = sqlite.connect(db_file, readonly=True)
        try:
            reader: Reader = sqlite.SqliteReader(conn)
            say(_("counting and checksumming the rows of every table"))
            stats = reader.stats(progress=progress)
            described, key_info, wanted = _describe(reader, stats), keys.describe(reader), stored_files.referenced(reader)
            info["sqlite_version"] = conn.execute("SELECT sqlite_version()").fetchone()[0]
        finally:
            conn.close()
    else:
        snap = postgres.PgSnapshot(database.params)
        try:
            reader = snap.reader
            say(_("dumping the PostgreSQL database %(db)s (pg_dump, one snapshot) and checksumming its rows")
                % {"db": database.label})
            snap.start_dump(db_file, progress=progress, tables=len(reader.tables()), compress=compress)
            stats = snap.reader.stats(progress=progress)
            described, key_info, wanted = _describe(reader, stats), keys.describe(reader), stored_files.referenced(reader)
            info["server_version"] = snap.reader.server_version()
            info["schema"] = postgres.SCHEMA
            snap.wait_dump()
        finally:
            snap.close()
    say(_("copying %(n)d stored files") % {"n": len(wanted)})
    index, missing = stored_files.copy_out(storage, wanted, work, progress=progress, allow_missing=allow_missing)
    _write_json(work / FILES_INDEX, index)
    info["bytes"] = db_file.stat().st_size
    info["sha256"] = _sha256(db_file, progress=progress, desc=_("checksum of the database file"))
    return {
        "format": FORMAT,
        "version": VERSION,
        "medunion_version": medunion.__version__,
        "created_at": clock.now().isoformat(timespec="seconds"),
        "database": info,
        "tables": stats,
        "rows": sum(t["rows"] for t in stats.values()),
        **described,
        "files": {"index": FILES_INDEX, "index_sha256": _sha256(work / FILES_INDEX, progress=False, desc=""),
                  "count": len(index), "bytes": sum(f["size"] for f in index), "missing": missing},
        "keys": key_info,
    }


def read_manifest(src: Path) -> tuple[Path, dict[str, Any]]:
    """The backup directory and its manifest (``src`` is the directory or its manifest.json)."""
    src = Path(src)
    if src.is_file() and src.name == MANIFEST:
        src = src.parent
    path = src / MANIFEST
    if not src.exists():
        raise BackupError(_("There is no backup at %(src)s.") % {"src": src})
    if not path.is_file():
        raise BackupError(_("%(src)s is not a MedUnion backup (it has no %(manifest)s).")
                          % {"src": src, "manifest": MANIFEST})
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise BackupError(_("The backup's manifest cannot be read (%(error)s): the backup is damaged.")
                          % {"error": exc}) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(_("%(src)s is not a MedUnion backup.") % {"src": src})
    if manifest.get("version") != VERSION:
        raise BackupError(_("The backup has format version %(v)s; this MedUnion reads version %(mine)d.")
                          % {"v": manifest.get("version"), "mine": VERSION})
    try:
        for key in ("kind", "file", "sha256"):
            str(manifest["database"][key])
        for key in ("index", "index_sha256"):
            str(manifest["files"][key])
        if not isinstance(manifest["tables"], dict):
            raise TypeError("tables")
    except (KeyError, TypeError) as exc:
        raise BackupError(_("The backup's manifest is incomplete: the backup is damaged.")) from exc
    return src, manifest


def _known_migrations() -> set[str]:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {f"{app}.{name}" for app, name in loader.disk_migrations}


def check_backup(src: Path, *, database: Database, progress: bool = False, say: Say = lambda s: None,
                 key_check: bool = True, thorough: bool = False) -> tuple[Path, dict[str, Any], list[str]]:
    """Everything a restore checks before it touches the target; (directory, manifest, notes).
    ``thorough`` also reads the whole database file (SQLite: PRAGMA integrity_check, which the copy
    passed when the backup was made and whose bytes the checksum has just confirmed)."""
    src, manifest = read_manifest(src)
    kind = manifest["database"]["kind"]
    if kind != database.kind:
        raise BackupError(_("The backup is of a %(backup)s database; the target is %(target)s. A backup is restored "
                            "into the same kind of database.") % {"backup": kind, "target": database.kind})
    db_file = src / manifest["database"]["file"]
    if not db_file.is_file():
        raise BackupError(_("The backup has no database file (%(file)s): it is incomplete.") % {"file": db_file.name})
    say(_("checking the backup's database file"))
    if _sha256(db_file, progress=progress, desc=_("checksum of the database file")) != manifest["database"]["sha256"]:
        raise BackupError(_("The backup's database file does not match its checksum: the backup is damaged."))
    index_file = src / manifest["files"]["index"]
    if not index_file.is_file() or _sha256(index_file, progress=False, desc="") != manifest["files"]["index_sha256"]:
        raise BackupError(_("The backup's files index is missing or damaged."))
    notes = []
    migrations = set(manifest.get("migrations") or [])
    unknown, pending = migrations - _known_migrations(), _known_migrations() - migrations
    if unknown:
        raise BackupError(_("The backup was made by a newer MedUnion (migrations this version does not have: "
                            "%(names)s). Install that version or a later one to restore it.")
                          % {"names": ", ".join(sorted(unknown)[:5])})
    if pending:
        notes.append(_("The backup's schema is older than this MedUnion's: after the restore, `medunion migrate` "
                       "(or `medunion serve`) upgrades it (%(n)d migrations).") % {"n": len(pending)})
    found = keys.problems(manifest.get("keys") or {})
    if found and key_check:
        raise BackupError(_("The current keys cannot read this backup's data; nothing was restored.\n  %(problems)s\n"
                            "Set MEDUNION_ENCRYPTION_KEYS and MEDUNION_LOOKUP_KEY to the keys the data was written "
                            "with (or run again with --skip-key-check to restore unreadable data).")
                          % {"problems": "\n  ".join(found)})
    notes += found
    if kind == sqlite.KIND and thorough:
        say(_("checking the integrity of the backup's database (PRAGMA integrity_check)"))
        conn = sqlite.connect(db_file, readonly=True)
        try:
            problems = sqlite.integrity(conn)
        finally:
            conn.close()
        if problems:
            raise BackupError(_("The backup's database fails its integrity check: the backup is damaged."))
    elif kind == postgres.KIND:
        postgres.check_dump(db_file)
    return src, manifest, notes


def restore_backup(src: Path, *, database: Database, storage: Storage | None = None, force: bool = False,
                   progress: bool = False, say: Say = lambda s: None, key_check: bool = True) -> Outcome:
    """Restore the backup at ``src`` into ``database`` and its stored files into ``storage``."""
    started = time.perf_counter()
    src, manifest, notes = check_backup(src, database=database, progress=progress, say=say, key_check=key_check)
    db_file = src / manifest["database"]["file"]
    if database.kind == sqlite.KIND:
        assert database.path is not None
        if database.path.exists() and database.path.resolve() == db_file.resolve():
            raise BackupError(_("The target database is the backup's own file."))
        holding = sqlite.tables_with_data(database.path)
    else:
        holding = postgres.tables_with_data(database.params)
    if holding and not force:
        raise BackupError(_("The target database %(db)s holds data (%(tables)s); nothing was restored. A restore "
                            "replaces the whole database, its audit log included: restore into a new, empty "
                            "database, or, to replace this one, back it up and run again with --force.")
                          % {"db": database.label, "tables": ", ".join(holding[:5])})
    index = json.loads((src / manifest["files"]["index"]).read_text(encoding="utf-8"))
    say(_("restoring %(n)d stored files") % {"n": len(index)})
    written, kept = stored_files.restore_into(storage or get_storage(), index, src, progress=progress)
    expected: Stats = manifest["tables"]
    if database.kind == sqlite.KIND:
        assert database.path is not None
        say(_("restoring the database into %(db)s (one transaction)") % {"db": database.label})
        sqlite.restore(db_file, database.path, progress=progress)
        conn = sqlite.connect(database.path, readonly=True)
        try:
            reader: Reader = sqlite.SqliteReader(conn)
            say(_("comparing the restored rows with the manifest"))
            differences = compare_stats(expected, reader.stats(progress=progress))
            final = _final_checks(reader, manifest)
        finally:
            conn.close()
        if differences:
            raise BackupError(_("The restored database differs from the backup:\n  %(d)s")
                              % {"d": "\n  ".join(differences[:20])})
    else:
        say(_("restoring the database into %(db)s (one transaction, checked against the manifest before it "
              "commits)") % {"db": database.label})
        postgres.restore(db_file, database.params, expected, progress=progress)
        with postgres.connect(database.params, autocommit=True) as conn:
            final = _final_checks(postgres.PgReader(conn), manifest)
    notes += final
    if written or kept:
        notes.append(_("stored files: %(w)d written, %(k)d already there") % {"w": written, "k": kept})
    return Outcome(manifest, time.perf_counter() - started, notes=notes)


def _final_checks(reader: Reader, manifest: dict[str, Any]) -> list[str]:
    """The audit chain's tail as recorded; a sample of every encrypted column decrypts."""
    notes = []
    audit = manifest.get("audit") or {}
    if audit.get("last_seq"):
        tail = reader.rows(f"SELECT hash FROM {AUDIT_TABLE} WHERE seq = {int(audit['last_seq'])}")  # noqa: S608 - names checked (check_name), numbers int()
        if not tail or tail[0][0] != audit.get("last_hash"):
            raise BackupError(_("The restored audit chain does not end where the backup's did."))
    checked, problems = keys.sample_problems(reader)
    if problems:
        notes += problems
    elif checked:
        notes.append(_("the current keys decrypt the restored data (%(n)d encrypted columns sampled)") % {"n": checked})
    return notes


def record_event(action: str, manifest: dict[str, Any], where: str) -> None:
    """One audit row for a backup made or restored, on the configured database."""
    from medunion.access.actor import system_actor
    from medunion.audit.actions import record
    from medunion.audit.models import Verb

    record(system_actor(action.split(".")[-1]), action, Verb.EXPORT if action == "backup.create" else Verb.EXECUTE,
           object_type="backup", detail={"where": where, "created_at": manifest.get("created_at"),
                                         "rows": manifest.get("rows"),
                                         "audit_last_seq": (manifest.get("audit") or {}).get("last_seq")})


def summary(outcome: Outcome, *, restored: bool) -> list[str]:
    """What a backup or restore tells its operator at the end."""
    m = outcome.manifest
    audit = m.get("audit") or {}
    lines = [
        (_("restored the backup of %(at)s") if restored else _("backup of %(at)s written")) % {"at": m["created_at"]},
        _("  database: %(kind)s, %(tables)d tables, %(rows)d rows; audit chain: %(events)d events, last %(seq)s")
        % {"kind": m["database"]["kind"], "tables": len(m["tables"]), "rows": m["rows"],
           "events": audit.get("events", 0), "seq": audit.get("last_seq", 0)},
        _("  stored files: %(n)d (%(mb).1f MB)") % {"n": m["files"]["count"], "mb": m["files"]["bytes"] / 1e6},
    ]
    if m["files"].get("missing"):
        lines.append(_("  missing from the file store, not in the backup: %(n)d files") % {"n": len(m["files"]["missing"])})
    if restored:
        lines.append(_("  took %(s).1f s") % {"s": outcome.seconds})
    else:
        lines.append(_("  took %(s).1f s; the backup is %(mb).1f MB") % {"s": outcome.seconds, "mb": outcome.bytes / 1e6})
    lines += [f"  {note}" for note in outcome.notes]
    lines.append(_("NOTE: the keys (MEDUNION_ENCRYPTION_KEYS, MEDUNION_LOOKUP_KEY) are not in the backup; the data "
                   "cannot be read without them. Keep a copy of them, apart from the backup."))
    return lines
