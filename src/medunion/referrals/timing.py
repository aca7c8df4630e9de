"""A consortium's referral clock: how long the receiving side has to answer (per urgency), how
long after arrival the outcome is expected, and how many days after the last appointment a loop
whose outcome came back is closed by itself. Coordinators set it; defaults apply without a row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, require
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import NotFound, ValidationFailed

from .models import ReferralPolicy, Urgency

DEFAULTS: dict[str, int] = {"emergency_hours": 1, "urgent_hours": 4, "routine_hours": 48, "outcome_days": 30,
                            "close_after_days": 14}
LIMITS: dict[str, tuple[int, int]] = {"emergency_hours": (1, 72), "urgent_hours": (1, 168),
                                      "routine_hours": (1, 720), "outcome_days": (1, 365),
                                      "close_after_days": (1, 365)}


@dataclass(frozen=True)
class Clock:
    emergency_hours: int
    urgent_hours: int
    routine_hours: int
    outcome_days: int
    close_after_days: int

    def answer_within(self, urgency: str) -> dt.timedelta:
        hours = {Urgency.EMERGENCY: self.emergency_hours, Urgency.URGENT: self.urgent_hours}.get(
            urgency, self.routine_hours)  # type: ignore[call-overload]
        return dt.timedelta(hours=hours)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in DEFAULTS}


def clock_for(consortium_id: Any) -> Clock:
    row = ReferralPolicy.objects.filter(consortium_id=consortium_id).values(*DEFAULTS).first()
    return Clock(**(row or DEFAULTS))


def set_referral_clock(*, acting: Actor, consortium_id: Any, values: dict[str, Any]) -> Clock:
    """A coordinator of the consortium sets its clock (all five numbers, in range)."""
    from medunion.network.models import Consortium

    consortium = Consortium.objects.filter(pk=parse_uuid(consortium_id)).first()
    if consortium is None:
        raise NotFound()
    require(acting, Action.MANAGE_NETWORK, consortium, visible=acting.is_coordinator and
            consortium.pk in acting.coordinated_ids)
    errors: dict[str, list[str]] = {}
    clean: dict[str, int] = {}
    for key, (low, high) in LIMITS.items():
        value = values.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[key] = [str(_("Enter a whole number from %(low)d to %(high)d.") % {"low": low, "high": high})]
        else:
            clean[key] = value
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        ReferralPolicy.objects.update_or_create(consortium=consortium,
                                                defaults={**clean, "updated_at": clock.now()})
        record(acting, "referral.clock.update", Verb.UPDATE, obj=consortium, detail=clean)
    return Clock(**clean)
