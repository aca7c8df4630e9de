"""What a locked-out login sees (django-axes calls this)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .settings_registry import platform_setting


def locked_out(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    message = _("Too many failed sign-in attempts. This account is locked for %(minutes)d minutes; "
                "a security administrator can unlock it sooner.") % {"minutes": minutes}
    phone = platform_setting("support_phone")
    if phone:
        message += " " + _("Support: %(phone)s.") % {"phone": phone}
    if request.path.startswith(("/api/", "/fhir/")):
        return JsonResponse({"type": "https://medunion.invalid/problems/locked_out", "title": message,
                             "status": 429, "code": "locked_out"}, status=429,
                            content_type="application/problem+json")
    return render(request, "web/login.html", {"locked_message": message}, status=429)
