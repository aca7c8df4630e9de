"""Coordinators and administrators must set up the second factor before anything else
(unless the demo relaxes it, which every page then says)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

_EXEMPT = ("/login", "/logout", "/account/mfa", "/static/", "/i18n/", "/healthz", "/api/", "/fhir/")


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and settings.MEDUNION_REQUIRE_MFA
                and getattr(user, "mfa_required", False) and not user.has_mfa
                and not request.path.startswith(_EXEMPT)):
            return redirect("web:mfa_setup")
        return self.get_response(request)
