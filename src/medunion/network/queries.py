"""Read-side helpers of the network: privileges derived from credentials, directory lookups."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from medunion.core import clock

from .codes import PRIVILEGE_REQUIREMENTS, TIER_RANK, Privilege
from .models import ExamResult, Licence, Organisation, Training

MISSING_HELP = {
    "training": _("Complete the consortium's tiered-referral training (ask your coordinator for the next course)."),
    "exam": _("Pass the consortium's tiered-referral exam after the training."),
    "licence": _("Hold a valid practising licence; ask your coordinator to record or renew it."),
}


@dataclass
class PrivilegeStatus:
    privilege: str
    consortium_id: uuid.UUID
    granted: bool
    missing: list[str] = field(default_factory=list)

    def explain(self) -> list[str]:
        return [str(MISSING_HELP[m]) for m in self.missing]


def _valid(on: dt.date) -> Q:
    return Q(valid_until__isnull=True) | Q(valid_until__gte=on)


def privilege_status(practitioner_id: uuid.UUID | None, consortium_id: uuid.UUID, privilege: str,
                     on: dt.date | None = None) -> PrivilegeStatus:
    """A privilege is derived, never stored: it lapses the day any credential behind it lapses."""
    on = on or clock.today()
    status = PrivilegeStatus(privilege, consortium_id, False)
    if practitioner_id is None:
        status.missing = ["training", "exam", "licence"]
        return status
    course = PRIVILEGE_REQUIREMENTS[Privilege(privilege)]
    if not Training.objects.filter(_valid(on), practitioner_id=practitioner_id, consortium_id=consortium_id,
                                   course=course, completed_on__lte=on).exists():
        status.missing.append("training")
    exams = ExamResult.objects.filter(_valid(on), practitioner_id=practitioner_id, consortium_id=consortium_id,
                                      course=course, taken_on__lte=on)
    if not any(e.passed for e in exams):
        status.missing.append("exam")
    if not Licence.objects.filter(_valid(on), Q(revoked_on__isnull=True) | Q(revoked_on__gt=on),
                                  practitioner_id=practitioner_id, valid_from__lte=on).exists():
        status.missing.append("licence")
    status.granted = not status.missing
    return status


def tier_rank(org: Organisation) -> int:
    return TIER_RANK.get(org.tier, 0)  # type: ignore[call-overload]
