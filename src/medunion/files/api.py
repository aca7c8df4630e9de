"""``/api/v1/files``: upload a photo, a PDF or a DICOM file, then reference its id from a
consultation (``attachment_ids``). The bytes are checked, checksummed and stored once per patient
by ``files.actions.store_upload``; refusals (empty, oversize, disguised, damaged, a DICOM file
without an image) are 422 with a clear message on the field ``file``.

Who may upload: a clinician, for a patient they may see (or for no patient: a general question),
and a patient, for themselves. Everyone else: 404.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from medunion.access.policy import visible_patients
from medunion.api import api_actor
from medunion.core.errors import NotFound
from medunion.core.idempotency import HEADER, IDEMPOTENCY_PARAMETER, REPLAYED_RESPONSE_HEADER, run_once

from .actions import store_upload
from .models import FileKind, StoredFile

router = Router(tags=["files"])

# A UUID, or empty (a form sends an absent value as an empty string).
UUID_PATTERN = r"^([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})?$"
# What a consultation may carry.
CONSULT_KINDS = (FileKind.IMAGE, FileKind.PDF, FileKind.DICOM)


class FileOut(Schema):
    id: uuid.UUID = Field(description="Reference it as one of a case's or a message's `attachment_ids`.")
    filename: str
    kind: FileKind
    content_type: str = Field(description="The type found in the bytes (not the one declared).")
    size: int
    sha256: str
    has_preview: bool = Field(description="A preview image was rendered (DICOM, large or HEIC photos).")
    patient_id: uuid.UUID | None
    created_at: dt.datetime


def _out(f: StoredFile) -> dict[str, Any]:
    return {"id": f.pk, "filename": f.filename, "kind": f.kind, "content_type": f.content_type, "size": f.size,
            "sha256": f.sha256, "has_preview": bool(f.preview_key), "patient_id": f.patient_id,
            "created_at": f.created_at}


def _digest(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


_DOC: dict[str, Any] = {"parameters": [IDEMPOTENCY_PARAMETER],
                        "responses": {201: {"headers": REPLAYED_RESPONSE_HEADER}}}


@router.post("", response={201: FileOut}, summary="Upload a photo, PDF or DICOM file for a consultation",
             openapi_extra=_DOC)
def upload(request: HttpRequest, response: HttpResponse, file: File[UploadedFile],
           patient_id: str | None = Form(None, pattern=UUID_PATTERN,
                                         description="The patient the file is about; left out: a general "
                                                     "question (a patient's own upload is about themselves).")):
    actor = api_actor(request)
    if not (actor.is_practitioner or actor.is_patient):
        raise NotFound()
    pid = uuid.UUID(patient_id) if patient_id else None
    if actor.is_patient and pid is None:
        pid = actor.patient_id
    if pid is not None and not visible_patients(actor).filter(pk=pid).exists():
        raise NotFound()
    made: dict[str, StoredFile] = {}

    def perform() -> dict[str, Any]:
        made["file"] = store_upload(acting=actor, patient_id=pid, upload=file, allowed_kinds=CONSULT_KINDS)
        return {"status": 201, "file_id": str(made["file"].pk)}

    fingerprint: dict[str, Any] = {"patient_id": str(pid or ""), "filename": file.name or "",
                                   "size": file.size}
    if HEADER in request.headers:
        fingerprint["sha256"] = _digest(file)
    result, replayed = run_once(request, response, actor=actor, scope="files.upload", payload=fingerprint,
                                perform=perform)
    stored = StoredFile.objects.get(pk=result["file_id"]) if replayed else made["file"]
    return Status(result["status"], _out(stored))
