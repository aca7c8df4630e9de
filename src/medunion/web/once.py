"""Idempotent form submissions: a double tap or a resend from a phone on a weak network carries
the form's hidden ``once`` token and gets the first submission's result, never a second record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.core.errors import Conflict
from medunion.core.idempotency import IdempotencyKeyReused, canonical, fingerprint_of, once


def run_once(request: HttpRequest, actor: Actor, scope: str, key: str, data: dict[str, Any],
             perform: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """Run ``perform`` once per form token; returns (result, replayed)."""
    if not key:
        with transaction.atomic():
            return canonical(perform()), False
    fields = {k: v for k, v in data.items() if k != "once"}
    try:
        return once(actor=actor, scope=f"page:{scope}", key=key, fingerprint=fingerprint_of(fields),
                    perform=perform)
    except IdempotencyKeyReused as exc:
        raise Conflict(_("This form was sent already with other data. Reload the page to start afresh.")) from exc
