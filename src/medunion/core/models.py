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
