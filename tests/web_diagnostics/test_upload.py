"""Uploading through the page's endpoint with real DICOM files: one file per request answered in
JSON (what the page's script does), the same file again kept once, a bad file and a file of the
wrong patient refused with a clear message; what is stored listed for resuming; the plain
multi-file form without the script; photos of an ultrasound examination and their download."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from medunion.diagnostics.models import ExamAttachment, Instance
from tests.diagnostics.conftest import ct_series, dicom_testfile, identity_of, new_ct

from .conftest import client, json_client, page

pytestmark = pytest.mark.django_db


def slices(dw, n: int) -> list[bytes]:
    return ct_series(identity_of(dw.patient, dw.world.patients["patient_a_id_number"]), n)


def dcm(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/dicom")


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_one_file_per_request_with_json_answers(dw, lang):
    exam = new_ct(dw)
    doctor = json_client("township_doctor", lang)
    url = f"/examinations/{exam.pk}/upload"
    one, two = slices(dw, 2)
    first = doctor.post(url, {"file": dcm("DICOM_SE1_IM0001", one)})
    assert first.status_code == 200
    assert first.json() == {"kind": "instance", "created": True, "name": "DICOM_SE1_IM0001", "error": ""}
    again = doctor.post(url, {"file": dcm("DICOM_SE1_IM0001", one)})  # a retry after a dropped connection
    assert again.status_code == 200 and again.json()["created"] is False
    assert Instance.objects.filter(examination=exam).count() == 1
    bad = doctor.post(url, {"file": SimpleUploadedFile("IM0002.dcm", b"not a dicom file at all" * 20,
                                                        content_type="application/dicom")})
    assert bad.status_code == 422
    answer = bad.json()
    assert answer["kind"] == "" and answer["created"] is False and answer["name"] == "IM0002.dcm"
    assert answer["error"] and "Traceback" not in answer["error"]
    if lang == "en":
        assert answer["error"] == "This file is labelled as a DICOM file, but its content is not one; it was not accepted."
    other = Path(dicom_testfile("CT_small.dcm")).read_bytes()  # another patient's CT
    wrong = doctor.post(url, {"file": dcm("OTHER.dcm", other)})
    assert wrong.status_code == 422
    if lang == "en":
        assert wrong.json()["error"].startswith("This image is of another patient")
    doctor.post(url, {"file": dcm("DICOM_SE1_IM0002", two)})
    stored = doctor.get(f"/examinations/{exam.pk}/received")
    assert stored.status_code == 200 and stored["Cache-Control"] == "no-store"
    assert sorted(stored.json(), key=lambda r: r["name"]) == [
        {"name": "DICOM_SE1_IM0001", "size": len(one)}, {"name": "DICOM_SE1_IM0002", "size": len(two)}]
    assert Instance.objects.filter(examination=exam).count() == 2
    body = page(client("township_doctor", lang).get(f"/examinations/{exam.pk}"))
    assert f"/examinations/{exam.pk}/viewer?series=" in body and "?size=thumb" in body


def test_the_plain_form_sends_several_files_and_names_the_refused_one(dw):
    exam = new_ct(dw)
    doctor = client("township_doctor")
    url = f"/examinations/{exam.pk}/upload"
    data = slices(dw, 3)
    mixed = doctor.post(url, {"files": [dcm(f"IM{i}.dcm", d) for i, d in enumerate(data[:2])]
                              + [SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")]})
    assert mixed.status_code == 422
    body = page(mixed)
    assert 'data-testid="upload-errors"' in body and "notes.txt:" in body
    assert Instance.objects.filter(examination=exam).count() == 2
    fine = doctor.post(url, {"files": [dcm(f"IM{i}.dcm", d) for i, d in enumerate(data)]}, follow=True)
    assert fine.redirect_chain[-1][0] == f"/examinations/{exam.pk}"
    assert "1 file added. 2 were there already." in page(fine)
    assert Instance.objects.filter(examination=exam).count() == 3
    nothing = doctor.post(url, {})
    assert nothing.status_code == 422 and "Choose the files to upload." in page(nothing)


def test_who_may_upload_and_when(dw):
    exam = new_ct(dw)
    url = f"/examinations/{exam.pk}/upload"
    one, two = slices(dw, 2)
    care = json_client("county_doctor").post(url, {"file": dcm("IM1", one)})  # sees it, may not add to it
    assert care.status_code == 403 and care.json()["error"]
    assert client("county_doctor").post(url, {"files": [dcm("IM1", one)]}).status_code == 403
    assert json_client("village_doctor_b").post(url, {"file": dcm("IM1", one)}).status_code == 404
    assert json_client("outsider").get(f"/examinations/{exam.pk}/received").status_code == 404
    doctor = json_client("township_doctor")
    assert doctor.post(url, {"file": dcm("IM1", one)}).status_code == 200
    client("township_doctor").post(f"/examinations/{exam.pk}/submit", {"once": "x" * 32, "version": exam.version})
    late = doctor.post(url, {"file": dcm("IM2", two)})
    assert late.status_code == 409 and "sent for reading" in late.json()["error"]
    assert 'data-testid="upload"' not in page(client("township_doctor").get(f"/examinations/{exam.pk}"))


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 40, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_photos_of_an_ultrasound_are_attachments_to_download(dw):
    exam = new_ct(dw, modality="US", body_site="thyroid")
    doctor = json_client("township_doctor")
    sent = doctor.post(f"/examinations/{exam.pk}/upload", {"file": SimpleUploadedFile(
        "thyroid.jpg", _jpeg(), content_type="image/jpeg")})
    assert sent.status_code == 200 and sent.json()["kind"] == "attachment"
    att = ExamAttachment.objects.get(examination=exam)
    body = page(client("township_doctor").get(f"/examinations/{exam.pk}"))
    assert f"/examinations/{exam.pk}/files/{att.pk}" in body and 'capture="environment"' in body
    got = client("county_doctor").get(f"/examinations/{exam.pk}/files/{att.pk}")
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"
    assert b"".join(got.streaming_content).startswith(b"\xff\xd8")
    assert client("village_doctor_b").get(f"/examinations/{exam.pk}/files/{att.pk}").status_code == 404
    other = new_ct(dw, modality="US", body_site="breast")
    assert client("township_doctor").get(f"/examinations/{other.pk}/files/{att.pk}").status_code == 404
