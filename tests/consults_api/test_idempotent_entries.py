"""Messages, corrections and MDT opinions are creates that a phone on a weak network sends again:
with an ``Idempotency-Key`` the retry answers the entry written the first time (marked
``Idempotent-Replayed: true``, shown as an audited read) instead of writing it twice. The crash
drill (scripts/faults/crash.py) found the duplicate: a message committed just before the server
was killed was written again by the client's retry."""

from __future__ import annotations

from medunion.audit.models import AuditEvent
from medunion.consults.models import ConsultMessage

from .conftest import ask, assert_problem


def _twice(client, path: str, body: dict, key: str = "retry-1"):
    first = client.post(path, body, **{"Idempotency-Key": key})
    again = client.post(path, body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.content
    assert again.status_code == 201, again.content
    assert "Idempotent-Replayed" not in first and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    return first.json()


def test_a_retried_message_is_written_once(cw, api):
    case = ask(api, cw)["summary"]["id"]
    doctor = api("village_doctor_a")
    reads = AuditEvent.objects.filter(action="consult.read", object_id=case).count()
    body = {"body": "血压今晨 150/95。", "audience": "clinicians"}
    shown = _twice(doctor, f"/consults/{case}/messages", body)
    assert ConsultMessage.objects.filter(consult_id=case, body=body["body"]).count() == 1
    assert shown["text"] == body["body"] and shown["kind"] == "message"
    # The replay showed the case again: one audited read.
    assert AuditEvent.objects.filter(action="consult.read", object_id=case).count() == reads + 1
    # The same key for another message is refused; nothing is written.
    assert_problem(doctor.post(f"/consults/{case}/messages", {"body": "另一条"}, **{"Idempotency-Key": "retry-1"}),
                   422, "idempotency_key_reused")
    assert not ConsultMessage.objects.filter(consult_id=case, body="另一条").exists()
    # A key names one request of the account at this endpoint: the same body on another case is
    # another request.
    other = ask(api, cw)["summary"]["id"]
    assert_problem(doctor.post(f"/consults/{other}/messages", body, **{"Idempotency-Key": "retry-1"}), 422,
                   "idempotency_key_reused")
    assert not ConsultMessage.objects.filter(consult_id=other, body=body["body"]).exists()
    # Without a key every post writes (as before).
    doctor.post(f"/consults/{case}/messages", {"body": "无键"})
    doctor.post(f"/consults/{case}/messages", {"body": "无键"})
    assert ConsultMessage.objects.filter(consult_id=case, body="无键").count() == 2


def test_a_refused_message_keeps_no_key(cw, api):
    case = ask(api, cw)["summary"]["id"]
    patient = api("patient_a")
    # The patient may not write in the clinician conversation: refused, and the key is not spent.
    assert_problem(patient.post(f"/consults/{case}/messages", {"body": "x", "audience": "clinicians"},
                                **{"Idempotency-Key": "p-1"}), 403)
    again = patient.post(f"/consults/{case}/messages", {"body": "x", "audience": "patient"},
                         **{"Idempotency-Key": "p-1"})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again


def test_a_retried_correction_and_opinion_are_written_once(cw, api):
    case = ask(api, cw)["summary"]["id"]
    cardio, onco = api("cardiologist_tertiary"), api("oncologist")
    cardio.post(f"/consults/{case}/claim")
    typo = cardio.post(f"/consults/{case}/messages", {"body": "一周后复珍", "audience": "patient"}).json()
    fixed = _twice(cardio, f"/consults/{case}/messages/{typo['id']}/corrections", {"body": "一周后复诊"}, "fix-1")
    assert fixed["supersedes_id"] == typo["id"]
    assert ConsultMessage.objects.filter(consult_id=case, supersedes_id=typo["id"]).count() == 1
    invited = cardio.post(f"/consults/{case}/invitations", {"practitioner_ids": [str(cw.pid("oncologist"))]})
    assert invited.status_code == 201, invited.content
    opinion = _twice(onco, f"/consults/{case}/opinions", {"body": "建议排除肿瘤可能"}, "op-1")
    assert opinion["kind"] == "opinion"
    assert ConsultMessage.objects.filter(consult_id=case, kind="opinion").count() == 1
