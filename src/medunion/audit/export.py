"""Exporting and verifying the log, the same for the page and the API: each is itself recorded
in the log it reads (purpose ``audit``)."""

from __future__ import annotations

import csv
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from medunion.access.actor import Actor
from medunion.access.policy import Action, require
from medunion.core import clock

from .actions import record
from .models import AuditEvent, Outcome, Verb
from .queries import Echo, csv_rows
from .verify import VerifyResult, verify_chain


def csv_download(acting: Actor, events: QuerySet[AuditEvent], filters: dict[str, Any]) -> StreamingHttpResponse:
    """The events, oldest first, as a streamed CSV attachment (audit administrator)."""
    require(acting, Action.EXPORT_AUDIT, visible=False)
    events = events.order_by("seq")
    record(acting, "audit.export", Verb.EXPORT, object_type="audit.auditevent", purpose="audit",
           detail={"filters": filters, "rows": events.count(), "format": "csv"})
    writer = csv.writer(Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in csv_rows(events)),
                                     content_type="text/csv; charset=utf-8")
    stamp = clock.now().astimezone(timezone.get_current_timezone()).strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="medunion-audit-{stamp}.csv"'
    return response


def verify_recorded(acting: Actor) -> VerifyResult:
    """Verify the whole chain and record who did and what came out."""
    require(acting, Action.EXPORT_AUDIT, visible=False)
    result = verify_chain()
    record(acting, "audit.verify", Verb.EXECUTE, object_type="audit.auditevent", purpose="audit",
           outcome=Outcome.SUCCESS if result.ok else Outcome.FAILURE,
           detail={"ok": result.ok, "checked": result.checked, "broken_seq": result.broken_seq})
    return result
