from typing import Any

from django.conf import settings
from django.http import HttpRequest


def platform(request: HttpRequest) -> dict[str, Any]:
    return {"DEMO": settings.MEDUNION_DEMO, "MFA_RELAXED": not settings.MEDUNION_REQUIRE_MFA}
