"""Accounts administration (/api/v1/accounts): the security administrator's work, and every
signed-in user's own API tokens.

Separation of duties (MLPS level 3): only the security administrator manages accounts; for
everyone else, the system and audit administrators included, the administration answers 404.
Nothing here ever returns a password hash or a second-factor secret, and nothing here shows
patient data: a patient account is linked by a patient id the administrator is given.
"""

import datetime as dt
import uuid
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import BooleanField, Case, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can
from medunion.api import api_actor, problems
from medunion.core import clock
from medunion.core.errors import NotFound, ValidationFailed
from medunion.core.idempotency import IDEMPOTENCY_PARAMETER, REPLAYED_RESPONSE_HEADER, run_once
from medunion.core.json_body import BodyIn, JsonBody
from medunion.network.schemas import TEXT, Pages

from . import actions
from .bearer import bearer_token
from .models import ApiToken, Role, User

router = Router(tags=["accounts"])

def _reads() -> dict[str, Any]:  # a fresh dict per operation: Ninja merges it into the schema
    return problems(404)


def _writes() -> dict[str, Any]:
    return problems(404, 409)


def _create_extra() -> dict[str, Any]:
    extra = problems(404, 409)
    extra["parameters"] = [IDEMPOTENCY_PARAMETER]
    extra["responses"][201] = {"headers": REPLAYED_RESPONSE_HEADER}
    return extra


def _secadmin(request: HttpRequest) -> Actor:
    """The security administrator; for anyone else the administration does not exist (404)."""
    actor = api_actor(request)
    if not can(actor, Action.MANAGE_ACCOUNTS):
        raise NotFound()
    return actor


# --- schemas ------------------------------------------------------------------------------------


class AccountOut(Schema):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    is_active: bool
    practitioner_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    region_code: str | None
    consortium_ids: list[uuid.UUID] = Field(..., description="The consortia a coordinator manages")
    mfa_enabled: bool
    locked: bool = Field(..., description="Locked out after repeated failed sign-ins (until the cool-off "
                                          "ends or an administrator unlocks it)")
    last_login: dt.datetime | None
    date_joined: dt.datetime

    @staticmethod
    def resolve_display_name(obj: Any) -> str:
        from .queries import account_name

        return account_name(obj)

    @staticmethod
    def resolve_region_code(obj: Any) -> str | None:
        return obj.region_id

    @staticmethod
    def resolve_consortium_ids(obj: Any) -> list[uuid.UUID]:
        return sorted(a.consortium_id for a in obj.coordinates.all())

    @staticmethod
    def resolve_mfa_enabled(obj: Any) -> bool:
        return obj.totp_confirmed_at is not None

    @staticmethod
    def resolve_locked(obj: Any) -> bool:
        return obj.recent_failures >= settings.AXES_FAILURE_LIMIT


class AccountIn(BodyIn):
    username: str = Field(..., max_length=150, pattern=TEXT)
    password: str = Field(..., max_length=128)
    role: str = Field(..., max_length=16, pattern=TEXT)
    display_name: str = Field("", max_length=100, pattern=TEXT)
    practitioner_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    region_code: str | None = Field(None, max_length=12, pattern=TEXT)
    consortium_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class RoleIn(BodyIn):
    role: str = Field(..., max_length=16, pattern=TEXT)
    consortium_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100,
                                            description="A coordinator's consortia: the whole set")
    region_code: str | None = Field(None, max_length=12, description="A health-commission viewer's region", pattern=TEXT)
    practitioner_id: uuid.UUID | None = Field(None, description="A clinician's practitioner record")


class TokenInfo(Schema):
    id: uuid.UUID
    prefix: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    live: bool
    current: bool = Field(..., description="The token this request is made with")


# --- reads ----------------------------------------------------------------------------------------


def _accounts() -> QuerySet[Any]:
    """Accounts with what the list shows, never loading the password hash or the TOTP secret."""
    cool_off = get_cool_off() or dt.timedelta(0)
    failures = (AccessAttempt.objects.filter(username=OuterRef("username"), attempt_time__gte=clock.now() - cool_off)
                .values("username").annotate(n=Sum("failures_since_start")).values("n"))
    return (User.objects.defer("password", "totp_secret")
            .annotate(recent_failures=Coalesce(Subquery(failures), Value(0)))
            .prefetch_related("coordinates"))


def _account(user_id: Any) -> Any:
    user = _accounts().filter(pk=parse_uuid(user_id)).first()
    if user is None:
        raise NotFound()
    return user


class AccountFilters(Schema):
    role: str = Field("", max_length=16, pattern=TEXT)
    q: str = Field("", max_length=100, description="User name or display name", pattern=TEXT)
    active: bool | None = None


@router.get("", response=list[AccountOut], summary="Accounts (security administrator)", openapi_extra=_reads())
@paginate(Pages)
def accounts(request: HttpRequest, filters: Query[AccountFilters]) -> Any:
    _secadmin(request)
    qs = _accounts()
    if filters.role:
        if filters.role not in Role.values:
            raise ValidationFailed(errors={"role": [str(_("Unknown role."))]})
        qs = qs.filter(role=filters.role)
    if filters.q.strip():
        qs = qs.filter(Q(username__icontains=filters.q.strip()) | Q(display_name__icontains=filters.q.strip()))
    if filters.active is not None:
        qs = qs.filter(is_active=filters.active)
    return qs.order_by("username")


# --- every signed-in user's own tokens (before /{user_id} routes) --------------------------------


def _bearer_digest(request: HttpRequest) -> str:
    raw = bearer_token(request)
    return ApiToken.digest_of(raw) if raw else ""


@router.get("/me/tokens", response=list[TokenInfo], summary="My API tokens (never their secrets)")
@paginate(Pages)
def my_tokens(request: HttpRequest) -> Any:
    actor = api_actor(request)
    if actor.user_id is None:
        raise NotFound()
    digest = _bearer_digest(request)
    current = (Case(When(digest=digest, then=Value(True)), default=Value(False), output_field=BooleanField())
               if digest else Value(False, output_field=BooleanField()))
    return ApiToken.objects.filter(user_id=actor.user_id).annotate(current=current).order_by("-created_at")


@router.delete("/me/tokens/{token_id}", response={204: None}, summary="Revoke one of my API tokens",
               openapi_extra=problems(404, 409))
def revoke_my_token(request: HttpRequest, token_id: str) -> Any:
    actions.revoke_token(acting=api_actor(request), token_id=parse_uuid(token_id))
    return Status(204, None)


# --- the security administrator's writes -----------------------------------------------------------


@router.post("", response={201: AccountOut}, summary="Create an account", openapi_extra=_create_extra())
def create_account(request: HttpRequest, response: HttpResponse, payload: JsonBody[AccountIn]) -> Any:
    actor = _secadmin(request)

    def perform() -> dict[str, Any]:
        user = actions.create_account(
            acting=actor, username=payload.username, password=payload.password, role=payload.role,
            display_name=payload.display_name, practitioner_id=payload.practitioner_id,
            patient_id=payload.patient_id, region_code=payload.region_code or None,
            consortium_ids=payload.consortium_ids)
        return {"status": 201, "id": str(user.pk)}

    # The password identifies nothing and is never stored, not even hashed into the fingerprint.
    identity = payload.model_dump(mode="json", exclude={"password"})
    result, _replayed = run_once(request, response, actor=actor, scope="accounts.create", payload=identity,
                                 perform=perform)
    return Status(201, _account(result["id"]))


@router.get("/{user_id}", response=AccountOut, summary="One account", openapi_extra=_reads())
def account(request: HttpRequest, user_id: str) -> Any:
    _secadmin(request)
    return _account(user_id)


@router.put("/{user_id}/role", response=AccountOut, openapi_extra=_writes(),
            summary="Change the role (and a coordinator's consortia); applies on the account's next request")
def change_role(request: HttpRequest, user_id: str, payload: JsonBody[RoleIn]) -> Any:
    actor = _secadmin(request)
    user = actions.change_role(acting=actor, user_id=parse_uuid(user_id), role=payload.role,
                               consortium_ids=payload.consortium_ids, region_code=payload.region_code or None,
                               practitioner_id=payload.practitioner_id)
    return _account(user.pk)


@router.post("/{user_id}/deactivate", response=AccountOut, openapi_extra=_writes(),
             summary="Deactivate an account (its API tokens are revoked)")
def deactivate(request: HttpRequest, user_id: str) -> Any:
    actor = _secadmin(request)
    user = actions.set_active(acting=actor, user_id=parse_uuid(user_id), active=False)
    return _account(user.pk)


@router.post("/{user_id}/activate", response=AccountOut, summary="Activate an account", openapi_extra=_writes())
def activate(request: HttpRequest, user_id: str) -> Any:
    actor = _secadmin(request)
    user = actions.set_active(acting=actor, user_id=parse_uuid(user_id), active=True)
    return _account(user.pk)


@router.post("/{user_id}/reset-mfa", response=AccountOut, openapi_extra=_writes(),
             summary="Reset the second factor: the account enrols a new one at its next sign-in")
def reset_mfa(request: HttpRequest, user_id: str) -> Any:
    actor = _secadmin(request)
    pk = parse_uuid(user_id)
    actions.reset_totp(acting=actor, user_id=pk)
    return _account(pk)


@router.post("/{user_id}/unlock", response=AccountOut, openapi_extra=_writes(),
             summary="Lift a sign-in lockout before its cool-off ends")
def unlock(request: HttpRequest, user_id: str) -> Any:
    actor = _secadmin(request)
    pk = parse_uuid(user_id)
    actions.unlock_account(acting=actor, user_id=pk)
    return _account(pk)
