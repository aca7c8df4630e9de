"""Storing uploaded files: checked, checksummed, written once, recorded (DESIGN §4.1).

:func:`store_upload` is called by the actions that attach files to a record (a consultation,
later an examination); that action has already decided the actor may attach to it. Here the
bytes are sniffed and proven readable, the declared name and type are checked against them,
oversize files are refused before they are read in full, and the same bytes for the same patient
are stored once. Bytes are written under a fresh key before the row; when the row cannot be
written the bytes are removed again, and :func:`sweep_orphans` removes any that a rolled-back
outer transaction left without a row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_text_list
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed

from . import dicom, sniff
from .models import FileKind, StoredFile
from .storage import Storage, get_storage

log = logging.getLogger(__name__)

ALL_KINDS: frozenset[str] = frozenset(FileKind.values)
_KIND_NAMES = {
    FileKind.IMAGE: _("photos (JPEG, PNG, WebP, HEIC)"),
    FileKind.PDF: _("PDF documents"),
    FileKind.DICOM: _("DICOM files"),
}
_CHUNK = 1024 * 1024


class Upload(Protocol):
    """What Django's ``UploadedFile`` offers (``SimpleUploadedFile`` for bytes in hand)."""

    @property
    def name(self) -> str | None: ...

    @property
    def size(self) -> int | None: ...

    def read(self, size: int = -1, /) -> bytes: ...


def kind_limit(kind: str, max_bytes: int | None = None) -> int:
    """The largest upload accepted for a kind: the setting (MB), or ``max_bytes`` if smaller."""
    mb = settings.MEDUNION_MAX_DICOM_MB if kind == FileKind.DICOM else settings.MEDUNION_MAX_UPLOAD_MB
    limit = int(mb * 1024 * 1024)
    return min(limit, max_bytes) if max_bytes is not None else limit


def _too_large(limit: int) -> ValidationFailed:
    return ValidationFailed(_("The file is larger than the limit of %(limit)s.") % {"limit": filesizeformat(limit)},
                            field="file")


def _allowed_text(kinds: Iterable[str]) -> str:
    return str(get_text_list([str(_KIND_NAMES[FileKind(k)]) for k in FileKind.values if k in kinds], _("or")))


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _check_actor(acting: Actor, patient_id: uuid.UUID | None) -> None:
    """Files are uploaded by a signed-in clinician, or by a patient for themselves. Whether they
    may attach to the record at hand is the calling action's decision."""
    if acting.user_id is None and not acting.system:
        raise NotAuthenticated()
    if acting.is_patient:
        if patient_id != acting.patient_id:
            raise PermissionDenied(_("You can only send files about yourself."))
    elif not acting.is_practitioner:
        raise PermissionDenied(_("Only clinicians and patients can send files."))


def _read(upload: Any, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        chunk = upload.read(min(left, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_limited(upload: Any, limit: int) -> bytes:
    """All of an upload's bytes, refusing (``ValidationFailed`` on ``file``) an empty one or one
    over ``limit`` — from its declared size before reading, else after reading ``limit`` + 1."""
    declared = getattr(upload, "size", None)
    if isinstance(declared, int) and declared > limit:
        raise _too_large(limit)
    try:
        upload.seek(0)
    except (AttributeError, OSError):
        pass
    data = _read(upload, limit + 1)
    if not data:
        raise ValidationFailed(_("The file is empty."), field="file")
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _existing(patient_id: uuid.UUID | None, user_id: uuid.UUID | None, sha: str) -> StoredFile | None:
    qs = StoredFile.objects.filter(sha256=sha)
    qs = qs.filter(patient_id=patient_id) if patient_id else qs.filter(patient__isnull=True, uploaded_by_id=user_id)
    return qs.first()


def _inspect(data: bytes, fmt: sniff.Format, require_preview: bool) -> tuple[dict[str, Any], bytes | None]:
    if fmt.kind == FileKind.IMAGE:
        info = sniff.inspect_image(data, fmt)
        return info.meta, info.preview
    if fmt.kind == FileKind.PDF:
        return sniff.inspect_pdf(data), None
    instance = dicom.read(data)
    if not instance.has_pixels and not require_preview:
        return instance.meta, None
    preview = dicom.render_png(instance)  # refuses no pixels, damaged pixels, undecodable syntaxes
    return {**instance.meta, "preview_content_type": "image/png"}, preview


def _remove(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            storage.delete(key)
        except Exception:  # the sweep removes what cannot be removed now
            log.exception("could not remove stored file bytes %s", key)


def _reuse(acting: Actor, existing: StoredFile, require_preview: bool) -> StoredFile:
    if require_preview and existing.kind == FileKind.DICOM and not existing.preview_key:
        raise ValidationFailed(_("The DICOM file holds no image (no pixel data), so it cannot be shown."),
                               field="file")
    record(acting, "file.store", Verb.CREATE, obj=existing, patient_id=existing.patient_id,
           detail={"kind": existing.kind, "size": existing.size, "sha256": existing.sha256, "reused": True})
    return existing


def store_upload(*, acting: Actor, patient_id: uuid.UUID | str | None, upload: Upload,
                 allowed_kinds: Iterable[str] = ALL_KINDS, max_bytes: int | None = None,
                 require_preview: bool = True) -> StoredFile:
    """Check and store one uploaded file for a patient (``None``: a question about no patient).

    Refusals are ``ValidationFailed`` on the field ``file``: empty, oversize (the kind's setting,
    or ``max_bytes`` if smaller — refused from the declared size before reading), not of an
    allowed kind, disguised (name or type contradicting the content), damaged, or — when
    ``require_preview`` — a DICOM file without an image. Nothing is left behind by a refusal.
    The same bytes for the same patient return the row stored first (audited again)."""
    pid = parse_uuid(patient_id) if patient_id else None
    _check_actor(acting, pid)
    user_id = acting.user_id
    assert user_id is not None  # a clinician or a patient (_check_actor)
    if pid is not None:
        from medunion.patients.models import Patient

        if not Patient.objects.filter(pk=pid).exists():
            raise NotFound()
    kinds = frozenset(str(k) for k in allowed_kinds) & ALL_KINDS
    if not kinds:
        raise ValueError("allowed_kinds names no kind of file")
    name = str(getattr(upload, "name", "") or "")
    declared_type = str(getattr(upload, "content_type", "") or "")
    declared_size = getattr(upload, "size", None)
    try:
        upload.seek(0)  # type: ignore[attr-defined]  # a form may have read it already
    except (AttributeError, OSError):  # a stream that cannot seek starts where it is
        pass

    head = _read(upload, sniff.HEAD_BYTES)
    if not head:
        raise ValidationFailed(_("The file is empty."), field="file")
    fmt = sniff.sniff(head)
    sniff.check_declared(name, declared_type, fmt)
    if fmt is None:
        raise sniff.refuse_unknown(_allowed_text(kinds))
    if fmt.kind not in kinds:
        raise ValidationFailed(_("%(what)s cannot be attached here. Send %(allowed)s.")
                               % {"what": _sentence_case(str(fmt.label)), "allowed": _allowed_text(kinds)},
                               field="file")
    limit = kind_limit(fmt.kind, max_bytes)
    if isinstance(declared_size, int) and declared_size > limit:
        raise _too_large(limit)
    data = head + _read(upload, limit - len(head) + 1)
    if len(data) > limit:
        raise _too_large(limit)

    sha = hashlib.sha256(data).hexdigest()
    existing = _existing(pid, user_id, sha)
    if existing is not None:
        return _reuse(acting, existing, require_preview)

    meta, preview = _inspect(data, fmt, require_preview)
    row = StoredFile(patient_id=pid, uploaded_by_id=user_id, filename=sniff.clean_filename(name, fmt),
                     kind=fmt.kind, content_type=fmt.content_type, size=len(data), sha256=sha, meta=meta)
    scope = f"patients/{pid}" if pid else f"users/{user_id}"
    row.storage_key = f"{scope}/{row.id}{fmt.extension}"
    if preview is not None:
        row.preview_key = f"{scope}/{row.id}.preview{'.png' if meta['preview_content_type'] == 'image/png' else '.jpg'}"

    storage = get_storage()
    written: list[str] = []
    try:
        storage.save(row.storage_key, data)
        written.append(row.storage_key)
        if preview is not None:
            storage.save(row.preview_key, preview)
            written.append(row.preview_key)
        with transaction.atomic():
            row.save(force_insert=True)
            record(acting, "file.store", Verb.CREATE, obj=row, patient_id=pid,
                   detail={"kind": row.kind, "size": row.size, "sha256": sha, "reused": False})
    except IntegrityError:
        _remove(storage, written)
        existing = _existing(pid, user_id, sha)  # stored at the same moment by another request
        if existing is None:
            raise
        return _reuse(acting, existing, require_preview)
    except BaseException:
        _remove(storage, written)
        raise
    return row


def _named_row(key: str) -> uuid.UUID | None:
    """The row a key is named after (``<scope>/<id>.<ext>``, ``<scope>/<id>.preview.<ext>``), if any."""
    try:
        return uuid.UUID(key.rsplit("/", 1)[-1].split(".", 1)[0])
    except ValueError:
        return None


def _keys_of(rows: Any) -> set[str]:
    return {key for pair in rows.values_list("storage_key", "preview_key").iterator() for key in pair if key}


def sweep_orphans(*, acting: Actor, older_than: dt.timedelta = dt.timedelta(hours=24)) -> int:
    """Remove stored bytes no row refers to (left by a transaction rolled back after the bytes
    were written, or by a crash), once older than ``older_than``. For the platform's own
    maintenance (``system_actor``); returns how many objects were removed."""
    if not acting.system:
        raise PermissionDenied()
    cutoff = clock.now() - older_than
    storage = get_storage()
    candidates = [key for key, modified in storage.iter_keys() if modified < cutoff]
    # A key is named after its row (store_upload): the rows are looked up by primary key first.
    # Only the keys that no row of their name refers to are then looked for among every row's
    # keys, which is a scan of the table (the keys are not indexed): once per 500 such keys.
    unsure: list[str] = []
    for start in range(0, len(candidates), 500):
        chunk = candidates[start:start + 500]
        ids = {file_id for file_id in map(_named_row, chunk) if file_id is not None}
        referenced = _keys_of(StoredFile.objects.filter(pk__in=ids))
        unsure.extend(key for key in chunk if key not in referenced)
    removed = 0
    for start in range(0, len(unsure), 500):
        chunk = unsure[start:start + 500]
        referenced = _keys_of(StoredFile.objects.filter(Q(storage_key__in=chunk) | Q(preview_key__in=chunk)))
        orphans = [key for key in chunk if key not in referenced]
        _remove(storage, orphans)
        removed += len(orphans)
    if removed:
        record(acting, "file.sweep", Verb.DELETE, object_type="files.storedfile", detail={"removed": removed})
    return removed
