"""The pages' middleware — session, CSRF, the signed-in user, messages — passed over by a request to
the JSON API or FHIR that signs in with a bearer token.

Such a request has nothing for them to do: it is not signed in by a cookie (so there is nothing to
forge and no session to load or renew) and it shows no messages. Django runs every middleware on
every request; these four cost a bearer request ≈0.09 ms of server CPU: 10 % of the smallest API
request, 5 % of a FHIR read (benchmarks/README.md, "FHIR throughput"). Passing them over also means a bearer request can never
be signed in by a session cookie it happens to carry: the token alone decides who it is, as
``medunion.api.BearerToken`` and ``medunion.fhir.http.fhir_actor`` already had it.

Each class here is the original, subclassed, so Django's checks still find them in MIDDLEWARE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware

from medunion.accounts.bearer import bearer_token

from .live import SessionMiddleware as LiveSessionMiddleware

TOKEN_SURFACES = ("/api/", "/fhir/")
_HOOKS = ("process_view", "process_exception", "process_template_response")


def bearer_request(request: HttpRequest) -> bool:
    """A request to the JSON API or FHIR with ``Authorization: Bearer …`` (valid or not: an unknown
    token answers 401, it does not fall back to a session). Other paths keep their session
    whatever headers a proxy adds."""
    return bearer_token(request) is not None and request.path_info.startswith(TOKEN_SURFACES)


def pages_only(cls: type, *, passed_over: Callable[[HttpRequest], None] | None = None) -> type:
    """``cls`` (a middleware class), except that a bearer request goes straight past it: neither
    its ``__call__`` nor its hooks run. ``passed_over(request)`` runs instead, if given."""

    def __call__(self: Any, request: HttpRequest) -> Any:
        if bearer_request(request):
            if passed_over is not None:
                passed_over(request)
            return self.get_response(request)
        return cls.__call__(self, request)

    def hook(name: str) -> Callable[..., Any]:
        def run(self: Any, request: HttpRequest, *args: Any) -> Any:
            if bearer_request(request):
                return None
            return getattr(cls, name)(self, request, *args)

        run.__name__ = name
        return run

    namespace: dict[str, Any] = {"__call__": __call__, "__module__": __name__, "__doc__": cls.__doc__}
    namespace.update({name: hook(name) for name in _HOOKS if hasattr(cls, name)})
    return type(cls.__name__, (cls,), namespace)


def _anonymous(request: HttpRequest) -> None:
    request.user = AnonymousUser()  # the token's user replaces it once the token is checked


SessionMiddleware = pages_only(LiveSessionMiddleware)
CsrfViewMiddleware = pages_only(DjangoCsrfViewMiddleware)
AuthenticationMiddleware = pages_only(DjangoAuthenticationMiddleware, passed_over=_anonymous)
MessageMiddleware = pages_only(DjangoMessageMiddleware)
