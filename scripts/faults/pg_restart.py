#!/usr/bin/env python
# ruff: noqa: T201
"""Fault drill: PostgreSQL restarted under load.

    scripts/with-postgres.sh .venv/bin/python scripts/faults/pg_restart.py [--restarts 6] [--clients 6]

A real `medunion serve --no-worker` (gunicorn, 2 workers x 4 threads) on the demo consortium,
in a database of the drill's own in the cluster of scripts/with-postgres.sh. Client threads
send a mix of reads (the JSON API, FHIR, a page) and patient registrations, each with an
Idempotency-Key; a registration answered 503 (or not answered) is sent again with the same key
until it is acknowledged (201). Meanwhile PostgreSQL is restarted several times with pg_ctl,
alternating the fast and the immediate shutdown mode (MEDUNION_PG_DATA, MEDUNION_PG_BINDIR,
MEDUNION_PG_RUNAS from scripts/with-postgres.sh).

Checks: every 5xx answer is a 503 in its surface's documented form (problem+json with code
`database_unavailable` on /api/v1, an OperationOutcome on /fhir, the readable page elsewhere,
each with Retry-After); after each restart the server answers 2xx again within
--recover-within seconds, without being restarted (the same gunicorn master, no worker
rebooted); every acknowledged registration is present exactly once (acknowledged / present /
duplicated / lost). The last line is the RESULT line. With --db sqlite it reports that the
drill does not apply.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PASSWORD, Server, drill_environment, not_applicable, result_line, session, token  # noqa: E402

DATABASES = ("pg",)
QUICK_ARGS = ["--restarts", "2", "--settle", "2"]
DURABLE = True  # run.py: a durable server (MEDUNION_PG_DURABLE=1); the drill crashes it
MESSAGE = "The database cannot be reached at the moment."


@dataclass
class Answer:
    op: str
    started: float
    ended: float
    status: int  # 0: no answer (connection refused, reset, timed out)
    well_formed: bool = True  # a 5xx: whether it is the documented 503


@dataclass
class Load:
    base: str
    token: str
    patients: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> patient id
    abandoned: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    stop_at: float = 0.0

    def record(self, answer: Answer, sample: str = "") -> None:
        with self.lock:
            self.answers.append(answer)
            if not answer.well_formed and len(self.bad) < 10:
                self.bad.append(f"{answer.op} {answer.status}: {sample[:300]}")


def _documented_503(op: str, response: Any) -> bool:
    if response.status_code != 503 or not response.headers.get("Retry-After"):
        return False
    ctype = response.headers.get("Content-Type", "")
    try:
        if op in ("api_read", "create"):
            body = response.json()
            return ctype == "application/problem+json" and body.get("code") == "database_unavailable" \
                and body.get("status") == 503 and bool(body.get("title"))
        if op == "fhir_read":
            body = response.json()
            issue = body["issue"][0]
            return ctype.startswith("application/fhir+json") and body["resourceType"] == "OperationOutcome" \
                and issue["code"] == "transient" and issue["details"]["coding"][0]["code"] == "database_unavailable"
    except (ValueError, KeyError, IndexError):
        return False
    return ctype.startswith("text/html") and MESSAGE in response.text


def _send(load: Load, session: Any, op: str, method: str, url: str, **kwargs: Any) -> Any:
    import requests

    started = time.monotonic()
    try:
        response = session.request(method, load.base + url, timeout=30, **kwargs)
    except requests.RequestException as exc:
        load.record(Answer(op, started, time.monotonic(), 0, False), repr(exc))
        return None
    # Reads and registrations answer 2xx; anything else but the documented 503 is a failure.
    ok = response.status_code < 300 or _documented_503(op, response)
    load.record(Answer(op, started, time.monotonic(), response.status_code, ok), response.text)
    return response


def _client(load: Load, n: int, seed: int, page: Any) -> None:
    import requests

    rnd = random.Random(seed)
    api = requests.Session()
    api.headers.update({"Authorization": f"Bearer {load.token}", "Accept-Language": "en"})
    serial = 0
    while not load.stop.is_set():
        pid = rnd.choice(load.patients)
        roll = rnd.random()
        if roll < 0.3:
            _send(load, api, "api_read", "GET", f"/api/v1/patients/{pid}")
        elif roll < 0.5:
            _send(load, api, "fhir_read", "GET", f"/fhir/Patient/{pid}")
        elif roll < 0.7:
            _send(load, page, "page_read", "GET", f"/patients/{pid}")
        else:
            serial += 1
            _register(load, api, f"pgr-{n}-{serial}-{uuid.uuid4().hex[:8]}", f"重启演练{n}-{serial}")


def _register(load: Load, api: Any, key: str, name: str) -> None:
    """Send until acknowledged, with the same key; give up only 60 s after the load stops."""
    body = {"name": name, "sex": "female", "birth_date": "1980-01-01"}
    while True:
        response = _send(load, api, "create", "POST", "/api/v1/patients", json=body,
                         headers={"Idempotency-Key": key})
        if response is not None and response.status_code == 201:
            with load.lock:
                load.acknowledged[key] = response.json()["id"]
            return
        if response is not None and response.status_code != 503:
            with load.lock:
                load.abandoned.append(f"{key}: {response.status_code} {response.text[:200]}")
            return
        if load.stop.is_set() and time.monotonic() > load.stop_at + 60:
            with load.lock:
                load.abandoned.append(f"{key}: no answer")
            return
        time.sleep(0.2)


def page_session(base: str, username: str) -> Any:
    """A session signed in on the pages (the CSRF cookie, the login form)."""
    s = session()
    s.get(base + "/login", timeout=30)
    response = s.post(base + "/login", data={"username": username, "password": PASSWORD,
                                             "csrfmiddlewaretoken": s.cookies.get("csrftoken", "")},
                      headers={"Referer": base + "/login"}, timeout=30, allow_redirects=False)
    if response.status_code != 302:
        raise RuntimeError(f"page login of {username} failed: {response.status_code}")
    return s


def _undurable_settings() -> list[str]:
    """The server's durability settings that are off (fsync, synchronous_commit, full_page_writes)."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url) as conn:
        return [f"{name}={value}" for name in ("fsync", "synchronous_commit", "full_page_writes")
                if (value := conn.execute(f"SHOW {name}").fetchone()[0]) == "off"]  # noqa: S608 - fixed names


def _restart_pg(mode: str) -> None:
    data = os.environ["MEDUNION_PG_DATA"]
    root = str(Path(data).parent)
    cmd = [os.path.join(os.environ["MEDUNION_PG_BINDIR"], "pg_ctl"), "-D", data, "-m", mode, "-w", "-t", "120",
           "-l", os.path.join(root, "server.log"), "restart"]
    if os.environ.get("MEDUNION_PG_RUNAS"):
        cmd = ["runuser", "-u", os.environ["MEDUNION_PG_RUNAS"], "--", *cmd]
    subprocess.run(cmd, cwd=root, check=True, stdout=subprocess.DEVNULL)


def _first_success_after(load: Load, since: float, timeout: float) -> float | None:
    deadline = since + timeout
    while time.monotonic() < deadline:
        with load.lock:
            ends = [a.ended for a in load.answers if a.started >= since and 200 <= a.status < 300]
        if ends:
            return min(ends) - since
        time.sleep(0.05)
    return None


def run(args: argparse.Namespace) -> tuple[bool, str]:
    with drill_environment("pg_restart", "pg") as drill:
        drill.prepare(demo=True)
        with Server(drill, workers=args.workers, threads=args.threads) as server:
            import requests

            tok = token(server.url, "village")
            headers = {"Authorization": f"Bearer {tok}"}
            patients = []
            for i in range(5):
                r = requests.post(server.url + "/api/v1/patients", headers=headers, timeout=30,
                                  json={"name": f"读取演练{i}", "sex": "male", "birth_date": "1970-01-01"})
                r.raise_for_status()
                patients.append(r.json()["id"])
            drill.use()
            from django.db import connections

            from medunion.core.models import IdempotencyRecord
            from medunion.patients.models import Patient

            before = Patient.objects.count()
            connections.close_all()

            load = Load(server.url, tok, patients)
            pages = [page_session(server.url, "village") for _n in range(args.clients)]
            clients = [threading.Thread(target=_client, args=(load, n, 810 + n, pages[n]), daemon=True)
                       for n in range(args.clients)]
            for c in clients:
                c.start()
            time.sleep(args.settle)
            restarts = []
            for i in range(args.restarts):
                mode = ("fast", "immediate")[i % 2]
                t0 = time.monotonic()
                _restart_pg(mode)
                up = time.monotonic()
                recovery = _first_success_after(load, up, args.recover_within)
                restarts.append({"mode": mode, "down_s": round(up - t0, 2),
                                 "recovered_s": None if recovery is None else round(recovery, 2)})
                print(f"restart {i + 1} ({mode}): PostgreSQL back after {up - t0:.2f} s, the server answered 2xx "
                      f"{'never' if recovery is None else f'{recovery:.2f} s'} after that", flush=True)
                time.sleep(args.settle)
            load.stop_at = time.monotonic()
            load.stop.set()
            for c in clients:
                c.join(timeout=120)
            server_alive = server.alive()
        log = server.log.read_text(errors="replace")
        boots = log.count("Booting worker")
        if args.log:
            Path(args.log).write_text(log)

        present = duplicated = lost = 0
        after = Patient.objects.count()
        acknowledged = dict(load.acknowledged)
        for pid in acknowledged.values():
            if Patient.objects.filter(pk=pid).exists():
                present += 1
            else:
                lost += 1
        keys = set(IdempotencyRecord.objects.filter(key__startswith="pgr-").values_list("key", flat=True))
        unacknowledged_committed = len(keys - set(acknowledged))
        duplicated = (after - before) - len(keys)
        connections.close_all()

    by_status = collections.Counter(a.status for a in load.answers)
    by_op = {op: dict(collections.Counter(a.status for a in load.answers if a.op == op))
             for op in sorted({a.op for a in load.answers})}
    fivexx = sum(n for s, n in by_status.items() if s >= 500)
    malformed = sum(1 for a in load.answers if not a.well_formed and a.status >= 500)
    unexpected = sum(1 for a in load.answers if not a.well_formed and 0 < a.status < 500)  # a 4xx
    no_answer = by_status.get(0, 0)
    recovered = all(r["recovered_s"] is not None for r in restarts)
    ok = (malformed == 0 and unexpected == 0 and no_answer == 0 and by_status.get(500, 0) == 0 and recovered and server_alive
          and boots == args.workers and lost == 0 and duplicated == 0 and not load.abandoned)
    detail = {"restarts": restarts, "recover_within_s": args.recover_within, "answers": len(load.answers),
              "by_status": {str(k): v for k, v in sorted(by_status.items())}, "by_op": by_op,
              "5xx": fivexx, "5xx_not_documented_503": malformed, "unexpected_4xx": unexpected,
              "no_answer": no_answer,
              "server_restarted": not server_alive, "workers_booted": boots,
              "abandoned": load.abandoned[:5], "unacknowledged_committed": unacknowledged_committed,
              "samples": load.bad[:5], "clients": args.clients, "workers": args.workers, "threads": args.threads,
              "loadavg": [round(x, 2) for x in os.getloadavg()]}
    print(f"answers by status: {dict(sorted(by_status.items()))}; by request type: {by_op}")
    print(f"acknowledged {len(acknowledged)}, present {present}, duplicated {duplicated}, lost {lost}; "
          f"5xx {fivexx} (not the documented 503: {malformed}); no answer {no_answer}")
    return ok, result_line("pg_restart", "pg", acknowledged=len(acknowledged), present=present,
                           duplicated=duplicated, lost=lost, errors=malformed + unexpected + no_answer + len(load.abandoned),
                           ok=ok, detail=detail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--restarts", type=int, default=6)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--settle", type=float, default=4.0, help="seconds of load before and between restarts")
    parser.add_argument("--recover-within", type=float, default=10.0)
    parser.add_argument("--log", help="keep the server's log in this file")
    args = parser.parse_args()
    if args.db == "sqlite":
        not_applicable("pg_restart", "sqlite", "a PostgreSQL restart; SQLite has no server")
        return 0
    for name in ("MEDUNION_PG_DATA", "MEDUNION_PG_BINDIR"):
        if not os.environ.get(name):
            raise SystemExit(f"{name} is not set: run under scripts/with-postgres.sh")
    undurable = _undurable_settings()
    if undurable:
        # An immediate shutdown is a crash: without these, PostgreSQL loses transactions it has
        # acknowledged, and the drill would count them lost against MedUnion.
        raise SystemExit(f"the server runs without durability ({', '.join(undurable)}): run the drill as "
                         "MEDUNION_PG_DURABLE=1 scripts/with-postgres.sh … (or make faults)")
    ok, line = run(args)
    sys.stdout.flush()
    print(line, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
