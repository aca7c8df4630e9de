"""Nothing clinician-only reaches a patient through any referral endpoint: not the reason, the
clinical summary, a clinician message, an interim note, a decline or cancel reason, the outcome,
the discharge summary or a clinician's file. What the patient is given is selected by allowlist:
status, appointment, where to go and what to bring, and the patient-audience timeline."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import zlib

from .conftest import accept_body, assert_problem, photo, refer

SECRET = "仅限医生：考虑主动脉夹层"
FOR_PATIENT = "请空腹前来，带好医保卡"


def text(response) -> str:
    """The answer as text, non-ASCII unescaped (JSON writes Chinese as \\u escapes)."""
    return json.dumps(response.json(), ensure_ascii=False)


def test_the_patient_sees_their_part_only(rw, api):
    doctor, cardio, patient = api("village_doctor_a"), api("cardiologist_tertiary"), api("patient_a")
    pid = rw.patient.pk
    clinical_file = doctor.upload(photo("black"), name="ct.jpg", patient_id=pid)
    leaflet = doctor.upload(photo("green"), name="leaflet.jpg", patient_id=pid)
    created = refer(api, rw, reason=SECRET, clinical_summary=SECRET, attachment_ids=[clinical_file])
    rid = created["summary"]["id"]
    doctor.post(f"/referrals/{rid}/messages", {"body": SECRET})
    cardio.post(f"/referrals/{rid}/accept", accept_body(note=SECRET, bring=FOR_PATIENT))
    doctor.post(f"/referrals/{rid}/messages", {"body": FOR_PATIENT, "audience": "patient",
                                               "attachment_ids": [leaflet]})
    cardio.post(f"/referrals/{rid}/notes", {"body": SECRET})
    cardio.post(f"/referrals/{rid}/check-in", {})
    cardio.post(f"/referrals/{rid}/outcome", {
        "summary": SECRET, "discharge_summary": SECRET,
        "plan": [{"kind": "check", "description": "复查血压", "due_in_days": 3}]})
    assert text(doctor.get(f"/referrals/{rid}")).count(SECRET) >= 5  # the clinicians see it all

    view = patient.get(f"/referrals/{rid}")
    assert view.status_code == 200
    body = view.json()
    assert body["clinical"] is None and body["roles"] == ["patient"] and body["events"] == []
    assert body["acts"] == ["patient_message"]
    assert {e["audience"] for e in body["entries"]} == {"patient"}
    assert body["summary"]["bring"] == FOR_PATIENT and body["summary"]["state"] == "outcome_returned"
    assert [a["id"] for e in body["entries"] for a in e["attachments"]] == [leaflet]

    answers = [view, patient.get(f"/referrals/{rid}/changes", {"after": 0}), patient.get("/referrals"),
               patient.get("/referrals", {"list": "sent"}), patient.get("/referrals", {"direction": "down"}),
               patient.get("/notifications")]
    [down] = [i for i in answers[4].json()["items"]]
    answers.append(patient.get(f"/referrals/{down['id']}"))
    for response in answers:
        assert response.status_code == 200, response.request["PATH_INFO"]
        assert SECRET not in text(response), response.request["PATH_INFO"]
    assert {i["reason"] for i in answers[2].json()["items"]} == {None}
    assert {i["sender"] for i in answers[2].json()["items"]} == {None}
    # The rehabilitation plan is the patient's to know.
    plan = [e for e in answers[-1].json()["entries"] if e["kind"] == "rehab_plan"]
    assert plan and plan[0]["detail"]["plan"][0]["description"] == "复查血压"
    assert answers[-1].json()["clinical"] is None

    got = patient.get(f"/referrals/{rid}/files/{leaflet}")
    assert got.status_code == 200
    assert_problem(patient.get(f"/referrals/{rid}/files/{clinical_file}"), 404)
    for path in ("/referrals/counts", "/referrals/tasks", "/referrals/destinations?direction=up",
                 f"/referrals/live?patient={pid}&direction=up"):
        assert_problem(patient.get(path), 404)
    # The patient takes no step on the referral.
    assert_problem(patient.post(f"/referrals/{rid}/complete", {}), 403)
    assert_problem(patient.post(f"/referrals/{rid}/notes", {"body": "x"}), 403)


def slip_text(pdf: bytes) -> str:
    """The text drawn in the slip's CID font (UCS-2 strings in ASCII85 + Flate content streams)."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?~>)", pdf, re.S):
        content = zlib.decompress(base64.a85decode(stream, adobe=True))
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S):
            raw = re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes([int(m.group(1), 8)]) if m.group(1).isdigit()
                         else m.group(1), literal)
            out.append(raw.decode("utf-16-be", errors="replace"))
    return "\n".join(out)


def test_the_slip_carries_no_clinical_text(rw, api):
    rid = refer(api, rw, reason=SECRET, clinical_summary=SECRET)["summary"]["id"]
    api("cardiologist_tertiary").post(f"/referrals/{rid}/accept", accept_body(
        bring=FOR_PATIENT, note=SECRET, appointment_at=(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()))
    slip = api("patient_a").get(f"/referrals/{rid}/slip.pdf")
    assert slip.status_code == 200 and slip["Cache-Control"] == "private, no-store"
    drawn = slip_text(slip.content)
    assert rw.patient.name in drawn and FOR_PATIENT in drawn and "住院部5楼" in drawn
    assert SECRET not in drawn
