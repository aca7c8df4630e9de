"""Deployment checks: outside debug mode the server refuses development secrets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register("medunion")
def refuse_development_secrets(app_configs: Any, **kwargs: Any) -> list[Error]:
    from medunion import settings as defaults

    errors = _malformed_keys()
    if settings.DEBUG:
        return errors
    if settings.SECRET_KEY == defaults.DEV_SECRET_KEY:
        errors.append(Error("MEDUNION_SECRET_KEY is the development default", id="medunion.E001",
                            hint="Set MEDUNION_SECRET_KEY to a long random value."))
    if defaults.DEV_ENCRYPTION_KEYS.split(":")[1] in settings.MEDUNION_ENCRYPTION_KEYS:
        errors.append(Error("MEDUNION_ENCRYPTION_KEYS holds the development key", id="medunion.E002",
                            hint="Generate one with `medunion keygen`."))
    if settings.MEDUNION_LOOKUP_KEY == defaults.DEV_LOOKUP_KEY:
        errors.append(Error("MEDUNION_LOOKUP_KEY is the development default", id="medunion.E003",
                            hint="Generate one with `medunion keygen`."))
    return errors


def _malformed_keys() -> list[Error]:
    import base64
    import binascii

    from django.core.exceptions import ImproperlyConfigured

    from .crypto import KeyRing

    errors = []
    try:
        KeyRing(settings.MEDUNION_ENCRYPTION_KEYS)
    except ImproperlyConfigured as exc:
        errors.append(Error(f"MEDUNION_ENCRYPTION_KEYS: {exc}", id="medunion.E004"))
    try:
        if len(base64.b64decode(settings.MEDUNION_LOOKUP_KEY, validate=True)) < 32:
            raise ValueError
    except (binascii.Error, ValueError):
        errors.append(Error("MEDUNION_LOOKUP_KEY must be at least 32 bytes, base64", id="medunion.E005"))
    return errors


def assert_safe_to_serve() -> None:
    """Called by the WSGI entry point: a production server never starts on development keys."""
    from django.core.checks import run_checks
    from django.core.exceptions import ImproperlyConfigured

    problems = [e for e in run_checks(tags=["medunion"]) if e.is_serious()]
    if problems:
        raise ImproperlyConfigured("; ".join(f"{e.msg} ({e.hint})" for e in problems))
