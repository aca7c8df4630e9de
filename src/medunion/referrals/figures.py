"""Referral figures for coordinators and health-commission viewers: counts up, down and across,
acceptance times, the share of loops closed, and the share kept within the county — by
consortium, organisation (the referring one) or month. No patient data.

- ``accepted``: referrals that were accepted (whatever happened next);
- ``median_acceptance_hours``: from sending to acceptance, over the accepted ones;
- ``closed_share``: of the accepted referrals not cancelled, the share whose loop is closed;
- ``within_county_share``: of all referrals, the share whose receiving organisation is in the same
  county as the referring one (县域内就诊: treated close to home).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, figure_scope
from medunion.core.errors import ValidationFailed

from .models import Referral
from .states import State

GROUPS = ("month", "organisation", "consortium")
COLUMNS = ("consortium_id", "consortium__name", "sender_organisation_id", "sender_organisation__name",
           "sender_organisation__region_id", "target_organisation__region_id", "direction", "state", "created_at",
           "accepted_at")


def _county(code: str | None) -> str:
    return (code or "")[:6]


def scope(actor: Actor, consortium_id: Any = None) -> list[Any]:
    """The consortia the actor may see figures of (404 for anyone else)."""
    return figure_scope(actor, Action.VIEW_REFERRAL_FIGURES, consortium_id)


def referral_figures(actor: Actor, *, by: str = "month", consortium_id: Any = None, organisation_id: Any = None,
                     since: dt.date | None = None, until: dt.date | None = None) -> dict[str, Any]:
    if by not in GROUPS:
        raise ValidationFailed(_("Group by month, organisation or consortium."), field="by")
    if since and until and since > until:
        raise ValidationFailed(_("The start date is after the end date."), field="since")
    ids = scope(actor, consortium_id)
    qs = Referral.objects.filter(consortium_id__in=ids)
    if organisation_id:
        org = parse_uuid(organisation_id)
        from django.db.models import Q

        qs = qs.filter(Q(sender_organisation_id=org) | Q(target_organisation_id=org))
    zone = timezone.get_current_timezone()
    if since:
        qs = qs.filter(created_at__gte=dt.datetime.combine(since, dt.time.min, zone))
    if until:
        qs = qs.filter(created_at__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, zone))
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    everything: list[tuple[Any, ...]] = []
    for row in qs.values_list(*COLUMNS).iterator(chunk_size=5000):
        (cid, cname, oid, oname, *_rest) = row
        created = row[8]
        if by == "month":
            key = (timezone.localtime(created, zone).strftime("%Y-%m"), timezone.localtime(created, zone)
                   .strftime("%Y-%m"))
        elif by == "organisation":
            key = (str(oid), oname)
        else:
            key = (str(cid), cname)
        groups[key].append(row)
        everything.append(row)
    rows = [{"key": k, "label": label, **_summary(v)} for (k, label), v in groups.items()]
    rows.sort(key=lambda r: r["key"], reverse=by == "month")
    if by != "month":
        rows.sort(key=lambda r: -(r["up"] + r["down"] + r["across"]))
    return {"by": by, "rows": rows, "totals": _summary(everything)}


def _summary(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    counts = {"up": 0, "down": 0, "across": 0}
    hours: list[float] = []
    accepted = closed = within = loops = 0
    for (_cid, _cn, _oid, _on, s_region, t_region, direction, state, created, accepted_at) in rows:
        counts[direction] = counts.get(direction, 0) + 1
        if _county(s_region) and _county(s_region) == _county(t_region):
            within += 1
        if accepted_at is not None:
            accepted += 1
            hours.append((accepted_at - created).total_seconds() / 3600)
            loops += state != State.CANCELLED
            closed += state == State.COMPLETED
    total = len(rows)
    return {**counts, "total": total, "accepted": accepted,
            "median_acceptance_hours": round(statistics.median(hours), 1) if hours else None,
            "closed_share": round(closed / loops, 3) if loops else None,
            "within_county_share": round(within / total, 3) if total else None}
