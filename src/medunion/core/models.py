"""Base model: a UUIDv7 primary key and creation time on every table."""

from __future__ import annotations

from django.db import models

from . import clock
from .ids import uuid7


class Entity(models.Model):
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
