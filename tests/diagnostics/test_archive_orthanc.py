"""The DICOM archive, local and a real PACS: a CT series uploaded, found at Orthanc by QIDO-RS,
viewed from the archive by WADO-RS, re-uploaded without a second copy, read and signed; an
unreachable PACS refuses cleanly and leaves nothing half-stored."""

from __future__ import annotations

import hashlib
import io
import logging
import socket
from collections.abc import Iterator

import pytest

from medunion.core.errors import Conflict, Unavailable
from medunion.diagnostics.actions import submit, upload_file
from medunion.diagnostics.actions_reading import claim, sign
from medunion.diagnostics.archive import get_archive
from medunion.diagnostics.dicomweb import DicomWebArchive
from medunion.diagnostics.models import Instance, Report, Series, Study
from medunion.diagnostics.render import clear_caches, frame_png
from medunion.diagnostics.validation import ReportInput
from tests.diagnostics.conftest import ct_series, identity_of, new_ct, restamp, snapshot, upload

PNG = b"\x89PNG\r\n\x1a\n"


def _identity(dw):
    return identity_of(dw.patient, dw.world.patients["patient_a_id_number"])


def _uids(data: bytes) -> tuple[str, str, str]:
    from pydicom import dcmread

    ds = dcmread(io.BytesIO(data), stop_before_pixels=True)
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port where nothing listens, for the test's life: the socket stays bound without
    listening, so a connection is refused and no other process can take the port meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _use_orthanc(settings, url: str, user: str = "", password: str = "") -> None:
    settings.MEDUNION_DICOMWEB_URL = url
    settings.MEDUNION_DICOMWEB_USER = user
    settings.MEDUNION_DICOMWEB_PASSWORD = password
    settings.MEDUNION_DICOM_ARCHIVE = "orthanc"
    clear_caches()


def test_ct_series_is_stored_viewed_deduplicated_and_signed(dw, archive):
    doctor = dw.actor("township_doctor")
    exam = new_ct(dw)
    slices = ct_series(_identity(dw), 3)
    study_uid, series_uid, _sop = _uids(slices[0])

    for i, data in enumerate(slices):
        got = upload_file(acting=doctor, examination_id=exam.pk, upload=upload(f"IM{i:04d}.dcm", data))
        assert got.kind == "instance" and got.created

    instances = list(Instance.objects.filter(examination=exam).select_related("series__study", "file"))
    assert len(instances) == 3
    assert {i.archive for i in instances} == {archive}
    assert Study.objects.get(examination=exam).study_instance_uid == study_uid
    assert Series.objects.get(examination=exam).series_instance_uid == series_uid
    if archive == "orthanc":
        assert all(i.file_id is None for i in instances)  # the bytes are at the PACS only
        pacs = get_archive("orthanc")
        assert isinstance(pacs, DicomWebArchive)
        found = pacs.find_study(study_uid)
        assert found is not None and int(found.NumberOfStudyRelatedInstances) == 3
        assert pacs.find_study("1.2.826.0.1.3680043.8.498.1") is None
    else:
        assert all(i.file_id is not None for i in instances)

    # Each slice comes back from the archive as uploaded and renders; the slices differ.
    by_sha = {hashlib.sha256(d).hexdigest(): d for d in slices}
    frames = []
    for instance in instances:
        data = get_archive(instance.archive).get(instance)
        assert hashlib.sha256(data).hexdigest() == instance.sha256 and instance.sha256 in by_sha
        png = frame_png(instance)
        assert png.startswith(PNG)
        assert frame_png(instance, preset="brain", size="thumb").startswith(PNG)
        frames.append(png)
    assert len(set(frames)) == 3

    # The phone retries the first slice: kept once, here and at the PACS.
    again = upload_file(acting=doctor, examination_id=exam.pk, upload=upload("IM0000.dcm", slices[0]))
    assert not again.created and again.instance is not None and again.instance.pk in {i.pk for i in instances}
    assert Instance.objects.filter(examination=exam).count() == 3
    if archive == "orthanc":
        assert int(get_archive("orthanc").find_study(study_uid).NumberOfStudyRelatedInstances) == 3

    # Read at the hub and signed.
    submit(acting=doctor, examination_id=exam.pk)
    reader = dw.actor("hub_radiologist")
    claim(acting=reader, examination_id=exam.pk)
    clear_caches()  # the reader's server renders from the archive, not from the uploader's cache
    assert frame_png(Instance.objects.select_related("series__study", "file").get(pk=instances[1].pk)) == frames[1]
    sign(acting=reader, examination_id=exam.pk, data=ReportInput(
        findings="颅内未见出血，脑室系统无扩大，中线结构居中。", impression="头颅CT平扫未见明显异常。",
        codes=["Z01.8"]))
    report = Report.objects.get(examination=exam)
    assert report.status == "signed" and report.author_id == dw.pid("hub_radiologist")


def test_instance_already_at_the_pacs_is_not_stored_twice(dw, orthanc_server, settings):
    """A crash between STOW-RS and the database commit leaves the instance at the PACS with no
    row; the retry stores the row and does not fail at the PACS."""
    _use_orthanc(settings, orthanc_server.dicomweb_url, orthanc_server.user, orthanc_server.password)
    try:
        pacs = get_archive()
        data = ct_series(_identity(dw), 1)[0]
        study_uid, series_uid, sop = _uids(data)
        meta = {"study_instance_uid": study_uid, "series_instance_uid": series_uid, "sop_instance_uid": sop}
        for _ in range(2):
            assert pacs.put(acting=dw.actor("township_doctor"), patient_id=dw.patient.pk, data=data,
                            filename="IM0000.dcm", meta=meta).archive == "orthanc"
        exam = new_ct(dw)
        got = upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk, upload=upload("a.dcm", data))
        assert got.created and got.instance is not None
        assert int(pacs.find_study(study_uid).NumberOfStudyRelatedInstances) == 1
        assert pacs.get(Instance.objects.select_related("series__study").get(pk=got.instance.pk)) == data
    finally:
        orthanc_server.clear()


def test_unreachable_pacs_is_unavailable_and_stores_nothing(dw, settings, caplog, closed_port):
    _use_orthanc(settings, f"http://127.0.0.1:{closed_port}/dicom-web", "medunion", "secret")
    exam = new_ct(dw)
    data = ct_series(_identity(dw), 1)[0]
    before = snapshot()
    with caplog.at_level(logging.WARNING, logger="medunion.diagnostics.dicomweb"), \
            pytest.raises(Unavailable) as caught:
        upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk, upload=upload("IM0000.dcm", data))
    assert caught.value.status == 503 and caught.value.code == "unavailable"
    assert str(caught.value.message) == "The image archive (PACS) cannot be reached; try again."
    assert caught.value.as_problem()["status"] == 503
    assert snapshot() == before
    assert not Instance.objects.filter(examination=exam).exists()
    # Logged, without the patient or the instance's identifiers.
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "PACS search failed" in logged
    for secret in (*_uids(data), "CHEN", dw.world.patients["patient_a_id_number"]):
        assert secret not in logged


def test_pacs_going_away_after_upload_makes_viewing_unavailable(dw, orthanc_server, settings, closed_port):
    _use_orthanc(settings, orthanc_server.dicomweb_url, orthanc_server.user, orthanc_server.password)
    try:
        exam = new_ct(dw)
        got = upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk,
                          upload=upload("IM0000.dcm", ct_series(_identity(dw), 1)[0]))
        assert got.instance is not None
        _use_orthanc(settings, f"http://127.0.0.1:{closed_port}/dicom-web")
        with pytest.raises(Unavailable):
            frame_png(Instance.objects.select_related("series__study").get(pk=got.instance.pk))
    finally:
        orthanc_server.clear()


def test_wrong_pacs_password_is_unavailable(dw, orthanc_server, settings):
    _use_orthanc(settings, orthanc_server.dicomweb_url, orthanc_server.user, "not-the-password")
    exam = new_ct(dw)
    before = snapshot()
    with pytest.raises(Unavailable) as caught:
        upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk,
                    upload=upload("IM0000.dcm", ct_series(_identity(dw), 1)[0]))
    assert caught.value.details["reason"] == "pacs_http_error"
    assert snapshot() == before


def test_uid_held_at_the_pacs_for_another_patient_is_refused(dw, orthanc_server, settings):
    """Another system stored an instance of another patient under the same SOP Instance UID:
    storing ours would make both unretrievable at Orthanc, so the upload is refused."""
    _use_orthanc(settings, orthanc_server.dicomweb_url, orthanc_server.user, orthanc_server.password)
    try:
        ours = restamp("CT_small.dcm", _identity(dw), fresh_uids=True)
        study_uid, series_uid, sop = _uids(ours)
        theirs = restamp("CT_small.dcm", {"PatientName": "WANG^WU", "PatientID": "OTHER-1"},
                         StudyInstanceUID=study_uid, SeriesInstanceUID=series_uid, SOPInstanceUID=sop)
        pacs = get_archive()
        pacs.put(acting=dw.actor("township_doctor"), patient_id=dw.patient.pk, data=theirs, filename="x.dcm",
                 meta={"study_instance_uid": study_uid, "series_instance_uid": series_uid, "sop_instance_uid": sop})
        exam = new_ct(dw)
        before = snapshot()
        with pytest.raises(Conflict) as caught:
            upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk, upload=upload("IM.dcm", ours))
        assert caught.value.status == 409 and caught.value.field == "file"
        assert snapshot() == before
        assert int(pacs.find_study(study_uid).NumberOfStudyRelatedInstances) == 1
    finally:
        orthanc_server.clear()
