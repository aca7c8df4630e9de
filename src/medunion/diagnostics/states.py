"""The examination's reading workflow as data (DESIGN §4.6).

    draft ─submit→ awaiting reading ─claim→ in reading ─sign→ reported
      │                  │   ↑──release──┘
      └──cancel (reason)─┴──→ cancelled

``draft``: the requester records the examination and uploads its images. ``awaiting reading``:
it is in the worklist of the hub that reads the modality for the consortium. ``in reading``: one
reader has claimed it (one winner under concurrency) and writes the report. ``reported``: the
report is signed and immutable; corrections are addenda or amended versions, and a senior reader
may give a second read (quality control). ``TRANSITIONS`` says who may move what where;
:func:`medunion.diagnostics.machine.apply_transition` is the one function that applies it.

Roles (computed by ``medunion.access.diagnostics.examination_roles``):

- ``requester``: the clinician who requested the examination; ``requesting``: a clinician of the
  requesting organisation;
- ``hub_reader``: a clinician of the reading hub who reads this modality; ``reader``: the one
  who claimed it; ``senior_reader``: a hub reader with a senior title (second reads);
- ``care_team``: in the patient's care team; ``treating``: any clinician of the consortium who
  may see the patient (region-wide recognition: signed reports only);
- ``patient``: the patient (signed reports only).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class ExaminationState(models.TextChoices):
    DRAFT = "draft", _("being uploaded")
    AWAITING = "awaiting", _("awaiting reading")
    IN_READING = "in_reading", _("being read")
    REPORTED = "reported", _("reported")
    CANCELLED = "cancelled", _("cancelled")


# Named for the OpenAPI document, where each enum is one component by class name.
State = ExaminationState


class Event(models.TextChoices):
    SUBMIT = "submit", _("send for reading")
    CANCEL = "cancel", _("cancel")
    CLAIM = "claim", _("claim")
    RELEASE = "release", _("release")
    SIGN = "sign", _("sign the report")


class Role(models.TextChoices):
    REQUESTER = "requester", _("requesting clinician")
    REQUESTING = "requesting", _("clinician of the requesting organisation")
    HUB_READER = "hub_reader", _("reader at the hub")
    READER = "reader", _("reader")
    SENIOR_READER = "senior_reader", _("senior reader")
    CARE_TEAM = "care_team", _("care team")
    TREATING = "treating", _("treating clinician")
    PATIENT = "patient", _("patient")


S, E, R = State, Event, Role

OPEN_STATES = frozenset({S.DRAFT, S.AWAITING, S.IN_READING})
WORKLIST_STATES = frozenset({S.AWAITING, S.IN_READING})


@dataclass(frozen=True)
class Transition:
    event: Event
    sources: frozenset[State]
    target: State
    roles: frozenset[Role]
    reason_required: bool = False


TRANSITIONS: dict[Event, Transition] = {t.event: t for t in (
    Transition(E.SUBMIT, frozenset({S.DRAFT}), S.AWAITING, frozenset({R.REQUESTER, R.REQUESTING})),
    Transition(E.CANCEL, frozenset({S.DRAFT, S.AWAITING}), S.CANCELLED, frozenset({R.REQUESTER, R.REQUESTING}),
               reason_required=True),
    Transition(E.CLAIM, frozenset({S.AWAITING}), S.IN_READING, frozenset({R.HUB_READER})),
    Transition(E.RELEASE, frozenset({S.IN_READING}), S.AWAITING, frozenset({R.READER})),
    Transition(E.SIGN, frozenset({S.IN_READING}), S.REPORTED, frozenset({R.READER})),
)}


class Act(models.TextChoices):
    """What happens without moving the state."""

    UPLOAD = "upload", _("upload images")
    WRITE_DRAFT = "write_draft", _("write the report")
    ADDENDUM = "addendum", _("add an addendum")
    AMEND = "amend", _("amend the report")
    SECOND_READ = "second_read", _("give a second read")
    ACKNOWLEDGE = "acknowledge", _("acknowledge a critical finding")


@dataclass(frozen=True)
class ActRule:
    act: Act
    states: frozenset[State]
    roles: frozenset[Role]


ACTS: dict[Act, ActRule] = {a.act: a for a in (
    ActRule(Act.UPLOAD, frozenset({S.DRAFT}), frozenset({R.REQUESTER, R.REQUESTING})),
    ActRule(Act.WRITE_DRAFT, frozenset({S.IN_READING}), frozenset({R.READER})),
    ActRule(Act.ADDENDUM, frozenset({S.REPORTED}), frozenset({R.HUB_READER})),
    ActRule(Act.AMEND, frozenset({S.REPORTED}), frozenset({R.HUB_READER})),
    ActRule(Act.SECOND_READ, frozenset({S.REPORTED}), frozenset({R.SENIOR_READER})),
    # The requester, their organisation (escalation) and the patient's care team.
    ActRule(Act.ACKNOWLEDGE, frozenset({S.REPORTED}), frozenset({R.REQUESTER, R.REQUESTING, R.CARE_TEAM})),
)}

# Who sees the examination in each state: its images and drafts are for the requesting side and
# the hub; once reported, the signed report (and its images) are recognised region-wide.
WORKING_ROLES = frozenset({R.REQUESTER, R.REQUESTING, R.HUB_READER, R.READER, R.SENIOR_READER, R.CARE_TEAM})
REPORTED_ROLES = WORKING_ROLES | {R.TREATING}


def visible_by_roles(state: str, roles: frozenset[str]) -> bool:
    """Clinicians' view of the examination (the patient sees signed reports only)."""
    allowed = REPORTED_ROLES if state == S.REPORTED else WORKING_ROLES
    if state == S.DRAFT:  # not yet sent: the hub does not see it
        allowed = allowed - {R.HUB_READER, R.SENIOR_READER}
    return bool(allowed & roles)


URGENCY_RANK = {"emergency": 0, "urgent": 1, "routine": 2}
SENIOR_TITLES = frozenset({"associate_chief", "chief"})
