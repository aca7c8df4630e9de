"""Request ids, the one mapping of DomainError to a page (API and FHIR map their own), and the
503 answer of every surface when the database is out of reach."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults

from .errors import RETRY_AFTER_SECONDS, DomainError, database_unavailable

log = logging.getLogger(__name__)

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return request_id_var.get()


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-Id"] = rid
        return response


class DomainErrorMiddleware:
    """Pages: a DomainError that escapes a view becomes a readable page with its status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DomainError):
            return render(request, "web/error.html", {"error": exception}, status=exception.status)
        unavailable = database_unavailable(exception)
        if unavailable is not None:
            log.warning("the database is out of reach: %s: %s", request.path, exception)
            return unavailable_response(request, unavailable)
        return None


def unavailable_response(request: HttpRequest, error: DomainError) -> HttpResponse:
    """A 503 in the surface's own format, with ``Retry-After``; it needs no database (the page
    is rendered without the context processors, which would look up the signed-in user)."""
    path = request.path_info
    if path.startswith("/api/v1/"):
        from medunion.api import problem

        response = problem(request, error.as_problem(), error.status)
    elif path.startswith("/fhir/"):
        from medunion.fhir.http import error_response

        response = error_response(error, request)
    else:
        response = HttpResponse(loader.render_to_string("503.html", {"error": error}), status=error.status)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _unavailable_behind(exception: BaseException | None) -> DomainError | None:
    """The database error behind ``exception`` (itself, or what it was raised from or while
    handling), when it means the database is out of reach."""
    seen = 0
    while exception is not None and seen < 5:
        unavailable = database_unavailable(exception)
        if unavailable is not None:
            return unavailable
        exception = exception.__cause__ or exception.__context__
        seen += 1
    return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an error outside a view (a middleware loading the session, saving it
    afterwards) that means the database is out of reach is a 503 too; anything else is the 500
    page."""
    unavailable = _unavailable_behind(sys.exc_info()[1])
    if unavailable is not None:
        return unavailable_response(request, unavailable)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: Django reports a session that could not be saved as "interrupted" (400),
    whatever the reason; when the reason is the database out of reach, it is a 503."""
    unavailable = _unavailable_behind(exception)
    if unavailable is not None:
        return unavailable_response(request, unavailable)
    return defaults.bad_request(request, exception)
