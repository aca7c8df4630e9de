"""Benchmark of the housekeeping (medunion.ops.housekeeping) on a large file store.

    .venv/bin/python benchmarks/housekeeping.py                        # SQLite, 200,000 stored files
    .venv/bin/python benchmarks/housekeeping.py --files 50000 --orphans 500 --expired 100000
    scripts/with-postgres.sh .venv/bin/python benchmarks/housekeeping.py   # PostgreSQL

A fresh database gets ``--files`` stored-file rows, each with its bytes (16 bytes) in a local file
store, plus ``--orphans`` files no row refers to, all two days old; and ``--expired`` expired
idempotency keys and as many expired sessions (with as many live ones beside them). Then each
part of the housekeeping is timed, and so is one look-up of 500 keys among every row's keys —
what the orphan sweep did for every 500 keys before it looked rows up by the id a key is named
after, and what it still does for the keys no row of their name claims. Numbers last seen:
benchmarks/README.md ("Housekeeping").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import tempfile
import time
from pathlib import Path

from fresh import fresh_database


def _fill(root: Path, files: int, orphans: int, expired: int) -> list[str]:
    """Rows, bytes, keys and sessions; returns 500 keys of rows, for the key look-up."""
    from django.contrib.sessions.models import Session

    from medunion.accounts.models import User
    from medunion.core.ids import uuid7
    from medunion.core.models import IdempotencyRecord
    from medunion.files.models import StoredFile

    user = User.objects.create_user(username="uploader", password=secrets.token_hex(16))
    old = time.time() - 2 * 86400
    now = dt.datetime.now(dt.UTC)
    keys: list[str] = []
    batch: list[StoredFile] = []
    folder = root / "users" / str(user.pk)
    folder.mkdir(parents=True)

    def write(key: str) -> None:
        path = root / key
        path.write_bytes(secrets.token_bytes(16))
        os.utime(path, (old, old))

    for n in range(files):
        row_id = uuid7()
        key = f"users/{user.pk}/{row_id}.jpg"
        write(key)
        batch.append(StoredFile(id=row_id, uploaded_by=user, filename=f"{n}.jpg", kind="image",
                                content_type="image/jpeg", size=16, sha256=secrets.token_hex(32),
                                storage_key=key, meta={}))
        if len(batch) == 5000:
            StoredFile.objects.bulk_create(batch)
            batch.clear()
        if len(keys) < 500 and n % max(1, files // 500) == 0:
            keys.append(key)
    StoredFile.objects.bulk_create(batch)
    for _ in range(orphans):
        write(f"users/{user.pk}/{uuid7()}.jpg")
    for live in (False, True):
        expires = now + dt.timedelta(hours=1) if live else now - dt.timedelta(hours=1)
        IdempotencyRecord.objects.bulk_create(
            [IdempotencyRecord(owner=str(user.pk), scope="bench", key=f"{live}-{n}", fingerprint="f", result={},
                               expires_at=expires) for n in range(expired)], batch_size=5000)
        Session.objects.bulk_create([Session(session_key=secrets.token_hex(16), session_data="", expire_date=expires)
                                     for _ in range(expired)], batch_size=5000)
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--orphans", type=int, default=200)
    parser.add_argument("--expired", type=int, default=100_000, help="expired keys, and as many sessions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="housekeeping-bench-") as tmp:
        workdir = Path(tmp)
        fresh_database(workdir, pg=True)
        from django.db import connection
        from django.db.models import Q

        from medunion.access.actor import system_actor
        from medunion.core.idempotency import purge_expired
        from medunion.files.actions import sweep_orphans
        from medunion.files.models import StoredFile
        from medunion.ops.housekeeping import clear_sessions

        started = time.perf_counter()
        keys = _fill(workdir / "files", args.files, args.orphans, args.expired)
        db = connection.vendor
        print(f"{db}: {args.files:,} stored files + {args.orphans:,} orphans, {args.expired:,} expired keys and "
              f"sessions (+ as many live); filled in {time.perf_counter() - started:.1f} s", flush=True)

        def timed(label: str, run):  # type: ignore[no-untyped-def]
            t, c = time.perf_counter(), time.process_time()
            result = run()
            print(f"  {label:<44} {result!s:>9}  {time.perf_counter() - t:7.2f} s wall  "
                  f"{time.process_time() - c:7.2f} s CPU", flush=True)
            return result

        timed("500 keys among every row's keys (one look-up)", lambda: len(list(
            StoredFile.objects.filter(Q(storage_key__in=keys) | Q(preview_key__in=keys))
            .values_list("storage_key", "preview_key"))))
        assert timed("expired idempotency keys", purge_expired) == args.expired
        assert timed("expired sessions", clear_sessions) == args.expired
        assert timed("orphan sweep", lambda: sweep_orphans(acting=system_actor("bench"))) == args.orphans
        assert timed("orphan sweep again (nothing to remove)", lambda: sweep_orphans(acting=system_actor("bench"))) == 0


if __name__ == "__main__":
    main()
