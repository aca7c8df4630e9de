"""PostgreSQL: pg_dump from an exported snapshot, per-table statistics, the restore with psql.

The backup opens one REPEATABLE READ transaction, exports its snapshot, and runs
``pg_dump --format=custom --snapshot=…`` on it, while the statistics of the manifest are computed
in that same transaction: the dump and the manifest describe exactly the same state, however
much the server writes meanwhile.

The restore runs ``pg_restore -f -`` (the dump as SQL) into ``psql`` inside one transaction that
first removes the (empty, or with ``force`` replaced) target's tables, then loads the dump, then
recomputes every table's row count and checksum and raises an error if one differs from the
manifest's — and only then commits. Any error rolls everything back: the target is unchanged.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _

from .common import AUDIT_TABLE, BOOKKEEPING, BackupError, Stats, bar, check_name, counter

KIND = "postgresql"
SCHEMA = "public"
_ROW = "mu_row__"  # the whole-row alias in the checksum query
CHECKSUM_PREFIX = "md5-60-sum:"


def _checksum_sql(schema: str, table: str, audit_upto: int | None) -> str:
    """Rows and the sum of the first 60 bits of each row's MD5 (of its text form, in UTC)."""
    sql = (f"SELECT count(*), coalesce(sum(('x' || left(md5({_ROW}::text), 15))::bit(60)::bigint), 0) "  # noqa: S608 - names checked (check_name), numbers int()
           f'FROM "{check_name(schema)}"."{check_name(table)}" AS {_ROW}')
    if table == AUDIT_TABLE and audit_upto is not None:
        sql += f" WHERE seq <= {int(audit_upto)}"
    return sql


def connection_params(db: dict[str, Any]) -> dict[str, str]:
    """libpq parameters from a Django DATABASES entry."""
    params = {"dbname": db.get("NAME") or "", "user": db.get("USER") or "", "password": db.get("PASSWORD") or "",
              "host": db.get("HOST") or "", "port": str(db.get("PORT") or "")}
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
        if (db.get("OPTIONS") or {}).get(key):
            params[key] = str(db["OPTIONS"][key])
    return {k: v for k, v in params.items() if v}


def _env(params: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    names = {"dbname": "PGDATABASE", "user": "PGUSER", "password": "PGPASSWORD", "host": "PGHOST",
             "port": "PGPORT", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
             "sslkey": "PGSSLKEY"}
    env.update({names[k]: v for k, v in params.items()})
    return env


def find_binary(name: str) -> str:
    """``name`` (pg_dump, pg_restore, psql) from MEDUNION_PG_BINDIR or PG_BINDIR, the newest
    /usr/lib/postgresql/<version>/bin, or the PATH."""
    dirs = [os.environ.get("MEDUNION_PG_BINDIR", ""), os.environ.get("PG_BINDIR", "")]
    dirs += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for d in dirs:
        if d and os.access(Path(d) / name, os.X_OK):
            return str(Path(d) / name)
    found = shutil.which(name)
    if not found:
        raise BackupError(_("The PostgreSQL client program %(name)s was not found (install the postgresql-client "
                            "package, or set MEDUNION_PG_BINDIR).") % {"name": name})
    return found


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def connect(params: dict[str, str], **kwargs: Any) -> Any:
    import psycopg

    try:
        conn = psycopg.connect(psycopg.conninfo.make_conninfo(**params), **kwargs)
    except psycopg.Error as exc:
        raise BackupError(_("The PostgreSQL database cannot be reached: %(error)s") % {"error": exc}) from exc
    return conn


def drop_database(conn: Any, name: str) -> None:
    """Drop a throw-away database (a drill's, a test's), ending the sessions still on it. ``conn``
    is an autocommit connection to another database of the server.

    ``WITH (FORCE)`` ends the sessions, but refuses the whole drop when one of them is a process
    the caller may not signal: an autovacuum worker, which the server starts on a freshly loaded
    database. A plain ``DROP DATABASE`` ends autovacuum workers itself (it waits a few seconds for
    them), so on that refusal the database is dropped without FORCE."""
    import psycopg

    quoted = '"' + name.replace('"', '""') + '"'
    try:
        conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    except psycopg.errors.InsufficientPrivilege:
        conn.execute(f"DROP DATABASE IF EXISTS {quoted}")


class PgReader:
    """Queries on one PostgreSQL database state (a snapshot's transaction, or a restored database)."""

    kind = KIND

    def __init__(self, conn: Any, schema: str = SCHEMA):
        self.conn = conn
        self.schema = schema
        conn.execute("SET TimeZone TO 'UTC'")
        conn.execute("SET DateStyle TO 'ISO, YMD'")
        conn.execute("SET extra_float_digits TO 1")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql).fetchall())

    def tables(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY 1", [self.schema])]

    def stats(self, *, audit_upto: int | None = None, progress: bool = False, position: int = 0) -> Stats:
        out: Stats = {}
        for table in bar(self.tables(), enabled=progress, desc=_("checksums"), position=position):
            n, total = self.conn.execute(_checksum_sql(self.schema, table, audit_upto)).fetchone()
            out[table] = {"rows": int(n), "checksum": f"{CHECKSUM_PREFIX}{int(total)}"}
        return out

    def key_ids(self, table: str, column: str) -> set[str]:
        t, c = check_name(table), check_name(column)
        return {r[0] for r in self.conn.execute(
            f'SELECT DISTINCT split_part("{c}", \'$\', 1) FROM "{self.schema}"."{t}" WHERE "{c}" <> \'\'')}  # noqa: S608 - names checked (check_name), numbers int()

    def server_version(self) -> str:
        return str(self.conn.execute("SHOW server_version").fetchone()[0])


class _Drain(threading.Thread):
    """Reads a child's stderr: keeps the last lines, counts the lines with ``marker`` in them."""

    def __init__(self, stream: IO[bytes], marker: bytes = b"", on_mark: Any = None):
        super().__init__(daemon=True)
        self.stream, self.marker, self.on_mark = stream, marker, on_mark
        self.tail: deque[str] = deque(maxlen=20)

    def run(self) -> None:
        for line in self.stream:
            if self.marker and self.marker in line and self.on_mark:
                self.on_mark()
            else:
                self.tail.append(line.decode(errors="replace").rstrip())

    def text(self) -> str:
        return "\n".join(self.tail)


class PgSnapshot:
    """One REPEATABLE READ transaction whose snapshot pg_dump shares."""

    def __init__(self, params: dict[str, str]):
        import psycopg

        self.params = params
        self.conn = connect(params)
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        self.reader = PgReader(self.conn)
        self.snapshot_id = str(self.conn.execute("SELECT pg_export_snapshot()").fetchone()[0])
        self.proc: subprocess.Popen[bytes] | None = None
        self._drain: _Drain | None = None
        self._bar: Any = None

    def start_dump(self, out: Path, *, progress: bool, tables: int, compress: int = 1) -> None:
        argv = [find_binary("pg_dump"), "--format=custom", f"--compress={compress}", "--no-owner",
                "--no-privileges", f"--snapshot={self.snapshot_id}", "--verbose", f"--file={out}"]
        self._bar = counter(enabled=progress, desc=_("dumping the database"), total=tables, unit="table", position=1)
        self.proc = subprocess.Popen(argv, env=_env(self.params), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        self._drain = _Drain(self.proc.stderr, b"dumping contents of table", lambda: self._bar.update(1))
        self._drain.start()

    def wait_dump(self) -> None:
        assert self.proc is not None and self._drain is not None
        rc = self.proc.wait()
        self._drain.join()
        self._bar.close()
        if rc != 0:
            raise BackupError(_("pg_dump failed (exit status %(rc)d):\n%(log)s") % {"rc": rc, "log": self._drain.text()})

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            self.conn.rollback()
        finally:
            self.conn.close()


def tables_with_data(params: dict[str, str]) -> list[str]:
    """The target's tables that hold rows `migrate` does not write."""
    with connect(params, autocommit=True) as conn:
        reader = PgReader(conn)
        return [t for t in reader.tables() if t not in BOOKKEEPING
                and conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{SCHEMA}"."{check_name(t)}")').fetchone()[0]]  # noqa: S608 - names checked (check_name), numbers int()


def _drop_statements(params: dict[str, str]) -> list[str]:
    """What clears the target's schema of its tables, views, sequences and functions (the schema
    itself, with its owner and grants, and extensions' objects stay)."""
    with connect(params, autocommit=True) as conn:
        rels = conn.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND NOT EXISTS "
            "(SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') ORDER BY 1", [SCHEMA]).fetchall()
        funcs = conn.execute("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
                             "ON n.oid = p.pronamespace WHERE n.nspname = %s AND NOT EXISTS "
                             "(SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
                             [SCHEMA]).fetchall()
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    out = [f'DROP {kinds[kind]} IF EXISTS "{SCHEMA}"."{check_name(name)}" CASCADE;' for name, kind in rels]
    out += [f"DROP FUNCTION IF EXISTS {sig} CASCADE;" for (sig,) in funcs]
    return out


def _verification(expected: Stats) -> str:
    """A DO block that raises an error (so the transaction rolls back) when a table's rows
    differ from the manifest's."""
    lines = ["SET TimeZone TO 'UTC';", "SET DateStyle TO 'ISO, YMD';", "SET extra_float_digits TO 1;",
             "DO $medunion$", "DECLARE n bigint; s numeric;", "BEGIN"]
    for table, want in sorted(expected.items()):
        rows, checksum = int(want["rows"]), str(want["checksum"])
        if not checksum.startswith(CHECKSUM_PREFIX) or not checksum[len(CHECKSUM_PREFIX):].isdigit():
            raise BackupError(_("The manifest's checksum of %(table)s is not a PostgreSQL checksum.") % {"table": table})
        total = checksum[len(CHECKSUM_PREFIX):]
        lines.append(f"  {_checksum_sql(SCHEMA, table, None)} INTO n, s;")
        lines.append(f"  IF n <> {rows} OR s <> {total} THEN RAISE EXCEPTION "
                     f"'medunion: table {table}: % rows (checksum %) restored, the backup has {rows} "
                     f"(checksum {total})', n, s; END IF;")
    lines += ["END", "$medunion$;"]
    return "\n".join(lines) + "\n"


def check_dump(dump: Path) -> None:
    """pg_restore can read the archive's table of contents."""
    done = subprocess.run([find_binary("pg_restore"), "--list", str(dump)], capture_output=True, check=False)
    if done.returncode != 0:
        raise BackupError(_("The database dump cannot be read by pg_restore: %(error)s")
                          % {"error": done.stderr.decode(errors="replace").strip()})


def restore(dump: Path, params: dict[str, str], expected: Stats, *, progress: bool) -> None:
    """Load ``dump`` into the target in one transaction, checked against ``expected``."""
    check_dump(dump)
    head = "BEGIN;\n" + "\n".join(_drop_statements(params)) + "\n"
    tail = _verification(expected) + "COMMIT;\nANALYZE;\n"
    env = _env(params)
    psql = subprocess.Popen([find_binary("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    source = subprocess.Popen([find_binary("pg_restore"), "--no-owner", "--no-privileges", "-f", "-", str(dump)],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert psql.stdin and psql.stderr and source.stdout and source.stderr
    psql_log, source_log = _Drain(psql.stderr), _Drain(source.stderr)
    psql_log.start()
    source_log.start()
    loading = [t for t, want in expected.items() if want["rows"]]
    broken = False
    try:
        with counter(enabled=progress, desc=_("restoring the database"), total=len(loading), unit="table") as tables:
            try:
                psql.stdin.write(head.encode())
                while chunk := source.stdout.read(1 << 20):
                    psql.stdin.write(chunk)
                    tables.update(chunk.count(b"\nCOPY "))
                source_ok = source.wait() == 0
                psql.stdin.write(tail.encode() if source_ok else b"ROLLBACK;\n")
                psql.stdin.close()
            except BrokenPipeError:
                broken = True  # psql stopped at an error: its log says which
        rc = psql.wait()
    finally:
        for proc in (source, psql):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    psql_log.join()
    source_log.join()
    if source.returncode != 0:
        raise BackupError(_("pg_restore could not read the dump; nothing was restored (the target is unchanged):"
                            "\n%(log)s") % {"log": source_log.text()})
    if rc != 0 or broken:
        raise BackupError(_("The restore failed and was rolled back (the target is unchanged):\n%(log)s")
                          % {"log": psql_log.text()})
