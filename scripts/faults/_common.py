# ruff: noqa: T201
"""What the fault drills share: a fresh drill database with the demo consortium, a real
`medunion serve` that can be killed and started again, the database's own integrity check, the
audit chain, and the RESULT line that ``run.py`` reads.

A drill imports it with ``sys.path.insert(0, str(Path(__file__).resolve().parent))`` and
``import _common``. Everything here is stable API for the drills:

- ``result_line(drill, db, acknowledged=…, present=…, duplicated=…, lost=…, errors=…, ok=…,
  detail=…)`` builds the last line a drill prints; ``emit_result(...)`` prints it (flushed);
  ``parse_result(text)`` finds it in a drill's output (``run.py``).
- ``drill_environment(name, db)`` (a context manager) yields a :class:`Drill`: the environment
  of the drill's server (fresh keys, ``MEDUNION_DEMO=1``, not debug) and its database — on
  SQLite a fresh directory under the system's temporary directory, on PostgreSQL a database of
  its own (``medunion_drill_<name>``) in the cluster ``DATABASE_URL`` points at (run under
  ``scripts/with-postgres.sh``), so a kept cluster's other databases are not touched.
- ``Drill.prepare(demo=True)`` migrates and builds the demo consortium (its logins: ``PASSWORD``);
  ``Drill.use()`` sets Django up in the drill's own process on the drill's database.
- :class:`Server`: ``medunion serve --no-worker --no-migrate`` on a fixed free port in a process
  group of its own: ``start()`` waits until ``/healthz`` answers (``launch()`` does not wait),
  ``kill()`` is ``kill -9`` of the whole group (master and workers), ``stop()`` a clean SIGTERM;
  restarts add ``--no-collectstatic``.
- ``integrity_check(drill)`` — SQLite ``PRAGMA integrity_check``; PostgreSQL amcheck
  (``bt_index_check`` with ``heapallindexed`` on every B-tree index, ``verify_heapam`` on every
  table of the drill's database). ``ChainCheck`` verifies the audit chain incrementally in
  process; ``audit_verify_cli(drill)`` runs ``medunion audit verify``.
- ``token(base, username)`` — a bearer token for the API; ``session()`` — a requests session.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MEDUNION = str(BIN / "medunion")
PASSWORD = "Demo-2026-medunion"  # the demo's published password (README, demo/personas.py)
DATABASES = ("sqlite", "pg")
RESULT_PREFIX = "RESULT "


# --- the RESULT line ---------------------------------------------------------------------------------

def result_line(drill: str, db: str, *, acknowledged: int | None, present: int | None, duplicated: int | None,
                lost: int | None, errors: int | None, ok: bool, detail: dict[str, Any] | None = None) -> str:
    body = {"drill": drill, "db": db, "acknowledged": acknowledged, "present": present, "duplicated": duplicated,
            "lost": lost, "errors": errors, "ok": bool(ok), "detail": detail or {}}
    return RESULT_PREFIX + json.dumps(body, ensure_ascii=False, default=str)


def emit_result(drill: str, db: str, **counts: Any) -> None:
    """Print the RESULT line as the last line of stdout."""
    sys.stdout.flush()
    print(result_line(drill, db, **counts), flush=True)


def not_applicable(drill: str, db: str, why: str) -> None:
    """The RESULT line of a drill that does not apply to this database (ok, nothing counted)."""
    emit_result(drill, db, acknowledged=None, present=None, duplicated=None, lost=None, errors=None, ok=True,
                detail={"skipped": why})


def parse_result(text: str) -> dict[str, Any] | None:
    """The last RESULT line of a drill's output, parsed; None when there is none."""
    for line in reversed(text.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                body = json.loads(line[len(RESULT_PREFIX):])
            except json.JSONDecodeError:
                return None
            return body if isinstance(body, dict) else None
    return None


# --- the drill's database and environment ------------------------------------------------------------

def keys() -> dict[str, str]:
    out = subprocess.run([MEDUNION, "keygen"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@dataclass
class Drill:
    name: str
    db: str
    work: Path
    env: dict[str, str]
    dbname: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def sqlite_path(self) -> Path:
        if self.env.get("MEDUNION_SQLITE_PATH"):
            return Path(self.env["MEDUNION_SQLITE_PATH"])
        return Path(self.env["MEDUNION_DATA_DIR"]) / "medunion.sqlite3"

    def run(self, *args: str, check: bool = True, quiet: bool = True) -> subprocess.CompletedProcess[str]:
        """``medunion ARGS`` in the drill's environment."""
        return subprocess.run([MEDUNION, *args], env=self.env, cwd=REPO, check=check, text=True,
                              capture_output=quiet)

    def prepare(self, *, demo: bool = True) -> float:
        """Migrate and (by default) build the demo consortium; returns the seconds it took."""
        started = time.monotonic()
        self.run("migrate")
        if demo:
            self.run("demo", "--quiet")
        return time.monotonic() - started

    def use(self) -> None:
        """Set Django up in this process, on the drill's database."""
        for key in [k for k in os.environ if k.startswith("MEDUNION_") and not k.startswith("MEDUNION_PG_")]:
            del os.environ[key]
        os.environ.update(self.env)
        if "DATABASE_URL" not in self.env:
            os.environ.pop("DATABASE_URL", None)
        import django

        django.setup()


@contextmanager
def drill_environment(name: str, db: str, *, keep: bool = False) -> Iterator[Drill]:
    """A fresh drill database and the environment of its server; removed afterwards unless
    ``keep`` (the work directory then stays for a look at the server's log)."""
    if db not in DATABASES:
        raise SystemExit(f"--db must be one of {', '.join(DATABASES)}")
    work = Path(tempfile.mkdtemp(prefix=f"medunion-drill-{name}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDUNION_") or k.startswith("MEDUNION_PG_")}
    env.update(keys())
    env.update({"MEDUNION_DEMO": "1", "MEDUNION_DATA_DIR": str(work / "var"),
                "MEDUNION_FILE_ROOT": str(work / "files"), "DJANGO_SETTINGS_MODULE": "medunion.settings"})
    drill = Drill(name=name, db=db, work=work, env=env)
    url = os.environ.get("DATABASE_URL", "")  # the cluster's (Drill.use points DATABASE_URL at the drill's)
    if db == "pg":
        if not url.startswith("postgres"):
            raise SystemExit("--db pg: run under scripts/with-postgres.sh (DATABASE_URL is not PostgreSQL)")
        drill.dbname = f"medunion_drill_{name}"
        recreate_pg_database(url, drill.dbname)
        parts = urllib.parse.urlsplit(url)
        env["DATABASE_URL"] = urllib.parse.urlunsplit(parts._replace(path=f"/{drill.dbname}"))
        env["PGDATABASE"] = drill.dbname
    else:
        env.pop("DATABASE_URL", None)
    try:
        yield drill
    finally:
        if "django" in sys.modules:  # the drill's own connections (Drill.use)
            from django.db import connections

            connections.close_all()
        if drill.db == "pg":
            _drop_quietly(url, drill.dbname, keep)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def recreate_pg_database(url: str, dbname: str) -> None:
    import psycopg

    from medunion.ops.postgres import drop_database

    with psycopg.connect(url, autocommit=True) as conn:
        drop_database(conn, dbname)
        conn.execute(f'CREATE DATABASE "{dbname}"')


def _drop_quietly(url: str, dbname: str, keep: bool) -> None:
    if keep or not url or not dbname:
        return
    try:
        import psycopg

        from medunion.ops.postgres import drop_database

        with psycopg.connect(url, autocommit=True) as conn:
            drop_database(conn, dbname)
    except Exception as exc:  # noqa: BLE001 - clean-up only
        print(f"note: could not drop {dbname}: {exc}", file=sys.stderr)


# --- the server ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`medunion serve --no-worker --no-migrate` (gunicorn) in a process group of its own, on a
    port kept across restarts."""

    def __init__(self, drill: Drill, *, workers: int = 2, threads: int = 4, port: int | None = None):
        self.drill = drill
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers, self.threads = workers, threads
        self.log = drill.work / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self, timeout: float = 90) -> float:
        """Start and wait until /healthz answers 200; returns the seconds that took."""
        import requests

        started = time.monotonic()
        self.launch()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {self.log}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer within {timeout} s; see {self.log}")

    def launch(self) -> None:
        """Start without waiting for an answer. A restart leaves out collectstatic (the first start
        collected the static files)."""
        argv = [MEDUNION, "serve", "--no-worker", "--no-migrate", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--threads", str(self.threads)]
        if self.starts:
            argv.append("--no-collectstatic")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, env=self.drill.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                                         start_new_session=True)
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9 the whole process group (gunicorn's master and its workers) and reap it."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.kills += 1
        _wait_group_gone(self.proc.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        _wait_group_gone(self.proc.pid)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_group_gone(pgid: int, timeout: float = 10) -> None:
    """Until no process of the group is left (workers are reparented and reaped by init)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        time.sleep(0.02)


# --- clients ---------------------------------------------------------------------------------------

def session() -> Any:
    import requests

    s = requests.Session()
    s.headers["Accept-Language"] = "en"
    return s


def token(base: str, username: str, password: str = PASSWORD) -> str:
    import requests

    response = requests.post(base + "/api/v1/auth/token", json={"username": username, "password": password},
                             timeout=60)
    response.raise_for_status()
    return str(response.json()["access_token"])


# --- checks ----------------------------------------------------------------------------------------

def integrity_check(drill: Drill) -> tuple[bool, str]:
    """The database's own check: (passed, what was checked or what failed)."""
    if drill.db == "sqlite":
        import sqlite3

        conn = sqlite3.connect(drill.sqlite_path, timeout=30)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
        return rows == ["ok"], "PRAGMA integrity_check: " + "; ".join(rows[:5])
    return _amcheck(drill)


AMCHECK_INDEXES = """
SELECT c.relname, bt_index_check(c.oid, true) FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE am.amname = 'btree' AND n.nspname = 'public' AND c.relpersistence <> 't' AND i.indisvalid
"""
AMCHECK_TABLES = """
SELECT c.relname, v.blkno, v.msg FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
LATERAL verify_heapam(c.oid) v WHERE c.relkind = 'r' AND n.nspname = 'public'
"""


def _amcheck(drill: Drill) -> tuple[bool, str]:
    """amcheck (a contrib module of the PostgreSQL server package) as the cluster's superuser:
    every B-tree index checked with heapallindexed (each table row is in its indexes) and every
    table's heap pages checked with verify_heapam."""
    import psycopg

    host = drill.env.get("PGHOST") or os.environ.get("PGHOST", "")
    try:
        with psycopg.connect(host=host, user="postgres", dbname=drill.dbname, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
            indexes = conn.execute(AMCHECK_INDEXES).fetchall()
            problems = conn.execute(AMCHECK_TABLES).fetchall()
    except psycopg.Error as exc:
        return False, f"amcheck failed: {exc}".strip()
    if problems:
        return False, "verify_heapam: " + "; ".join(f"{t} block {b}: {m}" for t, b, m in problems[:5])
    return True, f"amcheck: bt_index_check(heapallindexed) on {len(indexes)} indexes, verify_heapam on the tables"


class ChainCheck:
    """The audit chain verified incrementally (in a process where Django is set up): each call
    checks the rows added since the last one, linked to the last row checked."""

    def __init__(self) -> None:
        from medunion.audit.models import GENESIS

        self.prev = GENESIS
        self.last_seq = 0
        self.checked = 0

    def __call__(self, batch: int = 5000) -> tuple[bool, str]:
        from medunion.audit.models import AuditEvent

        while True:
            rows = list(AuditEvent.objects.filter(seq__gt=self.last_seq).order_by("seq")[:batch])
            if not rows:
                return True, f"{self.checked} events"
            for row in rows:
                if row.prev_hash != self.prev:
                    return False, f"broken link at event {row.seq}"
                if row.compute_hash() != row.hash:
                    return False, f"event {row.seq} does not match its hash"
                self.prev, self.last_seq = row.hash, row.seq
                self.checked += 1


def audit_verify_cli(drill: Drill) -> tuple[bool, str]:
    done = drill.run("audit", "verify", check=False)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def load() -> str:
    """The load average, to go with a measurement."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""
