#!/usr/bin/env python
# ruff: noqa: T201
"""Fault drill: kill -9 the server again and again while clients stream creates.

    .venv/bin/python scripts/faults/crash.py --db sqlite [--kills 100] [--clients 4]
    scripts/with-postgres.sh .venv/bin/python scripts/faults/crash.py --db pg [--kills 100]

On a fresh database with the demo consortium, a real `medunion serve --no-worker` (gunicorn,
2 workers x 4 threads) serves client processes (the demo's `village` and `township` doctors,
alternately). Each client repeats: register a patient, ask a consultation about them, write two
messages on it, refer the patient up, write a message on the referral — through /api/v1, each
create with an Idempotency-Key of its own and a marker in its text. A create is sent again with
the SAME key and body until the answer is definitive: a 2xx (acknowledged) or a 4xx other than
408/425/429 (refused); a dropped connection, a timeout, 502/503/504 are retried.

Meanwhile the whole server (gunicorn's master and workers: its process group) is killed with
SIGKILL at random moments — mostly while it serves, one kill in ten while it is still starting —
and started again, --kills times. After every kill, with the server down:

- every acknowledged create is present, under the id it was answered with (lost otherwise);
- no marker is found more than once (a retry that created again: duplicated);
- the database passes its own check (SQLite ``PRAGMA integrity_check``; PostgreSQL amcheck:
  ``bt_index_check`` with heapallindexed on every B-tree index and ``verify_heapam`` on every
  table, as the cluster's superuser);
- the audit chain verifies (incrementally, from the last event verified).

At the end, after a clean stop, the same checks over everything and `medunion audit verify`.
Errors: 5xx answers (other than 502/503/504 within a kill window), definitive 4xx refusals (every
request is valid; a refusal means a retry went wrong) and failed checks. Connection errors
during the kills are expected and only counted. The last line is the RESULT line.

On PostgreSQL under scripts/with-postgres.sh's throw-away server, durability is off (fsync,
synchronous_commit, full_page_writes): that does not matter here, where only the application
server is killed and PostgreSQL keeps running.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

DRILL = "crash"
DATABASES = ("sqlite", "pg")
QUICK_ARGS = ["--kills", "10", "--clients", "2"]  # run.py --quick
USERS = ("village", "township")
TRANSIENT = {408, 425, 429, 502, 503, 504}
KINDS = ("patient", "consult", "message", "referral", "referral_message")


# --- the client (a process of its own) ---------------------------------------------------------------

class Client:
    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.base = cfg["base"] + "/api/v1"
        self.session = _common.session()
        self.session.headers["Authorization"] = f"Bearer {cfg['token']}"
        self.out = open(cfg["events"], "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        self.stop_file = Path(cfg["stop"])
        self.counts: Counter[str] = Counter()

    def event(self, **data: Any) -> None:
        data["t"] = time.time()
        self.out.write(json.dumps(data) + "\n")
        self.out.flush()

    def send(self, kind: str, path: str, body: dict[str, Any], marker: str) -> str | None:
        """POST until the answer is definitive; the created id, or None when refused."""
        key = str(uuid.uuid4())
        attempts = 0
        while True:
            attempts += 1
            self.counts["requests"] += 1
            try:
                r = self.session.post(self.base + path, json=body, headers={"Idempotency-Key": key}, timeout=30)
            except Exception as exc:  # noqa: BLE001 - a dropped connection, refused, reset, timed out
                self.counts["connection_errors"] += 1
                self.counts["connection_errors:" + type(exc).__name__] += 1
                time.sleep(0.05 + random.random() * 0.1)
                continue
            if 200 <= r.status_code < 300:
                answer = r.json()
                created = str(answer["id"] if "id" in answer else answer["summary"]["id"])
                self.event(e="ack", kind=kind, marker=marker, id=created, status=r.status_code, attempts=attempts,
                           replayed=r.headers.get("Idempotent-Replayed") == "true")
                return created
            if r.status_code >= 500:
                self.event(e="5xx", kind=kind, marker=marker, status=r.status_code, body=r.text[:300])
                time.sleep(0.2)
                continue
            if r.status_code in TRANSIENT:
                self.counts[f"transient_{r.status_code}"] += 1
                time.sleep(0.2)
                continue
            self.event(e="refused", kind=kind, marker=marker, status=r.status_code, body=r.text[:300])
            return None

    def get(self, path: str, **params: Any) -> Any:
        import requests

        while True:
            try:
                r = self.session.get(self.base + path, params=params, timeout=30)
            except requests.RequestException:
                time.sleep(0.1)
                continue
            if r.status_code == 200:
                return r.json()
            if r.status_code not in TRANSIENT:
                raise SystemExit(f"GET {path}: {r.status_code} {r.text[:300]}")
            time.sleep(0.1)

    def destination(self) -> tuple[str, str]:
        for org in self.get("/referrals/destinations", direction="up", consortium=self.cfg["consortium"]):
            for dept in org["departments"]:
                return org["id"], dept["id"]
        raise SystemExit("no upward destination with a department")

    def run(self) -> None:
        run, me = self.cfg["run"], self.cfg["index"]
        org, dept = self.destination()
        consortium = self.cfg["consortium"]
        n = 0
        while not self.stop_file.exists():
            n += 1
            tag = f"{run}c{me}n{n}"
            idx = me * 20_000 + n
            birth = dt.date(1940, 1, 1) + dt.timedelta(days=idx // 50)
            number = make_id("610526", birth, 900 + 2 * (idx % 50), male=bool(n % 2))
            patient = self.send("patient", "/patients", {"name": f"{tag}p", "id_number": number}, f"{tag}p")
            if patient is None or self.stop_file.exists():
                continue
            consult = self.send("consult", "/consults", {
                "patient_id": patient, "specialty": "cardiology", "consortium_id": consortium,
                "question": f"{tag}c Chest pain on exertion for two weeks; what next?"}, f"{tag}c")
            if consult is not None:
                for j in (1, 2):
                    if self.stop_file.exists():
                        break
                    self.send("message", f"/consults/{consult}/messages",
                              {"body": f"{tag}m{j} Blood pressure 150/95 this morning.", "audience": "clinicians"},
                              f"{tag}m{j}")
            if self.stop_file.exists():
                break
            referral = self.send("referral", "/referrals", {
                "patient_id": patient, "direction": "up", "target_organisation_id": org,
                "target_department_id": dept, "consortium_id": consortium, "reason": f"{tag}r Suspected angina, needs a stress test.",
                "clinical_summary": "Chest pain on exertion for two weeks; ECG unremarkable."}, f"{tag}r")
            if referral is not None and not self.stop_file.exists():
                self.send("referral_message", f"/referrals/{referral}/messages",
                          {"body": f"{tag}q The patient can come on Monday.", "audience": "clinicians"}, f"{tag}q")
        self.event(e="done", rounds=n, counts=dict(self.counts))


def make_id(region6: str, birth: dt.date, sequence: int, male: bool) -> str:
    from medunion.patients.identity import make_resident_id

    return make_resident_id(region6, birth, sequence, male)


# --- what the database holds ------------------------------------------------------------------------

def found_in_database(run: str, *, close: bool = True) -> dict[str, dict[str, list[str]]]:
    """kind -> marker -> the ids of the rows carrying it (the drill's own rows only); the
    connection is closed afterwards unless ``close`` is false."""
    from django.db import connections

    from medunion.consults.models import Consult, ConsultMessage
    from medunion.patients.models import Patient
    from medunion.referrals.models import Referral, ReferralEntry

    sources = {
        "patient": Patient.objects.filter(name__startswith=run).values_list("name", "pk"),
        "consult": Consult.objects.filter(question__startswith=run).values_list("question", "pk"),
        "message": ConsultMessage.objects.filter(body__startswith=run).values_list("body", "pk"),
        "referral": Referral.objects.filter(reason__startswith=run).values_list("reason", "pk"),
        "referral_message": ReferralEntry.objects.filter(body__startswith=run).values_list("body", "pk"),
    }
    out: dict[str, dict[str, list[str]]] = {}
    try:
        for kind, rows in sources.items():
            found: dict[str, list[str]] = defaultdict(list)
            for text, pk in rows:
                found[text.split(" ", 1)[0]].append(str(pk))
            out[kind] = found
    finally:
        if close:
            connections.close_all()
    return out


def community_of(username: str) -> str:
    """The county medical community the user practises in (the demo's doctors are in several
    consortia; a create names one)."""
    from django.db import connections

    from medunion.accounts.models import User
    from medunion.network.codes import ConsortiumKind
    from medunion.network.models import Consortium

    try:
        user = User.objects.get(username=username)
        orgs = user.practitioner.sites.values("organisation_id")
        found = Consortium.objects.filter(members__in=orgs, kind=ConsortiumKind.COUNTY_COMMUNITY).first()
        if found is None:
            raise SystemExit(f"{username} practises in no county medical community")
        return str(found.pk)
    finally:
        connections.close_all()


def read_events(paths: list[Path]) -> list[dict[str, Any]]:
    events = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written
                pass
    return events


def tally(events: list[dict[str, Any]], found: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    acks = [e for e in events if e["e"] == "ack"]
    lost = [e for e in acks if e["id"] not in found[e["kind"]].get(e["marker"], [])]
    duplicates = {f"{kind}:{marker}": ids for kind, rows in found.items() for marker, ids in rows.items()
                  if len(ids) > 1}
    by_kind = {k: {"acknowledged": sum(1 for e in acks if e["kind"] == k),
                   "rows": sum(len(ids) for ids in found.get(k, {}).values()),
                   "duplicated": sum(len(ids) - 1 for key, ids in duplicates.items() if key.startswith(k + ":"))}
               for k in KINDS}
    return {"acknowledged": len(acks), "present": len(acks) - len(lost),
            "duplicated": sum(len(ids) - 1 for ids in duplicates.values()), "lost": len(lost),
            "lost_samples": [f"{e['kind']}:{e['marker']}" for e in lost[:10]],
            "duplicate_samples": dict(list(duplicates.items())[:10]), "by_kind": by_kind}


# --- the drill ------------------------------------------------------------------------------------

def drill(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    run = "X" + uuid.uuid4().hex[:6]
    began = time.monotonic()
    with _common.drill_environment(DRILL, args.db, keep=args.keep) as d:
        print(f"crash drill on {args.db}: building the demo consortium …", flush=True)
        built = d.prepare(demo=True)
        d.use()
        server = _common.Server(d, workers=args.workers, threads=args.threads)
        boot = [server.start()]
        consortia = {u: community_of(u) for u in USERS}
        tokens = [_common.token(server.url, USERS[i % len(USERS)]) for i in range(args.clients)]
        stop = d.work / "stop"
        paths = [d.work / f"client-{i}.jsonl" for i in range(args.clients)]
        clients = []
        for i in range(args.clients):
            cfg = {"base": server.url, "token": tokens[i], "consortium": consortia[USERS[i % len(USERS)]], "run": run, "index": i, "events": str(paths[i]),
                   "stop": str(stop)}
            cfg_path = d.work / f"client-{i}.json"
            cfg_path.write_text(json.dumps(cfg))
            clients.append(subprocess.Popen([sys.executable, __file__, "--client", str(cfg_path)],
                                            stdout=subprocess.DEVNULL, stderr=open(d.work / f"client-{i}.err", "wb")))
        chain = _common.ChainCheck()
        windows: list[tuple[float, float]] = []
        failures: list[str] = []
        checks = 0
        check_seconds: list[float] = []
        boot_kills = 0
        print(f"built in {built:.0f} s; {args.clients} clients; killing the server {args.kills} times", flush=True)
        next_boot = False
        for k in range(args.kills):
            if next_boot:  # a kill while the server is still starting (before it answers, mostly)
                time.sleep(rng.uniform(0.05, 1.5))
                boot_kills += 1
            else:
                time.sleep(rng.uniform(args.min_up, args.max_up))
            killed_at = time.time()
            server.kill()
            if k % args.check_every == 0 or k == args.kills - 1:
                checks += 1
                check_started = time.monotonic()
                failures += check(d, chain, run, paths, where=f"after kill {k + 1}")
                check_seconds.append(time.monotonic() - check_started)
            next_boot = k < args.kills - 1 and rng.random() < args.boot_kill_share
            if next_boot:
                server.launch()
            else:
                boot.append(server.start())
            windows.append((killed_at - 1.0, time.time()))
            if (k + 1) % 10 == 0:
                print(f"  {k + 1} kills, {len(failures)} failed checks, "
                      f"{sum(1 for e in read_events(paths) if e['e'] == 'ack')} acknowledged", flush=True)
        stop.touch()
        for c in clients:
            try:
                c.wait(timeout=120)
            except subprocess.TimeoutExpired:
                c.kill()
                failures.append("a client did not finish within 120 s")
        server.stop()
        failures += check(d, chain, run, paths, where="at the end")
        cli_ok, cli_out = _common.audit_verify_cli(d)
        if not cli_ok:
            failures.append(f"medunion audit verify: {cli_out}")
        integrity_ok, integrity = _common.integrity_check(d)
        events = read_events(paths)
        t = tally(events, found_in_database(run))
        five = [e for e in events if e["e"] == "5xx"]
        in_window = [e for e in five if e["status"] in (502, 503, 504)
                     and any(a <= e["t"] <= b for a, b in windows)]
        refused = [e for e in events if e["e"] == "refused"]
        counts: Counter[str] = Counter()
        rounds = 0
        for e in events:
            if e["e"] == "done":
                counts.update(e["counts"])
                rounds += e["rounds"]
        errors = len(five) - len(in_window) + len(refused) + len(failures)
        ok = errors == 0 and t["lost"] == 0 and t["duplicated"] == 0 and t["acknowledged"] > 0
        detail = {
            "kills": server.kills, "restarts": server.starts - 1, "kills_while_starting": boot_kills,
            "checks": checks + 1, "clients": args.clients, "rounds": rounds,
            "requests": counts["requests"], "connection_errors": counts["connection_errors"],
            "acknowledged_after_a_retry": sum(1 for e in events if e["e"] == "ack" and e["attempts"] > 1),
            "acknowledged_as_replay": sum(1 for e in events if e["e"] == "ack" and e["replayed"]),
            "5xx": len(five), "5xx_in_kill_window": len(in_window), "refused": len(refused),
            "refused_samples": [f"{e['kind']} {e['status']} {e['body'][:160]}" for e in refused[:5]],
            "5xx_samples": [f"{e['kind']} {e['status']} {e['body'][:160]}" for e in five[:5]],
            "failed_checks": failures[:10], "by_kind": t["by_kind"], "lost_samples": t["lost_samples"],
            "duplicate_samples": t["duplicate_samples"], "integrity": integrity if integrity_ok else "FAILED: " + integrity,
            "audit": cli_out, "start_seconds_median": round(sorted(boot)[len(boot) // 2], 2),
            "check_seconds_median": round(sorted(check_seconds)[len(check_seconds) // 2], 2) if check_seconds else None,
            "demo_build_seconds": round(built, 1), "seconds": round(time.monotonic() - began, 1),
            "load": _common.load(),
        }
        if args.db == "pg":
            detail["note"] = ("throw-away PostgreSQL of scripts/with-postgres.sh runs with fsync off; only the "
                              "application server is killed, PostgreSQL keeps running")
        print(f"{args.db}: {server.kills} kills, {server.starts - 1} restarts; acknowledged {t['acknowledged']}, "
              f"present {t['present']}, duplicated {t['duplicated']}, lost {t['lost']}, errors {errors}; "
              f"{detail['seconds']} s", flush=True)
        _common.emit_result(DRILL, args.db, acknowledged=t["acknowledged"], present=t["present"],
                            duplicated=t["duplicated"], lost=t["lost"], errors=errors, ok=ok, detail=detail)
        return 0 if ok else 1


def check(d: _common.Drill, chain: _common.ChainCheck, run: str, paths: list[Path], *, where: str) -> list[str]:
    """The checks with the server down; the failures, described."""
    failures = []
    t = tally(read_events(paths), found_in_database(run))
    if t["lost"]:
        failures.append(f"{where}: {t['lost']} acknowledged creates missing: {t['lost_samples']}")
    if t["duplicated"]:
        failures.append(f"{where}: {t['duplicated']} duplicates: {t['duplicate_samples']}")
    ok, text = _common.integrity_check(d)
    if not ok:
        failures.append(f"{where}: {text}")
    from django.db import connections

    try:
        ok, text = chain()
    finally:
        connections.close_all()
    if not ok:
        failures.append(f"{where}: audit chain: {text}")
    for f in failures:
        print("  FAILED " + f, flush=True)
    return failures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=DATABASES, default="sqlite")
    p.add_argument("--kills", type=int, default=100)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--min-up", type=float, default=0.3, help="seconds the server serves before a kill, at least")
    p.add_argument("--max-up", type=float, default=2.5, help="… and at most")
    p.add_argument("--boot-kill-share", type=float, default=0.1, help="share of kills while the server starts")
    p.add_argument("--check-every", type=int, default=1, help="check after every Nth kill (and at the end)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep", action="store_true", help="keep the work directory (server log, client events)")
    p.add_argument("--client", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.client:
        Client(json.loads(Path(args.client).read_text())).run()
        return 0
    return drill(args)


if __name__ == "__main__":
    sys.exit(main())
