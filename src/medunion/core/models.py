"""Base model: a UUIDv7 primary key and creation time on every table."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.encoding import force_str
from django.utils.translation import get_language

from . import clock
from .ids import uuid7

_LABELS: dict[tuple[models.Field, str | None], dict[Any, str]] = {}


def choice_label(field: models.Field, value: Any) -> Any:
    """The label of ``value`` among ``field``'s choices in the active language; ``value`` itself
    when it is not one of them (as Django's ``get_FOO_display``). The table is built once per
    field and language: Django's own rebuilds a dict of every choice, translating each label, at
    every call, which on a list page (50 rows, five labels each) was a fifth of the page's time."""
    key = (field, get_language())
    labels = _LABELS.get(key)
    if labels is None:
        labels = _LABELS[key] = {v: force_str(label) for v, label in field.flatchoices}
    try:
        return labels[value]
    except (KeyError, TypeError):  # not a choice, or unhashable
        return force_str(value, strings_only=True)


class ChoiceLabels(models.Model):
    """``get_FOO_display`` through :func:`choice_label` (the choices of every field are static)."""

    class Meta:
        abstract = True

    def _get_FIELD_display(self, field: models.Field) -> Any:  # noqa: N802 (Django's name)
        return choice_label(field, getattr(self, field.attname))


class Entity(ChoiceLabels):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        abstract = True


class IdempotencyRecord(Entity):
    """One create done under an ``Idempotency-Key`` (DESIGN §4.10); see ``core.idempotency``.

    ``owner`` is the account's id, or ``system:<name>`` for the platform acting by itself.
    ``result`` holds only what replaying needs (a status and identifiers), never patient data.
    """

    owner = models.CharField(max_length=200)
    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    result = models.JSONField(default=dict)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "scope", "key"], name="idempotency_key_once")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
