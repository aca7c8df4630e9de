"""No clinician content reaches a patient through any endpoint: not the question, not a clinician
message, not the answer, not a clinician attachment — on the JSON API and on FHIR alike. What the
patient is given is selected by allowlist (the patient conversation's current versions)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from medunion.audit.models import AuditEvent
from medunion.consults.models import ConsultMessage

from .conftest import ask, assert_problem, photo

SECRET = "仅限医生：考虑恶性可能"
FOR_PATIENT = "请按时服药，两周后复诊"


@pytest.fixture
def case(cw, api):
    doctor, cardio = api("village_doctor_a"), api("cardiologist_tertiary")
    pid = cw.patient.pk
    request_photo = doctor.upload(photo("red"), name="request.jpg", patient_id=pid).json()["id"]
    c = ask(api, cw, question=f"{SECRET}？", history=SECRET, attachment_ids=[request_photo])["summary"]["id"]
    cardio.post(f"/consults/{c}/claim")
    clinical_file = cardio.upload(photo("black"), name="clinical.jpg", patient_id=pid).json()["id"]
    leaflet = cardio.upload(photo("green"), name="leaflet.jpg", patient_id=pid).json()["id"]
    clinical = cardio.post(f"/consults/{c}/messages", {"body": SECRET, "attachment_ids": [clinical_file]}).json()
    typo = cardio.post(f"/consults/{c}/messages", {"body": "请按时服药，一周后复诊", "audience": "patient"}).json()
    cardio.post(f"/consults/{c}/messages/{typo['id']}/corrections", {"body": FOR_PATIENT})
    cardio.post(f"/consults/{c}/messages", {"body": "用药说明见附件", "audience": "patient",
                                             "attachment_ids": [leaflet]})
    cardio.post(f"/consults/{c}/messages/{clinical['id']}/corrections", {"body": f"{SECRET}（更正）"})
    cardio.post(f"/consults/{c}/request-info", {"question": f"{SECRET}：请补充肿瘤标志物"})
    doctor.post(f"/consults/{c}/provide-info", {"body": f"{SECRET} CEA 正常"})
    cardio.post(f"/consults/{c}/answer", {"assessment": SECRET, "recommendation": "manage_locally", "plan": SECRET})
    return {"id": c, "request_photo": request_photo, "clinical_file": clinical_file, "leaflet": leaflet,
            "clinical_message": clinical["id"], "typo": typo["id"]}


def _fhir(api, persona):
    return Client(headers={"authorization": f"Bearer {api(persona).token}", "accept-language": "en"})


def test_the_patient_sees_the_patient_conversation_only(cw, api, case):
    patient = api("patient_a")
    c = case["id"]
    view = patient.get(f"/consults/{c}")
    assert view.status_code == 200
    body = view.json()
    assert body["case"] is None and body["roles"] == ["patient"] and body["events"] == []
    assert [m["text"] for m in body["messages"]] == [FOR_PATIENT, "用药说明见附件"]
    assert {m["audience"] for m in body["messages"]} == {"patient"}
    assert [a["id"] for m in body["messages"] for a in m["attachments"]] == [case["leaflet"]]
    assert body["summary"]["state"] == "answered"

    answers = []
    answers.append(view)
    answers.append(patient.get(f"/consults/{c}/changes", {"after": 0}))
    answers.append(patient.get("/consults"))
    for queue in ("mine", "team", "pool", "overdue", "waiting", "asked"):
        answers.append(patient.get("/consults", {"queue": queue}))
    answers.append(patient.get("/notifications"))
    changes = answers[1].json()
    assert [m["text"] for m in changes["messages"]] == [FOR_PATIENT, "用药说明见附件"] and changes["answers"] == []
    [item] = answers[2].json()["items"]
    assert item["question"] is None and item["id"] == c
    for response in answers:
        assert response.status_code == 200
        # Compare with the decoded JSON: the raw body writes Chinese as \\u escapes.
        assert SECRET not in json.dumps(response.json(), ensure_ascii=False), response.request["PATH_INFO"]

    # Files: the leaflet of the patient conversation, nothing else.
    got = patient.get(f"/consults/{c}/attachments/{case['leaflet']}")
    assert got.status_code == 200 and b"".join(got.streaming_content)[:3] == b"\xff\xd8\xff"
    assert patient.get(f"/consults/{c}/attachments/{case['leaflet']}/preview").status_code == 200
    for f in (case["request_photo"], case["clinical_file"]):
        assert_problem(patient.get(f"/consults/{c}/attachments/{f}"), 404)
        assert_problem(patient.get(f"/consults/{c}/attachments/{f}/preview"), 404)
    # A clinician message cannot be corrected — or confirmed to exist — by the patient.
    assert_problem(patient.post(f"/consults/{c}/messages/{case['clinical_message']}/corrections", {"body": "x"}),
                   404)
    assert_problem(patient.post(f"/consults/{c}/messages", {"body": "x", "audience": "clinicians"}), 403)


def test_the_patient_on_fhir(cw, api, case):
    client = _fhir(api, "patient_a")
    c = case["id"]
    served = []
    for path in ("Communication", f"Communication?based-on=ServiceRequest/{c}", "Task", f"Task/{c}",
                 f"Communication?patient={cw.patient.pk}&status=entered-in-error,completed"):
        response = client.get(f"/fhir/{path}")
        assert response.status_code == 200, (path, response.content)
        served.append(json.dumps(response.json(), ensure_ascii=False))
    bundle = json.loads(served[0])
    texts = [p["contentString"] for e in bundle["entry"] for p in e["resource"].get("payload", [])
             if "contentString" in p]
    assert texts == [FOR_PATIENT, "用药说明见附件"]
    assert {s["code"] for e in bundle["entry"] for s in e["resource"]["meta"]["security"]} == {"N", "patient"}
    for text in served:
        assert SECRET not in text
    # The request (it carries the question) is not served to a patient; clinician messages are 404.
    for path in (f"ServiceRequest/{c}", "ServiceRequest", f"Communication/{case['clinical_message']}",
                 f"Communication/{case['typo']}"):
        assert client.get(f"/fhir/{path}").status_code == 404, path
    corrected = ConsultMessage.objects.get(supersedes_id=case["typo"])
    assert client.get(f"/fhir/Communication/{corrected.pk}").status_code == 200


def test_clinicians_see_both_conversations_and_the_versions(cw, api, case):
    c = case["id"]
    for persona in ("village_doctor_a", "cardiologist_tertiary"):
        body = api(persona).get(f"/consults/{c}").json()
        assert body["case"]["question"] == f"{SECRET}？" and body["case"]["answers"][0]["assessment"] == SECRET
        assert {m["audience"] for m in body["messages"]} == {"clinicians", "patient"}
        old = next(m for m in body["messages"] if m["id"] == case["typo"])
        assert old["superseded"] is True
        new = next(m for m in body["messages"] if m["supersedes_id"] == case["typo"])
        assert (new["text"], new["superseded"]) == (FOR_PATIENT, False)
        for f in (case["request_photo"], case["clinical_file"], case["leaflet"]):
            assert api(persona).get(f"/consults/{c}/attachments/{f}").status_code == 200
    assert_problem(api("village_doctor_b").get(f"/consults/{c}/attachments/{case['leaflet']}"), 404)


def test_every_file_served_is_one_audit_row(cw, api, case):
    c = case["id"]
    before = AuditEvent.objects.filter(action="consult.attachment.read").count()
    api("village_doctor_a").get(f"/consults/{c}/attachments/{case['clinical_file']}")
    api("patient_a").get(f"/consults/{c}/attachments/{case['clinical_file']}")  # refused: no row
    rows = list(AuditEvent.objects.filter(action="consult.attachment.read").order_by("seq")[before:])
    assert [(r.object_id, r.patient_id, r.surface) for r in rows] == [(case["clinical_file"], cw.patient.pk, "api")]
