"""FHIR throughput: ``GET /fhir/Patient/{id}`` and ``GET /fhir/Patient?identifier=…`` against a
real server, in requests per second per core.

    .venv/bin/python benchmarks/fhir_throughput.py                          # demo consortium, SQLite
    scripts/with-postgres.sh .venv/bin/python benchmarks/fhir_throughput.py # demo consortium, PostgreSQL
    MEDUNION_DATA_DIR=<data dir> .venv/bin/python benchmarks/fhir_throughput.py --existing   # a province
    MEDUNION_PG_KEEP=<cluster dir> scripts/with-postgres.sh .venv/bin/python benchmarks/fhir_throughput.py --existing
    .venv/bin/python benchmarks/fhir_throughput.py --configs 1x1,2x1,2x2,2x4 --seconds 15 --pin
    .venv/bin/python benchmarks/fhir_throughput.py --configs 1x1 --pin --kinds healthz,me   # for scale
    .venv/bin/python benchmarks/fhir_throughput.py --configs 1x1 --pin --bare   # gunicorn alone

Without ``--existing`` the demo consortium is built into a fresh database: SQLite in a temporary
directory, or the empty PostgreSQL database ``DATABASE_URL`` names. With ``--existing`` the
database the environment names is used as it is (a generated province data set: its keys must be
in the environment); the benchmark adds API tokens and audit rows to it, nothing else.

Clinicians who may see patients are picked (the generated village doctors and some township
GPs, or the demo's ``township`` and ``village``), each signs in through ``POST /api/v1/auth/token``, and
each contributes patients they may see for good (registered where they practise, or in their care
team; not by break-the-glass, which expires). Every request is one of
those clinicians reading one of their patients, or searching for them by resident ID number
(``identifier=urn:oid:2.16.156.10011.1.3|<number>``), many distinct patients in a shuffled order.
Every answer is checked (200, the right id, ``total`` 1); any other answer is an error.

For each configuration ``WxT`` (gunicorn workers × threads) ``medunion serve --no-worker`` is
started, warmed up, then loaded for ``--seconds`` by a light client (asyncio streams of the
standard library, HTTP/1.1 keep-alive where the server keeps the connection) with
``--connections`` connections (default workers × threads + 2). The server's CPU time is read from
/proc (utime + stime of the gunicorn master and its workers) before and after, so besides the wall
rate it reports requests per server-CPU-second: requests per core, whatever the client and the
rest of the machine use. With ``--pin`` the server runs on the first ``--server-cpus`` CPUs and
the client on the others (``sched_setaffinity``), so the wall rate is also the rate of that many
cores; a private PostgreSQL server of ``scripts/with-postgres.sh`` (``MEDUNION_PG_DATA``) is moved
to the client's CPUs too, so that its processes do not run on the web server's core between its
requests. The numbers last seen are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"

SETUP = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
import django
django.setup()
from django.core.management import call_command
if os.environ.get("BENCH_BUILD") == "1":
    call_command("migrate", interactive=False, verbosity=0)
    from medunion.demo.build import build_demo
    build_demo()
from medunion.access.actor import actor_for
from medunion.access.policy import visible_patients
from medunion.accounts.models import User
from medunion.demo.personas import PASSWORD
from medunion.demo.province import sample
from medunion.patients.models import Patient

users, per_user = int(sys.argv[1]), int(sys.argv[2])
names = sample.users("village", users) + sample.users("township", users // 4)
picked = {}
for name in names:
    picked[name] = sample.patients_for(name, per_user)
if not names:  # the demo consortium: its personas
    for name in ("township", "village"):
        actor = actor_for(User.objects.get(username=name), "fhir")
        picked[name] = list(visible_patients(actor).order_by("pk").values_list("pk", flat=True)[:per_user])
from medunion.access.policy import relationship_to
out = {"password": PASSWORD, "users": {}}
for name, ids in picked.items():
    actor = actor_for(User.objects.get(username=name), "fhir")
    rows = Patient.objects.filter(pk__in=ids).only("id", "id_number")
    # A lasting relationship only: a break-the-glass grant may expire during the run.
    out["users"][name] = [[str(p.pk), p.id_number] for p in rows
                          if p.id_number and relationship_to(actor, p.pk) in ("care_team", "same_organisation")]
print(json.dumps(out))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


class Server:
    """``medunion serve --no-worker`` in a subprocess (the process is the gunicorn master)."""

    def __init__(self, env: dict[str, str], log: Path, workers: int, threads: int, cpus: set[int] | None,
                 bare: bool = False) -> None:
        self.port = free_port()
        self.log = open(log, "ab")  # noqa: SIM115  (closed in stop)
        # --bare: gunicorn with the same workers and threads, serving benchmarks/bare_wsgi.py.
        command = ([str(BIN / "gunicorn"), "--chdir", str(ROOT / "benchmarks"), "bare_wsgi:application"] if bare
                   else [str(BIN / "medunion"), "serve", "--no-worker", "--no-migrate"])
        self.proc = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads)], env=env, stdout=self.log,
            stderr=subprocess.STDOUT, preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(self.pids()) > workers:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise SystemExit(f"the server did not start; see {log}")

    def pids(self) -> list[int]:
        master = self.proc.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        found = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [master, *found]

    def cpu_seconds(self) -> float:
        return sum(cpu_ticks(p) for p in self.pids()) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def call(port: int, method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=json.dumps(body).encode() if body else None,
                 headers={"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    return response.status, response.read()


# --- the load client -----------------------------------------------------------------------------

@dataclass
class Work:
    """The requests, shuffled, served round-robin to every connection."""

    items: list[tuple[bytes, bytes]]  # (request bytes, a fragment the 200 answer must contain)
    next: int = 0

    def take(self) -> tuple[bytes, bytes]:
        item = self.items[self.next % len(self.items)]
        self.next += 1
        return item


@dataclass
class Tally:
    ok: int = 0
    errors: int = 0
    reconnects: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""
    samples: list[str] = field(default_factory=list)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> tuple[int, bytes, bool]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _sep, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def _connection(port: int, work: Work, tally: Tally, until: float, measuring: list[bool]) -> None:
    reader = writer = None
    while time.monotonic() < until:
        request, expect = work.take()
        fresh = writer is None
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert reader is not None
        started = time.perf_counter()
        try:
            status, body, close = await _exchange(reader, writer, request)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            writer.close()
            reader = writer = None
            if not fresh:  # a kept-alive connection the server closed: once more on a new one
                tally.reconnects += 1
                continue
            tally.errors += 1
            tally.first_error = tally.first_error or repr(exc)
            continue
        elapsed = time.perf_counter() - started
        if measuring[0]:
            if status == 200 and expect in body:
                tally.ok += 1
                tally.latencies.append(elapsed)
            else:
                tally.errors += 1
                tally.first_error = tally.first_error or f"{status} {body[:300]!r}"
                if len(tally.samples) < 5:
                    tally.samples.append(f"{request.split(b' ')[1].decode()} -> {status} {body[:200]!r}")
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def load(server: Server, work: Work, connections: int, warmup: float, seconds: float) -> dict[str, float]:
    tally = Tally()
    measuring = [False]

    async def run() -> dict[str, float]:
        start = time.monotonic()
        tasks = [asyncio.create_task(_connection(server.port, work, tally, start + warmup + seconds, measuring))
                 for _ in range(connections)]
        await asyncio.sleep(warmup)
        measuring[0] = True
        cpu0, client0, t0 = server.cpu_seconds(), time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, client1, t1 = server.cpu_seconds(), time.process_time(), time.monotonic()
        measuring[0] = False
        await asyncio.gather(*tasks)
        wall = t1 - t0
        lat = sorted(tally.latencies)
        return {"requests": tally.ok, "errors": tally.errors, "reconnects": tally.reconnects,
                "wall_s": wall, "rps": tally.ok / wall, "server_cpu_s": cpu1 - cpu0,
                "per_cpu_s": tally.ok / max(cpu1 - cpu0, 1e-9), "client_cpu_s": client1 - client0,
                "p50_ms": 1000 * statistics.median(lat) if lat else 0.0,
                "p95_ms": 1000 * lat[int(len(lat) * 0.95)] if lat else 0.0}

    result = asyncio.run(run())
    if tally.first_error:
        print(f"   first error: {tally.first_error}", flush=True)
        for sample in tally.samples:
            print(f"   error: {sample}", flush=True)
    return result


LABELS = {"read": "Patient/{id}", "search": "Patient?identifier=", "healthz": "/healthz",
          "me": "/api/v1/auth/me"}


def requests_for(kind: str, users: dict[str, list[list[str]]], tokens: dict[str, str], port: int,
                 seed: int) -> Work:
    items = []
    for name, patients in users.items():
        auth = f"Authorization: Bearer {tokens[name]}\r\n" if name in tokens else ""
        for pid, number in patients:
            if kind == "read":
                path, expect = f"/fhir/Patient/{pid}", f'"id":"{pid}"'
            elif kind == "healthz":  # the floor: gunicorn, Django and every middleware, and a SELECT 1
                path, expect = "/healthz", '"status": "ok"'
            elif kind == "me":  # the API's floor: the bearer token and its account, no patient, no audit row
                path, expect = "/api/v1/auth/me", f'"{name}"'
            else:
                path = f"/fhir/Patient?identifier={quote(f'{RESIDENT_ID}|{number}', safe='')}"
                expect = '"total":1,'
            items.append((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
                          f"Accept: application/fhir+json\r\n\r\n".encode(), expect.encode()))
    random.Random(seed).shuffle(items)
    return Work(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--existing", action="store_true", help="use the database the environment names")
    parser.add_argument("--configs", default="1x1,2x1,2x2,2x4", help="workers x threads, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=0, help="default: workers × threads + 2")
    parser.add_argument("--users", type=int, default=20, help="clinicians (each with a token)")
    parser.add_argument("--patients", type=int, default=100, help="patients per clinician")
    parser.add_argument("--pin", action="store_true", help="server on the first CPUs, client on the others")
    parser.add_argument("--server-cpus", type=int, default=1)
    parser.add_argument("--kinds", default="read,search", help="read, search; for scale: healthz, me")
    parser.add_argument("--bare", action="store_true",
                        help="gunicorn serving a three-line WSGI application (benchmarks/bare_wsgi.py) instead of "
                             "MedUnion: the floor of the server and the socket; implies --kinds healthz")
    parser.add_argument("--server-src", help="run the server from another source tree, for a before/after "
                                             "comparison (git archive HEAD src | tar -x -C DIR; give DIR/src)")
    args = parser.parse_args()
    if args.bare:
        args.kinds = "healthz"

    with tempfile.TemporaryDirectory(prefix="fhir-bench-") as tmp:
        workdir = Path(tmp)
        env = {**os.environ, "MEDUNION_NOTIFY_SENDERS": "", "MEDUNION_LOG_LEVEL": "WARNING",
               "DJANGO_SETTINGS_MODULE": "medunion.settings", "MEDUNION_DEMO": "1"}
        env.pop("MEDUNION_DEBUG", None)  # DEBUG keeps every query in memory: never in a measurement
        if not args.existing:
            # A fresh database: SQLite in the temporary directory, or the (empty) PostgreSQL
            # database DATABASE_URL names (scripts/with-postgres.sh starts a private server).
            env.update({"MEDUNION_DATA_DIR": tmp, "MEDUNION_SQLITE_PATH": str(workdir / "bench.sqlite3"),
                        "BENCH_BUILD": "1"})
            if "MEDUNION_SECRET_KEY" not in env:
                keys = subprocess.run([str(BIN / "medunion"), "keygen"], capture_output=True, text=True,
                                      check=True).stdout
                env.update(dict(line.split("=", 1) for line in keys.split() if "=" in line))
            print("building the demo consortium …", flush=True)
        elif "MEDUNION_DATA_DIR" not in env:
            raise SystemExit("--existing needs MEDUNION_DATA_DIR (and DATABASE_URL for PostgreSQL)")
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", SETUP, str(args.users), str(args.patients)], env=env,
                             capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        picked = json.loads(out.stdout.strip().splitlines()[-1])
        env.pop("BENCH_BUILD", None)
        users = {k: v for k, v in picked["users"].items() if v}  # accounts with patients of their own
        n_patients = sum(len(v) for v in users.values())
        print(f"{len(users)} clinicians, {n_patients} distinct patients (setup {time.perf_counter() - started:.1f} s)",
              flush=True)
        db = "PostgreSQL" if env.get("DATABASE_URL") else "SQLite"
        if args.server_src:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (args.server_src, env.get("PYTHONPATH", "")) if p)
        ncpu = os.cpu_count() or 1
        server_cpus = set(range(args.server_cpus)) if args.pin else None
        pg_pinned = False
        if args.pin:
            client_cpus = set(range(args.server_cpus, ncpu)) or {ncpu - 1}
            os.sched_setaffinity(0, client_cpus)
            pg_pinned = db == "PostgreSQL" and pin_private_postgres(client_cpus)
        rows = []
        tokens: dict[str, str] = {}
        for config in args.configs.split(","):
            workers, threads = (int(x) for x in config.lower().split("x"))
            server = Server(env, workdir / "serve.log", workers, threads, server_cpus, bare=args.bare)
            try:
                if not tokens and not args.bare:
                    for name in users:
                        status, body = call(server.port, "POST", "/api/v1/auth/token",
                                            {"username": name, "password": picked["password"]})
                        if status not in (200, 201):
                            raise SystemExit(f"token for {name}: {status} {body[:300]!r}")
                        tokens[name] = json.loads(body)["access_token"]
                for kind in args.kinds.split(","):
                    work = requests_for(kind, users, tokens, server.port, seed=workers * 10 + threads)
                    conns = args.connections or workers * threads + 2
                    r = load(server, work, conns, args.warmup, args.seconds)
                    rows.append((config, kind, conns, r))
                    print(f"{config:>5} {kind:<6} conns {conns:>2}: {r['rps']:7.1f} req/s wall, "
                          f"{r['per_cpu_s']:7.1f} req per server-CPU-s (server {r['server_cpu_s']:.1f} CPU-s, "
                          f"client {r['client_cpu_s']:.1f}), p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, "
                          f"{r['requests']} ok, {r['errors']} errors", flush=True)
            finally:
                server.stop()
        load_avg = os.getloadavg()
        pinned = f"server pinned to {args.server_cpus} CPU(s), client on the rest" if args.pin else "not pinned"
        if pg_pinned:
            pinned += " with PostgreSQL"
        print(f"\n{db}, {ncpu} cores, {pinned}, {len(users)} clinicians × ≤{args.patients} patients, "
              f"{args.seconds:.0f} s per run, load average after: {load_avg[0]:.2f} {load_avg[1]:.2f}")
        print("| workers×threads | request | connections | req/s (wall) | req per server CPU-s | p50 ms | p95 ms "
              "| errors |")
        print("|---|---|---|---|---|---|---|---|")
        for config, kind, conns, r in rows:
            label = "(bare gunicorn)" if args.bare else LABELS[kind]
            print(f"| {config} | {label} | {conns} | {r['rps']:.0f} | {r['per_cpu_s']:.0f} | {r['p50_ms']:.1f} "
                  f"| {r['p95_ms']:.1f} | {r['errors']} |")


def pin_private_postgres(cpus: set[int]) -> bool:
    """Move the server of ``scripts/with-postgres.sh`` (its postmaster, whose new backends inherit
    the CPUs, and every process it has started) to ``cpus``. False where there is none to move."""
    data = os.environ.get("MEDUNION_PG_DATA")
    pid_file = Path(data, "postmaster.pid") if data else None
    if pid_file is None or not pid_file.exists():
        return False
    postmaster = int(pid_file.read_text().split()[0])
    children = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(proc.name))
    for pid in (postmaster, *children):
        try:
            os.sched_setaffinity(pid, cpus)
        except OSError:  # a backend that just ended
            pass
    return True


if __name__ == "__main__":
    main()
