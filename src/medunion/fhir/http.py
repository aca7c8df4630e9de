"""The HTTP side of /fhir: authentication, content negotiation, JSON responses, and the one
mapping of errors to OperationOutcome (DESIGN §4.7)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor, actor_for
from medunion.accounts.bearer import bearer_token
from medunion.core.errors import (
    RETRY_AFTER_SECONDS,
    Conflict,
    DomainError,
    Duplicate,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
    database_unavailable,
)

from . import codes

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json; charset=utf-8"
_JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir", "text/json"}
_ANY = {"*/*", "application/*"}


class InvalidRequest(ValidationFailed):
    """A malformed or unsupported search parameter: 400 on the FHIR surface."""

    code = "invalid_request"
    status = 400
    default_message = _("The request is not valid.")


class NotAcceptable(DomainError):
    code = "not_acceptable"
    status = 406
    default_message = _("Only JSON (application/fhir+json) is served.")


class MethodNotAllowed(DomainError):
    code = "method_not_allowed"
    status = 405
    default_message = _("This FHIR server is read-only: only GET is supported.")


class UnknownResourceType(NotFound):
    code = "unknown_resource_type"
    default_message = _("This resource type is not supported here.")


class ServerError(DomainError):
    code = "server_error"
    status = 500
    default_message = _("Something went wrong on the server; the error has been logged.")


def _issue_code(exc: DomainError) -> str:
    if isinstance(exc, (UnknownResourceType, NotAcceptable, MethodNotAllowed)):
        return "not-supported"
    if isinstance(exc, Duplicate):
        return "duplicate"
    if isinstance(exc, Conflict):
        return "conflict"
    return {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 422: "invalid",
            500: "exception", 503: "transient"}.get(exc.status, "processing")


def operation_outcome(exc: DomainError) -> dict[str, Any]:
    """One issue per field error (ValidationFailed), else one issue with the error's message."""
    code = _issue_code(exc)
    details = {"coding": [{"system": codes.CS_ERROR, "code": exc.code}]}
    messages: list[str] = []
    errors = getattr(exc, "errors", None) or {}
    for field, items in errors.items():
        messages.extend(f"{field}: {str(m)}" for m in items)
    if not messages:
        messages = [str(exc.message)]
    issues = [{"severity": "error", "code": code, "details": {**details, "text": m}, "diagnostics": m}
              for m in messages]
    return {"resourceType": "OperationOutcome", "issue": issues}


def fhir_response(body: dict[str, Any], status: int = 200, *, pretty: bool = False) -> HttpResponse:
    if pretty:
        content = json.dumps(body, ensure_ascii=False, indent=2)
    else:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(content.encode(), status=status, content_type=FHIR_JSON)
    response["Cache-Control"] = "no-store"
    return response


def error_response(exc: DomainError, request: HttpRequest | None = None) -> HttpResponse:
    response = fhir_response(operation_outcome(exc), exc.status, pretty=_pretty(request))
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="medunion"'
    elif exc.status == 405:
        response["Allow"] = "GET"
    elif exc.status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _pretty(request: HttpRequest | None) -> bool:
    return request is not None and request.GET.get("_pretty", "").lower() == "true"


# --- content negotiation -------------------------------------------------------------------------

def _media_type(value: str) -> str:
    # "+" in an unencoded query string arrives as a space: application/fhir json.
    return value.split(";", 1)[0].strip().lower().replace(" ", "+")


def check_format(request: HttpRequest) -> None:
    """``_format`` wins over ``Accept``; both must allow JSON."""
    fmt = request.GET.get("_format")
    if fmt is not None:
        if _media_type(fmt) not in _JSON_FORMATS:
            raise NotAcceptable()
        return
    accept = request.headers.get("Accept", "").strip()
    if not accept:
        return
    for part in accept.split(","):
        media = _media_type(part)
        params = [p.strip().replace(" ", "") for p in part.split(";")[1:]]
        if "q=0" in params or "q=0.0" in params:
            continue
        if media in _JSON_FORMATS or media in _ANY:
            return
    raise NotAcceptable()


# --- authentication ------------------------------------------------------------------------------

def fhir_actor(request: HttpRequest) -> Actor:
    """The bearer token of the JSON API, else the pages' session; 401 without either."""
    from medunion.accounts.actions import user_for_token

    if request.META.get("HTTP_AUTHORIZATION"):
        raw = bearer_token(request)
        user = user_for_token(raw) if raw else None
        if user is None:
            raise NotAuthenticated(_("The bearer token is missing, unknown, expired or revoked."))
    else:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            raise NotAuthenticated(_("Send a bearer token (Authorization: Bearer …) or sign in."))
        if settings.MEDUNION_REQUIRE_MFA and user.mfa_required and not user.has_mfa:
            raise NotAuthenticated(_("Set up the second factor on the web page before using this interface."))
    actor = actor_for(user, "fhir")
    if actor.user_id is None:
        raise NotAuthenticated()
    return actor


def fhir_endpoint(*, auth: bool = True) -> Callable[..., Callable[..., HttpResponse]]:
    """Wrap a view: GET only, JSON only, authenticated, every error an OperationOutcome.

    The view is called as ``view(request, actor, **kwargs)`` and returns a dict (the body)."""

    def decorate(view: Callable[..., dict[str, Any]]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            try:
                if request.method != "GET":
                    raise MethodNotAllowed()
                check_format(request)
                actor = fhir_actor(request) if auth else None
                body = view(request, actor, **kwargs)
            except DomainError as exc:
                return error_response(exc, request)
            except Exception as exc:  # noqa: BLE001 - the FHIR surface answers OperationOutcome, always
                unavailable = database_unavailable(exc)
                if unavailable is not None:
                    log.warning("FHIR request failed, the database is out of reach: %s: %s", request.path, exc)
                    return error_response(unavailable, request)
                log.exception("FHIR request failed: %s", request.path)
                return error_response(ServerError(), request)
            return fhir_response(body, pretty=_pretty(request))

        return wrapper

    return decorate
