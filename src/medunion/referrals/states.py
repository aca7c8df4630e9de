"""The referral's state machine as data (DESIGN §4.6), the closed loop of FHIR Task / 360X.

    requested ─accept→ accepted ─check in→ arrived ─return outcome→ outcome returned ─complete→ completed
        │  ├─decline→ declined (reason)                                   ↑ undo an automatic close ┘
        │  └─redirect→ requested, at another department or organisation (reason)
        └─ cancel (sending side, reason) → cancelled   (also from accepted)

``TRANSITIONS`` says for every event from which states it may happen, where it leads, who may do
it (roles relative to the referral, see :class:`Role`), whether a reason is needed and whether
the actor must hold the consortium's ``transfer_patients`` privilege (trained, examined,
licensed). :func:`medunion.referrals.machine.apply_transition` is the one function that applies
it. ``ACTS`` does the same for what happens without moving the state (notes and messages).

Roles (computed by ``medunion.access.referrals.referral_roles``):

- ``sender``: the clinician who referred; ``target``: the clinician named as receiver;
- ``receiving``: practises at the receiving organisation (its department's inbox);
- ``receiver``: the clinician who accepted; ``care_team``: in the patient's care team;
- ``patient``: the patient the referral is about.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ReferralState(models.TextChoices):
    REQUESTED = "requested", _("requested")
    ACCEPTED = "accepted", _("accepted")
    DECLINED = "declined", _("declined")
    ARRIVED = "arrived", _("patient arrived")
    OUTCOME_RETURNED = "outcome_returned", _("outcome returned")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")


# Named for the OpenAPI document, where each enum is one component by class name.
State = ReferralState


class Event(models.TextChoices):
    ACCEPT = "accept", _("accept")
    DECLINE = "decline", pgettext_lazy("referral", "decline")
    REDIRECT = "redirect", _("redirect")
    CANCEL = "cancel", _("cancel")
    CHECK_IN = "check_in", _("check the patient in")
    RETURN_OUTCOME = "return_outcome", _("return the outcome")
    COMPLETE = "complete", _("close the loop")
    REOPEN = "reopen", _("undo the automatic close")


class Role(models.TextChoices):
    SENDER = "sender", _("referring clinician")
    TARGET = "target", _("named receiving clinician")
    RECEIVING = "receiving", _("clinician of the receiving organisation")
    RECEIVER = "receiver", _("receiving clinician")
    CARE_TEAM = "care_team", _("care team")
    PATIENT = "patient", _("patient")


S, E, R = State, Event, Role

# A patient has at most one live referral per direction (a database constraint says so).
LIVE_STATES = frozenset({S.REQUESTED, S.ACCEPTED, S.ARRIVED})
OPEN_STATES = frozenset({S.REQUESTED, S.ACCEPTED, S.ARRIVED, S.OUTCOME_RETURNED})
CLOSED_STATES = frozenset({S.DECLINED, S.COMPLETED, S.CANCELLED})
# The receiving side's decision on a referral it was sent.
RECEIVING_SIDE = frozenset({R.TARGET, R.RECEIVING})


@dataclass(frozen=True)
class Transition:
    event: Event
    sources: frozenset[State]
    target: State
    roles: frozenset[Role]
    reason_required: bool = False
    privileged: bool = False


def _t(event: Event, sources: set[State], target: State, roles: set[Role] | frozenset[Role], *,
       reason: bool = False, privileged: bool = False) -> Transition:
    return Transition(event, frozenset(sources), target, frozenset(roles), reason, privileged)


TRANSITIONS: dict[Event, Transition] = {t.event: t for t in (
    _t(E.ACCEPT, {S.REQUESTED}, S.ACCEPTED, RECEIVING_SIDE, privileged=True),
    _t(E.DECLINE, {S.REQUESTED}, S.DECLINED, RECEIVING_SIDE, reason=True, privileged=True),
    _t(E.REDIRECT, {S.REQUESTED}, S.REQUESTED, RECEIVING_SIDE, reason=True, privileged=True),
    _t(E.CANCEL, {S.REQUESTED, S.ACCEPTED}, S.CANCELLED, {R.SENDER}, reason=True),
    # The receiving desk scans the slip's QR code (any clinician of the receiving organisation).
    _t(E.CHECK_IN, {S.ACCEPTED}, S.ARRIVED, {R.RECEIVER, R.RECEIVING}),
    _t(E.RETURN_OUTCOME, {S.ARRIVED}, S.OUTCOME_RETURNED, {R.RECEIVER, R.RECEIVING}),
    _t(E.COMPLETE, {S.OUTCOME_RETURNED}, S.COMPLETED, {R.SENDER}),
    # Only a loop the platform closed by itself may be reopened (``Referral.closed_automatically``).
    _t(E.REOPEN, {S.COMPLETED}, S.OUTCOME_RETURNED, {R.SENDER, R.RECEIVER}),
)}


class Act(models.TextChoices):
    """What happens on a referral without moving its state."""

    INTERIM_NOTE = "interim_note", _("send an interim note to the referring clinician")
    CLINICIAN_MESSAGE = "clinician_message", _("write in the clinician conversation")
    PATIENT_MESSAGE = "patient_message", _("write in the patient conversation")


@dataclass(frozen=True)
class ActRule:
    act: Act
    states: frozenset[State]
    roles: frozenset[Role]


ACTS: dict[Act, ActRule] = {
    Act.INTERIM_NOTE: ActRule(Act.INTERIM_NOTE, OPEN_STATES, frozenset({R.RECEIVER, R.TARGET, R.RECEIVING})),
    Act.CLINICIAN_MESSAGE: ActRule(Act.CLINICIAN_MESSAGE, OPEN_STATES,
                                   frozenset({R.SENDER, R.TARGET, R.RECEIVING, R.RECEIVER, R.CARE_TEAM})),
    Act.PATIENT_MESSAGE: ActRule(Act.PATIENT_MESSAGE, OPEN_STATES,
                                 frozenset({R.PATIENT, R.SENDER, R.RECEIVER, R.CARE_TEAM})),
}

VISIBILITY_ROLES = frozenset({R.SENDER, R.TARGET, R.RECEIVING, R.RECEIVER, R.CARE_TEAM, R.PATIENT})

# FHIR Task.status of each state (R4 TaskStatus).
TASK_STATUS: dict[State, str] = {
    S.REQUESTED: "requested", S.ACCEPTED: "accepted", S.DECLINED: "rejected", S.ARRIVED: "in-progress",
    S.OUTCOME_RETURNED: "in-progress", S.COMPLETED: "completed", S.CANCELLED: "cancelled",
}


def may(event: str, state: str, roles: frozenset[str] | set[str]) -> bool:
    t = TRANSITIONS[Event(event)]
    return state in t.sources and bool(t.roles & set(roles))


def may_act(act: str, state: str, roles: frozenset[str] | set[str]) -> bool:
    rule = ACTS[Act(act)]
    return state in rule.states and bool(rule.roles & set(roles))


def events_for(state: str, roles: frozenset[str] | set[str]) -> list[Event]:
    return [t.event for t in TRANSITIONS.values() if state in t.sources and t.roles & set(roles)]


def visible_by_roles(roles: frozenset[str] | set[str]) -> bool:
    return bool(VISIBILITY_ROLES & set(roles))
