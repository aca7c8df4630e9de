"""Live updates: many open case pages polling a real server while messages arrive.

    .venv/bin/python benchmarks/live_updates.py --data-dir DIR               # 1,000 pages, 60 s
    .venv/bin/python benchmarks/live_updates.py --data-dir DIR --pages 200 --seconds 30 --rate 2

``DIR`` holds a built data set (``medunion demo`` or ``medunion generate``; its keys in the
environment as for ``medunion serve``); with ``DATABASE_URL`` set the server uses PostgreSQL.

Each open case page is what a browser does with ``web/consults/_live_poller.html``: a signed-in
session (made directly in Django's session store for a real clinician, as a sign-in and the case
page leave it: the user, the password hash, the grant of the case) and one keep-alive connection
that sends ``GET /consults/{id}/live?after=…&v=…`` with the htmx headers at the page's interval
(read from a real page: ``hx-trigger="every Ns"``). As htmx does: a 204 keeps the timer going (a
tick that comes while a request is out is sent when it returns); a 200 replaces the element, whose
timer starts again from then, with the cursor of the new fragment. Pages start at random moments
within one interval. The askers' pages poll; the assigned specialists (bearer tokens made in the
token table) post clinician messages at ``--rate`` a second to random cases through
``POST /api/v1/consults/{id}/messages``, each with a marker the pollers look for.

Measured after a warm-up, for ``--seconds``:
- delay: from the sender having the 201 (the message accepted) to each page of the case receiving
  it (p50/p95/p99), and from the sender's request start;
- polls: per second, latency (p50/p95/p99), answers by status;
- the server (gunicorn master and workers, from /proc): CPU as % of one core, peak RSS per worker;
- other requests: a clinician's case page (``/consults/{id}``) fetched every second, before the
  pages open (idle) and during the load (p50/p95).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "src"))

TICK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- set-up: cases, sessions and tokens, straight into the database ---------------------------

def prepare(pages: int, seed: int) -> dict[str, Any]:
    """Open cases with an assigned specialist and an asker who has an account; a session per page
    (the asker's) and a token per specialist."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
    import django

    django.setup()
    import datetime as dt

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils.crypto import get_random_string

    from medunion.accounts.models import ApiToken, User
    from medunion.consults.models import Consult
    from medunion.core import clock
    from medunion.web.live import GRANTS

    rng = random.Random(seed)
    users = {u.practitioner_id: u for u in User.objects.filter(role="practitioner", is_active=True,
                                                               practitioner_id__isnull=False)}
    cases = [c for c in Consult.objects.filter(state="in_progress", assignee_id__isnull=False)
             .order_by("-created_at").only("pk", "asker_id", "assignee_id", "last_seq", "version")[:pages * 3]
             if c.asker_id in users and c.assignee_id in users and c.asker_id != c.assignee_id][:pages]
    if not cases:
        raise SystemExit("no open case with an assigned specialist in this data set")
    now = clock.now()
    store = SessionStore()
    backend = "django.contrib.auth.backends.ModelBackend"
    rows, out = [], []
    for i in range(pages):
        c = cases[i % len(cases)]
        asker = users[c.asker_id]
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {SESSION_KEY: str(asker.pk), BACKEND_SESSION_KEY: backend,
                HASH_SESSION_KEY: asker.get_session_auth_hash(), GRANTS: [str(c.pk)]}
        rows.append(Session(session_key=key, session_data=store.encode(data),
                            expire_date=now + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)))
        out.append({"case": str(c.pk), "session": key, "after": c.last_seq, "version": c.version})
    Session.objects.bulk_create(rows, batch_size=500)
    tokens: dict[str, str] = {}
    token_rows = []
    for c in {c.pk: c for c in cases}.values():
        sender = users[c.assignee_id]
        if str(sender.pk) not in tokens:
            raw = "mu_" + secrets.token_urlsafe(32)
            tokens[str(sender.pk)] = raw
            token_rows.append(ApiToken(user=sender, digest=ApiToken.digest_of(raw), prefix=raw[3:9],
                                       label="benchmark", expires_at=now + dt.timedelta(hours=2)))
    ApiToken.objects.bulk_create(token_rows, batch_size=500)
    senders = {str(c.pk): tokens[str(users[c.assignee_id].pk)] for c in cases}
    # The probe: a specialist's own case page, an ordinary request during the load.
    probe = cases[rng.randrange(len(cases))]
    probe_key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
    assignee = users[probe.assignee_id]
    Session.objects.create(session_key=probe_key, expire_date=now + dt.timedelta(hours=1), session_data=store.encode(
        {SESSION_KEY: str(assignee.pk), BACKEND_SESSION_KEY: backend,
         HASH_SESSION_KEY: assignee.get_session_auth_hash()}))
    return {"pages": out, "senders": senders, "probe": {"case": str(probe.pk), "session": probe_key},
            "cases": len(cases), "cookie": settings.SESSION_COOKIE_NAME}


# --- the server -------------------------------------------------------------------------------

class Server:
    def __init__(self, workdir: Path, workers: int, threads: int) -> None:
        self.port = free_port()
        self.log = open(workdir / "live-serve.log", "wb")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(
            [str(BIN / "medunion"), "serve", "--no-worker", "--no-migrate", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if s.recv(100).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                time.sleep(0.3)
            if self.proc.poll() is not None:
                break
        raise SystemExit(f"the server did not start; see {self.log.name}")

    def pids(self) -> list[int]:
        master = self.proc.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        return [master, *(int(p) for p in children.read_text().split())] if children.exists() else [master]

    def cpu_ticks(self) -> int:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except OSError:
                pass
        return total

    def worker_rss_mib(self) -> list[float]:
        sizes = []
        for pid in self.pids()[1:]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
            except OSError:
                pass
        return sizes

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# --- a light HTTP/1.1 client on asyncio streams ------------------------------------------------

class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        for attempt in (0, 1):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                self.writer.write(head.encode() + body)
                await self.writer.drain()
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server closed an idle keep-alive connection (a browser reconnects too).
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, dict[str, str], bytes]:
        assert self.reader is not None
        status_line = await self.reader.readuntil(b"\r\n")
        if not status_line:
            raise ConnectionResetError
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        elif "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


POLLER = re.compile(r'id="case-live" hx-get="[^"?]+\?after=(\d+)&amp;v=(\d+)" hx-trigger="every (\d+)s"')
MARK = re.compile(r"lvb-(\d+)-")


@dataclass
class Stats:
    measuring: bool = False
    poll_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    sent: dict[int, tuple[float, float, str]] = field(default_factory=dict)  # marker -> start, accepted, case
    received: list[tuple[int, float]] = field(default_factory=list)
    probe_idle: list[float] = field(default_factory=list)
    probe_load: list[float] = field(default_factory=list)
    polls: int = 0


async def page(port: int, cookie: str, spec: dict[str, Any], interval: float, stats: Stats, stop: float) -> None:
    conn = Connection(port)
    case, after, version = spec["case"], spec["after"], spec["version"]
    base = (f"Host: 127.0.0.1:{port}\r\nCookie: {cookie}={spec['session']}\r\nHX-Request: true\r\n"
            f"HX-Trigger: case-live\r\nHX-Target: case-live\r\nHX-Current-URL: http://127.0.0.1:{port}/consults/{case}\r\n"
            "Accept: */*\r\n\r\n")
    loop = asyncio.get_running_loop()
    tick = send_at = loop.time() + random.uniform(0, interval)  # the page opened at a random moment
    while send_at < stop:
        await asyncio.sleep(max(0.0, send_at - loop.time()))
        started = loop.time()
        try:
            status, _headers, body = await conn.request(f"GET /consults/{case}/live?after={after}&v={version} "
                                                        f"HTTP/1.1\r\n{base}")
        except Exception:  # counted; the page keeps polling
            stats.errors += 1
            status, body = 0, b""
        done = loop.time()
        if stats.measuring:
            stats.poll_ms.append((done - started) * 1000)
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            stats.polls += 1
        if status == 200:
            text = body.decode()
            m = POLLER.search(text)
            if m:
                after, version = int(m.group(1)), int(m.group(2))
            for marker in MARK.findall(text):
                stats.received.append((int(marker), time.monotonic()))
            tick = send_at = done + interval  # the element was replaced: a new timer from now
        elif tick + interval <= done:  # a tick came while the request was out: htmx sends it now
            tick += interval * ((done - tick) // interval)
            send_at = done
        else:
            tick = send_at = tick + interval
    conn.close()


async def sender(port: int, senders: dict[str, str], rate: float, stats: Stats, stop: float) -> None:
    if rate <= 0:
        return
    cases = list(senders)
    conns: dict[str, Connection] = {}
    n = 0
    loop = asyncio.get_running_loop()
    next_at = loop.time()

    async def send(case: str, marker: int) -> None:
        body = json.dumps({"body": f"随访提醒 lvb-{marker}-：请测量血压并回复。", "audience": "clinicians"}).encode()
        conn = conns.setdefault(case + str(marker % 4), Connection(port))
        start = time.monotonic()
        try:
            status, _h, data = await conn.request(
                f"POST /api/v1/consults/{case}/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {senders[case]}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n", body)
        except Exception:
            stats.errors += 1
            return
        if status == 201:
            stats.sent[marker] = (start, time.monotonic(), case)
        else:
            stats.errors += 1
            print(f"send: {status} {data[:200]!r}", file=sys.stderr)

    tasks = set()
    while loop.time() < stop:
        n += 1
        task = asyncio.create_task(send(random.choice(cases), n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    if tasks:
        await asyncio.gather(*tasks)


async def probe(port: int, cookie: str, spec: dict[str, str], out: list[float], until: float) -> None:
    conn = Connection(port)
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        started = loop.time()
        status, _h, _b = await conn.request(f"GET /consults/{spec['case']} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                            f"Cookie: {cookie}={spec['session']}\r\n\r\n")
        if status == 200:
            out.append((loop.time() - started) * 1000)
        await asyncio.sleep(max(0.0, 1 - (loop.time() - started)))
    conn.close()


def interval_of(port: int, cookie: str, spec: dict[str, Any]) -> float:
    """The polling interval and the cursor of a real case page (and that the page still polls)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET /consults/{spec['case']} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Cookie: {cookie}={spec['session']}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    m = POLLER.search(data.decode(errors="replace"))
    if not m:
        raise SystemExit(f"the case page does not poll as expected: {data[:300]!r}")
    return float(m.group(3))


async def run(args: argparse.Namespace, setup: dict[str, Any], server: Server, interval: float) -> dict[str, Any]:
    stats = Stats()
    loop = asyncio.get_running_loop()
    port, cookie = server.port, setup["cookie"]
    await probe(port, cookie, setup["probe"], stats.probe_idle, loop.time() + args.idle_probe)
    warm = args.warmup
    stop = loop.time() + warm + args.seconds
    pages = [asyncio.create_task(page(port, cookie, spec, interval, stats, stop)) for spec in setup["pages"]]
    await asyncio.sleep(warm)
    stats.measuring = True
    ticks0, t0, rss_peak = server.cpu_ticks(), time.monotonic(), [0.0]

    async def sample() -> None:
        while loop.time() < stop:
            rss_peak[0] = max([rss_peak[0], *server.worker_rss_mib()])
            await asyncio.sleep(0.5)

    await asyncio.gather(sender(port, setup["senders"], args.rate, stats, stop - interval - 1),
                         probe(port, cookie, setup["probe"], stats.probe_load, stop), sample())
    cpu = (server.cpu_ticks() - ticks0) / TICK / (time.monotonic() - t0) * 100
    measured = time.monotonic() - t0
    stats.measuring = False
    await asyncio.gather(*pages)
    copies: dict[str, int] = {}
    for spec in setup["pages"]:
        copies[spec["case"]] = copies.get(spec["case"], 0) + 1
    delays, delays_sent = [], []
    for marker, at in stats.received:
        if marker in stats.sent:
            start, accepted, _case = stats.sent[marker]
            delays.append(max(0.0, at - accepted))
            delays_sent.append(at - start)
    expected = sum(copies[case] for _s, _a, case in stats.sent.values())
    return {
        "pages": len(setup["pages"]), "cases": setup["cases"], "interval_s": interval, "seconds": round(measured, 1),
        "messages_sent": len(stats.sent), "deliveries": len(delays), "deliveries_expected": expected,
        "delay_s": {p: round(pct(delays, p), 2) for p in (50, 95, 99)} | {"max": round(max(delays, default=0), 2)},
        "delay_from_send_s": {p: round(pct(delays_sent, p), 2) for p in (50, 95, 99)},
        "polls_per_s": round(stats.polls / measured, 1), "poll_statuses": stats.statuses, "errors": stats.errors,
        "poll_ms": {p: round(pct(stats.poll_ms, p), 1) for p in (50, 95, 99)},
        "server_cpu_pct_of_one_core": round(cpu, 1), "worker_rss_peak_mib": round(rss_peak[0], 1),
        "case_page_idle_ms": {p: round(pct(stats.probe_idle, p), 1) for p in (50, 95)},
        "case_page_under_load_ms": {p: round(pct(stats.probe_load, p), 1) for p in (50, 95)},
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=not os.environ.get("MEDUNION_DATA_DIR"),
                        default=os.environ.get("MEDUNION_DATA_DIR"))
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--idle-probe", type=float, default=10, help="seconds of the case page alone, first")
    parser.add_argument("--rate", type=float, default=2, help="messages a second, to random cases")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    os.environ["MEDUNION_DATA_DIR"] = str(args.data_dir)
    os.environ.setdefault("MEDUNION_DEMO", "1")
    random.seed(args.seed)
    started = time.perf_counter()
    setup = prepare(args.pages, args.seed)
    print(f"set-up: {len(setup['pages'])} sessions over {setup['cases']} cases, {len(set(setup['senders'].values()))} "
          f"sender tokens in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    server = Server(Path(args.data_dir), args.workers, args.threads)
    try:
        interval = interval_of(server.port, setup["cookie"], setup["pages"][0])
        result = asyncio.run(run(args, setup, server, interval))
    finally:
        server.stop()
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
