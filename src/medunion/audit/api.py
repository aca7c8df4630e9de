"""``/api/v1/audit``: search the log (coordinators: their clinicians' events; the audit
administrator: everything), export it as CSV and verify the hash chain (audit administrator).

Every search, export and verification is itself recorded (purpose ``audit``).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from pydantic import field_validator

from medunion.access.policy import Action, require
from medunion.api import api_actor, problems
from medunion.core import clock

from .actions import record
from .export import csv_download, verify_recorded
from .models import Outcome, Verb
from .queries import filter_events, filters_detail, head

router = Router(tags=["audit"])

_LINE = r"^[^\x00-\x1f\x7f]*$"


_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")


class EventFilters(Schema):
    actor: str = Field("", max_length=150, pattern=_LINE,
                       description="A user name (exact) or part of a display name.")
    patient: uuid.UUID | None = None
    action: str = Field("", max_length=64, pattern=_LINE,
                        description="An action or a prefix: `patient.` finds every patient action.")
    # ISO 8601 only: pydantic would otherwise read a bare number as seconds since 1970.
    from_: dt.datetime | None = Field(None, alias="from",
                                      description="From this time (inclusive); without an offset, China time.")
    to: dt.datetime | None = Field(None, description="Until this time (exclusive).")

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _iso_only(cls, value: Any) -> Any:
        if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
            raise ValueError("use an ISO 8601 time, e.g. 2026-11-24T08:00:00+08:00")
        return value

    @field_validator("from_", "to", mode="after")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return clock.in_utc(value)

    def window(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        tz = timezone.get_current_timezone()
        return tuple(  # type: ignore[return-value]
            None if t is None else (timezone.make_aware(t, tz) if timezone.is_naive(t) else t)
            for t in (self.from_, self.to))

    def recorded(self) -> dict[str, str]:
        return filters_detail({"actor": self.actor, "patient": self.patient, "action": self.action,
                               "from": self.from_, "to": self.to})


class EventOut(Schema):
    seq: int
    uid: uuid.UUID
    at: dt.datetime
    actor_id: uuid.UUID | None
    actor_display: str
    actor_role: str
    on_behalf_of: str
    action: str
    verb: Verb
    object_type: str
    object_id: str
    patient_id: uuid.UUID | None
    purpose: str
    surface: str
    request_id: str
    outcome: Outcome
    detail: dict[str, Any]
    hash: str


class EventPage(Schema):
    items: list[EventOut]
    next_before: int | None = Field(description="Pass as `before` to get the next (older) page; null at the end.")


class VerifyOut(Schema):
    ok: bool
    checked: int = Field(description="Events verified (up to the first broken one).")
    broken_seq: int | None
    reason: str
    head_seq: int | None = Field(description="The newest event when verification started.")
    head_hash: str | None = Field(description="Its hash: anchor it outside MedUnion to detect truncation.")
    verified_at: dt.datetime


def _filtered(request: HttpRequest, filters: EventFilters) -> Any:
    since, until = filters.window()
    return filter_events(api_actor(request), who=filters.actor, patient_id=filters.patient, action=filters.action,
                         since=since, until=until)


@router.get("/events", response=EventPage, openapi_extra=problems(403),
            summary="Search the audit log, newest first (keyset paging with `before`)")
def events(request: HttpRequest, filters: Query[EventFilters],
           limit: int = Query(50, ge=1, le=200),
           before: int | None = Query(None, ge=1, description="`next_before` of the previous page.")):
    actor = api_actor(request)
    require(actor, Action.SEARCH_AUDIT, visible=False)
    qs = _filtered(request, filters)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    rows = list(qs[:limit])
    record(actor, "audit.search", Verb.SEARCH, object_type="audit.auditevent", purpose="audit",
           detail={"filters": filters.recorded(), "before": before, "results": len(rows)})
    return {"items": rows, "next_before": rows[-1].seq if len(rows) == limit else None}


@router.get("/verify", response=VerifyOut, openapi_extra=problems(403),
            summary="Verify the hash chain of the whole log (audit administrator)")
def verify(request: HttpRequest):
    actor = api_actor(request)
    require(actor, Action.EXPORT_AUDIT, visible=False)
    top = head()
    result = verify_recorded(actor)
    return {"ok": result.ok, "checked": result.checked, "broken_seq": result.broken_seq, "reason": result.reason,
            "head_seq": top[0] if top else None, "head_hash": top[1] if top else None, "verified_at": clock.now()}


_CSV_DOC = problems(403)
_CSV_DOC["responses"][200] = {"description": "The matching events, oldest first, one per row.",
                              "content": {"text/csv": {"schema": {"type": "string"}}}}


@router.get("/export.csv", response={200: None}, openapi_extra=_CSV_DOC,
            summary="Export the matching events as CSV (audit administrator)")
def export_csv(request: HttpRequest, filters: Query[EventFilters]):
    actor = api_actor(request)
    require(actor, Action.EXPORT_AUDIT, visible=False)
    return csv_download(actor, _filtered(request, filters), filters.recorded())
