"""The ``Authorization: Bearer <token>`` header, read in one place (the JSON API's and FHIR's
authentication, the pages' middleware that a bearer request passes over, revoking a token)."""

from __future__ import annotations

from django.http import HttpRequest


def bearer_token(request: HttpRequest) -> str | None:
    """The token of a bearer header ("" when the scheme is Bearer and no token follows); None when
    there is no Authorization header or it names another scheme. The scheme is case-insensitive
    (RFC 9110 §11.1)."""
    scheme, _sep, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" else None
