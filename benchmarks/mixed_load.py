"""Mixed clinician load against a real server: throughput and latency per request type, the highest
rate served with zero errors within the targets, and each server worker's peak memory.

    pip install -e '.[bench]'                                   # locust, into the venv
    MEDUNION_DATA_DIR=<data dir> .venv/bin/python benchmarks/mixed_load.py          # SQLite
    MEDUNION_PG_KEEP=<cluster dir> scripts/with-postgres.sh .venv/bin/python benchmarks/mixed_load.py
    .venv/bin/python benchmarks/mixed_load.py --configs 2x4,3x2 --rates 5,10,20,40 --seconds 30

The data set is the one the environment names (``MEDUNION_DATA_DIR`` with its SQLite database, or
``DATABASE_URL``), with its keys in the environment; it must be built already (``medunion demo``
or the province generator). Who plays whom comes from ``benchmarks/load/pick.py``.

For each gunicorn configuration (workers × threads) the script starts ``medunion serve
--no-worker`` on a free loopback port, signs every simulated user in through the real endpoints
(the sign-in page for a page session, ``POST /api/v1/auth/token`` for a token), then runs locust
headless (``benchmarks/load/locustfile.py``, FastHttpUser) for ``--seconds`` at each rate of
``--rates`` (user actions per second, all users together; one action is 1–4 requests), stopping
after the first rate that fails. A rate is *sustained* when no request failed, the requests per
second kept up with the rate (at least 90 % of the first step's requests per action), and every
request type's 95th percentile is under 100 ms (reads: pages, API, FHIR) or 250 ms (writes).
A request type over its target already at the first (lowest) rate is a cost of its own, not of
the load: the script reports the highest rate sustained by everything else as well.
Meanwhile the peak resident memory (VmHWM) of every gunicorn worker is read from /proc every
0.5 s, and the CPU seconds of the server and of locust itself are counted.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOAD = ROOT / "benchmarks" / "load"
READ_P95_MS, WRITE_P95_MS = 100.0, 250.0
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return 0.0


def status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    """``medunion serve --no-worker`` (gunicorn) in a subprocess; its workers' VmHWM sampled."""

    def __init__(self, env: dict[str, str], workdir: Path, workers: int, threads: int) -> None:
        self.port = free_port()
        self.workers, self.threads = workers, threads
        self.log = open(workdir / f"serve-{workers}x{threads}.log", "wb")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(
            [str(BIN / "medunion"), "serve", "--no-worker", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads)], env=env, stdout=self.log,
            stderr=subprocess.STDOUT)
        self.hwm: dict[int, int] = {}
        self.rss: dict[int, int] = {}
        self._sampling = True
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(self.worker_pids()) >= workers:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"the server did not start; see {self.log.name}")
            time.sleep(0.3)
        else:
            raise SystemExit(f"the server did not start in time; see {self.log.name}")
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()

    def worker_pids(self) -> list[int]:
        master = self.proc.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def _sample(self) -> None:
        while self._sampling:
            for pid in self.worker_pids():
                self.hwm[pid] = max(self.hwm.get(pid, 0), status_kib(pid, "VmHWM"))
                self.rss[pid] = status_kib(pid, "VmRSS") or self.rss.get(pid, 0)
            time.sleep(0.5)

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in [self.proc.pid, *self.worker_pids()])

    def stop(self) -> None:
        self._sampling = False
        self.sampler.join()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# --- signing in, through the real endpoints ---------------------------------------------------------

def _cookies(headers: list[tuple[str, str]]) -> dict[str, str]:
    found = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            k, _sep, v = pair.partition("=")
            found[k.strip()] = v.strip()
    return found


def page_session(port: int, username: str, password: str) -> str:
    """Sign in on the sign-in page (GET for the CSRF token, POST the form): the Cookie header."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/login")
    r = conn.getresponse()
    html = r.read().decode()
    jar = _cookies(r.getheaders())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not token or "csrftoken" not in jar:
        raise SystemExit("the sign-in page gave no CSRF token")
    body = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrfmiddlewaretoken": token.group(1)})
    conn.request("POST", "/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={jar['csrftoken']}"})
    r = conn.getresponse()
    r.read()
    jar.update(_cookies(r.getheaders()))
    if r.status != 302 or "sessionid" not in jar:
        raise SystemExit(f"signing in as {username} failed: {r.status}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def api_token(port: int, username: str, password: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/api/v1/auth/token", body=json.dumps({"username": username, "password": password,
                                                                 "label": "mixed load"}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 201:
        raise SystemExit(f"a token for {username} failed: {r.status} {body[:300]!r}")
    return str(json.loads(body)["access_token"])


def api_get(port: int, token: str, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"GET {path}: {r.status} {body[:300]!r}")
    return json.loads(body)


def referral_target(port: int, token: str, specialty: str) -> dict[str, str] | None:
    """An upward destination with a department of the specialty (else any department)."""
    rows = api_get(port, token, "/api/v1/referrals/destinations?direction=up")
    departments = [(d["id"], dept) for d in rows for dept in d["departments"]]
    departments.sort(key=lambda x: x[1].get("specialty") != specialty)
    if not departments:
        return None
    org, dept = departments[0]
    return {"organisation_id": org, "department_id": dept["id"]}


# The users of each kind locust starts, per 14 users: the weights of the locustfile's classes.
WEIGHTS = {"specialists": 4, "village": 3, "township": 1, "readers": 2, "patients": 3, "integrator": 1}


def sign_everyone_in(port: int, cast: dict[str, Any], users: int) -> dict[str, list[dict[str, Any]]]:
    """A session for each simulated user (accounts taken in turn): a page session, a token, or both."""
    password = cast["password"]
    sessions: dict[str, list[dict[str, Any]]] = {}
    targets: dict[str, Any] = {}
    for kind, page, token in (("specialists", True, True), ("village", False, True), ("township", False, True),
                              ("readers", True, True), ("patients", True, False), ("integrator", False, True)):
        found = cast[kind] if kind != "integrator" else [cast["integrator"]]
        accounts = [p if isinstance(p, dict) else {"username": p} for p in found]
        if not accounts:
            sys.exit(f"no account to play {kind} (benchmarks/load/pick.py found none in this data set)")
        slots = users * WEIGHTS[kind] // sum(WEIGHTS.values()) + 1
        sessions[kind] = []
        for i in range(slots):
            person = dict(accounts[i % len(accounts)])
            user = person["username"]
            person.update(cookie=page_session(port, user, password) if page else "",
                          token=api_token(port, user, password) if token else "")
            if kind == "village":
                if user not in targets:
                    targets[user] = referral_target(port, person["token"], cast["consult_specialty"])
                person["referral"] = targets[user]
            sessions[kind].append(person)
    return sessions


# --- one locust run ---------------------------------------------------------------------------

@dataclass
class Row:
    name: str
    count: int
    failures: int
    rps: float
    median: float
    p95: float
    p99: float

    @property
    def write(self) -> bool:
        return self.name.startswith("W ")

    @property
    def within(self) -> bool:
        return self.p95 < (WRITE_P95_MS if self.write else READ_P95_MS)


@dataclass
class Step:
    config: str
    rate: float
    seconds: float
    rows: list[Row]
    total: Row
    locust_cpu: float
    server_cpu: float
    failures: list[str] = field(default_factory=list)
    kept_up: bool = True

    @property
    def ok(self) -> bool:
        return self.total.failures == 0 and self.kept_up and all(r.within for r in self.rows)

    def ok_except(self, over: set[str]) -> bool:
        """Sustained but for the request types that were over their target already at the first rate."""
        return self.total.failures == 0 and self.kept_up and all(r.within for r in self.rows if r.name not in over)


def run_locust(host: str, plan: Path, users: int, rate: float, seconds: int, workdir: Path, tag: str,
               server: Server) -> Step:
    prefix = workdir / tag
    env = {**os.environ, "MEDUNION_LOAD_PLAN": str(plan), "MEDUNION_LOAD_USERS": str(users),
           "MEDUNION_LOAD_RATE": str(rate), "MEDUNION_LOAD_REFERRED": str(workdir / "referred.txt")}
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = server.cpu()
    started = time.perf_counter()
    subprocess.run([str(BIN / "locust"), "-f", str(LOAD / "locustfile.py"), "--headless", "--host", host,
                    "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--reset-stats", "--only-summary",
                    "--csv", str(prefix), "--stop-timeout", "10", "--loglevel", "WARNING"],
                   env=env, stdout=subprocess.DEVNULL, stderr=open(f"{prefix}.log", "wb"), check=False)  # noqa: SIM115
    elapsed = time.perf_counter() - started
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    locust_cpu = (after_children.ru_utime - before_children.ru_utime) + (after_children.ru_stime -
                                                                         before_children.ru_stime)
    rows, total = [], None
    with open(f"{prefix}_stats.csv", newline="") as f:
        for rec in csv.DictReader(f):
            row = Row(rec["Name"], int(rec["Request Count"]), int(rec["Failure Count"]), float(rec["Requests/s"]),
                      float(rec["50%"] or 0), float(rec["95%"] or 0), float(rec["99%"] or 0))
            if rec["Name"] == "Aggregated":
                total = row
            elif row.count:
                rows.append(row)
    failures = []
    failures_csv = Path(f"{prefix}_failures.csv")
    if failures_csv.exists():
        with open(failures_csv, newline="") as f:
            failures = [f"{r['Occurrences']}× {r['Name']}: {r['Error'][:300]}" for r in csv.DictReader(f)]
    assert total is not None, f"no statistics from locust; see {prefix}.log"
    return Step(f"{server.workers}x{server.threads}", rate, elapsed, sorted(rows, key=lambda r: r.name), total,
                locust_cpu, server.cpu() - server_before, failures)


def print_step(step: Step) -> None:
    print(f"\n[{step.config}] rate {step.rate:g} actions/s: {step.total.count} requests, "
          f"{step.total.rps:.1f} req/s, failures {step.total.failures}; CPU s: server {step.server_cpu:.1f}, "
          f"locust {step.locust_cpu:.1f} (of {step.seconds:.0f} s × 2 cores); "
          f"{'SUSTAINED' if step.ok else 'not sustained'}", flush=True)
    width = max(len(r.name) for r in step.rows)
    print(f"  {'request':<{width}}  {'count':>6} {'req/s':>6} {'median':>7} {'p95':>6} {'p99':>6} {'err':>4}")
    for r in step.rows:
        mark = "" if r.within else "  ← over target"
        print(f"  {r.name:<{width}}  {r.count:>6} {r.rps:>6.1f} {r.median:>7.0f} {r.p95:>6.0f} {r.p99:>6.0f} "
              f"{r.failures:>4}{mark}")
    for line in step.failures[:10]:
        print(f"  FAIL {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="2x4,3x2", help="gunicorn workers×threads to try, comma-separated")
    parser.add_argument("--rates", default="4,8,12,16,24,32", help="user actions per second, in increasing steps")
    parser.add_argument("--seconds", type=int, default=30, help="length of each step")
    parser.add_argument("--users", type=int, default=40, help="simulated users (locust)")
    parser.add_argument("--warmup", type=int, default=10, help="seconds at the first rate before the steps")
    parser.add_argument("--out", help="directory for locust's CSV files and the results (default: temporary)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") and not os.environ.get("MEDUNION_DATA_DIR"):
        raise SystemExit("set MEDUNION_DATA_DIR (SQLite) or DATABASE_URL (PostgreSQL) to a built data set")
    # Idle keep-alive connections stay open 30 s (gunicorn's default, 2 s, closes them between a
    # user's actions, and a request sent just as the server closes its connection fails).
    env = {**os.environ, "MEDUNION_DEMO": os.environ.get("MEDUNION_DEMO", "1"), "MEDUNION_NOTIFY_SENDERS": "",
           "GUNICORN_CMD_ARGS": os.environ.get("GUNICORN_CMD_ARGS", "--keep-alive 30"),
           "MEDUNION_LOG_LEVEL": os.environ.get("MEDUNION_LOG_LEVEL", "WARNING"),
           "DJANGO_SETTINGS_MODULE": "medunion.settings"}
    env.pop("MEDUNION_DEBUG", None)  # DEBUG keeps every query in memory: not a server's configuration
    db = "postgresql" if env.get("DATABASE_URL") else "sqlite"
    workdir = Path(args.out or tempfile.mkdtemp(prefix="mixed-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cast = json.loads(subprocess.run([sys.executable, str(LOAD / "pick.py")], env=env, capture_output=True,
                                     text=True, check=True).stdout.strip().splitlines()[-1])
    print(f"{db}; cast from {cast['source']}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}; "
          f"files in {workdir}", flush=True)
    rates = [float(r) for r in args.rates.split(",")]
    results: list[dict[str, Any]] = []
    plan = workdir / "plan.json"
    for config in args.configs.split(","):
        workers, threads = (int(x) for x in config.split("x"))
        server = Server(env, workdir, workers, threads)
        try:
            if not plan.exists():  # the sessions and tokens outlive a server's restart
                started = time.perf_counter()
                plan.write_text(json.dumps({**cast, "sessions": sign_everyone_in(server.port, cast, args.users)}))
                print(f"signed in in {time.perf_counter() - started:.1f} s", flush=True)
            host = f"http://127.0.0.1:{server.port}"
            if args.warmup:
                run_locust(host, plan, args.users, rates[0], args.warmup, workdir, f"{config}-warmup", server)
            per_action = None
            best = best_but = None
            over: set[str] | None = None
            for rate in rates:
                step = run_locust(host, plan, args.users, rate, args.seconds, workdir, f"{config}-{rate:g}", server)
                ratio = step.total.rps / rate
                per_action = per_action or ratio
                step.kept_up = ratio >= 0.9 * per_action
                if over is None:
                    over = {r.name for r in step.rows if not r.within}
                print_step(step)
                results.append({"config": config, "rate": rate, "ok": step.ok, "ok_except": step.ok_except(over),
                                "rps": step.total.rps,
                                "kept_up": step.kept_up, "locust_cpu": step.locust_cpu,
                                "server_cpu": step.server_cpu, "seconds": step.seconds,
                                "load": os.getloadavg()[0], "failures": step.failures,
                                "rows": [r.__dict__ for r in step.rows], "total": step.total.__dict__})
                if step.ok:
                    best = rate
                if not step.ok_except(over):
                    break
                best_but = rate
            hwm = {pid: kib / 1024 for pid, kib in sorted(server.hwm.items())}
            print(f"\n[{config}] highest sustained rate: {best if best is not None else 'none'} actions/s; "
                  f"leaving out the request types over target already at the first rate "
                  f"({', '.join(sorted(over or [])) or 'none'}): {best_but if best_but is not None else 'none'}; "
                  f"worker peak RSS (VmHWM) MiB: {', '.join(f'{v:.0f}' for v in hwm.values())}; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
            results.append({"config": config, "best_rate": best, "best_rate_except": best_but,
                            "over_at_first_rate": sorted(over or []), "worker_hwm_mib": list(hwm.values())})
        finally:
            server.stop()
    (workdir / "results.json").write_text(json.dumps({"db": db, "cast": cast["source"], "results": results},
                                                     indent=1))
    print(f"\nresults: {workdir / 'results.json'}")


if __name__ == "__main__":
    main()
