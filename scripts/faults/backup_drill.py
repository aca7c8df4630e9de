#!/usr/bin/env python
"""Fault drill: an online backup, restored into a fresh database, compared with what it recorded.

    .venv/bin/python scripts/faults/backup_drill.py --db sqlite [--scale demo|tiny|small]
    scripts/with-postgres.sh .venv/bin/python scripts/faults/backup_drill.py --db pg

A database with data (the demo consortium, or `medunion generate --scale …` on top of it) served
by a real `medunion serve`; client threads register patients and upload a photo for each
(every request with an Idempotency-Key, retried until answered) while `medunion backup` runs,
so the backup is taken while the server writes rows and stored files. Then `medunion restore`
into a fresh database and a fresh file store (SQLite: a new directory; PostgreSQL: a new database
in the same cluster), and the checks:

- every table of the restored database against the manifest: rows and checksum of the rows
  that existed at the backup's snapshot (the audit log up to the manifest's last event; the one
  event after it must be the restore's own);
- every patient whose registration was acknowledged before the backup began is restored;
- every stored file of the backup's index is in the new file store with its checksum, and every
  restored file row has its bytes;
- `medunion audit verify` on the restored database.

RESULT: acknowledged = rows in the manifest, present = those rows restored, lost = manifest rows
missing, duplicated = rows beyond the manifest's; errors = checksum mismatches, bad files,
acknowledged-before-backup patients missing, a failed audit verification or command.
"""

from __future__ import annotations

# ruff: noqa: T201
import argparse
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
from _common import MEDUNION, REPO, Drill, Server, drill_environment, integrity_check, result_line, token  # noqa: E402


@dataclass
class Writes:
    base: str
    token: str
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: list[tuple[float, str]] = field(default_factory=list)  # (time acknowledged, patient id)
    files: int = 0
    errors: list[str] = field(default_factory=list)


def _png(rnd: random.Random) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 48), tuple(rnd.randrange(256) for _ in range(3))).save(out, "PNG")
    return out.getvalue()


def _until_answered(writes: Writes, send: Any) -> Any:
    import requests

    for _attempt in range(50):
        try:
            response = send()
        except requests.RequestException:
            time.sleep(0.2)
            continue
        if response.status_code < 500:
            return response
        time.sleep(0.2)
    return None


RESTORED_DB = "medunion_drill_backup_restored"
QUICK_ARGS = ["--settle", "1"]


def _writer(writes: Writes, n: int) -> None:
    import requests

    rnd = random.Random(810 + n)
    api = requests.Session()
    api.headers.update({"Authorization": f"Bearer {writes.token}", "Accept-Language": "en"})
    serial = 0
    while not writes.stop.is_set():
        serial += 1
        key = f"bkp-{n}-{serial}-{uuid.uuid4().hex[:8]}"
        body = {"name": f"备份演练{n}-{serial}", "sex": "female", "birth_date": "1985-05-05"}
        r = _until_answered(writes, lambda b=body, k=key: api.post(writes.base + "/api/v1/patients", json=b, timeout=30,
                                                                   headers={"Idempotency-Key": k}))
        if r is None or r.status_code != 201:
            with writes.lock:
                writes.errors.append(f"register: {None if r is None else r.status_code}")
            continue
        pid = r.json()["id"]
        with writes.lock:
            writes.acked.append((time.monotonic(), pid))
        data = _png(rnd)
        r = _until_answered(writes, lambda d=data, p=pid, k=key: api.post(
            writes.base + "/api/v1/files", data={"patient_id": p}, files={"file": ("photo.png", d, "image/png")},
            headers={"Idempotency-Key": k + "-photo"}, timeout=30))
        with writes.lock:
            if r is not None and r.status_code == 201:
                writes.files += 1
            else:
                writes.errors.append(f"upload: {None if r is None else r.status_code} {'' if r is None else r.text[:200]}")


def _restored_drill(drill: Drill, cluster_url: str, work: Path) -> Drill:
    """The same keys, a fresh database and file store."""
    env = dict(drill.env)
    env.update({"MEDUNION_DATA_DIR": str(work / "var"), "MEDUNION_FILE_ROOT": str(work / "files")})
    env.pop("MEDUNION_SQLITE_PATH", None)
    restored = Drill(name="backup_restored", db=drill.db, work=work, env=env)
    if drill.db == "pg":
        restored.dbname = RESTORED_DB
        _common.recreate_pg_database(cluster_url, RESTORED_DB)
        parts = urllib.parse.urlsplit(cluster_url)
        env["DATABASE_URL"] = urllib.parse.urlunsplit(parts._replace(path=f"/{RESTORED_DB}"))
        env["PGDATABASE"] = RESTORED_DB
    return restored


def _drop_restored(cluster_url: str) -> None:
    import psycopg

    from medunion.ops.postgres import drop_database

    with psycopg.connect(cluster_url, autocommit=True) as conn:
        drop_database(conn, RESTORED_DB)


def _run(argv: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    t0 = time.monotonic()
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    return done.returncode, time.monotonic() - t0, (done.stdout + done.stderr)[-3000:]


def _compare(restored: Drill, manifest: dict[str, Any], backup: Path) -> dict[str, Any]:
    """Compare the restored database and file store (this process set up on them) with the backup."""
    restored.use()
    from medunion.files.storage import StorageError, get_storage
    from medunion.ops import postgres, sqlite
    from medunion.ops.backup import database_from_settings

    database = database_from_settings()
    last_seq = int(manifest["audit"]["last_seq"])
    if database.kind == sqlite.KIND:
        assert database.path is not None
        conn = sqlite.connect(database.path, readonly=True)
        reader: Any = sqlite.SqliteReader(conn)
    else:
        conn = postgres.connect(database.params, autocommit=True)
        reader = postgres.PgReader(conn)
    try:
        found = reader.stats(audit_upto=last_seq)
        after = reader.rows(f"SELECT action FROM audit_auditevent WHERE seq > {last_seq} ORDER BY seq")  # noqa: S608
        patients = {str(r[0]).replace("-", "") for r in reader.rows("SELECT id FROM patients_patient")}
        rows = reader.rows("SELECT storage_key, preview_key, sha256 FROM files_storedfile")
    finally:
        conn.close()
    tables = {}
    for table, want in manifest["tables"].items():
        got = found.get(table, {"rows": 0, "checksum": None})
        tables[table] = (want["rows"], got["rows"], want["checksum"] == got["checksum"])
    storage = get_storage()

    def sha_of(key: str) -> str | None:
        try:
            with storage.open(key) as fh:
                return hashlib.sha256(fh.read()).hexdigest()
        except StorageError:
            return None

    index = json.loads((backup / manifest["files"]["index"]).read_text())
    files_bad = [f["key"] for f in index if sha_of(f["key"]) != f["sha256"]]
    rows_without_bytes = [key for key, preview, sha in rows if sha_of(key) != sha or (preview and sha_of(preview) is None)]
    return {"tables": tables, "extra_tables": sorted(set(found) - set(manifest["tables"])), "after": after,
            "patients": patients, "files": len(index), "files_bad": files_bad,
            "rows_without_bytes": rows_without_bytes}


def run(args: argparse.Namespace) -> tuple[bool, str]:
    scratch = Path(tempfile.mkdtemp(prefix="medunion-drill-backup-out-"))
    cluster_url = os.environ.get("DATABASE_URL", "")  # Drill.use() points this process at the restored database
    backup = scratch / "backup"
    try:
        with drill_environment("backup", args.db) as drill:
            if args.scale == "demo":
                drill.prepare(demo=True)
            else:
                drill.prepare(demo=False)
                drill.run("generate", "--scale", args.scale, "--quiet")
            with Server(drill) as server:
                writes = Writes(server.url, token(server.url, "village"))
                threads = [threading.Thread(target=_writer, args=(writes, n), daemon=True) for n in range(args.clients)]
                for t in threads:
                    t.start()
                time.sleep(args.settle)
                backup_started = time.monotonic()
                rc_backup, backup_s, backup_out = _run([MEDUNION, "backup", str(backup), "--quiet"], drill.env)
                backup_ended = time.monotonic()
                time.sleep(args.settle)
                writes.stop.set()
                for t in threads:
                    t.join(timeout=120)
            print(backup_out.strip())
            if rc_backup != 0:
                return False, result_line("backup_drill", args.db, acknowledged=None, present=None, duplicated=None,
                                          lost=None, errors=1, ok=False, detail={"backup": backup_out[-1000:]})
            manifest = json.loads((backup / "manifest.json").read_text())
            restored = _restored_drill(drill, cluster_url, scratch / "restored")
            rc_restore, restore_s, restore_out = _run([MEDUNION, "restore", str(backup), "--quiet"], restored.env)
            print(restore_out.strip())
            rc_verify, verify_s, verify_out = _run([MEDUNION, "audit", "verify"], restored.env)
            print(verify_out.strip())
            integrity_ok, integrity = integrity_check(restored) if rc_restore == 0 else (False, "not restored")
            print(integrity)
            found = _compare(restored, manifest, backup) if rc_restore == 0 else None
            size = sum(p.stat().st_size for p in backup.rglob("*") if p.is_file())
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if args.db == "pg":
            _drop_restored(cluster_url)
        shutil.rmtree(scratch, ignore_errors=True)

    acknowledged = int(manifest["rows"])
    before = [pid for at, pid in writes.acked if at < backup_started]
    during = [pid for at, pid in writes.acked if backup_started <= at <= backup_ended]
    if found is None:
        return False, result_line("backup_drill", args.db, acknowledged=acknowledged, present=0, duplicated=0,
                                  lost=acknowledged, errors=1, ok=False, detail={"restore": restore_out[-500:]})
    present = sum(min(want, got) for want, got, _same in found["tables"].values())
    lost = sum(max(0, want - got) for want, got, _same in found["tables"].values())
    duplicated = sum(max(0, got - want) for want, got, _same in found["tables"].values())
    mismatched = sorted(t for t, (_w, _g, same) in found["tables"].items() if not same)
    missing_acked = [pid for pid in before if pid.replace("-", "") not in found["patients"]]
    in_snapshot = sum(1 for pid in during if pid.replace("-", "") in found["patients"])
    unexpected_after = [a for (a,) in found["after"] if a != "backup.restore"]
    errors = (len(mismatched) + len(found["files_bad"]) + len(found["rows_without_bytes"]) + len(missing_acked)
              + len(unexpected_after) + len(found["extra_tables"]) + (not integrity_ok)
              + (rc_verify != 0) + len(writes.errors))
    ok = errors == 0 and lost == 0 and duplicated == 0 and len(found["after"]) == 1
    detail = {
        "scale": args.scale, "tables": len(found["tables"]), "checksums_differ": mismatched,
        "audit_events": manifest["audit"]["events"], "audit_verified": rc_verify == 0, "integrity": integrity,
        "events_after_snapshot": [a for (a,) in found["after"]],
        "files": found["files"], "files_bad": found["files_bad"][:5], "rows_without_bytes": found["rows_without_bytes"][:5],
        "registered_before_backup": len(before), "registered_before_backup_missing": len(missing_acked),
        "registered_during_backup": len(during), "of_which_in_snapshot": in_snapshot,
        "photos_uploaded": writes.files, "writer_errors": writes.errors[:5],
        "backup_s": round(backup_s, 2), "restore_s": round(restore_s, 2), "verify_s": round(verify_s, 2),
        "backup_mb": round(size / 1e6, 1), "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"tables {len(found['tables'])}: rows in the manifest {acknowledged}, restored {present}, lost {lost}, "
          f"extra {duplicated}; checksums differing: {mismatched or 'none'}; files {found['files']} "
          f"(bad {len(found['files_bad'])}); patients registered before the backup {len(before)} "
          f"(missing {len(missing_acked)}), during it {len(during)} ({in_snapshot} in the snapshot)")
    return ok, result_line("backup_drill", args.db, acknowledged=acknowledged, present=present, duplicated=duplicated,
                           lost=lost, errors=errors, ok=ok, detail=detail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--scale", choices=["demo", "tiny", "small"], default="demo",
                        help="the demo consortium, or `medunion generate --scale` on top of it")
    parser.add_argument("--clients", type=int, default=2, help="writer threads during the backup")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds of writes before and after the backup")
    args = parser.parse_args()
    ok, line = run(args)
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
