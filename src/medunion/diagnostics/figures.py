"""Turnaround figures of remote diagnosis for coordinators and health-commission viewers: from
sending for reading to the signature, by hub, modality and urgency; the critical findings and how
fast they were acknowledged; the avoided repeat examinations. No patient data.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.policy import Action, figure_scope
from medunion.core import clock
from medunion.core.errors import ValidationFailed

from .models import CriticalFinding, Decision, Examination, Recognition
from .states import State


def scope(actor: Actor, consortium_id: Any = None) -> list[Any]:
    """The consortia the actor may see figures of (404 for anyone else)."""
    return figure_scope(actor, Action.VIEW_DIAGNOSTIC_FIGURES, consortium_id)


def _minutes(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds() / 60.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"signed": 0, "median_minutes": None, "p90_minutes": None}
    return {"signed": len(values), "median_minutes": round(statistics.median(values), 1),
            "p90_minutes": round(_percentile(values, 0.9), 1)}


def turnaround(actor: Actor, *, consortium_id: Any = None, since: dt.date | None = None,
               until: dt.date | None = None) -> dict[str, Any]:
    """Rows per (hub, modality, urgency): examinations sent, signed, waiting, median and 90th
    percentile minutes from sending to signature; plus totals, critical findings and repeats."""
    if since and until and since > until:
        raise ValidationFailed(_("The start date is after the end date."), field="since")
    ids = scope(actor, consortium_id)
    zone = timezone.get_current_timezone()
    until = until or timezone.localdate(clock.now(), zone)
    since = since or (until - dt.timedelta(days=90))
    start = dt.datetime.combine(since, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    rows = (Examination.objects.filter(consortium_id__in=ids, submitted_at__gte=start, submitted_at__lt=end)
            .values_list("hub_id", "hub__name", "modality", "urgency", "state", "submitted_at", "signed_at"))
    groups: dict[tuple[Any, str, str], dict[str, Any]] = {}
    durations: dict[tuple[Any, str, str], list[float]] = defaultdict(list)
    overall: list[float] = []
    for hub_id, hub_name, modality, urgency, state, submitted, signed in rows.iterator():
        key = (hub_id, modality, urgency)
        g = groups.setdefault(key, {"hub_id": str(hub_id), "hub": hub_name, "modality": modality,
                                    "urgency": urgency, "sent": 0, "waiting": 0})
        g["sent"] += 1
        if state == State.REPORTED and signed and submitted:
            minutes = _minutes(submitted, signed)
            durations[key].append(minutes)
            overall.append(minutes)
        elif state in (State.AWAITING, State.IN_READING):
            g["waiting"] += 1
    rank = {"emergency": 0, "urgent": 1, "routine": 2}
    out_rows = [{**g, **_stats(durations[k])} for k, g in
                sorted(groups.items(), key=lambda kv: (kv[1]["hub"], kv[1]["modality"], rank.get(kv[1]["urgency"], 3)))]
    critical = list(CriticalFinding.objects.filter(examination__consortium_id__in=ids, created_at__gte=start,
                                                   created_at__lt=end)
                    .values_list("created_at", "acknowledged_at", "escalated_at"))
    acked = [_minutes(c, a) for c, a, _e in critical if a]
    recognitions = dict.fromkeys(Decision.values, 0)
    for decision in Recognition.objects.filter(consortium_id__in=ids, created_at__gte=start,
                                               created_at__lt=end).values_list("decision", flat=True):
        recognitions[decision] += 1
    return {
        "since": since.isoformat(), "until": until.isoformat(), "consortia": [str(i) for i in ids],
        "rows": out_rows,
        "total": {"sent": sum(g["sent"] for g in groups.values()),
                  "waiting": sum(g["waiting"] for g in groups.values()), **_stats(overall)},
        "critical": {"raised": len(critical), "acknowledged": len(acked),
                     "escalated": sum(1 for _c, _a, e in critical if e),
                     "median_ack_minutes": round(statistics.median(acked), 1) if acked else None},
        "repeats": {"avoided": recognitions[Decision.REUSED], "repeated": recognitions[Decision.REPEATED]},
    }
