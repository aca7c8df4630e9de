"""store_upload: checked, checksummed, stored once, audited; nothing half-stored on failure."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid

import pytest
from django.db import transaction

from medunion.access.actor import system_actor
from medunion.audit.models import AuditEvent
from medunion.core.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from medunion.files import actions, queries
from medunion.files.actions import store_upload
from medunion.files.models import FileKind, StoredFile
from medunion.patients.actions import PatientInput, register_patient

from .conftest import dicom_bytes, pdf_bytes, photo_bytes, stored_keys, upload

PHOTOS = [FileKind.IMAGE]


def _store(acting, patient, name, data, content_type="", **kw):
    kw.setdefault("allowed_kinds", list(FileKind))
    return store_upload(acting=acting, patient_id=patient.pk if patient else None,
                        upload=upload(name, data, content_type), **kw)


def _refused(acting, patient, name, data, content_type="", **kw) -> ValidationFailed:
    before = (StoredFile.objects.count(), AuditEvent.objects.filter(action="file.store").count())
    with pytest.raises(ValidationFailed) as exc:
        _store(acting, patient, name, data, content_type, **kw)
    assert exc.value.field == "file" and exc.value.errors == {"file": [str(exc.value.message)]}
    assert (StoredFile.objects.count(), AuditEvent.objects.filter(action="file.store").count()) == before
    return exc.value


def test_a_photo_is_stored_with_its_checksum_and_audited(doctor, patient, world, file_root):
    data = photo_bytes("JPEG")
    stored = _store(doctor, patient, "皮疹.jpg", data, "image/jpeg")
    stored.refresh_from_db()
    assert stored.patient_id == patient.pk and stored.uploaded_by_id == world.users["village_doctor_a"].pk
    assert (stored.kind, stored.content_type, stored.filename) == (FileKind.IMAGE, "image/jpeg", "皮疹.jpg")
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.meta == {"format": "jpeg", "width": 64, "height": 48}
    assert queries.read_bytes(stored) == data and queries.verify_checksum(stored)
    assert queries.read_preview(stored) is None
    assert stored_keys(file_root) == [f"patients/{patient.pk}/{stored.pk}.jpg"]
    event = AuditEvent.objects.get(action="file.store")
    assert (event.verb, event.patient_id, event.object_id) == ("create", patient.pk, str(stored.pk))
    assert event.detail == {"kind": "image", "size": len(data), "sha256": stored.sha256, "reused": False}


@pytest.mark.parametrize(("fmt", "content_type"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_other_photo_formats(doctor, patient, fmt, content_type):
    stored = _store(doctor, patient, f"photo.{fmt.lower()}", photo_bytes(fmt), content_type)
    assert stored.content_type == content_type and stored.meta["format"] == fmt.lower()


def test_a_large_phone_photo_gets_a_preview(doctor, patient, file_root):
    stored = _store(doctor, patient, "IMG_4032.JPG", photo_bytes("JPEG", (4032, 3024)), "image/jpeg")
    assert stored.preview_key == f"patients/{patient.pk}/{stored.pk}.preview.jpg"
    assert queries.preview_content_type(stored) == "image/jpeg"
    assert queries.read_preview(stored)[:3] == b"\xff\xd8\xff"
    assert len(stored_keys(file_root)) == 2


def test_a_pdf(doctor, patient):
    stored = _store(doctor, patient, "心电图报告.pdf", pdf_bytes(pages=2), "application/pdf")
    assert (stored.kind, stored.content_type) == (FileKind.PDF, "application/pdf")
    assert stored.meta["pages"] == 2 and stored.preview_key == ""


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm"])
def test_dicom_is_parsed_and_previewed(doctor, patient, name):
    data = dicom_bytes(name)
    stored = _store(doctor, patient, name, data, "application/dicom")
    assert (stored.kind, stored.content_type) == (FileKind.DICOM, "application/dicom")
    assert stored.meta["sop_instance_uid"] and stored.meta["study_instance_uid"]
    assert stored.meta["preview_content_type"] == "image/png"
    assert queries.read_preview(stored)[:8] == b"\x89PNG\r\n\x1a\n"
    assert queries.read_bytes(stored) == data


def test_dicom_meta_never_holds_the_name_or_id(doctor, patient):
    stored = _store(doctor, patient, "IM0001", dicom_bytes("CT_small.dcm"))
    stored.refresh_from_db()
    text = str(stored.meta)
    assert "CompressedSamples" not in text and "1CT1" not in text
    assert stored.filename == "IM0001"


def test_same_bytes_same_patient_stored_once(doctor, patient, world, file_root):
    data = dicom_bytes("CT_small.dcm")
    first = _store(doctor, patient, "a.dcm", data)
    again = _store(world.actor("cardiologist_tertiary"), patient, "other-name.dcm", data)
    assert again.pk == first.pk and again.filename == "a.dcm"
    assert StoredFile.objects.count() == 1 and len(stored_keys(file_root)) == 2  # bytes + preview
    events = list(AuditEvent.objects.filter(action="file.store").order_by("seq"))
    assert [e.detail["reused"] for e in events] == [False, True]
    # Another patient's copy is theirs alone.
    other = register_patient(acting=doctor, data=PatientInput(name="王建军", sex="male",
                                                              birth_date=dt.date(1958, 6, 1)))
    second = _store(doctor, other, "a.dcm", data)
    assert second.pk != first.pk and second.patient_id == other.pk
    assert second.storage_key.startswith(f"patients/{other.pk}/")


def test_files_about_no_patient_are_kept_per_uploader(doctor, world):
    data = pdf_bytes()
    mine = _store(doctor, None, "guideline.pdf", data)
    assert mine.patient_id is None and mine.storage_key.startswith(f"users/{world.users['village_doctor_a'].pk}/")
    assert _store(doctor, None, "guideline.pdf", data).pk == mine.pk
    theirs = _store(world.actor("cardiologist_tertiary"), None, "guideline.pdf", data)
    assert theirs.pk != mine.pk
    assert AuditEvent.objects.filter(action="file.store", patient_id__isnull=True).count() == 3


# --- refusals: clear, translated, nothing stored -----------------------------------------

@pytest.mark.parametrize(("name", "content_type", "data"), [
    ("report.jpg", "image/jpeg", pdf_bytes()),
    ("page.png", "image/png", b"<!DOCTYPE html><html><script>alert(1)</script></html>" * 4),
    ("scan.pdf", "application/pdf", b"MZ\x90\x00" + b"\0" * 200),
    ("scan.dcm", "application/dicom", photo_bytes()),
])
def test_disguised_files(doctor, patient, file_root, name, content_type, data):
    error = _refused(doctor, patient, name, data, content_type)
    assert "labelled as" in str(error.message)
    assert stored_keys(file_root) == []


def test_unknown_content_is_refused_listing_what_is_accepted(doctor, patient):
    error = _refused(doctor, patient, "notes", b"just some text\n" * 10, allowed_kinds=PHOTOS + [FileKind.PDF])
    assert str(error.message) == ("This kind of file cannot be attached. Send photos (JPEG, PNG, WebP, HEIC) "
                                  "or PDF documents.")


def test_kind_not_allowed_here(doctor, patient):
    error = _refused(doctor, patient, "CT.dcm", dicom_bytes("CT_small.dcm"), allowed_kinds=PHOTOS)
    assert str(error.message) == "A DICOM file cannot be attached here. Send photos (JPEG, PNG, WebP, HEIC)."


def test_empty_file(doctor, patient):
    assert str(_refused(doctor, patient, "empty.jpg", b"", "image/jpeg").message) == "The file is empty."


class _Endless(io.RawIOBase):
    """An upload stream that never ends, counting what was read from it."""

    name, content_type, size = "huge.jpg", "image/jpeg", None
    read_total = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        head = b"\xff\xd8\xff\xe0" if self.read_total == 0 else b""
        data = (head + b"\0" * len(buffer))[:len(buffer)]
        buffer[:len(data)] = data
        self.read_total += len(data)
        return len(data)


def test_oversize_by_declared_size_is_refused_before_reading(doctor, patient, settings, file_root):
    settings.MEDUNION_MAX_UPLOAD_MB = 1
    data = photo_bytes("PNG", (1500, 1500), compress_level=0)
    assert len(data) > 1024 * 1024
    file = upload("big.png", data, "image/png")
    with pytest.raises(ValidationFailed, match=r"larger than the limit of 1\.0.MB"):
        store_upload(acting=doctor, patient_id=patient.pk, upload=file, allowed_kinds=PHOTOS)
    assert file.tell() <= 4096  # only the head was read
    assert StoredFile.objects.count() == 0 and stored_keys(file_root) == []


def test_oversize_without_a_declared_size_stops_at_the_limit(doctor, patient):
    stream = _Endless()
    with pytest.raises(ValidationFailed, match="larger than the limit"):
        store_upload(acting=doctor, patient_id=patient.pk, upload=stream, allowed_kinds=PHOTOS, max_bytes=50_000)
    assert stream.read_total <= 50_001 + 4096
    assert StoredFile.objects.count() == 0


def test_dicom_has_its_own_limit(doctor, patient, settings):
    settings.MEDUNION_MAX_UPLOAD_MB = 0  # photos and PDFs: nothing fits
    settings.MEDUNION_MAX_DICOM_MB = 1
    assert _store(doctor, patient, "CT.dcm", dicom_bytes("CT_small.dcm")).kind == FileKind.DICOM
    _refused(doctor, patient, "p.jpg", photo_bytes())
    error = _refused(doctor, patient, "MR.dcm", dicom_bytes("MR_small.dcm"), max_bytes=1000)
    assert "1000" in str(error.message) or "1,000" in str(error.message) or "1000 bytes" in str(error.message)


def test_corrupt_dicom(doctor, patient, file_root):
    error = _refused(doctor, patient, "MR_truncated.dcm", dicom_bytes("MR_truncated.dcm"))
    assert str(error.message) == "The DICOM file is damaged or incomplete and cannot be read."
    assert stored_keys(file_root) == []


def test_damaged_photo(doctor, patient):
    data = photo_bytes("JPEG", (600, 400))
    _refused(doctor, patient, "cut.jpg", data[: len(data) // 3], "image/jpeg")


def test_dicom_without_pixel_data(doctor, patient):
    data = dicom_bytes("reportsi.dcm")  # a structured report: no image
    error = _refused(doctor, patient, "report.dcm", data)
    assert str(error.message) == "The DICOM file holds no image (no pixel data), so it cannot be shown."
    # Where no preview is needed it may be kept (a report, an ECG waveform).
    stored = _store(doctor, patient, "report.dcm", data, require_preview=False)
    assert stored.preview_key == "" and stored.meta["has_pixels"] is False
    # … and is still refused where a preview is needed, even though the bytes are known.
    _refused(doctor, patient, "report.dcm", data)


def test_heic_without_a_reader(doctor, patient):
    from PIL import Image

    if "HEIF" in Image.registered_extensions().values():
        pytest.skip("a HEIF reader is installed")
    head = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 500
    assert "iPhone" in str(_refused(doctor, patient, "IMG_0001.HEIC", head, "image/heic").message)


def test_error_messages_are_marked_for_translation(doctor, patient):
    from django.utils.functional import Promise

    with pytest.raises(ValidationFailed) as exc:
        _store(doctor, patient, "empty.jpg", b"")
    assert isinstance(exc.value.message, Promise)  # gettext_lazy: rendered in the reader's language


# --- who may upload --------------------------------------------------------------------------

def test_the_patient_may_send_files_about_themselves_only(world, patient):
    me = world.actor("patient_a")
    assert _store(me, patient, "rash.jpg", photo_bytes()).uploaded_by_id == world.users["patient_a"].pk
    with pytest.raises(PermissionDenied):
        _store(me, None, "rash.jpg", photo_bytes())


def test_others_may_not_upload(world, patient):
    from medunion.access.actor import ANONYMOUS

    with pytest.raises(NotAuthenticated):
        _store(ANONYMOUS, patient, "a.jpg", photo_bytes())
    with pytest.raises(PermissionDenied):
        _store(world.actor("coordinator"), patient, "a.jpg", photo_bytes())
    with pytest.raises(PermissionDenied):
        _store(system_actor("tests"), patient, "a.jpg", photo_bytes())
    assert StoredFile.objects.count() == 0


def test_unknown_patient(doctor):
    import uuid

    with pytest.raises(NotFound):
        store_upload(acting=doctor, patient_id=uuid.uuid4(), upload=upload("a.jpg", photo_bytes()))
    with pytest.raises(NotFound):
        store_upload(acting=doctor, patient_id="not-a-uuid", upload=upload("a.jpg", photo_bytes()))


# --- nothing half-stored -------------------------------------------------------------------------

def test_a_failure_after_the_bytes_are_written_leaves_nothing(doctor, patient, file_root, monkeypatch):
    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(actions, "record", broken_audit)
    with pytest.raises(RuntimeError):
        _store(doctor, patient, "CT.dcm", dicom_bytes("CT_small.dcm"))
    assert StoredFile.objects.count() == 0
    assert stored_keys(file_root) == []


def test_a_rolled_back_outer_transaction_leaves_bytes_only_for_the_sweep(doctor, patient, file_root):
    kept = _store(doctor, patient, "kept.jpg", photo_bytes(colour="green"))
    with pytest.raises(RuntimeError), transaction.atomic():
        _store(doctor, patient, "lost.dcm", dicom_bytes("CT_small.dcm"))
        raise RuntimeError("the consult could not be saved")
    assert list(StoredFile.objects.values_list("pk", flat=True)) == [kept.pk]
    assert len(stored_keys(file_root)) == 3  # kept.jpg + the orphaned DICOM and its preview
    sweeper = system_actor("tests")
    assert actions.sweep_orphans(acting=sweeper, older_than=dt.timedelta(days=1)) == 0  # too recent
    assert actions.sweep_orphans(acting=sweeper, older_than=dt.timedelta(0)) == 2
    assert stored_keys(file_root) == [kept.storage_key]
    assert queries.read_bytes(kept)
    assert AuditEvent.objects.filter(action="file.sweep").get().detail == {"removed": 2}
    with pytest.raises(PermissionDenied):
        actions.sweep_orphans(acting=doctor)


def test_a_concurrent_duplicate_reuses_the_first_row(doctor, patient, file_root, monkeypatch):
    """The unique constraint catches a duplicate the first lookup missed (another request stored the
    same bytes in between): the second upload returns the first row and leaves no bytes behind."""
    data = photo_bytes("PNG")
    first = _store(doctor, patient, "a.png", data)
    original = actions._existing
    calls = []

    def missed_once(*args):
        calls.append(args)
        return None if len(calls) == 1 else original(*args)

    monkeypatch.setattr(actions, "_existing", missed_once)
    again = _store(doctor, patient, "b.png", data)
    assert again.pk == first.pk and len(calls) == 2
    assert StoredFile.objects.count() == 1 and stored_keys(file_root) == [first.storage_key]


def test_storing_runs_a_fixed_number_of_queries(doctor, patient, django_assert_max_num_queries):
    """A 300-instance CT series is 300 uploads: each must cost the same few queries (five statements,
    the savepoints around them, PostgreSQL's audit-chain lock)."""
    _store(doctor, patient, "warm.jpg", photo_bytes(colour="white"))
    with django_assert_max_num_queries(10):
        _store(doctor, patient, "CT.dcm", dicom_bytes("CT_small.dcm"))
    with django_assert_max_num_queries(10):
        _store(doctor, patient, "CT-again.dcm", dicom_bytes("CT_small.dcm"))


def test_the_sweep_keeps_a_key_its_row_is_not_named_after_and_removes_staging_leftovers(doctor, patient,
                                                                                        file_root):
    """Rows are looked up by the id in the key's name first; a key referred to by a row of another
    name (none is written so today) is still found, and kept."""
    kept = _store(doctor, patient, "kept.jpg", photo_bytes(colour="green"))
    other_name = f"patients/{patient.pk}/{uuid.uuid4()}.jpg"
    (file_root / other_name).parent.mkdir(parents=True, exist_ok=True)
    (file_root / kept.storage_key).rename(file_root / other_name)
    StoredFile.objects.filter(pk=kept.pk).update(storage_key=other_name)
    leftover = file_root / f"patients/{patient.pk}/.staging-0123456789abcdef-{uuid.uuid4()}.jpg"
    leftover.write_bytes(b"half")
    assert actions.sweep_orphans(acting=system_actor("tests"), older_than=dt.timedelta(0)) == 1
    assert stored_keys(file_root) == [other_name]
