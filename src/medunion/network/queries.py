"""Read-side helpers of the network: privileges derived from credentials, directory lookups."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.policy import (
    Action,
    can,
    region_prefix,
    visible_consortia,
    visible_organisations,
    visible_practitioners,
    visible_teams,
)
from medunion.core import clock

from .codes import PRIVILEGE_REQUIREMENTS, TIER_RANK, Privilege, TeamRole
from .models import Consortium, ExamResult, Licence, Organisation, PracticeSite, Region, TeamMember, Training

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


def _credentials(consortium_id: uuid.UUID, privilege: str, on: dt.date) -> dict[str, QuerySet[Any]]:
    """What stands behind a privilege on a day: valid training and a passed exam of its course in
    the consortium, and a valid, unrevoked licence — as querysets over every practitioner."""
    course = PRIVILEGE_REQUIREMENTS[Privilege(privilege)]
    return {
        "training": Training.objects.filter(_valid(on), consortium_id=consortium_id, course=course,
                                            completed_on__lte=on),
        "exam": ExamResult.objects.filter(_valid(on), consortium_id=consortium_id, course=course, taken_on__lte=on,
                                          score__gte=F("pass_mark")),
        "licence": Licence.objects.filter(_valid(on), Q(revoked_on__isnull=True) | Q(revoked_on__gt=on),
                                          valid_from__lte=on),
    }


def privilege_status(practitioner_id: uuid.UUID | None, consortium_id: uuid.UUID, privilege: str,
                     on: dt.date | None = None) -> PrivilegeStatus:
    """A privilege is derived, never stored: it lapses the day any credential behind it lapses."""
    status = PrivilegeStatus(privilege, consortium_id, False)
    if practitioner_id is None:
        status.missing = ["training", "exam", "licence"]
        return status
    for name, rows in _credentials(consortium_id, privilege, on or clock.today()).items():
        if not rows.filter(practitioner_id=practitioner_id).exists():
            status.missing.append(name)
    status.granted = not status.missing
    return status


def privileged_among(practitioner_ids: list[uuid.UUID], consortium_id: uuid.UUID, privilege: str,
                     on: dt.date | None = None) -> set[uuid.UUID]:
    """Which of these practitioners hold the privilege: three queries however many they are."""
    held = set(practitioner_ids)
    for rows in _credentials(consortium_id, privilege, on or clock.today()).values():
        if not held:
            break
        held &= set(rows.filter(practitioner_id__in=sorted(held)).values_list("practitioner_id", flat=True))
    return held


def tier_rank(org: Organisation) -> int:
    return TIER_RANK.get(org.tier, 0)  # type: ignore[call-overload]


# --- the directory: scoped searches shared by the API (and available to pages) -------------
# Every function takes the actor and starts from the policy's visible_* querysets, so nothing
# here widens what anyone may see.

CREDENTIAL_LABELS = {
    "training": _("training"),
    "exam": _("passed exam"),
    "licence": _("valid practising licence"),
}


def with_practitioner_counts(qs: QuerySet[Any]) -> QuerySet[Any]:
    active = Q(practice_sites__active=True, practice_sites__practitioner__active=True)
    return qs.annotate(n_practitioners=Count("practice_sites", filter=active, distinct=True))


def search_regions(*, parent: str = "", level: int | None = None, q: str = "") -> QuerySet[Any]:
    """Regions are reference data (the statistical division codes), not scoped by consortium."""
    qs = Region.objects.all()
    if parent:
        qs = qs.filter(parent_id=parent)
    if level is not None:
        qs = qs.filter(level=level)
    if q.strip():
        qs = qs.filter(Q(name__icontains=q.strip()) | Q(name_en__icontains=q.strip()) | Q(code__startswith=q.strip()))
    return qs.order_by("code")


def search_consortia(actor: Actor, *, kind: str = "", q: str = "") -> QuerySet[Any]:
    qs = visible_consortia(actor).select_related("lead", "lead__region")
    if kind:
        qs = qs.filter(kind=kind)
    if q.strip():
        qs = qs.filter(Q(name__icontains=q.strip()) | Q(code__icontains=q.strip()))
    return qs.order_by("code")


def search_organisations(actor: Actor, *, consortium_id: uuid.UUID | None = None, tier: str = "", q: str = "",
                         region: str = "") -> QuerySet[Any]:
    qs = visible_organisations(actor)
    if consortium_id:
        qs = qs.filter(memberships__consortium_id=consortium_id)
    if tier:
        qs = qs.filter(tier=tier)
    if region:
        qs = qs.filter(region__code__startswith=region_prefix(region))
    if q.strip():
        text = q.strip()
        qs = qs.filter(Q(name__icontains=text) | Q(name_en__icontains=text) | Q(code__icontains=text))
    return with_practitioner_counts(qs).select_related("region").order_by("code")


def visible_sites(actor: Actor) -> Prefetch:
    """A practitioner's active sites at organisations the actor can see, as ``visible_sites``."""
    sites = (PracticeSite.objects.filter(organisation__in=visible_organisations(actor).values("pk"), active=True)
             .select_related("organisation", "department").order_by("-primary", "organisation__code"))
    return Prefetch("sites", queryset=sites, to_attr="visible_sites")


def search_practitioners(actor: Actor, *, q: str = "", organisation_id: uuid.UUID | None = None,
                         specialty: str = "", title: str = "") -> QuerySet[Any]:
    qs = visible_practitioners(actor)
    if q.strip():
        text = q.strip()
        qs = qs.filter(Q(name__icontains=text) | Q(licence_number__icontains=text))
    if organisation_id:
        qs = qs.filter(sites__organisation_id=organisation_id, sites__active=True)
    if specialty:
        qs = qs.filter(specialties__specialty=specialty)
    if title:
        qs = qs.filter(title=title)
    return qs.order_by("name", "licence_number").prefetch_related("specialties", visible_sites(actor))


def search_teams(actor: Actor, *, consortium_id: uuid.UUID | None = None, kind: str = "",
                 q: str = "") -> QuerySet[Any]:
    leads = TeamMember.objects.filter(role=TeamRole.LEAD).select_related("practitioner").order_by("practitioner__name")
    qs = visible_teams(actor)
    if consortium_id:
        qs = qs.filter(consortium_id=consortium_id)
    if kind:
        qs = qs.filter(kind=kind)
    if q.strip():
        qs = qs.filter(name__icontains=q.strip())
    return (qs.select_related("consortium", "organisation").annotate(n_members=Count("members", distinct=True))
            .prefetch_related(Prefetch("members", queryset=leads, to_attr="leads")).order_by("-active", "name"))


def sees_credentials(actor: Actor, practitioner: Any) -> bool:
    """Training records, exam scores and licences are shown to the practitioner themselves and
    to the coordinators who manage them; other readers of the directory see only whether a
    privilege is granted."""
    return (actor.system or (actor.is_practitioner and actor.practitioner_id == practitioner.pk)
            or can(actor, Action.MANAGE_NETWORK, practitioner))


def practising_consortia(actor: Actor, practitioner: Any) -> list[Consortium]:
    """The consortia (visible to the actor) in which the practitioner has an active site at a
    member organisation: where their privileges apply."""
    return list(visible_consortia(actor).filter(
        memberships__organisation__practice_sites__practitioner=practitioner,
        memberships__organisation__practice_sites__active=True).distinct().order_by("code"))


@dataclass
class PrivilegeRow:
    privilege: str
    label: str
    consortium: Consortium
    granted: bool
    missing: list[dict[str, str]] | None  # None: the actor may not see the credentials behind it


def privileges_of(actor: Actor, practitioner: Any, consortium_id: uuid.UUID | None = None) -> list[PrivilegeRow]:
    detailed = sees_credentials(actor, practitioner)
    rows = []
    for c in practising_consortia(actor, practitioner):
        if consortium_id and c.pk != consortium_id:
            continue
        for privilege in Privilege:
            status = privilege_status(practitioner.pk, c.pk, privilege)
            missing = [{"key": m, "label": str(CREDENTIAL_LABELS[m]), "help": h}
                       for m, h in zip(status.missing, status.explain(), strict=True)] if detailed else None
            rows.append(PrivilegeRow(str(privilege), str(privilege.label), c, status.granted, missing))
    return rows


def practitioner_profile(actor: Actor, practitioner: Any) -> dict[str, Any]:
    """Everything the directory shows about one practitioner the actor can see."""
    p = practitioner
    sites = list(PracticeSite.objects.filter(practitioner=p, active=True,
                                             organisation__in=visible_organisations(actor).values("pk"))
                 .select_related("organisation", "department").order_by("-primary", "organisation__code"))
    teams = list(TeamMember.objects.filter(practitioner=p, team__in=visible_teams(actor).values("pk"))
                 .select_related("team", "team__consortium").order_by("team__name"))
    credentials = None
    if sees_credentials(actor, p):
        consortia = visible_consortia(actor).values("pk")
        credentials = {
            "trainings": list(p.trainings.filter(consortium__in=consortia).select_related("consortium")),
            "exams": list(p.exams.filter(consortium__in=consortia).select_related("consortium")),
            "licences": list(p.licences.all()),
        }
    return {
        "practitioner": p,
        "specialties": [s.specialty for s in p.specialties.all()],
        "sites": sites,
        "teams": teams,
        "credentials": credentials,
        "privileges": privileges_of(actor, p),
    }


def home_regions(org_ids: frozenset[uuid.UUID] | set[uuid.UUID], limit: int = 2000) -> list[Region]:
    """Townships and villages of the counties where these organisations sit: the address choices
    offered when a clinician registers a patient."""
    codes = Organisation.objects.filter(pk__in=list(org_ids)).values_list("region_id", flat=True)
    counties = sorted({code[:6] for code in codes if code})
    if not counties:
        return []
    q = Q()
    for county in counties:
        q |= Q(code__startswith=county)
    return list(Region.objects.filter(q, level__gte=4).order_by("code")[:limit])


def region_names(codes: list[str]) -> dict[str, str]:
    return dict(Region.objects.filter(pk__in=codes).values_list("code", "name"))


def network_figures(actor: Actor) -> dict[str, Any]:
    """What a health-commission viewer sees of the network in their region: counts only."""
    from .codes import Tier

    tiers = dict(visible_organisations(actor).values("tier").annotate(n=Count("pk")).values_list("tier", "n"))
    return {
        "region": Region.objects.filter(pk=actor.region_code).first() if actor.region_code else None,
        "by_tier": [{"label": label, "n": tiers[value]} for value, label in Tier.choices if tiers.get(value)],
        "n_orgs": sum(tiers.values()),
        "n_practitioners": visible_practitioners(actor).filter(active=True).count(),
        "consortia": list(visible_consortia(actor).select_related("lead").order_by("code")),
    }
