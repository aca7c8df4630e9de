"""Deleting many rows without holding the write lock for long (SQLite has one for the database)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet

BATCH = 2_000


def delete_in_batches(rows: QuerySet[Any], *, batch: int = BATCH) -> int:
    """Delete what ``rows`` selects, ``batch`` rows per transaction; returns how many rows went
    (cascades included, as ``QuerySet.delete`` counts them). Rows that other processes delete at
    the same time are simply not counted."""
    model: type[Model] = rows.model
    deleted = 0
    while True:
        with transaction.atomic():
            keys = list(rows.order_by().values_list("pk", flat=True)[:batch])
            if not keys:
                return deleted
            count, _detail = model._default_manager.filter(pk__in=keys).delete()
        deleted += count
