"""A race with real parallel clients (PostgreSQL): a real `medunion serve` (gunicorn, two worker
processes) on the test database, and one OS process per client, released together by a
multiprocessing barrier. The thread-based races of tests/consults, tests/referrals and
tests/diagnostics run inside one process; scripts/faults/races.py runs all of them this way."""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from medunion.audit.models import AuditEvent
from medunion.consults.models import Consult, ConsultParticipant
from tests.api.conftest import issue_token
from tests.consults.conftest import add_practitioner, ask, build_consult_world

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """The server `medunion serve` runs (gunicorn, the same application; without its
    collectstatic) on the test database; the port it listens on."""
    if connection.vendor != "postgresql":
        pytest.skip("parallel server processes are exercised on PostgreSQL")
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    env = {**os.environ, "DATABASE_URL": urllib.parse.urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}")),
           "MEDUNION_DEBUG": "1",  # the test settings' development keys, which only debug mode serves with
           "MEDUNION_DATA_DIR": str(tmp_path), "MEDUNION_FILE_ROOT": str(tmp_path / "files")}
    # The socket is bound and listening before gunicorn starts and is handed to it (fd://): no
    # other process can take the port between choosing it and the server binding it.
    listener = socket.create_server(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "medunion.wsgi:application",
                             "--bind", f"fd://{listener.fileno()}", "--workers", "2", "--threads", "2"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=[listener.fileno()])
    listener.close()  # the server holds its own copy
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _client(port: int, token: str, path: str, barrier: Any, out: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.connect()
    try:
        barrier.wait(timeout=60)
        conn.request("POST", path, body=b"{}", headers={"Authorization": f"Bearer {token}",
                                                        "Content-Type": "application/json"})
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
        out.put((response.status, body.get("code", ""), body.get("assignee", "")))
    except Exception as exc:  # noqa: BLE001 - reported as the outcome
        out.put((0, repr(exc), ""))


def _race(port: int, path: str, tokens: list[str]) -> list[tuple[int, str, str]]:
    connections.close_all()  # the forked clients share nothing with this process's connection
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(len(tokens)), ctx.Queue()
    procs = [ctx.Process(target=_client, args=(port, t, path, barrier, out)) for t in tokens]
    for p in procs:
        p.start()
    outcomes = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return outcomes


def test_specialists_in_separate_processes_claim_one_case_through_the_server_and_one_wins(world, server):
    cw = build_consult_world(world)
    for i in range(6):
        add_practitioner(cw.world, cw.users, f"cardio_{i}", f"心内{i}", "tertiary", f"1106100000001{i:02d}",
                         ["cardiology"])
    personas = ["cardiologist_tertiary", "cardiologist_b"] + [f"cardio_{i}" for i in range(6)]
    tokens = [issue_token(p) for p in personas]
    for _rep in range(2):
        consult = ask(cw)
        outcomes = _race(server, f"/api/v1/consults/{consult.pk}/claim", tokens)
        assert sum(1 for s, _c, _a in outcomes if s == 200) == 1, outcomes
        winner = Consult.objects.select_related("assignee").get(pk=consult.pk)
        assert winner.state == "in_progress" and winner.version == 1
        # Every loser gets a clear 409 naming the winner.
        losers = sorted(o for o in outcomes if o[0] != 200)
        assert losers == [(409, "conflict", winner.assignee.name)] * 7, outcomes
        assert ConsultParticipant.objects.filter(consult=consult).count() == 1
        assert AuditEvent.objects.filter(action="consult.claim", object_id=str(consult.pk)).count() == 1
