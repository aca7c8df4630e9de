"""The JSON API under /api/v1: one NinjaAPI, routers from each app, errors as problem+json."""

from __future__ import annotations

from http.client import responses
from typing import Any

from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from medunion.access.actor import Actor, actor_for
from medunion.core.errors import (
    RETRY_AFTER_SECONDS,
    DomainError,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
    database_unavailable,
)
from medunion.core.openapi_links import add_links


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from medunion.accounts.actions import user_for_token

        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class SessionCookie(APIKeyCookie):
    """The pages' session, CSRF-checked for unsafe methods."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a session cookie that signs someone in there is nothing to forge: a missing or
        # expired bearer token (beside a stale or made-up cookie) must answer 401, not a CSRF failure.
        user = getattr(request, "user", None)
        if self.param_name not in request.COOKIES or user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        from django.conf import settings

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        # A role that needs the second factor has not finished signing in until it is set up
        # (the pages send it to /account/mfa; tokens are refused until then as well).
        if settings.MEDUNION_REQUIRE_MFA and getattr(user, "mfa_required", False) and not user.has_mfa:
            return None
        return user


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error (RFC 9457 problem details) with a stable `code`; `errors` holds per-field messages.",
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "field": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["type", "title", "status", "code"],
}


def _problem_response(status: int) -> dict[str, Any]:
    return {"description": responses.get(status, "Error"),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def problems(*statuses: int) -> dict[str, Any]:
    """``openapi_extra`` documenting the problem+json answers of an operation. 400 (unreadable
    body), 401 and 404 (authenticated operations: not signed in; not the caller's to see) and 422
    (operations with input) are added to every operation by :class:`MedUnionAPI`."""
    return {"responses": {s: _problem_response(s) for s in statuses}}


def idempotent(*statuses: int) -> dict[str, Any]:
    """``openapi_extra`` of a create that accepts an ``Idempotency-Key``: the header, the
    problem answers, and the header that marks a replayed 201."""
    from medunion.core.idempotency import IDEMPOTENCY_PARAMETER, REPLAYED_RESPONSE_HEADER

    extra = problems(*statuses)
    extra["parameters"] = [IDEMPOTENCY_PARAMETER]
    extra["responses"][201] = {"headers": REPLAYED_RESPONSE_HEADER}
    return extra


def file_download() -> dict[str, Any]:
    """``openapi_extra`` of a stored file's download: its bytes with the type found when stored."""
    from medunion.files.sniff import SERVABLE_TYPES

    extra = problems(404, 503)
    extra["responses"][200] = {
        "description": "The file's bytes, with the type found when it was stored.",
        "content": {t: {"schema": {"type": "string", "format": "binary"}}
                    for t in sorted(SERVABLE_TYPES | {"application/octet-stream"})}}
    return extra


class MedUnionAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for item in schema.get("paths", {}).values():
            for op in item.values():
                answers = op.setdefault("responses", {})
                in_path = any(p.get("in") == "path" for p in op.get("parameters", []))
                # 404: an object in the path the caller may not see, or an area that is not the
                # caller's at all (a patient on the audit log) — both answer like a missing page.
                implied = ([400] if op.get("requestBody") else []) + ([401] if op.get("security") else []) \
                    + ([404] if in_path or op.get("security") else []) \
                    + ([422] if op.get("parameters") or op.get("requestBody") else [])
                for status in implied:
                    if status not in answers and str(status) not in answers:
                        answers[status] = _problem_response(status)
        add_links(schema)
        return schema


api = MedUnionAPI(
    title="MedUnion API",
    version="1",
    description="The consortium platform's JSON API. Bearer tokens from POST /api/v1/auth/token. "
                "Errors are application/problem+json (RFC 9457).",
    auth=[BearerToken(), SessionCookie()],
    urls_namespace="api",
    docs_url="/docs",
)


def api_actor(request: HttpRequest) -> Actor:
    actor = getattr(request, "_medunion_actor", None)
    if actor is None:
        actor = actor_for(request.auth if getattr(request, "auth", None) else None, "api")  # type: ignore[attr-defined]
        request._medunion_actor = actor  # type: ignore[attr-defined]
    return actor


def problem(request: HttpRequest, body: dict[str, Any], status: int) -> HttpResponse:
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = "application/problem+json"
    return response


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    response = problem(request, exc.as_problem(), exc.status)
    if exc.status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@api.exception_handler(DatabaseError)
def _database_error(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    """The database out of reach (a restart, a dropped connection, a lock held too long): 503
    ``database_unavailable``. Any other database error is a bug and stays a 500."""
    unavailable = database_unavailable(exc)
    if unavailable is None:
        raise exc
    return _domain_error(request, unavailable)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for err in exc.errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "payload"))
        errors.setdefault(loc or "request", []).append(str(err.get("msg", "invalid")))
    return problem(request, ValidationFailed(errors=errors).as_problem(), 422)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = problem(request, NotAuthenticated().as_problem(), 401)
    response["WWW-Authenticate"] = 'Bearer realm="medunion"'
    return response


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, NotFound().as_problem(), 404)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(request, {"type": "about:blank", "title": str(exc), "status": exc.status_code,
                             "code": "http_error"}, exc.status_code)


def _register_routers() -> None:
    from medunion.accounts.api import router as accounts_router

    api.add_router("/auth", accounts_router)
    for module, prefix in (("medunion.network.api", "/network"), ("medunion.network.import_api", "/imports"),
                           ("medunion.patients.api", "/patients"),
                           ("medunion.audit.api", "/audit"), ("medunion.access.api", "/access"),
                           ("medunion.accounts.admin_api", "/accounts"), ("medunion.accounts.settings_api", "/settings"),
                           ("medunion.consults.api", "/consults"), ("medunion.notifications.api", "/notifications"),
                           ("medunion.referrals.api", "/referrals"),
                           # /examinations, /critical-findings, /diagnostics/figures, /reading-routes
                           ("medunion.diagnostics.api", ""),
                           ("medunion.files.api", "/files")):
        try:
            mod = __import__(module, fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        api.add_router(prefix, mod.router)


_register_routers()
