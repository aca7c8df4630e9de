"""``/api/v1/access``: break-the-glass access and its review by coordinators."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import Field, Router, Schema, Status

from medunion.api import api_actor, problems
from medunion.audit.actions import Entry, record_many
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import NotFound, ValidationFailed
from medunion.core.idempotency import IDEMPOTENCY_PARAMETER, REPLAYED_RESPONSE_HEADER, run_once
from medunion.core.json_body import BodyIn, JsonBody

from . import actions
from .models import BreakGlassGrant

router = Router(tags=["access"])

_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # text: tabs and line breaks allowed, other controls not


class BreakGlassIn(BodyIn):
    patient_id: uuid.UUID | None = Field(None, description="The patient, when you know the record's id.")
    id_number: str | None = Field(None, max_length=18, pattern=r"^[^\x00-\x1f\x7f]*$",
                                  description="Or the patient's resident ID number (an emergency where the "
                                              "patient is not registered with you).")
    reason: str = Field(min_length=1, max_length=2000, pattern=_TEXT,
                        description="The clinical reason, at least 10 characters; a coordinator reviews it.")


class GrantOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    reason: str
    created_at: dt.datetime
    expires_at: dt.datetime


class PersonRef(Schema):
    id: uuid.UUID
    name: str


class PendingReviewOut(Schema):
    id: uuid.UUID
    clinician: PersonRef
    patient: PersonRef
    reason: str
    created_at: dt.datetime
    expires_at: dt.datetime
    active: bool = Field(description="Whether the access is still open.")


class ReviewIn(BodyIn):
    note: str = Field("", max_length=2000, pattern=_TEXT)


class ReviewedOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    reviewed_at: dt.datetime
    reviewed_by: uuid.UUID
    review_note: str


def _grant(g: BreakGlassGrant) -> dict[str, Any]:
    return {"id": g.pk, "patient_id": g.patient_id, "reason": g.reason, "created_at": g.created_at,
            "expires_at": g.expires_at}


_BREAK_GLASS_DOC = problems(403, 404)
_BREAK_GLASS_DOC["parameters"] = [IDEMPOTENCY_PARAMETER]
_BREAK_GLASS_DOC["responses"][201] = {"headers": REPLAYED_RESPONSE_HEADER}


@router.post("/break-glass", response={201: GrantOut}, openapi_extra=_BREAK_GLASS_DOC,
             summary="Open a patient's record outside your relationships, with a reason, for a limited time")
def break_glass(request: HttpRequest, response: HttpResponse, payload: JsonBody[BreakGlassIn]):
    actor = api_actor(request)
    if (payload.patient_id is None) == (payload.id_number is None):
        raise ValidationFailed(_("Name the patient either by patient_id or by id_number."), field="patient_id")
    created: dict[str, BreakGlassGrant] = {}

    def perform() -> dict[str, Any]:
        if payload.patient_id is not None:
            grant = actions.break_glass(acting=actor, patient_id=payload.patient_id, reason=payload.reason)
        else:
            grant = actions.break_glass_by_id_number(acting=actor, id_number=payload.id_number or "",
                                                     reason=payload.reason)
        created["grant"] = grant
        return {"status": 201, "grant_id": grant.pk}

    result, replayed = run_once(request, response, actor=actor, scope="access.break_glass",
                                payload=payload.model_dump(mode="json"), perform=perform)
    if replayed:
        grant = BreakGlassGrant.objects.filter(pk=result["grant_id"], user=actor.user_id).first()
        if grant is None:  # pragma: no cover - grants are never deleted
            raise NotFound()
    else:
        grant = created["grant"]
    return Status(result["status"], _grant(grant))


@router.get("/break-glass/reviews", response=list[PendingReviewOut], openapi_extra=problems(403),
            summary="Break-the-glass accesses by the clinicians of my consortia, waiting for review")
def pending_reviews(request: HttpRequest):
    actor = api_actor(request)
    grants = actions.pending_reviews(actor)
    # The list names patients: showing it is a read of patient data, one row per patient.
    record_many(actor, [Entry(action="access.break_glass.review_list", verb=Verb.READ,
                              object_type="access.breakglassgrant", object_id=str(g.pk), patient_id=g.patient_id,
                              purpose="audit") for g in grants])
    now = clock.now()
    return [{"id": g.pk, "reason": g.reason, "created_at": g.created_at, "expires_at": g.expires_at,
             "active": g.expires_at > now,
             "clinician": {"id": g.user_id, "name": g.user.display_name or g.user.username},
             "patient": {"id": g.patient_id, "name": g.patient.name}} for g in grants]


@router.post("/break-glass/reviews/{grant_id}", response=ReviewedOut, openapi_extra=problems(404, 409),
             summary="Record the review of a break-the-glass access")
def review(request: HttpRequest, grant_id: uuid.UUID, payload: JsonBody[ReviewIn]):
    grant = actions.review_break_glass(acting=api_actor(request), grant_id=grant_id, note=payload.note.strip())
    return {"id": grant.pk, "patient_id": grant.patient_id, "reviewed_at": grant.reviewed_at,
            "reviewed_by": grant.reviewed_by_id, "review_note": grant.review_note}
