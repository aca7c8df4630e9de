"""Uploads of real DICOM files, on the local archive and on a real Orthanc (the ``archive``
fixture): a CT series becomes one study, one series and its instances; the same instance twice
is kept once; the same instance in another examination is refused; compressed transfer syntaxes
(JPEG 2000, RLE, JPEG lossless) are accepted and render exactly as their uncompressed originals;
photos and PDFs are attachments where the modality takes them; ``received`` says what is stored."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from PIL import Image

from medunion.audit.models import AuditEvent
from medunion.core.errors import Conflict, ValidationFailed
from medunion.diagnostics.actions import received, submit, upload_file
from medunion.diagnostics.models import ExamAttachment, Examination, Instance, ReadingRoute, Series, Study
from medunion.diagnostics.render import frame_png
from medunion.files import dicom
from medunion.files.models import StoredFile
from tests.diagnostics.conftest import ct_series, identity_of, new_ct, restamp, snapshot, upload

PNG = b"\x89PNG\r\n\x1a\n"


def _me(dw) -> dict[str, str]:
    return identity_of(dw.patient, dw.world.patients["patient_a_id_number"])


def _send(dw, exam, name: str, data: bytes, persona: str = "township_doctor", content_type: str = "application/dicom"):
    return upload_file(acting=dw.actor(persona), examination_id=exam.pk, upload=upload(name, data, content_type))


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG)
    return Image.open(io.BytesIO(png)).size


def test_a_ct_series_becomes_one_study_one_series_and_its_instances(dw, archive):
    exam = new_ct(dw)
    slices = ct_series(_me(dw), 5)
    for i, data in enumerate(slices):
        got = _send(dw, exam, f"IM{i:04d}.dcm", data)
        assert got.kind == "instance" and got.created and got.instance is not None
        assert got.instance.archive == archive
    exam.refresh_from_db()
    assert (exam.instance_count, exam.attachment_count) == (5, 0)
    assert Study.objects.filter(examination=exam).count() == 1
    series = Series.objects.get(examination=exam)
    assert (series.modality, series.instance_count) == ("CT", 5)
    instances = list(Instance.objects.filter(examination=exam).order_by("number"))
    assert [i.number for i in instances] == [1, 2, 3, 4, 5]
    assert [i.slice_location for i in instances] == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert [i.sha256 for i in instances] == [hashlib.sha256(d).hexdigest() for d in slices]
    assert all(i.meta["rows"] == 128 and i.meta["columns"] == 128 for i in instances)
    # Nothing about who she is is kept in the instance's metadata.
    assert not [k for i in instances for k in i.meta if k.startswith("patient")]
    assert "GUIFANG" not in str([i.meta for i in instances])
    # Only the local archive keeps the bytes as stored files.
    assert StoredFile.objects.filter(kind="dicom").count() == (5 if archive == "local" else 0)
    # Every slice renders from the archive, and they differ (each was shifted by one row).
    frames = [frame_png(i) for i in instances]
    assert {_png_size(f) for f in frames} == {(128, 128)} and len(set(frames)) == 5
    assert _png_size(frame_png(instances[0], size="thumb", preset="bone")) == (128, 128)
    assert AuditEvent.objects.filter(action="examination.upload", patient_id=dw.patient.pk).count() == 5
    fresh = submit(acting=dw.actor("township_doctor"), examination_id=exam.pk)
    assert fresh.state == "awaiting"


def test_the_same_instance_twice_is_kept_once(dw, archive):
    exam = new_ct(dw)
    data = ct_series(_me(dw), 1)[0]
    first = _send(dw, exam, "IM0001.dcm", data)
    before = snapshot()
    again = _send(dw, exam, "IM0001 (1).dcm", data)  # the phone's retry, under another name
    assert (again.created, again.instance.pk) == (False, first.instance.pk)
    after = snapshot()
    assert after["AuditEvent"] == before["AuditEvent"] + 1  # the retry is recorded, nothing else
    assert {k: v for k, v in after.items() if k != "AuditEvent"} == {k: v for k, v in before.items()
                                                                   if k != "AuditEvent"}
    assert AuditEvent.objects.filter(action="examination.upload").latest("seq").detail["reused"] is True
    # The same SOP Instance UID with other bytes (re-exported by the scanner) is the same instance.
    from pydicom import dcmread

    ds = dcmread(io.BytesIO(data))
    ds.InstitutionName = "CHENGGUAN TOWNSHIP HEALTH CENTRE"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    assert buf.getvalue() != data
    assert _send(dw, exam, "IM0001.dcm", buf.getvalue()).created is False
    assert Instance.objects.filter(examination=exam).count() == 1
    exam.refresh_from_db()
    assert exam.instance_count == 1


def test_the_same_instance_in_another_examination_of_hers_is_refused(dw, archive, file_root):
    first = new_ct(dw)
    data = ct_series(_me(dw), 1)[0]
    _send(dw, first, "IM0001.dcm", data)
    second = new_ct(dw, question="复查：头痛加重")
    before = snapshot()
    with pytest.raises(Conflict) as err:
        _send(dw, second, "IM0001.dcm", data)
    assert err.value.status == 409 and err.value.field == "file"
    assert err.value.details["reason"] == "other_examination"
    assert str(err.value.message) == f"This image belongs to examination {first.accession} already."
    assert snapshot() == before
    assert Instance.objects.filter(examination=second).count() == 0


# --- compressed transfer syntaxes -----------------------------------------------------------------

def _exam(dw, modality: str, body_site: str = "head") -> Examination:
    return new_ct(dw, modality=modality, body_site=body_site, urgency="routine", question="复查")


@pytest.mark.parametrize(("modality", "compressed", "original", "syntax"), [
    ("MR", "emri_small_jpeg_2k_lossless.dcm", "emri_small.dcm", "1.2.840.10008.1.2.4.90"),  # JPEG 2000 lossless
    ("MR", "MR_small_RLE.dcm", "MR_small.dcm", "1.2.840.10008.1.2.5"),  # RLE
    ("MR", "emri_small_jpeg_ls_lossless.dcm", "emri_small.dcm", "1.2.840.10008.1.2.4.80"),  # JPEG-LS
    ("US", "OBXXXX1A_rle.dcm", "OBXXXX1A.dcm", "1.2.840.10008.1.2.5"),  # RLE, palette colour
    ("US", "US1_J2KR.dcm", "US1_UNCR.dcm", "1.2.840.10008.1.2.4.90"),  # JPEG 2000 lossless, RGB
    ("US", "JPGLosslessP14SV1_1s_1f_8b.dcm", None, "1.2.840.10008.1.2.4.70"),  # JPEG lossless
    ("CT", "693_J2KR.dcm", "693_UNCR.dcm", "1.2.840.10008.1.2.4.90"),
])
def test_compressed_images_are_accepted_and_render_as_their_originals(dw, archive, modality, compressed, original,
                                                                       syntax):
    from pydicom import dcmread

    exam = _exam(dw, modality, "abdomen" if modality == "US" else "head")
    data = restamp(compressed, _me(dw))
    got = _send(dw, exam, compressed, data)
    instance = got.instance
    assert got.created and instance.meta["transfer_syntax"] == syntax
    ds = dcmread(io.BytesIO(data))
    png = frame_png(instance)
    assert _png_size(png) == (ds.Columns, ds.Rows)
    if original is not None:  # lossless: the same picture as the uncompressed file's
        assert png == dicom.render_png(dcmread(io.BytesIO(restamp(original, _me(dw)))))
    # Shown again from the cache, and as a thumbnail.
    assert frame_png(instance) == png
    assert max(_png_size(frame_png(instance, size="thumb"))) <= 160


# --- photos and PDFs --------------------------------------------------------------------------------

def _photo(fmt: str = "JPEG", colour: str = "red") -> bytes:
    from PIL import ImageDraw

    image = Image.new("RGB", (320, 240), colour)
    ImageDraw.Draw(image).ellipse((80, 60, 240, 180), fill="black")
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def _pdf() -> bytes:
    pages = [Image.new("RGB", (600, 400), c) for c in ("white", "grey")]
    buf = io.BytesIO()
    pages[0].save(buf, format="PDF", save_all=True, append_images=pages[1:])
    return buf.getvalue()


def test_an_ecg_tracing_and_ultrasound_photos_are_attachments(dw):
    ReadingRoute.objects.create(consortium=dw.world.consortium, modality="ECG", hub=dw.orgs["imaging_hub"])
    ecg = _exam(dw, "ECG", "heart")
    got = _send(dw, ecg, "ecg.pdf", _pdf(), content_type="application/pdf")
    assert got.kind == "attachment" and got.created and got.attachment.file.kind == "pdf"
    again = _send(dw, ecg, "ecg.pdf", _pdf(), content_type="application/pdf")  # the same bytes again
    assert (again.created, again.attachment.pk) == (False, got.attachment.pk)
    photo = _send(dw, ecg, "ecg.jpg", _photo(), content_type="image/jpeg")
    assert photo.kind == "attachment" and photo.attachment.file.kind == "image"
    ecg.refresh_from_db()
    assert (ecg.attachment_count, ecg.instance_count) == (2, 0)

    us = _exam(dw, "US", "liver")
    for i, fmt in enumerate(("JPEG", "PNG")):
        shot = _send(dw, us, f"liver{i}.{fmt.lower()}", _photo(fmt, colour="white"), content_type=f"image/{fmt.lower()}")
        assert shot.kind == "attachment"
    # A DICOM of the same examination goes in beside them as an instance.
    assert _send(dw, us, "US1.dcm", restamp("US1_J2KR.dcm", _me(dw))).kind == "instance"
    us.refresh_from_db()
    assert (us.attachment_count, us.instance_count) == (2, 1)
    assert submit(acting=dw.actor("township_doctor"), examination_id=ecg.pk).state == "awaiting"


@pytest.mark.parametrize(("name", "content_type", "maker"), [
    ("head.jpg", "image/jpeg", _photo),
    ("report.pdf", "application/pdf", _pdf),
])
def test_a_ct_takes_dicom_only(dw, name, content_type, maker):
    exam = new_ct(dw)
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        _send(dw, exam, name, maker(), content_type=content_type)
    assert err.value.field == "file"
    assert str(err.value.message) == "CT examinations take DICOM files from the device; this file is not one."
    assert snapshot() == before


def test_received_lists_what_is_stored(dw, archive):
    us = _exam(dw, "US", "liver")
    files: list[tuple[str, bytes, str]] = [
        ("US1.dcm", restamp("US1_J2KR.dcm", _me(dw)), "application/dicom"),
        ("OB.dcm", restamp("OBXXXX1A_rle.dcm", _me(dw)), "application/dicom"),
        ("liver.jpg", _photo(), "image/jpeg"),
    ]
    assert received(acting=dw.actor("township_doctor"), examination_id=us.pk) == []
    for name, data, ctype in files:
        _send(dw, us, name, data, content_type=ctype)
    _send(dw, us, "US1-again.dcm", files[0][1])  # a retry adds nothing
    rows = received(acting=dw.actor("township_doctor"), examination_id=us.pk)
    want: list[dict[str, Any]] = []
    for name, data, _ctype in files:
        sop = dicom.read(data).sop_instance_uid if name.endswith(".dcm") else ""
        want.append({"name": name, "size": len(data), "sop_instance_uid": sop,
                     "sha256": hashlib.sha256(data).hexdigest()})
    assert sorted(rows, key=lambda r: r["name"]) == sorted(want, key=lambda r: r["name"])
    read = AuditEvent.objects.filter(action="examination.received").latest("seq")
    assert read.verb == "read" and read.detail == {"count": 3} and read.patient_id == dw.patient.pk
    # The hub does not see a draft, so it cannot ask what it holds.
    from medunion.core.errors import NotFound

    with pytest.raises(NotFound):
        received(acting=dw.actor("hub_radiologist"), examination_id=us.pk)
    assert ExamAttachment.objects.filter(examination=us).count() == 1
