"""Tiered referral over FHIR: ServiceRequest (category referral), Task (the closed loop),
Appointment and DocumentReference — read and search within the same policy as the pages and the
JSON API (``visible_referrals``), every resource served one audit row, everything valid R4
(fhir.resources R4B), a patient served only what is theirs to read (by allowlist), and
ServiceRequest and Task serving consultations and referrals side by side."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent, Outcome, Verb
from medunion.consults import actions as ca
from medunion.core import clock
from medunion.referrals import actions as ra
from medunion.referrals.models import EntryKind, Referral, ReferralEntry
from tests.fhir.conftest import get, ids
from tests.fhir.test_consults import check as check_consult
from tests.pins import AS_WRITTEN, AUDIT
from tests.referrals.conftest import ReferralWorld, accept, build_referral_world, refer_up

CANON = "https://medunion.invalid/fhir"
SUMMARY = "胸痛反复发作三天，心电图ST段压低，肌钙蛋白轻度升高。"
REASON = "不稳定型心绞痛，需冠脉造影"
OUTCOME = "仅限医生：冠脉造影示前降支狭窄90%，已置入支架"
NOTE = "仅限医生：术前肾功能轻度异常"
DISCHARGE = "仅限医生：PCI术后第5天出院，继续双抗治疗"
DECLINE = "仅限医生：无床位且病情不符合收治标准"
BRING = "身份证、医保卡、既往心电图"
CLINICAL = (SUMMARY, REASON, OUTCOME, NOTE, DISCHARGE, DECLINE)

# Required bindings fhir.resources does not check.
REQUIRED = {
    "Appointment": {"status": {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                               "entered-in-error", "checked-in", "waitlist"}},
    "DocumentReference": {"status": {"current", "superseded", "entered-in-error"},
                          "docStatus": {"preliminary", "final", "amended", "entered-in-error"}},
}
PARTICIPANT_STATUS = {"accepted", "declined", "tentative", "needs-action"}


def check(resource: dict[str, Any]) -> dict[str, Any]:
    """Valid R4B with the required bindings (the consults' checks, plus Appointment and
    DocumentReference's); Bundles entry by entry."""
    check_consult(resource)
    entries = [e["resource"] for e in resource.get("entry", [])] if resource["resourceType"] == "Bundle" \
        else [resource]
    for r in entries:
        for element, allowed in REQUIRED.get(r["resourceType"], {}).items():
            assert r[element] in allowed, (r["resourceType"], element, r[element])
        if r["resourceType"] == "Appointment":
            assert {p["status"] for p in r["participant"]} <= PARTICIPANT_STATUS
            # app-3: a booked appointment has both start and end.
            assert r["status"] in ("proposed", "cancelled", "waitlist") or ("start" in r and "end" in r)
    return resource


@dataclass
class Loop:
    rw: ReferralWorld
    consult: Any
    up: Any  # accepted, arrived, outcome returned (with an interim note), green channel bed
    down: Any  # sent back down with a discharge summary and a plan (requested)
    declined: Any


def client(rw: ReferralWorld, persona: str) -> Client:
    c = Client(headers={"accept-language": "en"})
    c.force_login(rw.users.get(persona) or rw.world.users[persona])
    return c


@pytest.fixture
def loop(world) -> Loop:
    rw = build_referral_world(world)
    doctor, cardio = rw.actor("village_doctor_a"), rw.actor("cardiologist_tertiary")
    consult = ca.create_consult(acting=doctor, data=ca.ConsultInput(
        specialty="cardiology", urgency="urgent", question="胸闷两天，是否需要转诊？", patient_id=rw.patient.pk))
    requested_by = clock.today() + dt.timedelta(days=2)
    up = refer_up(rw, green_channel=True, green_place="bed", consult_id=consult.pk, requested_by=requested_by)
    accept(rw, up, bring=BRING)
    ra.check_in(acting=cardio, referral_id=up.pk)
    ra.post_interim_note(acting=cardio, referral_id=up.pk, body=NOTE)
    ra.return_outcome(acting=cardio, referral_id=up.pk, data=ra.OutcomeInput(
        summary=OUTCOME, refer_down=True, discharge_summary=DISCHARGE,
        plan=[ra.PlanItem(kind="visit", description="出院一周随访", due_in_days=7),
              ra.PlanItem(kind="medication_review", description="复查用药", due_in_days=30)]))
    down = up.children.get()
    declined = refer_up(rw, urgency="routine")
    ra.decline_referral(acting=rw.actor("cardiologist_b"), referral_id=declined.pk, reason=DECLINE)
    return Loop(rw, consult, Referral.objects.get(pk=up.pk), down, Referral.objects.get(pk=declined.pk))


def ok(c: Client, path: str, **params: Any) -> dict[str, Any]:
    status, body, _r = get(c, path, **params)
    assert status == 200, (path, body)
    return check(body)


def rows_since(before: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("seq")[before:])


def text_of(document: dict[str, Any]) -> str:
    return base64.b64decode(document["content"][0]["attachment"]["data"]).decode()


# --- ServiceRequest ---------------------------------------------------------------------------------

def test_service_request_read(loop):
    rw, up = loop.rw, loop.up
    before = AuditEvent.objects.count()
    sr = ok(client(rw, "village_doctor_a"), f"ServiceRequest/{up.pk}")
    assert (sr["status"], sr["intent"], sr["priority"]) == ("active", "order", "urgent")
    assert [c["coding"][0]["code"] for c in sr["category"]] == ["referral", "up"]
    assert sr["category"][1]["coding"][0]["system"] == f"{CANON}/CodeSystem/referral-direction"
    assert sr["code"]["coding"] == [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}]
    assert sr["subject"] == {"reference": f"Patient/{rw.patient.pk}"}
    assert sr["requester"]["reference"] == f"Practitioner/{rw.pid('village_doctor_a')}"
    ext = {e["url"].rsplit("/", 1)[1]: e for e in sr["extension"]}
    assert ext["requester-organization"]["valueReference"]["reference"] == f"Organization/{rw.orgs['clinic_a'].pk}"
    assert ext["green-channel"]["valueCoding"]["code"] == "bed"
    assert sr["performer"] == [{"reference": f"Organization/{rw.orgs['tertiary'].pk}",
                                "display": rw.orgs["tertiary"].name}]
    assert sr["locationReference"] == [{"reference": f"Location/{rw.cardiology.pk}", "display": "心内科"}]
    assert sr["performerType"]["coding"][0]["code"] == "cardiology"
    assert sr["reasonCode"] == [{"text": REASON}] and sr["note"] == [{"text": SUMMARY}]
    assert sr["basedOn"] == [{"reference": f"ServiceRequest/{loop.consult.pk}"}]
    assert sr["occurrencePeriod"]["end"] == up.requested_by.isoformat()
    assert sr["supportingInfo"][0]["reference"] == f"DocumentReference/{up.pk}"
    assert {s["code"] for s in sr["meta"]["security"]} == {"R", "clinicians"}
    assert [(r.action, r.verb, r.object_id, r.patient_id, r.surface, r.outcome) for r in rows_since(before)] == [
        ("referral.service_request.read", Verb.READ, str(up.pk), rw.patient.pk, "fhir", Outcome.SUCCESS)]

    # The way back down: based on the upward referral, to the referring doctor by name.
    down = ok(client(rw, "village_doctor_a"), f"ServiceRequest/{loop.down.pk}")
    assert down["category"][1]["coding"][0]["code"] == "down" and down["priority"] == "routine"
    assert {"reference": f"ServiceRequest/{up.pk}"} in down["basedOn"]
    assert down["performer"][1]["reference"] == f"Practitioner/{rw.pid('village_doctor_a')}"
    assert "locationReference" not in down and "green-channel" not in json.dumps(down)
    assert ok(client(rw, "cardiologist_b"), f"ServiceRequest/{loop.declined.pk}")["status"] == "revoked"
    # The consultation is still served under the same type.
    consult = ok(client(rw, "village_doctor_a"), f"ServiceRequest/{loop.consult.pk}")
    assert consult["category"][0]["coding"][0]["code"] == "consultation"


def test_service_request_search(loop):
    rw, up, down, declined = loop.rw, loop.up, loop.down, loop.declined
    c = client(rw, "village_doctor_a")
    referrals = {str(up.pk), str(down.pk), str(declined.pk)}
    everything = ok(c, "ServiceRequest")
    assert set(ids(everything)) == referrals | {str(loop.consult.pk)} and everything["total"] == 4
    assert ids(everything)[0] == str(loop.consult.pk)  # consultations first, then referrals, newest first
    assert set(ids(ok(c, "ServiceRequest", category="referral"))) == referrals
    assert set(ids(ok(c, "ServiceRequest", category=f"{CANON}/CodeSystem/service-category|referral"))) == referrals
    assert ids(ok(c, "ServiceRequest", category="consultation")) == [str(loop.consult.pk)]
    assert set(ids(ok(c, "ServiceRequest", category="consultation,referral"))) == referrals | {str(loop.consult.pk)}
    assert ids(ok(c, "ServiceRequest", category="down")) == [str(down.pk)]
    assert set(ids(ok(c, "ServiceRequest", category=f"{CANON}/CodeSystem/referral-direction|up"))) == {
        str(up.pk), str(declined.pk)}
    assert ok(c, "ServiceRequest", category="http://loinc.org|referral")["total"] == 0
    assert set(ids(ok(c, "ServiceRequest", category="referral", patient=f"Patient/{rw.patient.pk}"))) == referrals
    assert set(ids(ok(c, "ServiceRequest", category="referral", subject=str(rw.patient.pk)))) == referrals
    me = f"Practitioner/{rw.pid('village_doctor_a')}"
    assert set(ids(ok(c, "ServiceRequest", requester=me))) == {str(up.pk), str(declined.pk), str(loop.consult.pk)}
    assert ids(ok(c, "ServiceRequest", requester=f"Organization/{rw.orgs['tertiary'].pk}")) == [str(down.pk)]
    assert ids(ok(c, "ServiceRequest", performer=me)) == [str(down.pk)]
    assert set(ids(ok(c, "ServiceRequest", performer=f"Organization/{rw.orgs['tertiary'].pk}"))) == {
        str(up.pk), str(declined.pk)}
    assert ids(ok(c, "ServiceRequest", status="revoked")) == [str(declined.pk)]
    assert set(ids(ok(c, "ServiceRequest", status="active", category="referral"))) == {str(up.pk), str(down.pk)}
    assert set(ids(ok(c, "ServiceRequest", priority="urgent"))) == {str(up.pk), str(loop.consult.pk)}
    assert ok(c, "ServiceRequest", authored="lt2000")["total"] == 0
    assert ok(c, "ServiceRequest", authored="ge2000", category="referral")["total"] == 3
    assert ids(ok(c, "ServiceRequest", _id=str(down.pk))) == [str(down.pk)]
    # Paging runs across both sources.
    first = ok(c, "ServiceRequest", _count="3")
    second = ok(c, "ServiceRequest", _count="3", _offset="3")
    assert first["total"] == 4 and len(first["entry"]) == 3 and any(link["relation"] == "next" for link in first["link"])
    assert len(second["entry"]) == 1 and set(ids(first) + ids(second)) == set(ids(everything))
    past = ok(c, "ServiceRequest", _count="3", _offset="9")
    assert "total" not in past and "entry" not in past
    # One audit row per resource served, each with its own action.
    before = AuditEvent.objects.count()
    ok(c, "ServiceRequest")
    served = sorted((r.action, r.object_id) for r in rows_since(before))
    assert served == sorted([("consult.service_request.search", str(loop.consult.pk))]
                            + [("referral.service_request.search", i) for i in referrals])


# --- Task ----------------------------------------------------------------------------------------------

def test_task_read_and_search(loop):
    rw, up, down, declined = loop.rw, loop.up, loop.down, loop.declined
    c = client(rw, "cardiologist_tertiary")
    task = ok(c, f"Task/{up.pk}")
    assert (task["status"], task["businessStatus"]["coding"][0]) == ("in-progress", {
        "system": f"{CANON}/CodeSystem/referral-state", "code": "outcome_returned", "display": "outcome returned"})
    assert task["focus"] == {"reference": f"ServiceRequest/{up.pk}"} and task["for"]["reference"] == f"Patient/{rw.patient.pk}"
    assert task["owner"]["reference"] == f"Practitioner/{rw.pid('cardiologist_tertiary')}"
    assert task["requester"]["reference"] == f"Practitioner/{rw.pid('village_doctor_a')}"
    outcome = ReferralEntry.objects.get(referral=up, kind=EntryKind.OUTCOME)
    assert task["output"][0]["valueReference"] == {"reference": f"DocumentReference/{outcome.pk}"}
    assert "restriction" not in task and "statusReason" not in task and "end" not in task["executionPeriod"]
    waiting = ok(c, f"Task/{down.pk}")
    assert waiting["status"] == "requested" and waiting["restriction"]["period"]["end"]
    assert waiting["owner"]["reference"] == f"Practitioner/{rw.pid('village_doctor_a')}"  # named, not yet accepted
    rejected = ok(client(rw, "cardiologist_b"), f"Task/{declined.pk}")
    assert rejected["status"] == "rejected" and rejected["executionPeriod"]["end"]
    assert rejected["statusReason"]["coding"][0]["code"] == "decline" and rejected["statusReason"]["text"] == DECLINE
    assert rejected["owner"]["reference"] == f"Organization/{rw.orgs['tertiary'].pk}"

    c = client(rw, "village_doctor_a")
    everything = set(ids(ok(c, "Task")))
    assert everything == {str(up.pk), str(down.pk), str(declined.pk), str(loop.consult.pk)}
    assert set(ids(ok(c, "Task", owner=f"Practitioner/{rw.pid('cardiologist_tertiary')}"))) == {str(up.pk)}
    assert ids(ok(c, "Task", owner=f"Organization/{rw.orgs['tertiary'].pk}")) == [str(declined.pk)]
    assert ids(ok(c, "Task", focus=f"ServiceRequest/{up.pk}")) == [str(up.pk)]
    assert ids(ok(c, "Task", status="rejected")) == [str(declined.pk)]
    assert set(ids(ok(c, "Task", status="requested"))) == {str(down.pk), str(loop.consult.pk)}
    assert ids(ok(c, "Task", **{"business-status": f"{CANON}/CodeSystem/referral-state|outcome_returned"})) == [
        str(up.pk)]
    assert ids(ok(c, "Task", **{"business-status": f"{CANON}/CodeSystem/consult-state|requested"})) == [
        str(loop.consult.pk)]
    assert set(ids(ok(c, "Task", requester=f"Practitioner/{rw.pid('village_doctor_a')}"))) == {
        str(up.pk), str(declined.pk), str(loop.consult.pk)}
    assert ok(c, "Task", patient=str(rw.patient.pk))["total"] == 4
    assert ok(c, "Task", **{"authored-on": "lt2000"})["total"] == 0
    before = AuditEvent.objects.count()
    ok(c, "Task")
    assert sorted(r.action for r in rows_since(before)) == ["consult.task.search"] + ["referral.task.search"] * 3


def test_task_status_reason_on_redirect_and_cancel(loop):
    rw = loop.rw
    ra.cancel_referral(acting=rw.actor("cardiologist_tertiary"), referral_id=loop.down.pk, reason=DECLINE)
    cancelled = ok(client(rw, "cardiologist_tertiary"), f"Task/{loop.down.pk}")
    assert cancelled["status"] == "cancelled" and cancelled["statusReason"]["coding"][0]["code"] == "cancel"
    redirected = refer_up(rw, urgency="routine")
    ra.redirect_referral(acting=rw.actor("cardiologist_tertiary"), referral_id=redirected.pk,
                         organisation_id=rw.orgs["county"].pk, department_id=rw.internal.pk,
                         reason="仅限医生：心内科满床，转县医院内科")
    task = ok(client(rw, "county_doctor"), f"Task/{redirected.pk}")
    assert task["status"] == "requested" and task["businessStatus"]["coding"][0]["code"] == "requested"
    assert task["statusReason"]["coding"][0]["code"] == "redirect" and task["statusReason"]["text"].endswith("内科")
    assert task["owner"]["reference"] == f"Organization/{rw.orgs['county'].pk}"
    sr = ok(client(rw, "county_doctor"), f"ServiceRequest/{redirected.pk}")
    assert sr["locationReference"][0]["reference"] == f"Location/{rw.internal.pk}"
    # The patient is told it was redirected, not why.
    mine = ok(client(rw, "patient_a"), f"Task/{redirected.pk}")
    assert mine["statusReason"] == {"coding": [{"system": f"{CANON}/CodeSystem/referral-status-reason",
                                                 "code": "redirect", "display": "redirected"}],
                                    "text": "redirected"}
    # Once accepted, the redirect's reason is history: no statusReason.
    accept(rw, redirected, persona="county_doctor")
    assert "statusReason" not in ok(client(rw, "county_doctor"), f"Task/{redirected.pk}")


# --- Appointment -----------------------------------------------------------------------------------------

def test_appointment_read_and_search(loop):
    rw, up = loop.rw, loop.up
    c = client(rw, "village_doctor_a")
    appt = ok(c, f"Appointment/{up.pk}")
    assert appt["status"] == "fulfilled"  # the outcome has come back
    assert appt["start"] == appt["end"] and appt["basedOn"] == [{"reference": f"ServiceRequest/{up.pk}"}]
    assert appt["patientInstruction"] == BRING and appt["description"].endswith("住院部5楼 心内科 12床")
    assert appt["serviceType"][0]["coding"][0]["code"] == "bed"
    actors = [p["actor"]["reference"] for p in appt["participant"]]
    assert actors == [f"Patient/{rw.patient.pk}", f"Practitioner/{rw.pid('cardiologist_tertiary')}",
                      f"Location/{rw.cardiology.pk}"]
    # Referrals never accepted have no appointment.
    for referral in (loop.down, loop.declined):
        status, body, _r = get(c, f"Appointment/{referral.pk}")
        assert status == 404
        check(body)

    booked = refer_up(rw, target_organisation_id=rw.orgs["county"].pk, target_department_id=rw.internal.pk,
                      urgency="routine")
    ra.accept_referral(acting=rw.actor("county_doctor"), referral_id=booked.pk, data=ra.AcceptInput(
        admit_kind="appointment", appointment_at=clock.now() + dt.timedelta(days=1), location="门诊楼二楼 内科3诊室"))
    assert [a["status"] for a in (ok(c, f"Appointment/{booked.pk}"),)] == ["booked"]
    assert ids(ok(c, "Appointment", status="booked")) == [str(booked.pk)]
    assert ids(ok(c, "Appointment", status="fulfilled")) == [str(up.pk)]
    assert set(ids(ok(c, "Appointment"))) == {str(up.pk), str(booked.pk)}
    assert ids(ok(c, "Appointment", **{"based-on": f"ServiceRequest/{booked.pk}"})) == [str(booked.pk)]
    assert ids(ok(c, "Appointment", actor=f"Location/{rw.cardiology.pk}")) == [str(up.pk)]
    assert ids(ok(c, "Appointment", actor=f"Practitioner/{rw.pid('county_doctor')}")) == [str(booked.pk)]
    assert ids(ok(c, "Appointment", practitioner=f"Practitioner/{rw.pid('cardiologist_tertiary')}")) == [str(up.pk)]
    assert set(ids(ok(c, "Appointment", actor=f"Patient/{rw.patient.pk}"))) == {str(up.pk), str(booked.pk)}
    # The bed is 4 hours away and the appointment a day: a boundary halfway, to the second, splits them
    # at any time of day (a date would put both on the same side after 20:00 UTC).
    between = (clock.now() + dt.timedelta(hours=14)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(ok(c, "Appointment", date=f"ge{between}")) == [str(booked.pk)]
    assert ids(ok(c, "Appointment", date=f"lt{between}")) == [str(up.pk)]
    assert ok(c, "Appointment", date="lt2000")["total"] == 0
    ra.cancel_referral(acting=rw.actor("village_doctor_a"), referral_id=booked.pk, reason="仅限医生：患者拒绝")
    cancelled = ok(c, f"Appointment/{booked.pk}")
    assert cancelled["status"] == "cancelled" and cancelled["cancelationReason"]["text"] == "仅限医生：患者拒绝"
    assert "cancelationReason" not in ok(client(rw, "patient_a"), f"Appointment/{booked.pk}")


# --- DocumentReference --------------------------------------------------------------------------------------

def test_documents_for_clinicians(loop):
    rw, up, down = loop.rw, loop.up, loop.down
    c = client(rw, "village_doctor_a")
    letter = ok(c, f"DocumentReference/{up.pk}")
    assert letter["type"]["coding"][0] == {"system": "http://loinc.org", "code": "57133-1", "display": "Referral note"}
    assert text_of(letter) == SUMMARY and letter["description"] == REASON
    assert letter["content"][0]["attachment"]["contentType"] == "text/plain; charset=utf-8"
    assert letter["context"]["related"] == [{"reference": f"ServiceRequest/{up.pk}"}]
    assert [a["reference"] for a in letter["author"]] == [f"Practitioner/{rw.pid('village_doctor_a')}",
                                                          f"Organization/{rw.orgs['clinic_a'].pk}"]
    assert {s["code"] for s in letter["meta"]["security"]} == {"R", "clinicians"}

    bundle = ok(c, "DocumentReference", related=f"ServiceRequest/{up.pk}")
    kinds = {e["resource"]["type"]["coding"][1]["code"]: e["resource"] for e in bundle["entry"]}
    assert set(kinds) == {"referral_letter", "outcome", "interim_note"}
    assert text_of(kinds["outcome"]) == OUTCOME and text_of(kinds["interim_note"]) == NOTE
    assert kinds["outcome"]["author"][0]["reference"] == f"Practitioner/{rw.pid('cardiologist_tertiary')}"
    assert kinds["outcome"]["type"]["coding"][0]["code"] == "34133-9"
    down_docs = {e["resource"]["type"]["coding"][1]["code"]: e["resource"]
                 for e in ok(c, "DocumentReference", related=str(down.pk))["entry"]}
    assert set(down_docs) == {"referral_letter", "discharge_summary", "rehab_plan"}
    assert text_of(down_docs["discharge_summary"]) == DISCHARGE and text_of(down_docs["referral_letter"]) == OUTCOME
    plan = text_of(down_docs["rehab_plan"])
    assert "出院一周随访" in plan and "复查用药" in plan and plan.startswith("1. ")
    assert {s["code"] for s in down_docs["rehab_plan"]["meta"]["security"]} == {"N", "patient"}
    # Searches.
    assert set(ids(ok(c, "DocumentReference", type="http://loinc.org|57133-1"))) == {
        str(up.pk), str(down.pk), str(loop.declined.pk)}
    assert ids(ok(c, "DocumentReference", type="18842-5")) == [down_docs["discharge_summary"]["id"]]
    assert ids(ok(c, "DocumentReference", type=f"{CANON}/CodeSystem/referral-document|rehab_plan")) == [
        down_docs["rehab_plan"]["id"]]
    assert ok(c, "DocumentReference", type="http://loinc.org|0000-0")["total"] == 0
    assert ok(c, "DocumentReference", patient=f"Patient/{rw.patient.pk}")["total"] == 7
    assert ok(c, "DocumentReference", subject=str(rw.patient.pk), date="ge2000")["total"] == 7
    assert ok(c, "DocumentReference", date="lt2000")["total"] == 0
    outcome_id = kinds["outcome"]["id"]
    assert ids(ok(c, "DocumentReference", _id=outcome_id)) == [outcome_id]
    assert text_of(ok(c, f"DocumentReference/{outcome_id}")) == OUTCOME


# --- what the patient is served ------------------------------------------------------------------------------

def test_the_patient_is_served_only_what_is_theirs(loop):
    rw, up, down = loop.rw, loop.up, loop.down
    c = client(rw, "patient_a")
    for path in (f"ServiceRequest/{up.pk}", "ServiceRequest", f"DocumentReference/{up.pk}",
                 f"DocumentReference/{ReferralEntry.objects.get(referral=up, kind='outcome').pk}",
                 f"DocumentReference/{ReferralEntry.objects.get(referral=down, kind='discharge_summary').pk}"):
        status, body, _r = get(c, path)
        assert status == 404, path
        check(body)
    tasks = ok(c, "Task")
    assert set(ids(tasks)) == {str(up.pk), str(down.pk), str(loop.declined.pk), str(loop.consult.pk)}
    by_id = {e["resource"]["id"]: e["resource"] for e in tasks["entry"]}
    assert "output" not in by_id[str(up.pk)]
    assert by_id[str(loop.declined.pk)]["statusReason"]["coding"][0]["code"] == "decline"
    assert by_id[str(loop.declined.pk)]["statusReason"]["text"] == "declined"
    appointments = ok(c, "Appointment")
    assert ids(appointments) == [str(up.pk)]
    assert appointments["entry"][0]["resource"]["patientInstruction"] == BRING
    documents = ok(c, "DocumentReference")
    [plan] = documents["entry"]
    assert plan["resource"]["type"]["coding"][1]["code"] == "rehab_plan" and "出院一周随访" in text_of(plan["resource"])
    assert ok(c, f"DocumentReference/{plan['resource']['id']}")["id"] == plan["resource"]["id"]
    served = json.dumps([tasks, appointments, documents, ok(c, f"Task/{loop.declined.pk}"),
                         ok(c, f"Appointment/{up.pk}"), ok(c, "DocumentReference", related=str(up.pk))],
                        ensure_ascii=False)
    assert not [t for t in CLINICAL if t in served]


@pytest.mark.parametrize("persona", ["village_doctor_b", "county_doctor", "outsider", "hub_radiologist", "coordinator",
                                     "commission_viewer", "sysadmin", "auditadmin"])
def test_those_outside_the_referral_get_nothing(loop, persona):
    rw, up = loop.rw, loop.up
    c = client(rw, persona)
    outcome = ReferralEntry.objects.get(referral=up, kind="outcome")
    before = AuditEvent.objects.count()
    for path in (f"ServiceRequest/{up.pk}", f"Task/{up.pk}", f"Appointment/{up.pk}", f"DocumentReference/{up.pk}",
                 f"DocumentReference/{outcome.pk}"):
        status, body, _r = get(c, path)
        assert status == 404, path
        check(body)
    assert not [r for r in rows_since(before) if r.outcome == Outcome.SUCCESS]
    for kind in ("ServiceRequest", "Task", "Appointment", "DocumentReference"):
        status, body, _r = get(c, kind)
        assert status == 404 or "entry" not in body, (kind, body)
    assert not [t for t in CLINICAL if t in json.dumps(body, ensure_ascii=False)]


def test_one_audit_row_per_resource_served(loop):
    rw, up = loop.rw, loop.up
    c = client(rw, "cardiologist_tertiary")
    outcome = ReferralEntry.objects.get(referral=up, kind="outcome")
    for path, action, object_type, object_id in (
            (f"ServiceRequest/{up.pk}", "referral.service_request.read", "referrals.referral", up.pk),
            (f"Task/{up.pk}", "referral.task.read", "referrals.referral", up.pk),
            (f"Appointment/{up.pk}", "referral.appointment.read", "referrals.referral", up.pk),
            (f"DocumentReference/{up.pk}", "referral.document.read", "referrals.referral", up.pk),
            (f"DocumentReference/{outcome.pk}", "referral.document.read", "referrals.referralentry", outcome.pk)):
        before = AuditEvent.objects.count()
        ok(c, path)
        assert [(r.action, r.verb, r.object_type, r.object_id, r.patient_id, r.surface)
                for r in rows_since(before)] == [(action, Verb.READ, object_type, str(object_id), rw.patient.pk,
                                                  "fhir")], path
    for kind, params in (("Appointment", {}), ("DocumentReference", {}), ("DocumentReference", {"_count": "2"})):
        before = AuditEvent.objects.count()
        bundle = ok(c, kind, **params)
        rows = rows_since(before)
        assert sorted(r.object_id for r in rows) == sorted(ids(bundle))
        assert {(r.verb, r.patient_id, r.surface) for r in rows} == {(Verb.SEARCH, rw.patient.pk, "fhir")}
        assert all(r.detail["by"] == [] for r in rows)


def test_a_refused_read_of_a_real_referral_is_recorded_as_denied(loop):
    before = AuditEvent.objects.count()
    status, _body, _r = get(client(loop.rw, "village_doctor_b"), f"Task/{loop.up.pk}")
    assert status == 404
    assert [(r.action, r.outcome, r.patient_id) for r in rows_since(before)] == [
        ("referral.task.read", Outcome.DENIED, loop.rw.patient.pk)]


def grow(rw: ReferralWorld) -> None:
    """One more upward referral taken to its outcome (an appointment, a task, a letter, an interim
    note and an outcome), and the live downward referral replaced by a new one with its plan."""
    county, cardio = rw.actor("county_doctor"), rw.actor("cardiologist_tertiary")
    more = refer_up(rw, target_organisation_id=rw.orgs["county"].pk, target_department_id=rw.internal.pk,
                    urgency="routine")
    accept(rw, more, persona="county_doctor")
    ra.check_in(acting=county, referral_id=more.pk)
    ra.post_interim_note(acting=county, referral_id=more.pk, body="病情稳定")
    ra.return_outcome(acting=county, referral_id=more.pk, data=ra.OutcomeInput(summary="好转"))
    live = Referral.objects.get(patient=rw.patient, direction="down", state="requested")
    ra.cancel_referral(acting=cardio, referral_id=live.pk, reason="重新安排")
    ra.create_referral(acting=cardio, data=ra.ReferralInput(
        patient_id=rw.patient.pk, direction="down", target_organisation_id=rw.orgs["clinic_a"].pk, reason="康复期随访",
        clinical_summary="病情稳定。", discharge_summary="出院。",
        plan=[ra.PlanItem(kind="check", description="测血压", due_in_days=3)]))


@pytest.mark.parametrize(("kind", "persona"), [
    ("ServiceRequest", "village_doctor_a"), ("Task", "village_doctor_a"), ("Appointment", "village_doctor_a"),
    ("DocumentReference", "village_doctor_a"), ("Task", "patient_a"), ("Appointment", "patient_a"),
    ("DocumentReference", "patient_a")])
def test_search_query_counts_do_not_grow(loop, kind, persona):
    rw = loop.rw
    c = client(rw, persona)
    ok(c, kind)
    counts = []
    for _round in range(2):
        with CaptureQueriesContext(connection) as ctx:
            body = ok(c, kind, _count="100")
        counts.append(len(ctx.captured_queries))
        assert body.get("entry")
        grow(rw)
    # session, actor, policy, rows per source, prefetch, audit (PostgreSQL: one more, the chain's lock)
    assert counts[0] == counts[1] <= 17 + AUDIT + AS_WRITTEN, counts


def test_the_capability_statement_lists_the_four(client_for):
    status, body, _r = get(client_for("village_doctor_a"), "metadata")
    assert status == 200
    check(body)
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert {p["name"] for p in resources["ServiceRequest"]["searchParam"]} == {
        "_id", "patient", "subject", "requester", "performer", "status", "priority", "authored", "category"}
    assert {p["name"] for p in resources["Task"]["searchParam"]} >= {
        "_id", "patient", "focus", "owner", "status", "business-status"}
    assert {p["name"] for p in resources["Appointment"]["searchParam"]} >= {
        "_id", "patient", "date", "status", "based-on", "actor"}
    assert {p["name"] for p in resources["DocumentReference"]["searchParam"]} == {
        "_id", "patient", "subject", "related", "type", "date"}
    assert "referral" in resources["ServiceRequest"]["documentation"]
