"""Bulk import of practitioners over the API (/api/v1/imports); the file format is docs/onboarding.md.

``POST /api/v1/imports`` (multipart: ``file`` and ``consortium_id``) checks the file and answers
202 with the queued job; ``GET /api/v1/imports/{id}`` reports progress and, once done, every row.
Only coordinators of the consortium may import; a job of another consortium answers 404.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import PageNumberPagination, paginate

from medunion.access.policy import Action, require
from medunion.api import api_actor, problems
from medunion.core import idempotency
from medunion.core.errors import ValidationFailed

from . import importer
from .models import ImportJob

router = Router(tags=["imports"])


class ImportRowOut(Schema):
    line: int = Field(description="Row number as the spreadsheet shows it (the header is row 1)")
    status: str = Field(description="imported, updated, unchanged or error")
    name: str
    licence_number: str
    organisation_code: str
    reasons: list[str] = Field(description="Why the row was not imported (status error)")
    changed: list[str] = Field(description="What changed (status updated): name, title, gender, phone, "
                                           "years_independent, specialties, practice_site, site_reactivated, "
                                           "department")
    practitioner_id: uuid.UUID | None


class ImportJobOut(Schema):
    id: uuid.UUID
    consortium_id: uuid.UUID
    consortium_code: str
    filename: str
    status: str = Field(description="queued, running, done or failed")
    total: int = Field(description="Data rows in the file")
    processed: int = Field(description="Rows checked so far")
    summary: dict[str, int] = Field(description="Counts by row status, once done")
    error: str = Field(description="Why the job failed")
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_consortium_code(obj: ImportJob) -> str:
        return obj.consortium.code

    @staticmethod
    def resolve_summary(obj: ImportJob) -> dict[str, int]:
        return {k: v for k, v in (obj.summary or {}).items() if isinstance(v, int)}

    @staticmethod
    def resolve_error(obj: ImportJob) -> str:
        return importer.job_error(obj)

    @staticmethod
    def resolve_created_by(obj: ImportJob) -> str:
        return obj.created_by_display


class ImportJobDetail(ImportJobOut):
    rows: list[ImportRowOut]

    @staticmethod
    def resolve_rows(obj: ImportJob) -> list[dict[str, Any]]:
        return getattr(obj, "rows", [])


class RowFilter(Schema):
    status: str = Field("", description="Only rows with this status (e.g. error)",
                        pattern="^(|imported|updated|unchanged|error)$")


def _with_rows(job: ImportJob, status: str = "") -> ImportJob:
    job.rows = importer.report_rows(job, {status} if status else None)  # type: ignore[attr-defined]
    return job


@router.post("", response={202: ImportJobDetail}, summary="Import practitioners from a CSV or XLSX file",
             openapi_extra={"parameters": [idempotency.IDEMPOTENCY_PARAMETER], **problems(403, 404)})
def create_import(request: HttpRequest, response: HttpResponse, consortium_id: Form[uuid.UUID],
                  file: File[UploadedFile]) -> Any:
    actor = api_actor(request)
    if file.size and file.size > importer.MAX_UPLOAD_BYTES:
        raise ValidationFailed(_("The file is larger than 10 MB; split it into parts."), field="file")
    content = file.read()
    name = file.name or "upload"
    payload = {"consortium_id": str(consortium_id), "filename": name,
               "sha256": hashlib.sha256(content).hexdigest()}
    result, _replayed = idempotency.run_once(
        request, response, actor=actor, scope="network.import", payload=payload,
        perform=lambda: {"id": str(importer.start_import(acting=actor, consortium_id=consortium_id,
                                                         filename=name, content=content).pk)})
    job = importer.access_import_job(actor, result["id"])
    response["Location"] = f"{request.path.rstrip('/')}/{job.pk}"
    return Status(202, _with_rows(job))


class ImportPageIn(Schema):
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int | None = Field(None, ge=1, le=1_000)


class ImportPages(PageNumberPagination):
    """Ninja's page numbers with an upper bound: a page past any offset the database can hold
    answers 422, not a 500 from the query."""

    Input = ImportPageIn  # type: ignore[assignment]


@router.get("", response=list[ImportJobOut], summary="Recent imports of my consortia")
@paginate(ImportPages)
def list_imports(request: HttpRequest) -> Any:
    actor = api_actor(request)
    require(actor, Action.IMPORT_PRACTITIONERS, visible=False)
    return importer.import_jobs(actor).order_by("-created_at")


@router.get("/{job_id}", response=ImportJobDetail, summary="An import: progress, counts and the row report",
            openapi_extra=problems(404))
def get_import(request: HttpRequest, job_id: str, filters: Query[RowFilter]) -> Any:
    job = importer.access_import_job(api_actor(request), job_id)
    return _with_rows(job, filters.status)
