"""Read side of the audit log: the one search behind the coordinators' page, its CSV export and
``/api/v1/audit``. Scoping is :func:`medunion.access.policy.visible_audit`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from medunion.access.actor import Actor
from medunion.access.policy import visible_audit

from .models import AuditEvent

EXPORT_COLUMNS = ["seq", "at", "actor_id", "actor_display", "actor_role", "on_behalf_of", "action", "verb",
                  "object_type", "object_id", "patient_id", "purpose", "surface", "request_id", "outcome",
                  "detail", "hash"]


def day_start(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` in the current time zone (Asia/Shanghai unless the user chose another)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())


def filter_events(actor: Actor, *, who: str = "", patient_id: uuid.UUID | None = None, action: str = "",
                  since: dt.datetime | None = None, until: dt.datetime | None = None) -> QuerySet[AuditEvent]:
    """The actor's visible events matching the filters, newest first.

    ``who`` matches a user name exactly or a display name in part; ``action`` is a prefix
    ("patient." finds every patient action); ``since`` is inclusive, ``until`` exclusive.
    """
    from medunion.accounts.models import User

    qs = visible_audit(actor)
    who = (who or "").strip()
    if who:
        qs = qs.filter(Q(actor_display__icontains=who)
                       | Q(actor_id__in=User.objects.filter(username__iexact=who).values("pk")))
    if patient_id:
        qs = qs.filter(patient_id=patient_id)
    action = (action or "").strip()
    if action:
        qs = qs.filter(action__startswith=action)
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    return qs.order_by("-seq")


def search_events(actor: Actor, data: dict[str, Any]) -> QuerySet[AuditEvent]:
    """The page's search form (``who``, ``patient``, ``action``, ``date_from``, ``date_to``: whole days)."""
    start, end = data.get("date_from"), data.get("date_to")
    return filter_events(actor, who=data.get("who") or "", patient_id=data.get("patient"),
                         action=data.get("action") or "",
                         since=day_start(start) if start else None,
                         until=day_start(end + dt.timedelta(days=1)) if end else None)


def filters_detail(data: dict[str, Any]) -> dict[str, str]:
    """The filters as recorded in the ``audit.search`` / ``audit.export`` row."""
    return {k: str(v) for k, v in data.items() if v not in (None, "")}


def head() -> tuple[int, str] | None:
    """The newest event's sequence number and hash, or None for an empty log."""
    row = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    return (row[0], row[1]) if row else None


def export_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells starting with these as formulas (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(qs: QuerySet[AuditEvent]) -> Iterator[list[str]]:
    """The header and one row per event, streamed in chunks."""
    yield EXPORT_COLUMNS
    tz = timezone.get_current_timezone()
    for e in qs.iterator(chunk_size=2000):
        values = {c: getattr(e, c) for c in EXPORT_COLUMNS}
        values["at"] = e.at.astimezone(tz).isoformat(timespec="seconds")
        values["detail"] = json.dumps(e.detail, ensure_ascii=False, sort_keys=True)
        yield [export_cell(values[c]) for c in EXPORT_COLUMNS]


class Echo:
    """A file-like object that hands back what is written: csv.writer into a streaming response."""

    def write(self, value: str) -> str:
        return value
