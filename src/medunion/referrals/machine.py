"""The machinery under the referral actions: loading, the privilege check, the one function
that applies a transition, the timeline, and notices. Views call ``referrals.actions``, never
this module."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can, require
from medunion.access.referrals import ReferralStep
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medunion.core.planner import joins_as_written

from .models import Audience, Direction, EntryKind, Referral, ReferralEntry
from .states import TRANSITIONS, Event, State

REFERRAL_URL = "/referrals/{id}"
PATIENT_URL = "/me/referrals/{id}"
RELATED = ("patient", "sender", "sender_organisation", "target_organisation", "target_department",
           "target_practitioner", "receiver", "consortium")


def referral_url(referral_id: Any) -> str:
    return REFERRAL_URL.format(id=referral_id)


def load_referral(acting: Actor, referral_id: Any) -> Referral:
    """The referral for an action: 404 unless the actor may see it."""
    referral = (joins_as_written(Referral.objects.select_related(*RELATED))
                .filter(pk=parse_uuid(referral_id)).first())
    if referral is None or not can(acting, Action.VIEW_REFERRAL, referral):
        raise NotFound()
    return referral


def reload(referral_id: Any) -> Referral:
    return joins_as_written(Referral.objects.select_related(*RELATED)).get(pk=referral_id)


def me(acting: Actor) -> Any:
    if acting.practitioner_id is None:
        raise NotFound()
    return acting.practitioner_id


# --- who may transfer patients ---------------------------------------------------------------

class PrivilegeMissing(PermissionDenied):
    code = "privilege_missing"


def require_privilege(acting: Actor, consortium_id: Any, *, referral: Referral | None = None) -> None:
    """Sending, accepting, declining and redirecting need the consortium's ``transfer_patients``
    privilege (trained, examined, licensed). The refusal names each missing credential and how to
    get it; ``missing`` lists them (``training``, ``exam``, ``licence``) for clients. With
    ``referral``, a privilege found is remembered on it (an action checks before validating its
    input, and the transition checks again)."""
    from medunion.network.queries import privilege_status

    held = referral.__dict__.setdefault("_privilege_cache", set()) if referral is not None else set()
    if (acting.practitioner_id, consortium_id) in held:
        return
    status = privilege_status(acting.practitioner_id, consortium_id, "transfer_patients")
    if status.granted:
        held.add((acting.practitioner_id, consortium_id))
        return
    names = {"training": _("the tiered-referral training"), "exam": _("the tiered-referral exam"),
             "licence": _("a valid practising licence")}
    missing = ", ".join(str(names[m]) for m in status.missing)
    raise PrivilegeMissing(
        _("Only clinicians trained, examined and licensed for tiered referral may transfer patients. "
          "You are missing: %(missing)s.") % {"missing": missing},
        missing=status.missing, help=status.explain())


# --- conflicts -------------------------------------------------------------------------------

def _when(at: Any) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""


def describe_conflict(referral: Referral, *, stale: bool = False) -> Conflict:
    details: dict[str, Any] = {"state": referral.state, "version": referral.version}
    receiver = referral.receiver.name if referral.receiver_id and referral.receiver else ""
    if referral.state == State.ACCEPTED and receiver:
        message: Any = _("This referral was accepted by %(name)s at %(time)s.") % {
            "name": receiver, "time": _when(referral.accepted_at)}
        details["receiver"] = receiver
    elif referral.state == State.DECLINED:
        message = _("This referral was declined.")
    elif referral.state == State.CANCELLED:
        message = _("This referral was cancelled by the referring clinician.")
    elif referral.state == State.ARRIVED:
        message = _("The patient has already been checked in.")
    elif referral.state == State.OUTCOME_RETURNED:
        message = _("The outcome of this referral has been returned already.")
    elif referral.state == State.COMPLETED:
        message = _("This referral's loop is closed.")
    else:
        message = _("This referral has changed since you opened it; reload it and try again.")
    if stale and referral.state == State.REQUESTED:
        message = _("This referral has changed since you opened it; reload it and try again.")
    return Conflict(message, **details)


# --- the one transition function ---------------------------------------------------------------

@dataclass
class Moved:
    before: Referral
    referral: Referral
    entry: ReferralEntry


def apply_transition(acting: Actor, referral: Referral, event: str, *, reason: str = "", body: str = "",
                     kind: str = EntryKind.SYSTEM, detail: dict[str, Any] | None = None,
                     changes: dict[str, Any] | None = None, expected_version: int | None = None,
                     extra_seqs: int = 0) -> Moved:
    """THE way a referral changes state (DESIGN §4.6). Checks, in order: the actor's roles
    against the table (403), the privilege where the table asks for it (403 naming the missing
    credential), the version the caller saw and the state (409), the reason (422). Then moves
    the state with a conditional UPDATE (``WHERE id AND state AND version``): of two people
    acting at once exactly one succeeds and the other is told what happened. Writes the event's
    entry in the clinician timeline. Call inside ``transaction.atomic()``."""
    t = TRANSITIONS[Event(event)]
    require(acting, Action.TRANSITION_REFERRAL, ReferralStep(referral, event))
    if t.privileged and not acting.system:
        require_privilege(acting, referral.consortium_id, referral=referral)
    if expected_version is not None and expected_version != referral.version:
        raise describe_conflict(referral, stale=True)
    if referral.state not in t.sources:
        raise describe_conflict(referral)
    if t.reason_required and not reason:
        raise ValidationFailed(_("Give a reason."), field="reason")
    n = 1 + extra_seqs
    updated = {"status_reason": reason} if t.reason_required else {}
    moved = Referral.objects.filter(pk=referral.pk, state=referral.state, version=referral.version).update(
        state=t.target, version=F("version") + 1, last_seq=F("last_seq") + n, **updated, **(changes or {}))
    if not moved:
        raise describe_conflict(reload(referral.pk))
    fresh = reload(referral.pk)
    entry = write_entry(acting, fresh, seq=fresh.last_seq - n + 1, kind=kind, event=str(event),
                        audience=Audience.CLINICIANS, body=body or reason,
                        detail={"from": referral.state, "to": t.target, **(detail or {})})
    return Moved(before=referral, referral=fresh, entry=entry)


def reserve_seq(referral: Referral, n: int = 1, *, states: Iterable[str] | None = None) -> int:
    """Take the next ``n`` numbers of this referral's timeline; returns the first. With
    ``states``, a referral that has meanwhile left them answers 409."""
    rows = Referral.objects.filter(pk=referral.pk)
    if states is not None:
        rows = rows.filter(state__in=list(states))
    if not rows.update(last_seq=F("last_seq") + n):
        raise describe_conflict(reload(referral.pk))
    last = Referral.objects.filter(pk=referral.pk).values_list("last_seq", flat=True).get()
    return int(last) - n + 1


# --- the timeline ------------------------------------------------------------------------------

def author_snapshot(acting: Actor, referral: Referral) -> dict[str, Any]:
    from medunion.network.models import PracticeSite, Practitioner

    if acting.system or acting.user_id is None:
        return {"author_id": None, "author_practitioner_id": None, "author_name": "", "author_organisation": ""}
    snap = {"author_id": acting.user_id, "author_practitioner_id": acting.practitioner_id,
            "author_name": acting.display[:200], "author_organisation": ""}
    if acting.practitioner_id:
        name = Practitioner.objects.filter(pk=acting.practitioner_id).values_list("name", flat=True).first()
        snap["author_name"] = (name or acting.display)[:200]
        parties = {referral.sender_organisation_id, referral.target_organisation_id}
        sites = list(PracticeSite.objects.filter(practitioner_id=acting.practitioner_id, active=True)
                     .values_list("organisation_id", "organisation__name", "primary"))
        sites.sort(key=lambda s: (s[0] not in parties, not s[2]))
        if sites:
            snap["author_organisation"] = sites[0][1][:200]
    return snap


def write_entry(acting: Actor, referral: Referral, *, seq: int, kind: str, audience: str, body: str = "",
                event: str = "", detail: dict[str, Any] | None = None) -> ReferralEntry:
    return ReferralEntry.objects.create(referral=referral, patient_id=referral.patient_id, seq=seq, kind=kind,
                                        audience=audience, body=body, event=event, detail=detail or {},
                                        created_at=clock.now(), **author_snapshot(acting, referral))


def patient_update(acting: Actor, referral: Referral, event: str, detail: dict[str, Any] | None = None) -> None:
    """A patient-audience entry saying what changed for the patient (status, appointment, where
    to go, what to bring); the pages render it in the patient's language."""
    seq = reserve_seq(referral)
    write_entry(acting, referral, seq=seq, kind=EntryKind.SYSTEM, audience=Audience.PATIENT, event=event,
                detail=detail or {})


# --- notices -----------------------------------------------------------------------------------
# Titles never name the patient (they may go out by SMS).

TITLES: dict[str, Any] = {
    "referral.new": _("New referral (%(direction)s, %(urgency)s) from %(organisation)s"),
    "referral.accepted": _("Your referral was accepted by %(who)s"),
    "referral.declined": _("Your referral was declined"),
    "referral.redirected": _("Your referral was redirected to %(organisation)s"),
    "referral.cancelled": _("A referral to your organisation was cancelled"),
    "referral.arrived": _("Your referred patient has arrived"),
    "referral.note": _("An interim note on your referral"),
    "referral.message": _("New message on a referral"),
    "referral.outcome": _("The outcome of your referral has come back"),
    "referral.completed": _("A referral's loop was closed"),
    "referral.reopened": _("A referral's automatic close was undone"),
    "referral.escalated": _("A %(urgency)s referral has had no answer"),
    "referral.outcome_missing": _("A referral's outcome has not come back"),
    "referral.patient": _("News about your referral"),
    "followup.reminder": _("Follow-up due: %(what)s"),
    "followup.problem": _("A follow-up found a problem"),
}


def notice(referral: Referral, kind: str, users: Iterable[Any], *, acting: Actor | None = None, body: Any = "",
           url: str | None = None, with_patient: bool = True, **params: Any) -> None:
    from medunion.consults.models import Urgency
    from medunion.notifications.actions import notify

    base = {"direction": Direction(referral.direction).label, "urgency": Urgency(referral.urgency).label,
            "who": acting.display if acting else "", "organisation": referral.sender_organisation.name}
    notify(users, kind=kind, title=TITLES[kind], body=body, params={**base, **params},
           url=referral_url(referral.pk) if url is None else url, obj=referral,
           patient_id=referral.patient_id if with_patient else None,
           exclude=[acting.user_id] if acting and acting.user_id else [])


def user_ids_of(practitioner_ids: Iterable[Any]) -> list[Any]:
    from medunion.accounts.models import User

    ids = [p for p in practitioner_ids if p]
    return list(User.objects.filter(practitioner_id__in=ids, is_active=True).values_list("pk", flat=True)) if ids else []


def receiving_users(referral: Referral) -> list[Any]:
    """Who hears of a new referral: the named doctor; otherwise the clinicians of the receiving
    department (or of the organisation, when no department is named) who hold the privilege."""
    from django.conf import settings

    from medunion.accounts.models import User
    from medunion.network.models import PracticeSite
    from medunion.network.queries import privileged_among

    if referral.target_practitioner_id:
        return user_ids_of([referral.target_practitioner_id])
    sites = PracticeSite.objects.filter(organisation_id=referral.target_organisation_id, active=True,
                                        practitioner__active=True)
    if referral.target_department_id:
        in_dept = sites.filter(department_id=referral.target_department_id)
        sites = in_dept if in_dept.exists() else sites
    limit = int(getattr(settings, "MEDUNION_NOTIFY_FANOUT", 200))
    candidates = list(sites.values_list("practitioner_id", flat=True)[: limit * 2])
    held = privileged_among(candidates, referral.consortium_id, "transfer_patients")
    practitioners = [p for p in candidates if p in held][:limit]
    return list(User.objects.filter(practitioner_id__in=practitioners, is_active=True).values_list("pk", flat=True))


def coordinator_users(consortium_id: Any) -> list[Any]:
    from medunion.consults.routing import coordinator_recipients

    return coordinator_recipients(consortium_id)


def patient_users(referral: Referral) -> list[Any]:
    from medunion.consults.routing import patient_user_ids

    return patient_user_ids(referral.patient_id)
