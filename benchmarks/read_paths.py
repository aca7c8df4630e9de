"""The limit: for each main read path, the time of the bare SQL it needs against the whole request,
in-process and over HTTP, so the framework's share is visible.

    MEDUNION_DATA_DIR=<data dir> .venv/bin/python benchmarks/read_paths.py              # SQLite
    MEDUNION_PG_KEEP=<cluster dir> scripts/with-postgres.sh .venv/bin/python benchmarks/read_paths.py
    .venv/bin/python benchmarks/read_paths.py --demo            # the demo, built into a temporary directory
    scripts/with-postgres.sh .venv/bin/python benchmarks/read_paths.py --demo      # the demo on PostgreSQL

The data set is the one the environment names (a generated province or the demo consortium, keys
in the environment). For each path one account that may use it is picked
(``medunion.demo.province.sample`` on a generated data set, the demo's personas otherwise) and:

1. one request runs in-process inside a transaction that is rolled back, with Django's
   ``CaptureQueriesContext``: the SQL statements it needs, with their parameters filled in;
2. *bare SQL*: those statements (without the transaction control) run through the database
   cursor, every row fetched, inside a transaction that is rolled back, ``--repeat`` times;
3. *in-process*: the whole request through Django's test client (middleware, session or token,
   policy, audit row, template or JSON, commit), ``--repeat`` times;
4. *HTTP*: the same request over loopback to ``medunion serve --no-worker`` (gunicorn, 1 worker,
   1 thread), one keep-alive client, ``--repeat`` times.

Medians in milliseconds (wall time, one request at a time). Overhead = in-process − bare SQL
(Python: the ORM building the queries, the models, the policy, rendering) and HTTP − in-process
(gunicorn, the socket, the client).
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"
# Transaction control and session set-up are left out of the bare SQL; the planner setting
# around a joined query (medunion.core.planner) is part of the request's SQL and stays in.
TX_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET ")
KEPT = ("SET JOIN_COLLAPSE_LIMIT",)


@dataclass
class ReadPath:
    label: str
    username: str
    auth: str  # session | bearer
    url: str


def _setup(demo: bool, workdir: Path | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
    os.environ.setdefault("MEDUNION_LOG_LEVEL", "WARNING")
    os.environ["MEDUNION_NOTIFY_SENDERS"] = ""
    os.environ.setdefault("MEDUNION_DEMO", "1")
    os.environ.pop("MEDUNION_DEBUG", None)
    if demo:  # a fresh database: SQLite in workdir, or the empty one DATABASE_URL names
        assert workdir is not None
        os.environ["MEDUNION_DATA_DIR"] = str(workdir)
        if "MEDUNION_SECRET_KEY" not in os.environ:
            keys = subprocess.run([str(BIN / "medunion"), "keygen"], capture_output=True, text=True, check=True).stdout
            os.environ.update(dict(line.split("=", 1) for line in keys.split() if "=" in line))
    import django

    django.setup()
    if demo:
        from django.core.management import call_command

        from medunion.demo.build import build_demo

        call_command("migrate", interactive=False, verbosity=0)
        print("building the demo consortium …", flush=True)
        build_demo()


def pick_paths() -> list[ReadPath]:
    """One account and object per path: generated accounts when there are, else the demo's."""
    from medunion.demo.province import sample
    from medunion.patients.models import Patient

    generated = bool(sample.users("specialist", 1))
    if generated:
        # The fullest pool: load runs on the same data set drain the pools they work on, and the
        # pool page of a drained one measures an empty page.
        specialist = sample.fullest_pools(sample.users("specialist", 200))[0]
        reader = next(u for u in sample.users("reader", 200) if sample.awaiting_examinations_for(u, 1))
        gp = next(u for u in sample.users("township", 200) if sample.referrals_of(u, 1))
        doctor = next(u for u in sample.users("village", 200) if sample.patients_for(u, 1))
        patient_user = sample.patients_with_reports(1)[0][0]
    else:
        specialist, reader, gp, doctor, patient_user = "cardio", "radiology", "township", "village", "patient"
    consult = sample.open_consults_for(specialist, 1)[0]
    exam = sample.awaiting_examinations_for(reader, 1)[0]
    # A patient registered where the clinician practises (the usual relationship).
    pid = sample.patients_for(doctor, 1)[0]
    number = Patient.objects.get(pk=pid).id_number
    return [
        ReadPath("FHIR Patient read", doctor, "bearer", f"/fhir/Patient/{pid}"),
        ReadPath("FHIR Patient?identifier= search", doctor, "bearer",
                 f"/fhir/Patient?identifier={RESIDENT_ID}%7C{number}"),
        ReadPath("consult queue page (pool)", specialist, "session", "/consults?queue=pool"),
        ReadPath("consult case page", specialist, "session", f"/consults/{consult}"),
        ReadPath("API consult list (mine)", specialist, "bearer", "/api/v1/consults?queue=mine"),
        ReadPath("API consult list (every case I may see)", doctor, "bearer", "/api/v1/consults"),
        ReadPath("patient's own page (/)", patient_user, "session", "/"),
        ReadPath("reading worklist", reader, "session", "/reading"),
        ReadPath("examination page", reader, "session", f"/examinations/{exam}"),
        ReadPath("referral list", gp, "session", "/referrals"),
        ReadPath("API patient read", doctor, "bearer", f"/api/v1/patients/{pid}"),
    ]


def clients_for(paths: list[ReadPath]) -> dict[tuple[str, str], Any]:
    """A test client per (account, kind): signed in (session) or carrying a fresh token."""
    from django.test import Client, RequestFactory

    from medunion.accounts.actions import issue_token
    from medunion.accounts.models import User
    from medunion.demo.personas import PASSWORD

    out: dict[tuple[str, str], Any] = {}
    # Tokens first: the first sign-in re-hashes a generated account's password, which would end
    # a session made before it.
    for p in sorted(paths, key=lambda p: p.auth != "bearer"):
        key = (p.username, p.auth)
        if key in out:
            continue
        if p.auth == "session":
            c = Client()
            c.force_login(User.objects.get(username=p.username))
            out[key] = (c, {"Cookie": f"sessionid={c.cookies['sessionid'].value}"})
        else:
            request = RequestFactory().post("/api/v1/auth/token", REMOTE_ADDR="127.0.0.1")
            raw, _token = issue_token(request, username=p.username, password=PASSWORD)
            out[key] = (Client(headers={"authorization": f"Bearer {raw}"}), {"Authorization": f"Bearer {raw}"})
    return out


def capture(client: Any, url: str) -> list[str]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: a token's first use stamps it, the first page load fills caches
    with transaction.atomic():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        transaction.set_rollback(True)
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.get('Location')} {response.content[:300]!r}")
    return [q["sql"] for q in ctx.captured_queries
            if q["sql"].lstrip().upper().startswith(KEPT) or not q["sql"].lstrip().upper().startswith(TX_CONTROL)]


def bare_sql(statements: list[str]) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
                if cur.description is not None:
                    cur.fetchall()
        transaction.set_rollback(True)
    return time.perf_counter() - started


def timed(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


class Server:
    def __init__(self, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.log = open(log, "ab")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen([str(BIN / "medunion"), "serve", "--no-worker", "--no-migrate", "--bind",
                                      f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "1"],
                                     env=os.environ.copy(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"the server did not start; see {log}")

    def get(self, url: str, headers: dict[str, str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", url, headers={**headers, "Host": "127.0.0.1"})
        response = conn.getresponse()
        body = response.read()
        conn.close()  # gunicorn's sync worker (1 thread) closes every connection anyway
        if response.status != 200:
            raise SystemExit(f"HTTP {url}: {response.status} {body[:300]!r}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", action="store_true",
                        help="build the demo consortium into a fresh database (SQLite, or an empty DATABASE_URL)")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="read-paths-") as tmp:
        _setup(args.demo, Path(tmp) if args.demo else None)
        from django.db import connection

        paths = pick_paths()
        clients = clients_for(paths)
        server = Server(Path(tmp) / "serve.log")
        rows = []
        try:
            for p in paths:
                client, headers = clients[(p.username, p.auth)]
                statements = capture(client, p.url)
                sql_ms = timed(lambda s=statements: bare_sql(s), args.repeat)  # type: ignore[misc]
                proc_ms = timed(lambda c=client, u=p.url: c.get(u), args.repeat)  # type: ignore[misc]
                http_ms = timed(lambda u=p.url, h=headers: server.get(u, h), args.repeat)  # type: ignore[misc]
                rows.append((p, len(statements), sql_ms, proc_ms, http_ms))
                print(f"{p.label:<34} {len(statements):>3} queries  SQL {sql_ms:6.1f}  in-process {proc_ms:6.1f}  "
                      f"HTTP {http_ms:6.1f} ms", flush=True)
        finally:
            server.stop()
        load = os.getloadavg()
        print(f"\n{connection.vendor}, {os.cpu_count()} cores, medians of {args.repeat}, load average after "
              f"{load[0]:.2f} {load[1]:.2f}")
        print("| path | queries | bare SQL ms | in-process ms | HTTP ms | overhead in-process − SQL "
              "| HTTP − in-process |")
        print("|---|---|---|---|---|---|---|")
        for p, n, sql_ms, proc_ms, http_ms in rows:
            share = 100 * (proc_ms - sql_ms) / proc_ms if proc_ms else 0
            print(f"| {p.label} | {n} | {sql_ms:.1f} | {proc_ms:.1f} | {http_ms:.1f} | {proc_ms - sql_ms:.1f} "
                  f"({share:.0f} %) | {http_ms - proc_ms:.1f} |")


if __name__ == "__main__":
    main()
