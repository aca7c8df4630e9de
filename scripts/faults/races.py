#!/usr/bin/env python
# ruff: noqa: T201
"""Fault drill: the races of the earlier issues with real parallel clients.

    scripts/with-postgres.sh .venv/bin/python scripts/faults/races.py [--db pg|sqlite] [--repeat 3]

The concurrency tests of the consultation, referral and diagnosis issues run threads inside
one test process. Here each request comes from a separate OS process (forked, its HTTP
connection opened beforehand) and a multiprocessing barrier releases them together against a
real `medunion serve` (gunicorn, several workers). Each scenario runs --repeat times on a fresh
object:

  consult_claim      20 specialists claim one case            1 wins, 19 get 409
  referral_accept    20 receivers accept one referral         1 wins, 19 get 409
  green_channel      50 emergency referrals, 10 reserved beds 10 win, 40 get 409 green_channel_full
  double_submit      one referral submitted twice at once     1 wins, 1 gets 409 referral_live
  exam_claim         10 readers claim one examination         1 wins, 9 get 409
  critical_ack       2 clinicians acknowledge one finding     1 wins, 1 gets 409

The data of each scenario family is built in the drill process with the builders of the test
suite (tests/world.py and the areas' conftest modules), in a database of the drill's own per
family. A winner is a 2xx answer; the database is checked too (the state, the audit rows), so a
duplicate that answered 409 is still found. The last line is the RESULT line: acknowledged =
winners, present = winners the database confirms, duplicated = winners beyond the expected,
lost = expected winners missing, errors = answers other than 2xx and 409.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, Server, drill_environment, emit_result, token  # noqa: E402

DATABASES = ("pg", "sqlite")
QUICK_ARGS = ["--repeat", "1"]

PASSWORD = "Medunion-Test-2026!"  # tests.world.PASSWORD, checked after import


@dataclass
class Request:
    token: str
    path: str
    body: dict[str, Any]


@dataclass
class Scenario:
    name: str
    expected: int
    prepare: Callable[[int], tuple[list[Request], Callable[[], int]]]  # rep -> requests, count winners in DB


# --- the clients: one OS process per request ------------------------------------------------------

def _client(port: int, req: Request, barrier: Any, out: Any, i: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.connect()
    body = json.dumps(req.body, default=str).encode()
    headers = {"Authorization": f"Bearer {req.token}", "Content-Type": "application/json", "Accept-Language": "en"}
    try:
        barrier.wait(timeout=120)
        conn.request("POST", req.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        try:
            code = json.loads(data).get("code", "") if response.status >= 400 else ""
        except ValueError:
            code = "not-json"
        out.put((i, response.status, code))
    except Exception as exc:  # noqa: BLE001 - reported as an answer-less request
        out.put((i, 0, repr(exc)[:200]))


def race(port: int, requests: list[Request]) -> list[tuple[int, str]]:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(requests))
    out = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(port, r, barrier, out, i)) for i, r in enumerate(requests)]
    for p in procs:
        p.start()
    answers = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return [(status, code) for _i, status, code in sorted(answers)]


# --- the scenarios ----------------------------------------------------------------------------------

def _audit_count(action: str, object_id: Any) -> int:
    from medunion.audit.models import AuditEvent

    return AuditEvent.objects.filter(action=action, object_id=str(object_id)).count()


def consult_family(base: str) -> list[Scenario]:
    from tests.consults.conftest import add_practitioner, ask, build_consult_world
    from tests.world import build_world

    cw = build_consult_world(build_world())
    for i in range(18):
        add_practitioner(cw.world, cw.users, f"cardio_{i}", f"心内{i}", "tertiary", f"1106100000001{i:02d}",
                         ["cardiology"])
    personas = ["cardiologist_tertiary", "cardiologist_b"] + [f"cardio_{i}" for i in range(18)]
    tokens = [token(base, p, PASSWORD) for p in personas]

    def claim(rep: int) -> tuple[list[Request], Callable[[], int]]:
        from medunion.consults.models import ConsultParticipant

        consult = ask(cw)

        def winners() -> int:
            return max(ConsultParticipant.objects.filter(consult=consult).count(),
                       _audit_count("consult.claim", consult.pk))

        return [Request(t, f"/api/v1/consults/{consult.pk}/claim", {}) for t in tokens], winners

    return [Scenario("consult_claim", 1, claim)]


def referral_family(base: str) -> list[Scenario]:
    from tests.consults.conftest import add_practitioner
    from tests.referrals.conftest import RECEIVING_STAFF, build_referral_world, grant, new_patient, refer_up
    from tests.world import build_world

    from medunion.network import actions as net
    from medunion.network.models import Department
    from medunion.referrals.models import Referral

    rw = build_referral_world(build_world())
    extra = [f"tertiary_{i}" for i in range(17)]
    for i, persona in enumerate(extra):
        add_practitioner(rw.world, rw.users, persona, f"心内{i}", "tertiary", f"1106100000002{i:02d}", ["cardiology"])
        grant(rw.world, rw.pid(persona))
    receivers = [p for p in RECEIVING_STAFF if p != "tertiary_unlicensed"] + extra
    receiver_tokens = [token(base, p, PASSWORD) for p in receivers]
    sender = token(base, "village_doctor_a", PASSWORD)
    coordinator = rw.actor("coordinator")
    serial = iter(range(250))  # new_patient(i): a birth date 97 days apart per i, so fewer than ~270

    def body(patient_id: Any, **extra_fields: Any) -> dict[str, Any]:
        return {"patient_id": str(patient_id), "direction": "up", "target_organisation_id": str(rw.orgs["tertiary"].pk),
                "target_department_id": str(rw.cardiology.pk), "urgency": "emergency", "reason": "急性心肌梗死",
                "clinical_summary": "胸痛2小时，ST段抬高", **extra_fields}

    def accept(rep: int) -> tuple[list[Request], Callable[[], int]]:
        r = refer_up(rw, patient_id=new_patient(rw, next(serial)).pk)
        step = {"admit_kind": "bed", "appointment_at": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=4)).isoformat(),
                "location": "住院部5楼 心内科 12床", "bring": "身份证、医保卡"}
        return ([Request(t, f"/api/v1/referrals/{r.pk}/accept", step) for t in receiver_tokens],
                lambda: _audit_count("referral.accept", r.pk))

    def green(rep: int) -> tuple[list[Request], Callable[[], int]]:
        dept = Department.objects.get(pk=rw.cardiology.pk)
        net.save_department(acting=coordinator, organisation_id=rw.orgs["tertiary"].pk, code="CARD", name="心内科",
                            specialty="cardiology", beds=400, daily_slots=60,
                            green_channel_beds=dept.green_channel_beds_in_use + 10, green_channel_slots=6)
        patients = [new_patient(rw, next(serial)) for _ in range(50)]
        ids = [p.pk for p in patients]
        requests = [Request(sender, "/api/v1/referrals", body(p, green_channel=True, green_place="bed")) for p in ids]
        return requests, lambda: Referral.objects.filter(patient_id__in=ids, green_held=True).count()

    def double(rep: int) -> tuple[list[Request], Callable[[], int]]:
        pid = new_patient(rw, next(serial)).pk
        return ([Request(sender, "/api/v1/referrals", body(pid)) for _ in range(2)],
                lambda: Referral.objects.filter(patient_id=pid).count())

    return [Scenario("referral_accept", 1, accept), Scenario("green_channel", 10, green),
            Scenario("double_submit", 1, double)]


def diagnosis_family(base: str) -> list[Scenario]:
    from tests.consults.conftest import add_practitioner
    from tests.diagnostics.conftest import build_diagnosis_world, signed_ct, uploaded_ct
    from tests.world import build_world

    from medunion.diagnostics.models import CriticalFinding

    dw = build_diagnosis_world(build_world())
    personas = ["hub_radiologist", "hub_radiologist_b"]
    for i in range(8):
        persona = f"hub_reader_{i}"
        add_practitioner(dw.world, dw.users, persona, f"影像{i}", "imaging_hub", f"1106104240001{i:02d}", ["radiology"])
        personas.append(persona)
    readers = [token(base, p, PASSWORD) for p in personas]
    ackers = [token(base, p, PASSWORD) for p in ("township_doctor", "county_doctor")]

    def claim(rep: int) -> tuple[list[Request], Callable[[], int]]:
        exam = uploaded_ct(dw, slices=1)
        return ([Request(t, f"/api/v1/examinations/{exam.pk}/claim", {}) for t in readers],
                lambda: _audit_count("examination.claim", exam.pk))

    def ack(rep: int) -> tuple[list[Request], Callable[[], int]]:
        finding = CriticalFinding.objects.get(examination=signed_ct(dw, critical=True))

        return ([Request(t, f"/api/v1/critical-findings/{finding.pk}/acknowledge", {}) for t in ackers],
                lambda: _audit_count("examination.critical.acknowledge", finding.pk))

    return [Scenario("exam_claim", 1, claim), Scenario("critical_ack", 1, ack)]


FAMILIES: dict[str, Callable[[str], list[Scenario]]] = {
    "consults": consult_family, "referrals": referral_family, "diagnostics": diagnosis_family}


# --- the drill ---------------------------------------------------------------------------------------

def run_family(family: str, db: str, args: argparse.Namespace, report: dict[str, Any]) -> None:
    with drill_environment(f"races_{family}", db) as drill:
        drill.prepare(demo=False)
        with Server(drill, workers=args.workers, threads=args.threads) as server:
            if str(REPO) not in sys.path:
                sys.path.insert(0, str(REPO))  # the builders of the test suite
            cluster = os.environ.get("DATABASE_URL")
            drill.use()
            import tests.world
            from django.db import connections

            assert tests.world.PASSWORD == PASSWORD
            scenarios = FAMILIES[family](server.url)
            for sc in scenarios:
                rows = report.setdefault(sc.name, {"expected": sc.expected, "runs": []})
                for rep in range(args.repeat):
                    requests, count = sc.prepare(rep)
                    connections.close_all()  # nothing shared with the forked clients
                    started = time.monotonic()
                    answers = race(server.port, requests)
                    took = time.monotonic() - started
                    won = sum(1 for s, _c in answers if 200 <= s < 300)
                    refused = sorted({c for s, c in answers if s == 409})
                    others = [f"{s}:{c}" for s, c in answers if not (200 <= s < 300 or s == 409)]
                    in_db = count()
                    rows["runs"].append({"clients": len(requests), "won": won, "in_db": in_db, "409": refused,
                                         "other": others[:5], "n_other": len(others), "s": round(took, 2)})
                    print(f"{sc.name} #{rep + 1}: {len(requests)} clients, expected {sc.expected} winner(s), "
                          f"answered {won}, in the database {in_db}; 409 codes {refused}; other {others[:3]} "
                          f"({took:.2f} s)", flush=True)
            connections.close_all()
            if cluster:  # the drill's database is dropped from the cluster's own database
                os.environ["DATABASE_URL"] = cluster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", nargs="*", choices=sorted(FAMILIES), help="scenario families (default: all)")
    args = parser.parse_args()
    os.chdir(REPO)
    report: dict[str, Any] = {}
    families = args.only or list(FAMILIES)
    for family in families:
        # One process per family: Django is set up once per process, on the family's database.
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=_family_process, args=(family, args, q))
        p.start()
        part = q.get()
        p.join()
        report.update(part)
    acknowledged = present = duplicated = lost = errors = 0
    for rows in report.values():
        for run in rows["runs"]:
            acknowledged += run["won"]
            present += min(run["won"], run["in_db"])
            duplicated += max(0, run["won"] - rows["expected"]) + max(0, run["in_db"] - max(run["won"], rows["expected"]))
            lost += max(0, rows["expected"] - run["won"])
            errors += run["n_other"] + (run["won"] != run["in_db"])
    summary = {name: {"expected": rows["expected"], "observed": [r["won"] for r in rows["runs"]],
                      "in_db": [r["in_db"] for r in rows["runs"]], "other": sum(r["n_other"] for r in rows["runs"]),
                      "seconds": [r["s"] for r in rows["runs"]]} for name, rows in report.items()}
    ok = bool(report) and duplicated == 0 and lost == 0 and errors == 0 and "error" not in report
    summary["loadavg"] = [round(x, 2) for x in os.getloadavg()]  # type: ignore[assignment]
    summary["workers"] = args.workers  # type: ignore[assignment]
    emit_result("races", args.db, acknowledged=acknowledged, present=present, duplicated=duplicated,
                lost=lost, errors=errors, ok=ok, detail=summary)
    return 0 if ok else 1


def _family_process(family: str, args: argparse.Namespace, q: Any) -> None:
    report: dict[str, Any] = {}
    try:
        run_family(family, args.db, args, report)
    except Exception as exc:  # noqa: BLE001 - reported in the RESULT line
        import traceback

        traceback.print_exc()
        report.setdefault("error", {"expected": 0, "runs": []})
        report["error"]["message"] = f"{family}: {exc!r}"[:300]
    q.put(report)


if __name__ == "__main__":
    sys.exit(main())
