"""Labels for codes kept on consultation records (snapshots of a title or a specialty)."""

from __future__ import annotations

from typing import Any

from django import template

from medunion.consults.models import Recommendation
from medunion.web.consults_common import specialty_label, title_label

register = template.Library()


@register.filter
def title_name(code: Any) -> str:
    return title_label(str(code or ""))


@register.filter
def specialty_name(code: Any) -> str:
    return specialty_label(str(code or ""))


@register.filter
def recommendation_name(code: Any) -> str:
    return str(Recommendation(code).label) if code in Recommendation.values else str(code or "")


@register.simple_tag
def once_token() -> str:
    """A fresh token for a small form that creates (a correction), like ``OnceField``."""
    from medunion.web.forms import fresh_once

    return fresh_once()
