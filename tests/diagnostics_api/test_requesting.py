"""The requesting side over the API: record an examination (asked first about a recent signed
report), upload its files one per request (resumable, never twice), send it, cancel it."""

from __future__ import annotations

import uuid

from medunion.audit.models import AuditEvent
from medunion.diagnostics.models import Decision, Examination, Instance, Recognition
from tests.diagnostics.dicom_files import restamp

from .conftest import assert_problem, ct_slices, exam_body, photo, request_ct, signed, uploaded


def test_request_upload_and_send(dw, api):
    doctor = api("township_doctor")
    response = doctor.post("/examinations", exam_body(dw))
    assert response.status_code == 201, response.content
    body = response.json()
    eid = body["summary"]["id"]
    assert response["Location"].endswith(f"/api/v1/examinations/{eid}")
    summary = body["summary"]
    assert (summary["state"], summary["modality"], summary["body_site"], summary["urgency"]) == (
        "draft", "CT", "head", "urgent")
    assert summary["hub"]["id"] == str(dw.orgs["imaging_hub"].pk) and summary["version"] == 1
    assert body["events"] == ["submit", "cancel"] and body["acts"] == ["upload"]
    assert body["clinical"]["question"].startswith("突发头痛") and body["reports"] == []

    first, second = ct_slices(dw, 2)
    stored = doctor.upload(eid, first, name="IM0001.dcm")
    assert stored.status_code == 201, stored.content
    got = stored.json()
    assert (got["kind"], got["created"], got["instance_count"], got["filename"]) == ("instance", True, 1, "IM0001.dcm")
    assert got["sop_instance_uid"] and got["series_instance_uid"] and got["study_instance_uid"]
    # A retry after a dropped connection: the same instance, stored once.
    again = doctor.upload(eid, first, name="IM0001.dcm")
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["id"] == got["id"]
    assert again.json()["instance_count"] == 1
    # What is there already, to resume.
    received = doctor.get(f"/examinations/{eid}/files").json()
    assert received["count"] == 1 and received["items"][0]["sop_instance_uid"] == got["sop_instance_uid"]
    assert doctor.upload(eid, second, name="IM0002.dcm").status_code == 201
    assert Instance.objects.filter(examination_id=eid).count() == 2

    sent = doctor.post(f"/examinations/{eid}/submit", {"expected_version": 1})
    assert sent.status_code == 200, sent.content
    assert sent.json()["state"] == "awaiting" and sent.json()["events"] == ["cancel"]
    assert sent.json()["submitted_at"] and sent.json()["instance_count"] == 2
    # Sent for reading: no more images (409, not a 403: it is the requester's, but too late).
    assert_problem(doctor.upload(eid, ct_slices(dw, 1)[0]), 409)


def test_photos_and_pdfs_go_where_the_modality_allows(dw, api):
    doctor = api("township_doctor")
    ct = request_ct(api, dw)["summary"]["id"]
    problem = assert_problem(doctor.upload(ct, photo(), name="photo.jpg", content_type="image/jpeg"), 422,
                             "validation_failed")
    assert "file" in problem["errors"]
    us = request_ct(api, dw, modality="US", body_site="liver", question="右上腹痛")["summary"]["id"]
    stored = doctor.upload(us, photo(), name="liver.jpg", content_type="image/jpeg")
    assert stored.status_code == 201, stored.content
    assert (stored.json()["kind"], stored.json()["attachment_count"], stored.json()["sop_instance_uid"]) == (
        "attachment", 1, "")
    assert doctor.upload(us, photo(), name="liver.jpg", content_type="image/jpeg").json()["created"] is False
    view = doctor.get(f"/examinations/{us}").json()
    [attachment] = view["clinical"]["attachments"]
    download = doctor.client.get(attachment["url"])
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"
    assert AuditEvent.objects.filter(action="examination.file.read", patient_id=dw.patient.pk).count() == 1


def test_bad_files_are_refused_and_nothing_is_kept(dw, api):
    doctor = api("township_doctor")
    eid = request_ct(api, dw)["summary"]["id"]
    cases = [
        (b"this is not DICOM at all" * 10, "fake.dcm"),
        (ct_slices(dw, 1)[0][:600], "truncated.dcm"),
        (restamp("CT_small.dcm", {"PatientName": "WANG^XIAOMING", "PatientID": "", "PatientBirthDate": "19700101",
                                  "PatientSex": "M"}, fresh_uids=True), "other-patient.dcm"),
        (restamp("MR_small.dcm", {"PatientName": "CHEN^GUIFANG"}, fresh_uids=True), "mr.dcm"),
    ]
    for data, name in cases:
        problem = assert_problem(doctor.upload(eid, data, name=name), 422, "validation_failed")
        assert "file" in problem["errors"], (name, problem)
    assert doctor.get(f"/examinations/{eid}/files").json() == {"count": 0, "items": []}
    problem = assert_problem(doctor.post(f"/examinations/{eid}/submit", {}), 422)
    assert "file" in problem["errors"]
    no_file = doctor.client.post(f"/api/v1/examinations/{eid}/files", {})
    assert_problem(no_file, 422)


def test_field_errors_name_the_fields(dw, api):
    doctor = api("township_doctor")
    problem = assert_problem(doctor.post("/examinations", exam_body(dw, modality="PET", question="")), 422)
    assert {"modality", "question"} <= set(problem["errors"])
    problem = assert_problem(doctor.post("/examinations", exam_body(dw, body_site="other")), 422)
    assert "body_site_text" in problem["errors"]
    problem = assert_problem(doctor.post("/examinations", exam_body(dw, modality="ECG", body_site="heart")), 422)
    assert "modality" in problem["errors"]  # no hub reads ECG for this consortium
    problem = assert_problem(doctor.post("/examinations", exam_body(dw, organisation_id=str(dw.orgs["county"].pk))),
                             422)
    assert "organisation_id" in problem["errors"]
    assert_problem(doctor.post("/examinations", exam_body(dw, patient_id="not-a-uuid")), 422)
    assert_problem(doctor.post("/examinations", exam_body(dw, question="a\x00b")), 422)
    assert Examination.objects.count() == 0


def test_a_patient_one_may_not_see_is_404(dw, api):
    assert_problem(api("village_doctor_b").post("/examinations", exam_body(dw)), 404)
    assert_problem(api("township_doctor").post("/examinations", exam_body(dw, patient_id=str(uuid.uuid4()))), 404)
    for persona in ("patient_a", "coordinator", "sysadmin"):
        assert_problem(api(persona).post("/examinations", exam_body(dw)), 404)
    assert Examination.objects.count() == 0


def test_idempotent_create(dw, api):
    doctor = api("township_doctor")
    body = exam_body(dw)
    first = doctor.post("/examinations", body, **{"Idempotency-Key": "phone-retry-1"})
    again = doctor.post("/examinations", body, **{"Idempotency-Key": "phone-retry-1"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert first.json()["summary"]["id"] == again.json()["summary"]["id"] and Examination.objects.count() == 1
    eid = first.json()["summary"]["id"]
    # The create wrote one row; the replay shows it again: one read.
    assert [a for a in AuditEvent.objects.filter(object_id=eid).values_list("action", flat=True)] == [
        "examination.create", "examination.view"]
    assert_problem(doctor.post("/examinations", {**body, "question": "另一个问题"}, **{"Idempotency-Key": "phone-retry-1"}),
                   422, "idempotency_key_reused")


def test_a_recent_report_is_shown_first(dw, api):
    eid = signed(api, dw)
    county = api("county_doctor")  # the patient's care team: the signed report is recognised
    problem = assert_problem(county.post("/examinations", exam_body(dw)), 409, "recent_report_exists")
    assert problem["examinations"] == [eid] and problem["days"] == 30 and problem["field"] == "repeat_reason"
    # Using it: an avoided repeat, once per key.
    used = county.post(f"/examinations/{eid}/recognise", {}, **{"Idempotency-Key": "use-1"})
    replay = county.post(f"/examinations/{eid}/recognise", {}, **{"Idempotency-Key": "use-1"})
    assert used.status_code == replay.status_code == 201
    assert used.json() == replay.json() and used.json()["decision"] == Decision.REUSED
    assert Recognition.objects.filter(decision=Decision.REUSED).count() == 1
    # Or asking anyway, with a reason: the repeat is counted against the recent report.
    again = county.post("/examinations", exam_body(dw, repeat_reason="症状加重，需复查"))
    assert again.status_code == 201, again.content
    assert again.json()["clinical"]["repeat_reason"] == "症状加重，需复查"
    assert Recognition.objects.get(decision=Decision.REPEATED).examination_id == uuid.UUID(eid)
    # Only a signed report can be used.
    waiting = uploaded(api, dw, body_site="chest")
    assert_problem(api("township_doctor").post(f"/examinations/{waiting}/recognise", {}), 409)
    assert_problem(api("village_doctor_b").post(f"/examinations/{eid}/recognise", {}), 404)


def test_cancel_needs_a_reason_and_the_requesting_side(dw, api):
    doctor = api("township_doctor")
    eid = uploaded(api, dw)
    problem = assert_problem(doctor.post(f"/examinations/{eid}/cancel", {}), 422)
    assert "reason" in problem["errors"]
    assert_problem(api("hub_radiologist").post(f"/examinations/{eid}/cancel", {"reason": "不需要"}), 403)
    assert_problem(doctor.post(f"/examinations/{eid}/cancel", {"reason": "患者拒绝", "expected_version": 1}), 409,
                   "examination_changed")
    done = doctor.post(f"/examinations/{eid}/cancel", {"reason": "患者拒绝"})
    assert done.status_code == 200 and done.json()["state"] == "cancelled" and done.json()["events"] == []
    assert doctor.get(f"/examinations/{eid}").json()["clinical"]["cancel_reason"] == "患者拒绝"
    assert_problem(doctor.post(f"/examinations/{eid}/submit", {}), 409)
