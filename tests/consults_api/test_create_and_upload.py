"""Asking over the API: uploads first (POST /files), then the case (POST /consults); both safe to
retry with an Idempotency-Key; bad input is a clear 422 and leaves nothing behind."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from medunion.audit.models import AuditEvent
from medunion.consults.models import Consult, ConsultAttachment
from medunion.files.models import StoredFile
from tests.files.conftest import dicom_bytes, pdf_bytes

from .conftest import ask, ask_body, assert_problem, photo


def test_a_photo_then_a_case_with_it(cw, api):
    doctor = api("village_doctor_a")
    data = photo()
    up = doctor.upload(data, name="心电图.jpg", patient_id=cw.patient.pk)
    assert up.status_code == 201, up.content
    f = up.json()
    assert (f["kind"], f["content_type"], f["size"], f["sha256"], f["filename"]) == (
        "image", "image/jpeg", len(data), hashlib.sha256(data).hexdigest(), "心电图.jpg")
    assert f["patient_id"] == str(cw.patient.pk) and f["has_preview"] is False

    case = ask(api, cw, attachment_ids=[f["id"]], vitals={"systolic": 150, "diastolic": 95, "heart_rate": 88})
    summary, clinical = case["summary"], case["case"]
    assert (summary["state"], summary["urgency"], summary["version"], summary["overdue"]) == (
        "requested", "urgent", 0, False)
    assert clinical["question"].startswith("胸闷两天") and clinical["patient"]["name"] == cw.patient.name
    assert clinical["vitals"] == {"systolic": 150.0, "diastolic": 95.0, "heart_rate": 88.0}
    assert clinical["target_kind"] == "pool" and clinical["consortium"]["id"] == str(cw.world.consortium.pk)
    [attached] = clinical["attachments"]
    assert attached["id"] == f["id"] and attached["sha256"] == f["sha256"]
    assert attached["url"] == f"/api/v1/consults/{summary['id']}/attachments/{f['id']}"
    assert attached["preview_url"] == attached["url"] + "/preview"
    assert case["roles"] == ["asker", "care_team"] and case["events"] == ["cancel"]
    assert [m["event"] for m in case["messages"]] == ["create"]

    # The asker downloads what they sent: the same bytes.
    got = doctor.get(attached["url"][len("/api/v1"):])
    assert got.status_code == 200 and b"".join(got.streaming_content) == data
    assert got["Content-Type"] == "image/jpeg" and got["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("name", "data", "kind", "preview"), [
    ("报告.pdf", pdf_bytes(), "pdf", False),
    ("CT_small.dcm", dicom_bytes("CT_small.dcm"), "dicom", True),
])
def test_pdf_and_dicom_uploads(cw, api, name, data, kind, preview):
    up = api("village_doctor_a").upload(data, name=name, content_type="", patient_id=cw.patient.pk)
    assert up.status_code == 201, up.content
    assert (up.json()["kind"], up.json()["has_preview"]) == (kind, preview)


def test_the_same_case_twice_with_one_key_is_one_case(cw, api):
    doctor = api("village_doctor_a")
    body = ask_body(cw)
    first = doctor.post("/consults", body, **{"Idempotency-Key": "phone-retry-1"})
    again = doctor.post("/consults", body, **{"Idempotency-Key": "phone-retry-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["summary"]["id"] == again.json()["summary"]["id"]
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Consult.objects.count() == 1
    # The replay shows the case again: an audited read; the create wrote its own row once.
    assert AuditEvent.objects.filter(action="consult.create").count() == 1
    assert AuditEvent.objects.filter(action="consult.read", object_id=first.json()["summary"]["id"]).count() == 1
    # Another body under the same key: refused, nothing created.
    other = doctor.post("/consults", {**body, "question": "另一个问题"}, **{"Idempotency-Key": "phone-retry-1"})
    assert_problem(other, 422, "idempotency_key_reused")
    assert Consult.objects.count() == 1


def test_a_refused_case_leaves_nothing_and_its_key_can_be_used_again(cw, api):
    doctor = api("village_doctor_a")
    bad = doctor.post("/consults", ask_body(cw, question=" "), **{"Idempotency-Key": "k2"})
    problem = assert_problem(bad, 422, "validation_failed")
    assert problem["errors"] == {"question": ["Write your question."]}
    assert Consult.objects.count() == 0
    assert doctor.post("/consults", ask_body(cw), **{"Idempotency-Key": "k2"}).status_code == 201


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"vitals": {"systolic": 400}}, "vitals.systolic", "systolic blood pressure (mmHg) must be between 50 and 300."),
    ({"vitals": {"systolic": 90, "diastolic": 100}}, "vitals.diastolic",
     "The diastolic pressure must be below the systolic."),
    ({"target_kind": "team"}, "target_team", "Choose a team."),
    ({"target_kind": "practitioner", "target_practitioner_id": str(uuid.uuid4())}, "target_practitioner",
     "This specialist is not in the consortium."),
    ({"patient_id": str(uuid.uuid4())}, "patient", "Unknown patient."),
    ({"attachment_ids": [str(uuid.uuid4())]}, "attachments", "Unknown file."),
])
def test_bad_cases_are_clear_422s(cw, api, overrides, field, message):
    problem = assert_problem(api("village_doctor_a").post("/consults", ask_body(cw, **overrides)), 422)
    assert problem["errors"][field] == [message], problem
    assert Consult.objects.count() == 0


def test_a_specialist_of_another_consortium_is_refused(cw, api):
    outsider = cw.pid("outsider")
    problem = assert_problem(api("village_doctor_a").post("/consults", ask_body(
        cw, target_kind="practitioner", target_practitioner_id=str(outsider))), 422)
    assert problem["errors"]["target_practitioner"] == ["This specialist is not in the consortium."]


def test_someone_elses_file_cannot_be_attached(cw, api):
    theirs = api("cardiologist_tertiary").upload(photo("blue"), name="theirs.jpg")  # a general file
    assert theirs.status_code == 201
    problem = assert_problem(api("village_doctor_a").post("/consults", ask_body(
        cw, attachment_ids=[theirs.json()["id"]])), 422)
    assert problem["errors"]["attachments"] == ["theirs.jpg was not sent by you."]


def test_schema_errors_are_422_problems(cw, api):
    doctor = api("village_doctor_a")
    for body in ({"specialty": "astrology", "question": "?"}, {"specialty": "cardiology"},
                 {"specialty": "cardiology", "question": "x", "vitals": {"pulse": 80}},
                 {"specialty": "cardiology", "question": "a\x00b"}):
        assert_problem(doctor.post("/consults", body), 422, "validation_failed")
    assert Consult.objects.count() == 0


@pytest.mark.parametrize("persona", ["coordinator", "commission_viewer", "sysadmin", "patient_a"])
def test_only_clinicians_ask(cw, api, persona):
    assert_problem(api(persona).post("/consults", ask_body(cw)), 404, "not_found")


# --- uploads -------------------------------------------------------------------------------------

def test_an_upload_retried_with_its_key_is_stored_once(cw, api):
    doctor = api("village_doctor_a")
    data = photo("green")
    first = doctor.upload(data, patient_id=cw.patient.pk, **{"Idempotency-Key": "up-1"})
    again = doctor.upload(data, patient_id=cw.patient.pk, **{"Idempotency-Key": "up-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert StoredFile.objects.count() == 1
    assert AuditEvent.objects.filter(action="file.store").count() == 1
    # Other bytes under the same key: refused.
    assert_problem(doctor.upload(photo("blue"), patient_id=cw.patient.pk, **{"Idempotency-Key": "up-1"}), 422,
                   "idempotency_key_reused")


def test_refused_uploads_are_clear(cw, api, settings):
    doctor = api("village_doctor_a")
    pid = cw.patient.pk
    cases = [
        (b"", "photo.jpg", "The file is empty."),
        (b"%PDF-1.4 not really" + b"\0" * 10, "photo.jpg", None),
        (b"name,licence\n", "list.csv", None),
        (dicom_bytes("CT_small.dcm")[:2000], "scan.dcm", None),  # a damaged DICOM file
    ]
    for data, name, message in cases:
        problem = assert_problem(doctor.upload(data, name=name, content_type="", patient_id=pid), 422)
        assert problem["field"] == "file" and problem["errors"]["file"]
        if message:
            assert problem["errors"]["file"] == [message]
    settings.MEDUNION_MAX_UPLOAD_MB = 0.001
    problem = assert_problem(doctor.upload(photo(size=(400, 400)), patient_id=pid), 422)
    assert problem["errors"]["file"][0].startswith("The file is larger than the limit of")
    assert StoredFile.objects.count() == 0


def test_who_uploads_for_whom(cw, api):
    pid = cw.patient.pk
    assert_problem(api("village_doctor_b").upload(photo(), patient_id=pid), 404)  # may not see the patient
    assert_problem(api("coordinator").upload(photo()), 404)
    assert_problem(api("auditadmin").upload(photo()), 404)
    # The patient, for themselves (the patient id may be left out).
    mine = api("patient_a").upload(photo("yellow"))
    assert mine.status_code == 201 and mine.json()["patient_id"] == str(pid)
    assert api("village_doctor_b").upload(photo("white")).status_code == 201  # a general question's file
    assert ConsultAttachment.objects.count() == 0
