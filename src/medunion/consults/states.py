"""The consultation's state machine as data (DESIGN §4.6).

States follow the FHIR Task vocabulary where it fits (requested, in-progress, on-hold, completed,
cancelled) plus ``answered``: the specialist has answered and the asker has yet to confirm.

``TRANSITIONS`` says, for every event, from which states it may happen, to which state it leads,
who may do it (roles relative to the consult, see :class:`Role`) and whether a reason is needed.
:func:`medunion.consults.machine.apply_transition` is the one function that applies it; nothing
else moves a consult's state. ``ACTS`` does the same for what happens on a case without moving
its state (messages, MDT invitations and opinions).

Roles (computed by ``medunion.access.policy.consult_roles``):

- ``asker``: the clinician who asked; ``assignee``: the specialist working on it now;
- ``target``: the specialist named as target (named-specialist cases only);
- ``team_member``: a member of the target team (team cases only);
- ``team_lead``: a lead of the target team, or — once the case has been escalated — a lead of a
  team of the case's specialty in its consortium;
- ``eligible``: for pool cases, a specialist of the pool who has not declined the case (see
  ``visible_consults``): specialty, consortium, a higher tier than the asker's organisation;
- ``mdt_member``: invited to give an opinion (multidisciplinary consult);
- ``care_team``: in the patient's care team (the clinician conversation includes them);
- ``author``: wrote the current answer; ``patient``: the patient the case is about.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class ConsultState(models.TextChoices):
    REQUESTED = "requested", _("waiting for a specialist")
    IN_PROGRESS = "in_progress", _("in progress")
    ON_HOLD = "on_hold", _("waiting for information from the asker")
    ANSWERED = "answered", _("answered")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")


# Named for the OpenAPI document, where each enum is one component by class name.
State = ConsultState


class Event(models.TextChoices):
    CLAIM = "claim", _("claim")
    ASSIGN = "assign", _("assign to a colleague")
    DECLINE = "decline", _("decline")
    HAND_OVER = "hand_over", _("hand over")
    REQUEST_INFO = "request_info", _("ask for more information")
    PROVIDE_INFO = "provide_info", _("provide the information")
    ANSWER = "answer", _("answer")
    AMEND_ANSWER = "amend_answer", _("amend the answer")
    CONFIRM = "confirm", _("confirm and rate")
    FOLLOW_UP = "follow_up", _("ask a follow-up question")
    CANCEL = "cancel", _("cancel")


class Role(models.TextChoices):
    ASKER = "asker", _("asker")
    ASSIGNEE = "assignee", _("assigned specialist")
    TARGET = "target", _("named specialist")
    TEAM_MEMBER = "team_member", _("member of the target team")
    TEAM_LEAD = "team_lead", _("team lead")
    ELIGIBLE = "eligible", _("specialist of the pool")
    MDT_MEMBER = "mdt_member", _("MDT member")
    CARE_TEAM = "care_team", _("care team")
    AUTHOR = "author", _("author of the answer")
    PATIENT = "patient", _("patient")


S, E, R = State, Event, Role

OPEN_STATES = frozenset({S.REQUESTED, S.IN_PROGRESS, S.ON_HOLD, S.ANSWERED})
CLOSED_STATES = frozenset({S.COMPLETED, S.CANCELLED})
# Where the response target runs: time on hold (waiting on the asker) does not count.
RUNNING_STATES = frozenset({S.REQUESTED, S.IN_PROGRESS})


@dataclass(frozen=True)
class Transition:
    event: Event
    sources: frozenset[State]
    target: State
    roles: frozenset[Role]
    reason_required: bool = False


def _t(event: Event, sources: set[State], target: State, roles: set[Role], reason: bool = False) -> Transition:
    return Transition(event, frozenset(sources), target, frozenset(roles), reason)


TRANSITIONS: dict[Event, Transition] = {t.event: t for t in (
    # A pool case by an eligible specialist, a team case by a member, a named case only by them.
    _t(E.CLAIM, {S.REQUESTED}, S.IN_PROGRESS, {R.ELIGIBLE, R.TEAM_MEMBER, R.TARGET}),
    # A lead hands a waiting (e.g. escalated) case to a named eligible colleague.
    _t(E.ASSIGN, {S.REQUESTED}, S.IN_PROGRESS, {R.TEAM_LEAD}),
    # Back to the pool or team (a named specialist's case goes to the specialty pool).
    _t(E.DECLINE, {S.REQUESTED, S.IN_PROGRESS}, S.REQUESTED, {R.ASSIGNEE, R.TARGET}, reason=True),
    _t(E.HAND_OVER, {S.IN_PROGRESS}, S.IN_PROGRESS, {R.ASSIGNEE, R.TEAM_LEAD}),
    _t(E.REQUEST_INFO, {S.IN_PROGRESS}, S.ON_HOLD, {R.ASSIGNEE}),
    _t(E.PROVIDE_INFO, {S.ON_HOLD}, S.IN_PROGRESS, {R.ASKER}),
    _t(E.ANSWER, {S.IN_PROGRESS}, S.ANSWERED, {R.ASSIGNEE}),
    _t(E.AMEND_ANSWER, {S.ANSWERED}, S.ANSWERED, {R.AUTHOR}),
    _t(E.CONFIRM, {S.ANSWERED}, S.COMPLETED, {R.ASKER}),
    _t(E.FOLLOW_UP, {S.ANSWERED}, S.IN_PROGRESS, {R.ASKER}),
    _t(E.CANCEL, {S.REQUESTED, S.IN_PROGRESS, S.ON_HOLD}, S.CANCELLED, {R.ASKER}, reason=True),
)}


class Act(models.TextChoices):
    """What happens on a case without moving its state."""

    CLINICIAN_MESSAGE = "clinician_message", _("write in the clinician conversation")
    PATIENT_MESSAGE = "patient_message", _("write in the patient conversation")
    INVITE = "invite", _("invite to a multidisciplinary consult")
    OPINION = "opinion", _("give an MDT opinion")


@dataclass(frozen=True)
class ActRule:
    act: Act
    states: frozenset[State]
    roles: frozenset[Role]


ACTS: dict[Act, ActRule] = {
    Act.CLINICIAN_MESSAGE: ActRule(Act.CLINICIAN_MESSAGE, OPEN_STATES,
                                   frozenset({R.ASKER, R.ASSIGNEE, R.MDT_MEMBER, R.CARE_TEAM, R.TEAM_LEAD})),
    Act.PATIENT_MESSAGE: ActRule(Act.PATIENT_MESSAGE, OPEN_STATES,
                                 frozenset({R.PATIENT, R.ASKER, R.ASSIGNEE, R.CARE_TEAM})),
    Act.INVITE: ActRule(Act.INVITE, frozenset({S.IN_PROGRESS, S.ON_HOLD}), frozenset({R.ASSIGNEE, R.TEAM_LEAD})),
    Act.OPINION: ActRule(Act.OPINION, frozenset({S.IN_PROGRESS, S.ON_HOLD}), frozenset({R.MDT_MEMBER})),
}

# Any of these roles makes a consult visible; ``eligible`` alone only while it is requested.
# ``author`` is not among them: writing an answer gives no lasting view by itself.
VISIBILITY_ROLES = frozenset({R.ASKER, R.ASSIGNEE, R.TARGET, R.TEAM_MEMBER, R.TEAM_LEAD, R.MDT_MEMBER,
                              R.CARE_TEAM, R.PATIENT})


def transition_for(event: str) -> Transition:
    return TRANSITIONS[Event(event)]


def allowed_from(event: str, state: str) -> bool:
    return state in TRANSITIONS[Event(event)].sources


def may(event: str, state: str, roles: frozenset[str] | set[str]) -> bool:
    """Whether the table lets someone with ``roles`` apply ``event`` in ``state``."""
    t = TRANSITIONS[Event(event)]
    return state in t.sources and bool(t.roles & set(roles))


def may_act(act: str, state: str, roles: frozenset[str] | set[str]) -> bool:
    rule = ACTS[Act(act)]
    return state in rule.states and bool(rule.roles & set(roles))


def events_for(state: str, roles: frozenset[str] | set[str]) -> list[Event]:
    """The events this actor could apply now (for the buttons on a case page)."""
    return [t.event for t in TRANSITIONS.values() if state in t.sources and t.roles & set(roles)]


def visible_by_roles(state: str, roles: frozenset[str] | set[str]) -> bool:
    return bool(VISIBILITY_ROLES & set(roles)) or (R.ELIGIBLE in roles and state == S.REQUESTED)
