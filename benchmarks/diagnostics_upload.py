"""Remote diagnosis over HTTP against a real server: upload throughput of a CT series, the
viewer's frame-render latency, and the server's peak memory during the upload.

    .venv/bin/python benchmarks/diagnostics_upload.py                       # 300 slices of 512×512
    .venv/bin/python benchmarks/diagnostics_upload.py --instances 100 --side 256

Builds the demo consortium into a fresh SQLite database in a temporary directory, starts
``medunion serve --no-worker`` (gunicorn, 2 workers × 4 threads as ``make run``) on a free
loopback port, signs in as the township GP (``POST /api/v1/auth/token``) and records CT chest
examinations of the demo patient (``POST /api/v1/examinations``). The series is pydicom's real
``CT_small.dcm`` upscaled to ``--side`` pixels, shifted slice by slice, with fresh UIDs and the
patient's identity (``medunion.demo.imaging.large_ct_series``), sent one file per request to
``POST /api/v1/examinations/{id}/files``: once by one uploader, once by two concurrent uploaders
(one connection each, alternate files), each into its own examination. Meanwhile VmRSS of the
gunicorn master and its workers is sampled from /proc every 100 ms (shown: just before the upload
→ the peak during it).

Then the server is restarted with one worker (its in-process render cache is what "warm" means;
with two workers each keeps its own) and every slice's frame is fetched at size ``full`` with
the CT preset ``soft_tissue``: first (cold: read from the store, decoded, rendered, encoded),
then again (warm: the cached PNG). Prints a table; the numbers last seen are in
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "src"))

SETUP = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from medunion.demo.build import build_demo
from medunion.demo.imaging import dicom_identity
from medunion.demo.personas import PASSWORD
from medunion.patients.models import Patient
report = build_demo()
patient = Patient.objects.get(pk=report.demo_patient_id)
print(json.dumps({"patient_id": str(patient.pk), "identity": dicom_identity(patient), "seconds": report.seconds,
                  "password": PASSWORD}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``medunion serve`` in a subprocess; its process tree's memory, sampled every 100 ms."""

    def __init__(self, env: dict[str, str], workdir: Path, workers: int) -> None:
        self.port = free_port()
        self.log = open(workdir / f"serve-{workers}.log", "wb")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(
            [str(BIN / "medunion"), "serve", "--no-worker", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", "4"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.peak_total = self.peak_worker = 0
        self._sampling = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
            if self.proc.poll() is not None:
                break
        raise SystemExit(f"the server did not start; see {self.log.name}")

    def pids(self) -> list[int]:
        master = self.proc.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        found = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [master, *found]

    @staticmethod
    def rss_kib(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def sample(self) -> None:
        while self._sampling:
            pids = self.pids()
            sizes = {pid: self.rss_kib(pid) for pid in pids}
            workers = [v for pid, v in sizes.items() if pid != self.proc.pid]
            self.peak_total = max(self.peak_total, sum(sizes.values()))
            self.peak_worker = max(self.peak_worker, max(workers, default=0))
            time.sleep(0.1)

    def rss_now(self) -> tuple[int, int]:
        """KiB now: master and workers together, and the largest worker."""
        sizes = {pid: self.rss_kib(pid) for pid in self.pids()}
        return sum(sizes.values()), max((v for pid, v in sizes.items() if pid != self.proc.pid), default=0)

    def start_sampling(self) -> threading.Thread:
        self.peak_total = self.peak_worker = 0
        self._sampling = True
        thread = threading.Thread(target=self.sample, daemon=True)
        thread.start()
        return thread

    def stop_sampling(self, thread: threading.Thread) -> None:
        self._sampling = False
        thread.join()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class Client:
    def __init__(self, port: int, token: str = "") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.token = token

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
             expect: tuple[int, ...] = (200, 201)) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type} if body is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed an idle keep-alive connection: once more on a new one.
            self.conn.close()
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        if response.status not in expect:
            raise SystemExit(f"{method} {path}: {response.status} {data[:500]!r}")
        return response.status, data

    def json(self, method: str, path: str, payload: dict[str, Any]) -> Any:
        return json.loads(self.call(method, path, json.dumps(payload).encode())[1])

    def upload(self, exam_id: str, name: str, data: bytes) -> None:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/dicom\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        self.call("POST", f"/api/v1/examinations/{exam_id}/files", body, f"multipart/form-data; boundary={boundary}")


def token(port: int, username: str, password: str) -> str:
    return str(Client(port).json("POST", "/api/v1/auth/token", {"username": username, "password": password})
               ["access_token"])


def new_exam(client: Client, patient_id: str) -> str:
    return str(client.json("POST", "/api/v1/examinations", {
        "patient_id": patient_id, "modality": "CT", "body_site": "chest", "urgency": "urgent",
        "question": "咳嗽、低热2周，胸片见右上肺阴影，请行胸部CT"})["summary"]["id"])


def upload_series(port: int, tok: str, exam_id: str, files: list[bytes], uploaders: int) -> float:
    """Seconds to upload every file, ``uploaders`` connections sending alternate files."""
    errors: list[BaseException] = []

    def run(k: int) -> None:
        client = Client(port, tok)
        try:
            for i in range(k, len(files), uploaders):
                client.upload(exam_id, f"IM{i + 1:04d}.dcm", files[i])
        except BaseException as exc:  # reported below
            errors.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(uploaders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def frame_times(port: int, tok: str, exam_id: str, preset: str) -> tuple[list[float], list[float]]:
    client = Client(port, tok)
    _status, body = client.call("GET", f"/api/v1/examinations/{exam_id}")
    exam = json.loads(body)
    ids = [i["id"] for s in exam["clinical"]["series"] for i in s["instances"]]
    cold, warm = [], []
    for times in (cold, warm):
        for instance_id in ids:
            started = time.perf_counter()
            client.call("GET", f"/api/v1/examinations/{exam_id}/instances/{instance_id}/frames/1.png"
                               f"?preset={preset}&size=full")
            times.append((time.perf_counter() - started) * 1000)
    return cold, warm


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--side", type=int, default=512, choices=(128, 256, 512, 1024))
    parser.add_argument("--preset", default="soft_tissue")
    args = parser.parse_args()
    from medunion.demo.imaging import large_ct_series

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = {**os.environ, "MEDUNION_DATA_DIR": tmp, "MEDUNION_SQLITE_PATH": str(workdir / "bench.sqlite3"),
               "MEDUNION_DEMO": "1", "MEDUNION_DEBUG": "1", "MEDUNION_NOTIFY_SENDERS": "",
               "MEDUNION_LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "medunion.settings"}
        env.pop("DATABASE_URL", None)
        print("building the demo consortium …", flush=True)
        built = json.loads(subprocess.run([sys.executable, "-c", SETUP], env=env, capture_output=True, text=True,
                                          check=True).stdout.strip().splitlines()[-1])
        started = time.perf_counter()
        # One series per round: a series' instances belong to one examination.
        series = [large_ct_series(built["identity"], args.instances, side=args.side) for _round in (1, 2)]
        size_mb = sum(len(f) for f in series[0]) / 1e6
        print(f"2 series of {args.instances} slices of {args.side}×{args.side} ({size_mb:.0f} MB each) made in "
              f"{time.perf_counter() - started:.1f} s", flush=True)

        password = built["password"]
        rows: list[tuple[str, str]] = []
        server = Server(env, workdir, workers=2)
        try:
            tok = token(server.port, "township", password)
            client = Client(server.port, tok)
            for uploaders, files in zip((1, 2), series, strict=True):
                exam_id = new_exam(client, built["patient_id"])
                idle_total, idle_worker = server.rss_now()
                sampler = server.start_sampling()
                seconds = upload_series(server.port, tok, exam_id, files, uploaders)
                server.stop_sampling(sampler)
                rows.append((f"upload, {uploaders} uploader{'s' if uploaders > 1 else ''}",
                             f"{len(files) / seconds:.1f} instances/s ({seconds:.1f} s, "
                             f"{size_mb / seconds:.1f} MB/s)"))
                rows.append(("  RSS, master + workers / largest worker: before → peak during it",
                             f"{idle_total / 1024:.0f} → {server.peak_total / 1024:.0f} MiB / "
                             f"{idle_worker / 1024:.0f} → {server.peak_worker / 1024:.0f} MiB"))
                if uploaders == 1:
                    viewed = exam_id
        finally:
            server.stop()

        server = Server(env, workdir, workers=1)
        try:
            cold, warm = frame_times(server.port, token(server.port, "township", password), viewed, args.preset)
        finally:
            server.stop()
        for label, times in (("cold", cold), ("warm", warm)):
            rows.append((f"frame {args.preset}, full, {label} ({len(times)} slices)",
                         f"median {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms"))
        width = max(len(r[0]) for r in rows)
        print(f"\nmachine: {os.cpu_count()} cores; SQLite; demo built in {built['seconds']:.1f} s")
        for label, value in rows:
            print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
