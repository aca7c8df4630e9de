"""Read side of referrals: the lists (each page of a list is audited in one batch), the referral
page (timeline selected by an audience allowlist), the patient's own referrals, the live-referral
check, destinations with live green-channel availability, and follow-up task lists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can, require, visible_organisations
from medunion.access.referrals import referral_roles, visible_referrals
from medunion.audit.actions import Entry, record, record_many
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import NotFound
from medunion.core.planner import joins_as_written, narrowed
from medunion.network.codes import TIER_RANK
from medunion.network.models import ConsortiumMembership, Department, Organisation

from . import capacity
from .machine import RELATED, load_referral
from .models import Audience, Direction, FollowUpTask, Referral, ReferralAttachment, ReferralEntry, TaskState
from .states import ACTS, OPEN_STATES, Role, State, events_for, may_act

PAGE_SIZE = int(getattr(settings, "MEDUNION_PAGE_SIZE", 50))
PATIENT_AUDIENCES: tuple[str, ...] = (Audience.PATIENT,)
CLINICIAN_AUDIENCES: tuple[str, ...] = (Audience.CLINICIANS, Audience.PATIENT)

LISTS = ("incoming", "accepted", "sent", "closed")


def _clinician(actor: Actor) -> bool:
    return actor.is_practitioner and actor.practitioner_id is not None


def listing(actor: Actor, name: str, *, direction: str = "", state: str = "") -> QuerySet[Any]:
    """A clinician's lists:

    - ``incoming``: waiting for an answer at my organisations (or from me by name), oldest first;
    - ``accepted``: accepted or arrived at my organisations, by appointment;
    - ``sent``: what I referred that is still open;
    - ``closed``: declined, completed and cancelled referrals I sent or received.
    """
    if not _clinician(actor):
        return Referral.objects.none()
    me = actor.practitioner_id
    mine_in = Q(target_organisation_id__in=list(actor.org_ids)) | Q(target_practitioner_id=me)
    order: tuple[str, ...]
    if name == "incoming":
        where, order = mine_in & Q(state=State.REQUESTED), ("-green_channel", "escalate_at", "id")
    elif name == "accepted":
        where = ((mine_in | Q(receiver_id=me))
                 & Q(state__in=[State.ACCEPTED, State.ARRIVED, State.OUTCOME_RETURNED]))
        order = ("appointment_at", "id")
    elif name == "sent":
        where, order = Q(sender_id=me, state__in=list(OPEN_STATES)), ("-created_at", "-id")
    elif name == "closed":
        where = ((Q(sender_id=me) | Q(receiver_id=me) | mine_in)
                 & Q(state__in=[State.DECLINED, State.COMPLETED, State.CANCELLED]))
        order = ("-created_at", "-id")
    else:
        raise NotFound()
    if direction in Direction.values:
        where &= Q(direction=direction)
    if state in State.values:
        where &= Q(state=state)
    visible = narrowed(visible_referrals(actor), where).select_related(*RELATED)
    return joins_as_written(visible).order_by(*order)


def list_page(actor: Actor, qs: QuerySet[Any], *, name: str, limit: int = PAGE_SIZE, offset: int = 0) -> list[Referral]:
    """Cut a page and record it (``record_listed``)."""
    limit = max(1, min(limit, 200))
    return record_listed(actor, list(qs[max(0, offset):max(0, offset) + limit]), name=name)


def record_listed(actor: Actor, rows: list[Referral], *, name: str) -> list[Referral]:
    """One audit row per referral shown, written in one batch."""
    record_many(actor, [Entry(action="referral.list", verb=Verb.READ, object_type="referrals.referral",
                              object_id=str(r.pk), patient_id=r.patient_id, detail={"list": name}) for r in rows])
    return rows


def counts(actor: Actor) -> dict[str, int]:
    """How many referrals wait in the incoming and accepted lists (for the tabs), and my open
    follow-up tasks: three COUNTs."""
    if not _clinician(actor):
        return {}
    return {"incoming": listing(actor, "incoming").count(), "accepted": listing(actor, "accepted").count(),
            "tasks": my_tasks(actor).count()}


def access_referral(actor: Actor, referral_id: Any, *, audit: bool = True) -> Referral:
    """Load and authorise one referral (404 unless visible), with its one audit row."""
    referral = load_referral(actor, referral_id)
    if audit:
        record(actor, "referral.view", Verb.READ, obj=referral, patient_id=referral.patient_id)
    return referral


def access_by_code(actor: Actor, code: str) -> Referral:
    """The referral of a slip's check-in code (404 unless the actor may see it), audited."""
    from .actions_loop import find_by_code

    referral = find_by_code(actor, code)
    record(actor, "referral.view", Verb.READ, obj=referral, patient_id=referral.patient_id,
           detail={"via": "check-in code"})
    return referral


# --- the referral page ---------------------------------------------------------------------

def audiences_for(roles: frozenset[str]) -> tuple[str, ...]:
    """The allowlist: a patient reads patient-audience entries only; clinicians both."""
    return PATIENT_AUDIENCES if Role.PATIENT in roles else CLINICIAN_AUDIENCES


@dataclass
class ReferralView:
    referral: Referral
    roles: frozenset[str]
    audiences: tuple[str, ...]
    entries: list[ReferralEntry]
    attachments: list[ReferralAttachment] = field(default_factory=list)  # the referral's own (clinicians)
    tasks: list[FollowUpTask] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    acts: list[str] = field(default_factory=list)
    children: list[Referral] = field(default_factory=list)

    @property
    def is_patient(self) -> bool:
        return Role.PATIENT in self.roles


def entries(referral: Referral, audiences: tuple[str, ...], *, after: int = 0) -> list[ReferralEntry]:
    return list(ReferralEntry.objects.filter(referral_id=referral.pk, audience__in=audiences, seq__gt=after)
                .prefetch_related(Prefetch("attachments", queryset=ReferralAttachment.objects.filter(
                    audience__in=audiences).select_related("file"))).order_by("seq"))


def events_now(referral: Referral, roles: frozenset[str]) -> list[str]:
    """The steps these roles may take on the referral now: the table's, less the undo of a close
    a clinician made (only the platform's own automatic close can be undone)."""
    events = [str(e) for e in events_for(referral.state, roles)]
    if "reopen" in events and not referral.closed_automatically:
        events.remove("reopen")
    return events


def referral_view(actor: Actor, referral: Referral) -> ReferralView:
    """Everything the actor may see of a referral loaded with ``access_referral``; a fixed
    number of queries whatever its size."""
    roles = referral_roles(actor, referral)
    audiences = audiences_for(roles)
    events = events_now(referral, roles)
    view = ReferralView(referral=referral, roles=roles, audiences=audiences, entries=entries(referral, audiences),
                        events=events, acts=[str(a) for a in ACTS if may_act(a, referral.state, roles)])
    view.tasks = list(FollowUpTask.objects.filter(referral=referral).select_related(
        "assignee", "completed_by", "patient", "organisation"))
    if Role.PATIENT not in roles:
        view.attachments = list(ReferralAttachment.objects.filter(referral=referral, entry__isnull=True)
                                .select_related("file"))
        view.children = list(Referral.objects.filter(parent=referral).select_related("target_organisation"))
    return view


def patient_referrals(actor: Actor, *, limit: int = PAGE_SIZE) -> list[Referral]:
    """A patient's own referrals, newest first; one query and one audit row."""
    if not actor.is_patient:
        return []
    rows = list(joins_as_written(Referral.objects.filter(patient_id=actor.patient_id)  # type: ignore[misc]
                                      .select_related(*RELATED)).order_by("-created_at", "-id")[:limit])
    if rows:
        record(actor, "referral.list", Verb.READ, object_type="referrals.referral", patient_id=actor.patient_id,
               detail={"list": "mine", "count": len(rows)})
    return rows


def visible_attachment(actor: Actor, referral_id: Any, file_id: Any) -> Any:
    """A file of a referral the actor may see, in an audience they may read (else 404)."""
    referral = load_referral(actor, referral_id)
    audiences = audiences_for(referral_roles(actor, referral))
    att = ReferralAttachment.objects.filter(referral=referral, file_id=parse_uuid(file_id),
                                            audience__in=audiences).select_related("file").first()
    if att is None:
        raise NotFound()
    record(actor, "referral.file.read", Verb.READ, obj=att.file, patient_id=referral.patient_id,
           detail={"referral": str(referral.pk)})
    return att.file


# --- sending: destinations and the live referral ---------------------------------------------

@dataclass
class Destination:
    organisation: Organisation
    departments: list[Department]
    availability: dict[Any, capacity.Availability]


def destinations(actor: Actor, *, direction: str, consortium_id: Any = None, specialty: str = "",
                 q: str = "", limit: int = 50) -> list[Destination]:
    """Organisations of the actor's consortia a referral in ``direction`` may go to from any of
    their organisations, with their departments (of ``specialty`` if given) and live
    green-channel availability. Four queries."""
    if not _clinician(actor) or direction not in Direction.values:
        return []
    consortia = [c for c in actor.consortium_ids if consortium_id in (None, "", c, str(c))]
    mine = list(Organisation.objects.filter(pk__in=list(actor.org_ids)).values_list("tier", flat=True))
    ranks = [TIER_RANK.get(t, 0) for t in mine]  # type: ignore[call-overload]
    if not ranks:
        return []
    orgs = visible_organisations(actor).filter(
        active=True, pk__in=ConsortiumMembership.objects.filter(consortium_id__in=consortia).values("organisation_id")
    ).exclude(pk__in=list(actor.org_ids))
    if q:
        orgs = orgs.filter(Q(name__icontains=q) | Q(name_en__icontains=q) | Q(code__iexact=q))
    wanted = [t for t, r in TIER_RANK.items() if (
        (direction == Direction.UP and r > min(ranks)) or (direction == Direction.DOWN and r < max(ranks))
        or (direction == Direction.ACROSS and r in ranks))]
    if direction == Direction.DOWN:
        from .actions import DOWN_TIERS

        wanted = [t for t in wanted if t in DOWN_TIERS]
    rows = list(orgs.filter(tier__in=wanted).order_by("-tier", "name")[:limit])
    depts = Department.objects.filter(organisation__in=rows).order_by("organisation_id", "name")
    if specialty:
        depts = depts.filter(specialty=specialty)
    by_org: dict[Any, list[Department]] = {}
    for d in depts:
        by_org.setdefault(d.organisation_id, []).append(d)
    avail = capacity.availability([d.pk for ds in by_org.values() for d in ds])
    out = [Destination(o, by_org.get(o.pk, []), avail) for o in rows]
    if specialty:
        out.sort(key=lambda d: not d.departments)
    return out


def redirect_destinations(referral: Referral, limit: int = 100) -> list[Destination]:
    """Where the receiving side may send a referral on: the consortium's organisations that fit
    its direction from the referring organisation, with departments and availability."""
    from .actions import DOWN_TIERS

    sender = referral.sender_organisation
    rank = TIER_RANK.get(sender.tier, 0)  # type: ignore[call-overload]
    orgs = Organisation.objects.filter(active=True, memberships__consortium_id=referral.consortium_id) \
        .exclude(pk=sender.pk).order_by("name")
    if referral.direction == Direction.UP:
        tiers = [t for t, r in TIER_RANK.items() if r > rank]
    elif referral.direction == Direction.DOWN:
        tiers = [t for t, r in TIER_RANK.items() if r < rank and t in DOWN_TIERS]
    else:
        tiers = [t for t, r in TIER_RANK.items() if r == rank]
    rows = list(orgs.filter(tier__in=tiers)[:limit])
    by_org: dict[Any, list[Department]] = {}
    for d in Department.objects.filter(organisation__in=rows).order_by("name"):
        by_org.setdefault(d.organisation_id, []).append(d)
    avail = capacity.availability([d.pk for ds in by_org.values() for d in ds])
    return [Destination(o, by_org.get(o.pk, []), avail) for o in rows]


def access_slip(actor: Actor, referral_id: Any) -> Referral:
    """A referral whose slip may be printed now (accepted, not yet arrived), audited; else 404."""
    referral = load_referral(actor, referral_id)
    if not referral.checkin_code or referral.state not in (State.ACCEPTED, State.ARRIVED):
        raise NotFound()
    record(actor, "referral.slip", Verb.READ, obj=referral, patient_id=referral.patient_id)
    return referral


def live_for(actor: Actor, patient_id: Any, direction: str) -> Referral | None:
    """The patient's live referral in this direction, if the actor may see it (the refer form
    shows it first, with a link to track it)."""
    from .actions import live_referral

    live = live_referral(patient_id, direction)
    if live is None or not can(actor, Action.VIEW_REFERRAL, live):
        return None
    return live


# --- follow-up tasks -------------------------------------------------------------------------

def my_tasks(actor: Actor, *, include_done: bool = False) -> QuerySet[Any]:
    """Follow-up tasks assigned to me, or to nobody yet at my organisations, by due date."""
    if not _clinician(actor):
        return FollowUpTask.objects.none()
    q = Q(assignee_id=actor.practitioner_id) | Q(assignee__isnull=True, organisation_id__in=list(actor.org_ids))
    qs = FollowUpTask.objects.filter(q).exclude(referral__state__in=[State.DECLINED, State.CANCELLED])
    if not include_done:
        qs = qs.filter(state=TaskState.SCHEDULED)
    return qs.select_related("referral", "patient", "referral__sender", "referral__sender_organisation") \
        .order_by("due_on", "position", "id")


def access_task(actor: Actor, task_id: Any) -> FollowUpTask:
    """A follow-up task the actor may record (404 otherwise); no audit row: recording it writes one."""
    from .actions_loop import load_task

    return load_task(actor, task_id)


def task_page(actor: Actor, qs: QuerySet[Any], *, limit: int = PAGE_SIZE) -> list[FollowUpTask]:
    rows = list(qs[:max(1, min(limit, 200))])
    record_many(actor, [Entry(action="referral.follow_up.list", verb=Verb.READ, object_type="referrals.followuptask",
                              object_id=str(t.pk), patient_id=t.patient_id) for t in rows])
    return rows


def is_overdue(referral: Referral, now: dt.datetime | None = None) -> bool:
    now = now or clock.now()
    return referral.state == State.REQUESTED and referral.escalate_at is not None and referral.escalate_at <= now


def outcome_missing(referral: Referral) -> bool:
    return referral.outcome_flagged_at is not None and referral.state in (State.ACCEPTED, State.ARRIVED)



def department_of(actor: Actor, department_id: Any) -> Department:
    """A department of an organisation the actor may see (for the availability fragment)."""
    dept = Department.objects.select_related("organisation").filter(pk=parse_uuid(department_id)).first()
    if dept is None or not visible_organisations(actor).filter(pk=dept.organisation_id).exists():
        raise NotFound()
    require(actor, Action.VIEW_NETWORK, visible=False)
    return dept

