"""The access policy for tiered referral (issue 4), part of THE policy (``access.policy``
registers these rules in its table).

Who sees a referral: the clinician who sent it; the clinician it names; every clinician
practising at the receiving organisation (the department's inbox: the desk that checks patients
in is there too); the clinician who accepted it; the patient's care team; the patient (patient-
audience content only: ``referrals.queries`` selects it by allowlist). Coordinators see figures
and capacity, not referrals. Everyone else: nothing (404).

Sending and the receiving side's decisions (accept, decline, redirect) also need the
consortium's ``transfer_patients`` privilege; ``referrals.machine.require_privilege`` says which
credential is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from .actor import Actor
from .policy import Action, in_care_team, live_care_patients, sees_figures


@dataclass(frozen=True)
class ReferralStep:
    """The object of Action.TRANSITION_REFERRAL: this referral, this event."""

    referral: Any
    event: str


def visible_referrals(actor: Actor) -> QuerySet[Any]:
    from medunion.referrals.models import Referral

    if actor.system:
        return Referral.objects.all()
    if actor.is_patient:
        return Referral.objects.filter(patient_id=actor.patient_id)  # type: ignore[misc]  # is_patient: set
    me = actor.practitioner_id
    if not actor.is_practitioner or me is None:
        return Referral.objects.none()
    q = Q(sender_id=me) | Q(target_practitioner_id=me) | Q(receiver_id=me)
    if actor.org_ids:
        q |= Q(target_organisation_id__in=list(actor.org_ids))
    q |= Q(patient_id__in=live_care_patients(actor))
    return Referral.objects.filter(q)


def referral_roles(actor: Actor, referral: Any) -> frozenset[str]:
    """The actor's roles on this referral (referrals.states.Role). Cached on the instance: an
    action reloads the referral after changing it."""
    from medunion.referrals.states import Role

    cache = referral.__dict__.setdefault("_roles_cache", {})
    key = (actor.user_id, actor.role, actor.practitioner_id, actor.patient_id, actor.org_ids, actor.team_ids)
    if key in cache:
        return cache[key]
    roles: set[str] = set()
    if actor.is_patient:
        if referral.patient_id == actor.patient_id:
            roles.add(Role.PATIENT)
    elif actor.is_practitioner and actor.practitioner_id is not None:
        me = actor.practitioner_id
        if referral.sender_id == me:
            roles.add(Role.SENDER)
        if referral.target_practitioner_id == me:
            roles.add(Role.TARGET)
        if referral.target_organisation_id in actor.org_ids:
            roles.add(Role.RECEIVING)
        if referral.receiver_id == me:
            roles.add(Role.RECEIVER)
        if in_care_team(actor, referral.patient_id):
            roles.add(Role.CARE_TEAM)
    result = frozenset(roles)
    cache[key] = result
    return result


def _view(actor: Actor, referral: Any) -> bool:
    from medunion.referrals.states import visible_by_roles

    return referral is not None and visible_by_roles(referral_roles(actor, referral))


def _step(actor: Actor, step: Any) -> bool:
    from medunion.referrals.states import TRANSITIONS, Event

    return isinstance(step, ReferralStep) and bool(
        TRANSITIONS[Event(step.event)].roles & referral_roles(actor, step.referral))


def _act(act: str) -> Any:
    def rule(actor: Actor, referral: Any) -> bool:
        from medunion.referrals.states import ACTS, Act

        return referral is not None and bool(ACTS[Act(act)].roles & referral_roles(actor, referral))
    return rule


def _complete_task(actor: Actor, task: Any) -> bool:
    return task is not None and actor.is_practitioner and (
        task.assignee_id == actor.practitioner_id or task.organisation_id in actor.org_ids)


RULES: dict[Action, Any] = {
    Action.CREATE_REFERRAL: lambda a, o: a.is_practitioner and (o is None or getattr(o, "pk", o) in a.consortium_ids),
    Action.VIEW_REFERRAL: _view,
    Action.TRANSITION_REFERRAL: _step,
    Action.WRITE_REFERRAL_NOTE: _act("interim_note"),
    Action.WRITE_REFERRAL_CLINICIAN_MESSAGE: _act("clinician_message"),
    Action.WRITE_REFERRAL_PATIENT_MESSAGE: _act("patient_message"),
    Action.COMPLETE_FOLLOW_UP: _complete_task,
    Action.VIEW_REFERRAL_FIGURES: sees_figures,
}
