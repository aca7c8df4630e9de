"""Bad uploads, each refused with a clear (translatable) message on ``file`` and nothing
half-stored: no instance, study, series or stored-file row, no audit row, no bytes left in the
file store, nothing at the PACS. Run on the local archive and against a real Orthanc. The files
are pydicom's real test files (and pydicom-data's), restamped or damaged as a test needs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from medunion.core.errors import Conflict, DomainError, ValidationFailed
from medunion.diagnostics.actions import create_examination, submit, upload_file
from medunion.diagnostics.models import Examination
from medunion.diagnostics.validation import ExaminationInput
from tests.diagnostics.conftest import (
    ct_slice,
    dicom_testfile,
    identity_of,
    new_ct,
    restamp,
    snapshot,
    stored_keys,
    upload,
)

DAMAGED = "The DICOM file is damaged or incomplete and cannot be read."
NO_PIXELS = "The DICOM image has no pixel data: it holds no picture, or the file was cut short."


def _me(dw) -> dict[str, str]:
    return identity_of(dw.patient, dw.world.patients["patient_a_id_number"])


def _pacs_instances(request, archive: str) -> list[str]:
    if archive != "orthanc":
        return []
    import requests

    server = request.getfixturevalue("orthanc_server")
    answer = requests.get(server.url + "/instances", auth=(server.user, server.password), timeout=10)
    answer.raise_for_status()
    return list(answer.json())


def refused(request, archive: str, dw, exam: Examination, name: str, data: bytes,
            content_type: str = "application/dicom", error: type[DomainError] = ValidationFailed) -> DomainError:
    """Upload, expect the refusal, and check nothing was kept anywhere."""
    root = request.getfixturevalue("file_root")
    before, files, pacs = snapshot(), stored_keys(root), _pacs_instances(request, archive)
    with pytest.raises(error) as err:
        upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk,
                    upload=upload(name, data, content_type))
    assert err.value.field == "file", err.value
    assert snapshot() == before
    assert stored_keys(root) == files
    assert _pacs_instances(request, archive) == pacs
    return err.value


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (64, 64), 128).save(buf, format="PNG")
    return buf.getvalue()


# --- not DICOM, or not all of it ----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "data", "message"), [
    ("IM0001.dcm", _png(), "This file is labelled as a DICOM file, but its content is a PNG image; rename it or "
                           "send the original file."),
    ("IM0002.dcm", "Patient: 陈桂芳\nCT head: normal\n".encode(),
     "This file is labelled as a DICOM file, but its content is not one; it was not accepted."),
    ("IM0003", b"\0" * 128 + b"DICX" + b"\0" * 400,
     "This file is labelled as a DICOM file, but its content is not one; it was not accepted."),
    ("1.2.840.113619.2.55.3", _png(), "CT examinations take DICOM files from the device; this file is not one."),
])
def test_files_posing_as_dicom(request, dw, archive, name, data, message):
    # Named by UID and sent as bytes, a PNG claims nothing: it is refused for what it is.
    ctype = "application/octet-stream" if name.startswith("1.2.") else "application/dicom"
    error = refused(request, archive, dw, new_ct(dw), name, data, content_type=ctype)
    assert str(error.message) == message


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter:UserWarning")
def test_a_truncated_real_dicom(request, dw, archive):
    exam = new_ct(dw)
    whole = ct_slice(dw)
    # Cut inside the pixel data, and inside the header.
    assert str(refused(request, archive, dw, exam, "cut.dcm", whole[:-5000]).message) == DAMAGED
    assert str(refused(request, archive, dw, exam, "cut.dcm", whole[:2000]).message) in {DAMAGED, NO_PIXELS}
    assert str(refused(request, archive, dw, exam, "cut.dcm", whole[:140]).message) == DAMAGED
    assert str(refused(request, archive, dw, exam, "cut.dcm", whole[:100]).message) == \
        "This file is labelled as a DICOM file, but its content is not one; it was not accepted."
    # pydicom's own truncated MR (its pixels stop short), and a JPEG 2000 MR cut short as pydicom's
    # emri_small_jpeg_2k_lossless_too_short.dcm is (8 bytes missing), or more.
    mr = new_ct(dw, modality="MR")
    assert str(refused(request, archive, dw, mr, "MR.dcm", restamp("MR_truncated.dcm", _me(dw))).message) == DAMAGED
    j2k = restamp("emri_small_jpeg_2k_lossless.dcm", _me(dw))
    for cut in (8, 1000):
        assert str(refused(request, archive, dw, mr, "emri.dcm", j2k[:-cut]).message) == DAMAGED, cut
    assert upload_file(acting=dw.actor("township_doctor"), examination_id=mr.pk,
                       upload=upload("emri.dcm", j2k)).created
    # The whole file is fine.
    assert upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk,
                       upload=upload("whole.dcm", whole)).created


def test_a_file_over_the_configured_size(request, dw, archive, settings):
    settings.MEDUNION_MAX_DICOM_MB = 0.03  # 31,457 bytes: CT_small (39 KB) is over it
    data = ct_slice(dw)
    assert len(data) > 0.03 * 1024 * 1024
    error = refused(request, archive, dw, new_ct(dw), "IM0001.dcm", data)
    assert str(error.message) == "The file is larger than the limit of 30.7\xa0KB."
    settings.MEDUNION_MAX_DICOM_MB = 0.04
    assert upload_file(acting=dw.actor("township_doctor"), examination_id=new_ct(dw).pk,
                       upload=upload("IM0001.dcm", data)).created


# --- of someone else, or of no one --------------------------------------------------------------------

def test_a_dicom_of_another_patient(request, dw, archive):
    exam = new_ct(dw)
    shipped = Path(dicom_testfile("CT_small.dcm")).read_bytes()  # CompressedSamples^CT1
    error = refused(request, archive, dw, exam, "CT_small.dcm", shipped)
    assert error.details["reason"] == "wrong_patient"
    assert str(error.message) == ("This image is of another patient: its name do not match the registered patient. "
                                  "Nothing was stored; check that you chose the right patient and the right files.")
    # Her name, her resident ID, her sex, but another date of birth.
    born_later = ct_slice(dw, PatientBirthDate="19620315")
    error = refused(request, archive, dw, exam, "IM0001.dcm", born_later)
    assert error.details["reason"] == "wrong_patient" and "its date of birth do not match" in str(error.message)
    # Her name and date of birth under another resident ID.
    from medunion.patients.identity import make_resident_id

    other_id = make_resident_id("610424", dw.patient.birth_date, 41, male=False)
    error = refused(request, archive, dw, exam, "IM0001.dcm", ct_slice(dw, PatientID=other_id))
    assert "its resident ID do not match" in str(error.message) and other_id not in str(error.message)


def test_an_anonymised_file(request, dw, archive):
    anonymous = restamp("CT_small.dcm", {"PatientName": "", "PatientID": "", "PatientBirthDate": "",
                                         "PatientSex": ""}, fresh_uids=True)
    error = refused(request, archive, dw, new_ct(dw), "anon.dcm", anonymous)
    assert error.details["reason"] == "no_identity"
    assert str(error.message).startswith("The DICOM file carries no patient identity (it was anonymised)")


# --- no image, unknown or wrong modality -------------------------------------------------------------

def _without_pixels(dw) -> bytes:
    from pydicom import dcmread

    ds = dcmread(io.BytesIO(ct_slice(dw)))
    del ds.PixelData
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_images_with_no_pixel_data(request, dw, archive):
    error = refused(request, archive, dw, new_ct(dw), "IM0001.dcm", _without_pixels(dw))
    assert str(error.message) == NO_PIXELS
    # A real ECG waveform (no picture at all) into an ECG examination: send the tracing as PDF.
    from medunion.diagnostics.models import ReadingRoute

    ReadingRoute.objects.create(consortium=dw.world.consortium, modality="ECG", hub=dw.orgs["imaging_hub"])
    ecg = new_ct(dw, modality="ECG", body_site="heart")
    error = refused(request, archive, dw, ecg, "ecg.dcm", restamp("waveform_ecg.dcm", _me(dw)))
    assert error.details["reason"] == "no_pixels"
    assert str(error.message) == "The DICOM file holds no image (no pixel data), so it cannot be shown."


@pytest.mark.parametrize(("name", "code"), [("SC_rgb.dcm", "OT"), ("JPEG2000.dcm", "NM"), ("CT_small.dcm", "PT")])
def test_an_unknown_modality(request, dw, archive, name, code):
    data = restamp(name, _me(dw), fresh_uids=True, **({"Modality": code} if name == "CT_small.dcm" else {}))
    error = refused(request, archive, dw, new_ct(dw), name, data)
    assert error.details["reason"] == "unknown_modality"
    assert str(error.message) == f"The DICOM file's modality ({code}) is not one MedUnion reads."


@pytest.mark.parametrize(("modality", "name", "message"), [
    ("CT", "MR_small.dcm", "This file is a MR image; this examination is CT."),
    ("MR", "CT_small.dcm", "This file is a CT image; this examination is MR."),
    ("US", "emri_small_jpeg_2k_lossless.dcm", "This file is a MR image; this examination is ultrasound."),
    ("DX", "US1_J2KR.dcm", "This file is a ultrasound image; this examination is DR / X-ray."),
])
def test_a_wrong_modality(request, dw, archive, modality, name, message):
    exam = new_ct(dw, modality=modality, body_site="abdomen")
    error = refused(request, archive, dw, exam, name, restamp(name, _me(dw)))
    assert error.details["reason"] == "wrong_modality" and str(error.message) == message


# --- out of turn, and on creating ----------------------------------------------------------------------

def test_uploading_after_submit_is_409(request, dw, archive):
    exam = new_ct(dw)
    upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk, upload=upload("IM1.dcm", ct_slice(dw)))
    submit(acting=dw.actor("township_doctor"), examination_id=exam.pk)
    error = refused(request, archive, dw, exam, "IM2.dcm", ct_slice(dw), error=Conflict)
    assert error.status == 409 and error.details == {"reason": "not_draft", "state": "awaiting"}
    assert str(error.message) == "This examination has been sent for reading; images can no longer be added."


def test_someone_else_may_not_add_images(dw):
    exam = new_ct(dw)
    before = snapshot()
    from medunion.core.errors import NotFound, PermissionDenied

    with pytest.raises(PermissionDenied):  # the care team sees the draft but does not fill it
        upload_file(acting=dw.actor("county_doctor"), examination_id=exam.pk, upload=upload("IM.dcm", ct_slice(dw)))
    with pytest.raises(NotFound):  # the hub does not see it before it is sent
        upload_file(acting=dw.actor("hub_radiologist"), examination_id=exam.pk,
                    upload=upload("IM.dcm", ct_slice(dw)))
    assert snapshot() == before


@pytest.mark.parametrize(("changes", "field"), [
    ({"modality": "PET"}, "modality"),
    ({"modality": ""}, "modality"),
    ({"body_site": "elbow"}, "body_site"),
    ({"body_site": "other"}, "body_site_text"),
    ({"urgency": "whenever"}, "urgency"),
    ({"question": "   "}, "question"),
])
def test_bad_examination_requests_are_422(dw, changes, field):
    data: dict[str, Any] = dict(patient_id=dw.patient.pk, modality="CT", body_site="head", question="头痛")
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        create_examination(acting=dw.actor("township_doctor"), data=ExaminationInput(**{**data, **changes}))
    assert err.value.status == 422 and field in err.value.errors
    assert snapshot() == before


def test_a_modality_no_hub_reads_is_422_naming_it(dw):
    with pytest.raises(ValidationFailed) as err:
        new_ct(dw, modality="SM", body_site="stomach")
    assert err.value.field == "modality" and "pathology (slide images)" in str(err.value.message)
