"""Authentication endpoints: tokens for integrations and phones."""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Router, Schema, Status

from medunion.api import api_actor, problems
from medunion.core.json_body import BodyIn, JsonBody

from . import actions
from .bearer import bearer_token

router = Router(tags=["auth"])


class TokenIn(BodyIn):
    username: str
    password: str
    otp: str = ""
    label: str = ""


class TokenOut(Schema):
    access_token: str
    token_type: str = "Bearer"
    expires_at: dt.datetime


class MeOut(Schema):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    practitioner_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    mfa_enabled: bool


@router.post("/token", auth=None, response={201: TokenOut}, summary="Exchange credentials for a bearer token",
             description="401 for a wrong user name, password or second-factor code; 429 once the account is "
                         "locked after repeated failures.",
             openapi_extra=problems(401, 429))
def create_token(request: HttpRequest, payload: JsonBody[TokenIn]):
    raw, token = actions.issue_token(request, username=payload.username, password=payload.password,
                                     otp=payload.otp, label=payload.label)
    if request.headers.get("Accept-Language"):  # the app says which language it reads
        actions.keep_request_language(token.user, "api")
    return Status(201, {"access_token": raw, "expires_at": token.expires_at})


@router.delete("/token", response={204: None}, summary="Revoke the bearer token of this request")
def revoke_token(request: HttpRequest):
    actions.revoke_token(acting=api_actor(request), raw=bearer_token(request) or None)
    return Status(204, None)


@router.get("/me", response=MeOut, summary="Who am I")
def me(request: HttpRequest):
    user = request.auth  # type: ignore[attr-defined]
    return {"id": user.pk, "username": user.username, "display_name": user.display_name or user.username,
            "role": user.role, "practitioner_id": user.practitioner_id, "patient_id": user.patient_id,
            "mfa_enabled": user.has_mfa}
