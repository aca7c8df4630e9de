"""The crash drill in small (scripts/faults/crash.py runs it with 100 kills on the demo): a real
`medunion serve` on the test database is killed with SIGKILL (its whole process group) three times
while a client process registers patients, asks consultations, writes messages, refers and writes
on the referral, each create with an Idempotency-Key and retried with it until answered. After
each kill and at the end: every acknowledged create is present under the id it was answered
with, no marker is found twice, the database passes its own check and the audit chain verifies.

It needs a database a second process can open: SQLite in a file (``make test-sqlite`` sets
MEDUNION_SQLITE_TEST_PATH) or PostgreSQL. About 15-25 s on 2 cores, most of it the four server
starts."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from medunion.audit.verify import verify_chain
from tests.api.conftest import issue_token
from tests.referrals.conftest import build_referral_world

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAULTS = Path(__file__).resolve().parents[2] / "scripts" / "faults"
KILLS = 3


def _load(name: str):
    """A module of scripts/faults (not a package: the drills import ``_common`` from their directory)."""
    if str(FAULTS) not in sys.path:
        sys.path.insert(0, str(FAULTS))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FAULTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _server_env(tmp_path: Path) -> dict[str, str]:
    """The test database and the test process's keys (the development keys: debug mode)."""
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDUNION_") or k.startswith("MEDUNION_PG_")}
    env.update({"MEDUNION_DEBUG": "1", "MEDUNION_DEMO": "1", "MEDUNION_REQUIRE_MFA": "0",
                "MEDUNION_DATA_DIR": str(tmp_path / "var"), "MEDUNION_FILE_ROOT": str(tmp_path / "files"),
                "MEDUNION_SECRET_KEY": settings.SECRET_KEY,
                "MEDUNION_ENCRYPTION_KEYS": settings.MEDUNION_ENCRYPTION_KEYS,
                "MEDUNION_LOOKUP_KEY": settings.MEDUNION_LOOKUP_KEY,
                "DJANGO_SETTINGS_MODULE": "medunion.settings"})
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        host = db.get("HOST") or os.environ.get("PGHOST", "")
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{host.replace('/', '%2F')}/{db['NAME']}"
        env["PGDATABASE"] = db["NAME"]
    else:
        env.pop("DATABASE_URL", None)
        env["MEDUNION_SQLITE_PATH"] = str(db["NAME"])
    return env


def test_killed_servers_lose_and_duplicate_nothing(world, tmp_path, settings):
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and (name == ":memory:" or name.startswith("file:memorydb")):
        pytest.skip("needs the SQLite test database in a file (MEDUNION_SQLITE_TEST_PATH, as make test-sqlite)")
    settings.MEDUNION_REQUIRE_MFA = False
    common, crash = _load("_common"), _load("crash")
    rw = build_referral_world(world)
    token = issue_token("village_doctor_a")
    drill = common.Drill(name="crash-test", db="pg" if connection.vendor == "postgresql" else "sqlite",
                         work=tmp_path, env=_server_env(tmp_path), dbname=name)
    server = common.Server(drill, workers=1, threads=4)
    run = "X" + uuid.uuid4().hex[:6]
    events, stop = tmp_path / "client.jsonl", tmp_path / "stop"
    cfg = tmp_path / "client.json"
    cfg.write_text(json.dumps({"base": server.url, "token": token, "consortium": str(rw.world.consortium.pk),
                               "run": run, "index": 0, "events": str(events), "stop": str(stop)}))
    started = time.monotonic()
    server.start()
    client = subprocess.Popen([sys.executable, str(FAULTS / "crash.py"), "--client", str(cfg)],
                              stderr=open(tmp_path / "client.err", "wb"))
    chain = common.ChainCheck()
    rng = random.Random(6)
    try:
        for k in range(KILLS):
            time.sleep(rng.uniform(0.8, 1.6))
            server.kill()
            t = crash.tally(crash.read_events([events]), crash.found_in_database(run, close=False))
            assert (t["lost"], t["duplicated"]) == (0, 0), (k, t)
            assert common.integrity_check(drill)[0]
            ok, text = chain()
            assert ok, text
            server.start()
        time.sleep(1.0)
    finally:
        stop.touch()
        try:
            client.wait(timeout=60)
        finally:
            server.stop()
    assert client.returncode == 0, (tmp_path / "client.err").read_text()[-2000:]
    happened = crash.read_events([events])
    t = crash.tally(happened, crash.found_in_database(run, close=False))
    assert t["acknowledged"] >= 5 and t["lost"] == 0 and t["duplicated"] == 0, t
    assert t["by_kind"]["patient"]["acknowledged"] >= 1 and t["by_kind"]["consult"]["acknowledged"] >= 1, t
    assert [e for e in happened if e["e"] in ("refused", "5xx")] == []
    assert server.kills == KILLS and server.starts == KILLS + 1
    ok, text = common.integrity_check(drill)
    assert ok, text
    assert verify_chain().ok
    assert time.monotonic() - started < 120
