"""Who can answer a case, seen from the specialists' side, and whose accounts to notify.

The actor's side of the same rule (may *I* claim this pool case?) is
``medunion.access.policy.consult_pool_scope``; tests check the two agree. An eligible specialist
is an active practitioner with the case's specialty who practises (active site) at an active
organisation of the case's consortium whose tier rank (network.codes.TIER_RANK) is higher than
the asker organisation's; never the asker; never one who declined the case.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from medunion.network.codes import TIER_RANK, Specialty, TeamRole
from medunion.network.models import PracticeSite, Practitioner, TeamMember

from .models import Consult, ConsultDecline


def tiers_above(rank: int) -> list[str]:
    return sorted(str(t) for t, r in TIER_RANK.items() if r > rank)


def _sites(consortium_id: uuid.UUID) -> QuerySet[Any]:
    return PracticeSite.objects.filter(active=True, organisation__active=True,
                                       organisation__memberships__consortium_id=consortium_id)


def eligible_specialists(*, consortium_id: uuid.UUID, specialty: str, asker_rank: int,
                         exclude: Iterable[uuid.UUID] = ()) -> QuerySet[Any]:
    sites = _sites(consortium_id).filter(organisation__tier__in=tiers_above(asker_rank))
    return (Practitioner.objects.filter(active=True, specialties__specialty=specialty,
                                        pk__in=sites.values("practitioner_id"))
            .exclude(pk__in=list(exclude)).distinct())


def eligible_for(consult: Consult) -> QuerySet[Any]:
    """The specialists who may take this case from the pool now."""
    declined = ConsultDecline.objects.filter(consult_id=consult.pk).values_list("practitioner_id", flat=True)
    return eligible_specialists(consortium_id=consult.consortium_id, specialty=consult.specialty,
                                asker_rank=consult.asker_tier_rank, exclude=[consult.asker_id, *declined])


def why_not_eligible(practitioner: Practitioner, *, consortium_id: uuid.UUID, specialty: str,
                     asker_rank: int, asker_id: uuid.UUID | None) -> str | None:
    """None when this specialist may answer; otherwise what to tell the asker."""
    if practitioner.pk == asker_id:
        return str(_("You cannot send a case to yourself."))
    sites = list(_sites(consortium_id).filter(practitioner=practitioner).values_list("organisation__tier", flat=True))
    if not practitioner.active or not sites:
        return str(_("This specialist is not in the consortium."))
    if not practitioner.specialties.filter(specialty=specialty).exists():
        label = Specialty(specialty).label if specialty in Specialty.values else specialty
        return str(_("This specialist does not practise %(specialty)s.") % {"specialty": label})
    if max(TIER_RANK.get(t, 0) for t in sites) <= asker_rank:  # type: ignore[call-overload]
        return str(_("This specialist does not work at a higher level of care than your organisation."))
    return None


def fanout_limit() -> int:
    return int(getattr(settings, "MEDUNION_NOTIFY_FANOUT", 200))


def user_ids_of(practitioner_ids: Iterable[Any]) -> list[uuid.UUID]:
    from medunion.accounts.models import User

    ids = [p for p in practitioner_ids if p is not None]
    if not ids:
        return []
    return list(User.objects.filter(practitioner_id__in=ids, is_active=True, role="practitioner")
                .values_list("pk", flat=True))


def pool_recipients(consult: Consult) -> list[uuid.UUID]:
    """Accounts of the eligible specialists, at most MEDUNION_NOTIFY_FANOUT (200) of them: a
    new case in a large pool is announced to the first ones, the rest find it in their queue."""
    from medunion.accounts.models import User

    return list(User.objects.filter(practitioner__in=eligible_for(consult).values("pk"), is_active=True,
                                    role="practitioner")
                .order_by("pk").values_list("pk", flat=True)[:fanout_limit()])


def team_recipients(team_id: uuid.UUID, *, leads_only: bool = False,
                    exclude: Iterable[Any] = ()) -> list[uuid.UUID]:
    members = TeamMember.objects.filter(team_id=team_id, team__active=True)
    if leads_only:
        members = members.filter(role=TeamRole.LEAD)
    ids = members.exclude(practitioner_id__in=[e for e in exclude if e]) \
        .values_list("practitioner_id", flat=True)[:fanout_limit()]
    return user_ids_of(ids)


def specialty_lead_recipients(consult: Consult) -> list[uuid.UUID]:
    """Leads of the consortium's active teams of the case's specialty."""
    ids = TeamMember.objects.filter(role=TeamRole.LEAD, team__active=True, team__consortium_id=consult.consortium_id,
                                    team__specialty=consult.specialty).values_list("practitioner_id", flat=True)
    return user_ids_of(list(ids[:fanout_limit()]))


def coordinator_recipients(consortium_id: uuid.UUID) -> list[uuid.UUID]:
    from medunion.accounts.models import User

    return list(User.objects.filter(coordinates__consortium_id=consortium_id, is_active=True, role="coordinator")
                .values_list("pk", flat=True))


def patient_user_ids(patient_id: uuid.UUID | None) -> list[uuid.UUID]:
    from medunion.accounts.models import User

    if patient_id is None:
        return []
    return list(User.objects.filter(patient_id=patient_id, is_active=True, role="patient")
                .values_list("pk", flat=True))
