"""Teleconsultation over FHIR: ServiceRequest (the request), Task (its workflow state) and
Communication (each message) — read and search within the same policy as the pages and the JSON
API, every resource served one audit row, everything valid R4 (fhir.resources R4B), and a patient
served only the patient conversation (by allowlist) and the state of their cases."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent, Verb
from medunion.consults import actions as ca
from medunion.consults.models import ConsultMessage
from tests.consults.conftest import ConsultWorld, ask, build_consult_world, stored_file
from tests.fhir.conftest import get, ids, validate
from tests.pins import AS_WRITTEN, AUDIT

SECRET = "仅限医生：考虑恶性可能"
FOR_PATIENT = "请按时服药，两周后复诊"
CANON = "https://medunion.invalid/fhir"

# fhir.resources checks structure and cardinality, not the required code bindings: these are.
REQUIRED = {
    "ServiceRequest": {"status": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
                       "intent": {"proposal", "plan", "directive", "order", "original-order", "reflex-order",
                                  "filler-order", "instance-order", "option"},
                       "priority": {"routine", "urgent", "asap", "stat"}},
    "Task": {"status": {"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
                        "in-progress", "on-hold", "failed", "completed", "entered-in-error"},
             "intent": {"unknown", "proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                        "instance-order", "option"},
             "priority": {"routine", "urgent", "asap", "stat"}},
    "Communication": {"status": {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                                 "entered-in-error", "unknown"}},
}


def check(resource: dict[str, Any]) -> dict[str, Any]:
    """Valid R4B, with the required bindings of these three types; Bundles entry by entry."""
    validate(resource)
    entries = [e["resource"] for e in resource.get("entry", [])] if resource["resourceType"] == "Bundle" \
        else [resource]
    for r in entries:
        for element, allowed in REQUIRED.get(r["resourceType"], {}).items():
            assert r[element] in allowed, (r["resourceType"], element, r[element])
    return resource


@dataclass
class Case:
    cw: ConsultWorld
    consult: Any
    team_case: Any
    clinical: Any  # a clinician message (with an attachment), corrected
    clinical_fix: Any
    typo: Any  # a patient message, corrected
    for_patient: Any
    leaflet: Any
    request_photo: Any


@pytest.fixture
def case(world) -> Case:
    cw = build_consult_world(world)
    photo = stored_file(cw, "village_doctor_a", name="request.jpg")
    consult = ask(cw, question=f"{SECRET}？", history=SECRET, attachments=[photo])
    cardio = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio, consult_id=consult.pk)
    scan = stored_file(cw, "cardiologist_tertiary", name="clinical.jpg")
    leaflet = stored_file(cw, "cardiologist_tertiary", name="leaflet.jpg")
    clinical = ca.post_message(acting=cardio, consult_id=consult.pk, body=SECRET, audience="clinicians",
                               attachments=[scan])
    typo = ca.post_message(acting=cardio, consult_id=consult.pk, body="请按时服药，一周后复诊", audience="patient")
    for_patient = ca.correct_message(acting=cardio, message_id=typo.pk, body=FOR_PATIENT)
    ca.post_message(acting=cardio, consult_id=consult.pk, body="用药说明见附件", audience="patient",
                    attachments=[leaflet])
    clinical_fix = ca.correct_message(acting=cardio, message_id=clinical.pk, body=f"{SECRET}（更正）")
    ca.answer_consult(acting=cardio, consult_id=consult.pk,
                      data=ca.AnswerInput(assessment=SECRET, recommendation="manage_locally", plan=SECRET))
    team_case = ask(cw, target_kind="team", target_team_id=cw.team.pk, urgency="emergency", question="第二个问题")
    return Case(cw, consult, team_case, clinical, clinical_fix, typo, for_patient, leaflet, photo)


def _ok(client, path: str, **params: Any) -> dict[str, Any]:
    status, body, _r = get(client, path, **params)
    assert status == 200, (path, body)
    return check(body)


# --- ServiceRequest ---------------------------------------------------------------------------------

def test_service_request_read(case, client_for):
    c, cw = case.consult, case.cw
    before = AuditEvent.objects.count()
    sr = _ok(client_for("village_doctor_a"), f"ServiceRequest/{c.pk}")
    assert (sr["status"], sr["intent"], sr["priority"]) == ("active", "order", "urgent")
    assert sr["category"][0]["coding"][0] == {"system": f"{CANON}/CodeSystem/service-category",
                                              "code": "consultation", "display": "consultation"}
    assert sr["subject"]["reference"] == f"Patient/{cw.patient.pk}"
    assert sr["requester"]["reference"] == f"Practitioner/{cw.pid('village_doctor_a')}"
    assert sr["performer"] == [{"reference": f"Organization/{cw.world.consortium.pk}",
                                "display": cw.world.consortium.name}]
    assert sr["reasonCode"] == [{"text": f"{SECRET}？"}]
    assert any(n["text"].endswith(SECRET) for n in sr["note"])
    assert {s["code"] for s in sr["meta"]["security"]} == {"R", "clinicians"}
    assert sr["authoredOn"] and sr["occurrencePeriod"]["end"]
    rows = list(AuditEvent.objects.order_by("seq")[before:])
    assert [(r.action, r.verb, r.object_id, r.patient_id, r.surface) for r in rows] == [
        ("consult.service_request.read", Verb.READ, str(c.pk), cw.patient.pk, "fhir")]

    team = _ok(client_for("cardiologist_tertiary"), f"ServiceRequest/{case.team_case.pk}")
    assert team["performer"][0]["reference"] == f"CareTeam/{cw.team.pk}" and team["priority"] == "stat"


def test_service_request_search(case, client_for):
    c, cw = case.consult, case.cw
    client = client_for("village_doctor_a")
    both = {str(c.pk), str(case.team_case.pk)}
    assert set(ids(_ok(client, "ServiceRequest"))) == both
    assert set(ids(_ok(client, "ServiceRequest", patient=f"Patient/{cw.patient.pk}"))) == both
    assert set(ids(_ok(client, "ServiceRequest", subject=str(cw.patient.pk)))) == both
    assert set(ids(_ok(client, "ServiceRequest", requester=f"Practitioner/{cw.pid('village_doctor_a')}"))) == both
    assert ids(_ok(client, "ServiceRequest", performer=f"CareTeam/{cw.team.pk}")) == [str(case.team_case.pk)]
    assert ids(_ok(client, "ServiceRequest", performer=f"Organization/{cw.world.consortium.pk}")) == [str(c.pk)]
    assert ids(_ok(client, "ServiceRequest", priority="stat")) == [str(case.team_case.pk)]
    assert ids(_ok(client, "ServiceRequest", priority="http://hl7.org/fhir/request-priority|urgent")) == [str(c.pk)]
    assert set(ids(_ok(client, "ServiceRequest", status="active"))) == both
    assert _ok(client, "ServiceRequest", status="completed")["total"] == 0
    assert _ok(client, "ServiceRequest", authored="ge2000-01-01")["total"] == 2
    assert _ok(client, "ServiceRequest", authored="lt2000")["total"] == 0
    assert ids(_ok(client, "ServiceRequest", _id=str(c.pk))) == [str(c.pk)]
    assert _ok(client, "ServiceRequest", category="consultation")["total"] == 2
    assert _ok(client, "ServiceRequest", category="http://loinc.org|x")["total"] == 0
    before = AuditEvent.objects.filter(action="consult.service_request.search").count()
    _ok(client, "ServiceRequest", patient=str(cw.patient.pk))
    rows = AuditEvent.objects.filter(action="consult.service_request.search").order_by("seq")[before:]
    assert sorted(r.object_id for r in rows) == sorted(both) and {r.patient_id for r in rows} == {cw.patient.pk}


@pytest.mark.parametrize("persona", ["village_doctor_b", "outsider", "coordinator", "commission_viewer", "sysadmin",
                                     "auditadmin", "patient_a"])
def test_service_request_is_clinicians_who_see_the_case(case, client_for, persona):
    status, body, _r = get(client_for(persona), f"ServiceRequest/{case.consult.pk}")
    assert status == 404
    check(body)
    status, body, _r = get(client_for(persona), "ServiceRequest")
    assert status == 404 or body["total"] == 0
    assert SECRET not in json.dumps(body, ensure_ascii=False)


# --- Task ---------------------------------------------------------------------------------------------

def test_task_read_and_search(case, client_for):
    c, cw = case.consult, case.cw
    client = client_for("cardiologist_tertiary")
    task = _ok(client, f"Task/{c.pk}")
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == ("in-progress", "answered")
    assert task["focus"]["reference"] == f"ServiceRequest/{c.pk}" and task["for"]["reference"] == f"Patient/{cw.patient.pk}"
    assert task["owner"]["reference"] == f"Practitioner/{cw.pid('cardiologist_tertiary')}"
    assert task["restriction"]["period"]["end"] and task["executionPeriod"]["start"]
    waiting = _ok(client, f"Task/{case.team_case.pk}")
    assert waiting["status"] == "requested" and "owner" not in waiting
    assert ids(_ok(client, "Task", owner=f"Practitioner/{cw.pid('cardiologist_tertiary')}")) == [str(c.pk)]
    assert ids(_ok(client, "Task", focus=f"ServiceRequest/{c.pk}")) == [str(c.pk)]
    assert ids(_ok(client, "Task", status="requested")) == [str(case.team_case.pk)]
    assert ids(_ok(client, "Task", **{"business-status": "answered"})) == [str(c.pk)]
    assert _ok(client, "Task", patient=str(cw.patient.pk))["total"] == 2
    before = AuditEvent.objects.filter(action="consult.task.search").count()
    _ok(client, "Task")
    assert AuditEvent.objects.filter(action="consult.task.search").count() == before + 2


def test_a_cancelled_task_keeps_its_reason_from_the_patient(case, client_for):
    cw = case.cw
    ca.cancel_consult(acting=cw.actor("village_doctor_a"), consult_id=case.team_case.pk, reason=SECRET)
    clinician = _ok(client_for("village_doctor_a"), f"Task/{case.team_case.pk}")
    assert clinician["status"] == "cancelled" and clinician["statusReason"]["text"] == SECRET
    patient = _ok(client_for("patient_a"), f"Task/{case.team_case.pk}")
    assert patient["status"] == "cancelled" and "statusReason" not in patient
    sr = _ok(client_for("village_doctor_a"), f"ServiceRequest/{case.team_case.pk}")
    assert sr["status"] == "revoked"


# --- Communication -----------------------------------------------------------------------------------

def test_communications_for_clinicians(case, client_for):
    c, cw = case.consult, case.cw
    client = client_for("village_doctor_a")
    bundle = _ok(client, "Communication", **{"based-on": f"ServiceRequest/{c.pk}", "_count": "100"})
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    old, new = by_id[str(case.clinical.pk)], by_id[str(case.clinical_fix.pk)]
    assert old["status"] == "entered-in-error" and new["status"] == "completed"
    assert new["extension"] == [{"url": f"{CANON}/StructureDefinition/replaces",
                                 "valueReference": {"reference": f"Communication/{case.clinical.pk}"}}]
    assert {s["code"] for s in old["meta"]["security"]} == {"R", "clinicians"}
    assert {s["code"] for s in by_id[str(case.for_patient.pk)]["meta"]["security"]} == {"N", "patient"}
    assert old["sender"]["reference"] == f"Practitioner/{cw.pid('cardiologist_tertiary')}"
    assert old["basedOn"] == [{"reference": f"ServiceRequest/{c.pk}"}]
    assert old["subject"]["reference"] == f"Patient/{cw.patient.pk}"
    [attached] = [p["contentAttachment"] for p in old["payload"] if "contentAttachment" in p]
    scan = case.clinical.attachments.get().file
    assert attached["url"] == f"/api/v1/consults/{c.pk}/attachments/{scan.pk}"
    assert (attached["contentType"], attached["size"], attached["title"]) == ("image/jpeg", 1234, "clinical.jpg")
    assert "hash" not in attached  # R4's hash is SHA-1; the stored SHA-256 travels in an extension
    assert attached["extension"][0] == {"url": f"{CANON}/StructureDefinition/attachment-sha256",
                                        "valueBase64Binary": base64.b64encode(bytes.fromhex(scan.sha256)).decode()}
    # Searches.
    sender = f"Practitioner/{cw.pid('cardiologist_tertiary')}"
    mine = ids(_ok(client, "Communication", sender=sender, _count="100"))
    assert str(case.clinical.pk) in mine and str(case.typo.pk) in mine
    assert ids(_ok(client, "Communication", status="entered-in-error")) == [str(case.clinical.pk),
                                                                            str(case.typo.pk)]
    assert _ok(client, "Communication", category="message", _count="100")["total"] == 5
    assert _ok(client, "Communication", sent="ge2000-01-01", _count="0")["total"] == len(by_id) + 1  # + team case
    assert _ok(client, "Communication", subject=f"Patient/{cw.patient.pk}", _count="0")["total"] == len(by_id) + 1
    assert ids(_ok(client, "Communication", _id=str(case.typo.pk))) == [str(case.typo.pk)]


def test_one_audit_row_per_communication(case, client_for):
    c, cw = case.consult, case.cw
    client = client_for("cardiologist_tertiary")
    before = AuditEvent.objects.count()
    _ok(client, f"Communication/{case.clinical.pk}")
    bundle = _ok(client, "Communication", **{"based-on": str(c.pk), "_count": "3"})
    rows = list(AuditEvent.objects.order_by("seq")[before:])
    assert [(r.action, r.object_id) for r in rows[:1]] == [("consult.communication.read", str(case.clinical.pk))]
    assert sorted(r.object_id for r in rows[1:]) == sorted(ids(bundle))
    assert {(r.action, r.patient_id, r.surface) for r in rows[1:]} == {
        ("consult.communication.search", cw.patient.pk, "fhir")}


def test_the_patient_is_served_the_patient_conversation_only(case, client_for):
    c = case.consult
    client = client_for("patient_a")
    bundle = _ok(client, "Communication", _count="100")
    served = {e["resource"]["id"] for e in bundle["entry"]}
    patient_messages = set(ConsultMessage.objects.filter(consult=c, audience="patient")
                           .exclude(pk=case.typo.pk).values_list("pk", flat=True))
    assert served == {str(p) for p in patient_messages}
    texts = [p.get("contentString") for e in bundle["entry"] for p in e["resource"].get("payload", [])]
    assert FOR_PATIENT in texts and "请按时服药，一周后复诊" not in texts
    attachments = [p["contentAttachment"]["title"] for e in bundle["entry"]
                   for p in e["resource"].get("payload", []) if "contentAttachment" in p]
    assert attachments == ["leaflet.jpg"]
    tasks = _ok(client, "Task")
    assert set(ids(tasks)) == {str(c.pk), str(case.team_case.pk)}
    everything = json.dumps([bundle, tasks, _ok(client, f"Task/{c.pk}"),
                             _ok(client, "Communication", status="entered-in-error,completed"),
                             _ok(client, "Communication", **{"based-on": f"ServiceRequest/{c.pk}"})],
                            ensure_ascii=False)
    assert SECRET not in everything and "request.jpg" not in everything and "clinical.jpg" not in everything
    for path in (f"Communication/{case.clinical.pk}", f"Communication/{case.clinical_fix.pk}",
                 f"Communication/{case.typo.pk}", f"ServiceRequest/{c.pk}", "ServiceRequest"):
        status, body, _r = get(client, path)
        assert status == 404, path
        check(body)
    assert _ok(client, f"Communication/{case.for_patient.pk}")["payload"] == [{"contentString": FOR_PATIENT}]


@pytest.mark.parametrize("persona", ["village_doctor_b", "outsider", "coordinator", "hub_radiologist", "sysadmin"])
def test_those_outside_the_case_get_nothing(case, client_for, persona):
    client = client_for(persona)
    for path in (f"Task/{case.consult.pk}", f"Communication/{case.for_patient.pk}",
                 f"Communication/{case.clinical.pk}"):
        status, body, _r = get(client, path)
        assert status == 404, path
        check(body)
    for kind in ("Task", "Communication"):
        status, body, _r = get(client, kind)
        assert status == 404 or body["total"] == 0, (kind, body)


@pytest.mark.parametrize(("kind", "persona"), [("ServiceRequest", "village_doctor_a"), ("Task", "village_doctor_a"),
                                               ("Communication", "village_doctor_a"), ("Task", "patient_a"),
                                               ("Communication", "patient_a")])
def test_search_query_counts_do_not_grow(case, client_for, kind, persona):
    cw = case.cw
    client = client_for(persona)
    _ok(client, kind)
    counts = []
    for _round in range(2):
        with CaptureQueriesContext(connection) as ctx:
            _ok(client, kind, _count="100")
        counts.append(len(ctx.captured_queries))
        # More cases with more messages and files.
        for i in range(3):
            more = ask(cw, question=f"问题{i}")
            ca.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=more.pk)
            ca.post_message(acting=cw.actor("cardiologist_tertiary"), consult_id=more.pk, body="好的",
                            audience="patient",
                            attachments=[stored_file(cw, "cardiologist_tertiary", name=f"f{_round}{i}.jpg")])
    # session, actor, policy, count, rows, prefetches, audit (on PostgreSQL one more: the chain's lock)
    assert counts[0] == counts[1] <= 16 + AUDIT + AS_WRITTEN, counts


def test_the_capability_statement_lists_the_three(client_for):
    status, body, _r = get(client_for("village_doctor_a"), "metadata")
    assert status == 200
    check(body)
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert {p["name"] for p in resources["ServiceRequest"]["searchParam"]} >= {
        "patient", "subject", "requester", "performer", "status", "priority", "authored", "_id"}
    assert {p["name"] for p in resources["Task"]["searchParam"]} >= {
        "patient", "focus", "owner", "status", "business-status"}
    assert {p["name"] for p in resources["Communication"]["searchParam"]} >= {
        "based-on", "patient", "subject", "sender", "sent", "category"}
