"""Schemas of the referral API (``/api/v1/referrals``) and the functions that render the domain's
objects into them. What a patient is given is decided by the domain's allowlist
(``queries.referral_view`` / ``queries.entries``): the patient-audience timeline and where, when
and what to bring — never the reason, the clinical summary, a clinician entry or a clinician's
file. Rendering adds nothing the view does not hold.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any

from django.urls import reverse
from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict

from medunion.consults.api_schemas import (
    BLOCK,
    LINE,
    MAX_VERSION,
    NamedRef,
    PatientBrief,
    PractitionerBrief,
    age,
)
from medunion.consults.validation import MAX_ATTACHMENTS, MESSAGE_MAX
from medunion.core.json_body import BodyIn
from medunion.network.codes import Specialty, Tier

from .models import (
    AdmitKind,
    Audience,
    Direction,
    EntryKind,
    FollowUpTask,
    GreenPlace,
    Referral,
    ReferralAttachment,
    ReferralEntry,
    TaskKind,
    TaskState,
    Urgency,
)
from .queries import ReferralView, is_overdue, outcome_missing
from .states import State
from .timing import LIMITS
from .validation import MAX_PLAN_ITEMS, NOTE_MAX, PLACE_MAX, REASON_MAX, SUMMARY_MAX

COUNT_MAX = 100_000
REASON_TEXT_MAX = 1000  # decline, redirect, cancel


def _iso(pattern: str, what: str) -> Any:
    """A date in a query string as ISO 8601 text only (not a number of seconds, which pydantic would
    take). Bodies need no such guard: they are validated as strict JSON (core.json_body)."""
    match = re.compile(pattern).match

    def check(value: Any) -> Any:
        if isinstance(value, (dt.date, dt.datetime)):
            return value
        if not isinstance(value, str) or not match(value):
            raise ValueError(f"Enter {what} in ISO 8601 form.")
        return value
    return BeforeValidator(check)


IsoDate = Annotated[dt.date, _iso(r"^\d{4}-\d{2}-\d{2}$", "a date (YYYY-MM-DD)")]


def _files_field() -> Any:
    return Field(default_factory=list, max_length=MAX_ATTACHMENTS,
                 description="Ids of files you uploaded with POST /api/v1/files (for this referral's patient).")


# --- what goes in -----------------------------------------------------------------------------

class PlanItemIn(BodyIn):
    """One step of a rehabilitation plan: what and when (days after today, or a date)."""

    model_config = ConfigDict(extra="forbid")

    kind: TaskKind
    description: str = Field(min_length=1, max_length=REASON_MAX, pattern=LINE)
    due_in_days: int | None = Field(None, ge=0, le=365, description="Days from today; or give `due_on`.")
    due_on: dt.date | None = Field(None, description="A date from today on; or give `due_in_days`.")


def _plan_field() -> Any:
    return Field(default_factory=list, max_length=MAX_PLAN_ITEMS,
                 description="The rehabilitation plan (downward referrals): each step becomes a follow-up task "
                             "of the receiving clinician.")


class ReferralIn(BodyIn):
    patient_id: uuid.UUID
    direction: Direction = Field(description="up: to a higher tier; down: to a township or community health "
                                             "centre or a village clinic; across: the same tier.")
    target_organisation_id: uuid.UUID
    target_department_id: uuid.UUID | None = Field(None, description="Required up and across.")
    target_practitioner_id: uuid.UUID | None = Field(None, description="A named doctor of the receiving "
                                                                       "organisation (optional).")
    urgency: Urgency = Urgency.ROUTINE
    reason: str = Field(min_length=1, max_length=REASON_MAX, pattern=BLOCK)
    clinical_summary: str = Field(min_length=1, max_length=SUMMARY_MAX, pattern=BLOCK)
    requested_by: dt.date | None = Field(None, description="To be seen by (not in the past).")
    consult_id: uuid.UUID | None = Field(None, description="The consultation that recommended the referral.")
    green_channel: bool = Field(False, description="Urgent and emergency upward referrals: take one of the "
                                                   "department's reserved places (409 `green_channel_full` when "
                                                   "none is free).")
    green_place: GreenPlace | None = Field(None, description="The reserved place to take: bed or slot.")
    organisation_id: uuid.UUID | None = Field(None, description="Where you practise; needed when you practise at "
                                                                "more than one organisation.")
    consortium_id: uuid.UUID | None = Field(None, description="Needed when both organisations share more than one "
                                                              "consortium.")
    discharge_summary: str = Field("", max_length=SUMMARY_MAX, pattern=BLOCK, description="Downward referrals.")
    plan: list[PlanItemIn] = _plan_field()
    attachment_ids: list[uuid.UUID] = _files_field()


class ReferralStepIn(BodyIn):
    expected_version: int | None = Field(
        None, ge=0, le=MAX_VERSION,
        description="The referral's `version` as you saw it: if it changed since, the answer is 409 saying what "
                    "happened, and nothing is done.")


class AcceptIn(ReferralStepIn):
    admit_kind: AdmitKind = Field(description="bed: admission; appointment: an outpatient appointment.")
    appointment_at: dt.datetime = Field(description="When the patient should come.")
    location: str = Field(min_length=1, max_length=PLACE_MAX, pattern=LINE,
                          description="Where to go: building, ward or room, bed.")
    bring: str = Field("", max_length=NOTE_MAX, pattern=BLOCK, description="What the patient should bring.")
    note: str = Field("", max_length=NOTE_MAX, pattern=BLOCK, description="A note to the referring clinician.")


class ReferralReasonIn(ReferralStepIn):
    reason: str = Field(min_length=1, max_length=REASON_TEXT_MAX, pattern=BLOCK)


class RedirectIn(ReferralReasonIn):
    organisation_id: uuid.UUID = Field(description="The organisation to send the referral on to.")
    department_id: uuid.UUID | None = Field(None, description="Required up and across.")


class OutcomeIn(ReferralStepIn):
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX, pattern=BLOCK, description="The treatment summary.")
    review_at: dt.datetime | None = Field(None, description="A review appointment (not in the past).")
    refer_down: bool = Field(False, description="Send the patient back down to the referring organisation "
                                                "(implied by a plan); needs a discharge summary.")
    discharge_summary: str = Field("", max_length=SUMMARY_MAX, pattern=BLOCK)
    plan: list[PlanItemIn] = _plan_field()
    attachment_ids: list[uuid.UUID] = _files_field()


class CodeIn(BodyIn):
    code: str = Field(min_length=1, max_length=40, pattern=LINE,
                      description="The slip's check-in code (as printed, XXXXX-XXXXX, or as scanned).")


class NoteIn(BodyIn):
    body: str = Field(min_length=1, max_length=MESSAGE_MAX, pattern=BLOCK)
    attachment_ids: list[uuid.UUID] = _files_field()


class ReferralMessageIn(NoteIn):
    audience: Audience = Field(Audience.CLINICIANS, description="clinicians: the clinician conversation, which the "
                                                                "patient never sees; patient: the patient, the "
                                                                "referring and receiving clinicians, the care team.")


class TaskDoneIn(ReferralStepIn):
    result: str = Field("", max_length=NOTE_MAX, pattern=BLOCK, description="What was found (required for a "
                                                                           "problem).")
    problem: bool = Field(False, description="The follow-up found a problem: the referring clinician is told.")


class CapacityIn(BodyIn):
    green_channel_beds: int = Field(ge=0, le=COUNT_MAX, description="Beds reserved for the green channel.")
    green_channel_slots: int = Field(ge=0, le=COUNT_MAX, description="Daily slots reserved for the green channel.")


def _limit(key: str, description: str) -> Any:
    low, high = LIMITS[key]
    return Field(ge=low, le=high, description=description)


class ClockIn(BodyIn):
    emergency_hours: int = _limit("emergency_hours", "An emergency referral must be answered within (hours).")
    urgent_hours: int = _limit("urgent_hours", "An urgent referral must be answered within (hours).")
    routine_hours: int = _limit("routine_hours", "A routine referral must be answered within (hours).")
    outcome_days: int = _limit("outcome_days", "The outcome is expected within (days after arrival).")
    close_after_days: int = _limit("close_after_days", "A returned loop closes by itself after (days).")


# --- what comes out ---------------------------------------------------------------------------

class ReferralSummaryOut(Schema):
    """Where a referral stands, where to go and what to bring: what anyone who may see it is
    shown, the patient included."""

    id: uuid.UUID
    direction: Direction
    direction_label: str
    urgency: Urgency
    state: State
    state_label: str
    green_channel: bool
    green_place: str = Field(description="bed or slot for a green-channel referral; empty otherwise.")
    created_at: dt.datetime
    from_organisation: NamedRef
    to_organisation: NamedRef
    to_department: NamedRef | None
    address: str = Field(description="The receiving organisation's address.")
    admit_kind: str = Field(description="bed or appointment once accepted; empty before.")
    appointment_at: dt.datetime | None
    location: str = Field(description="Where to go, once accepted.")
    bring: str = Field(description="What to bring, once accepted.")
    accepted_at: dt.datetime | None
    arrived_at: dt.datetime | None
    outcome_at: dt.datetime | None
    completed_at: dt.datetime | None
    version: int = Field(description="Send as `expected_version` with the next step.")


class ReferralStateOut(ReferralSummaryOut):
    last_seq: int
    events: list[str] = Field(description="The steps you may take now.")


class ListItemOut(ReferralSummaryOut):
    patient: PatientBrief
    reason: str | None = Field(description="Null for the patient.")
    sender: PractitionerBrief | None = Field(description="Null for the patient.")
    receiver: PractitionerBrief | None = Field(description="Who accepted; null before, and for the patient.")
    overdue: bool = Field(description="Unanswered past its time.")
    outcome_missing: bool = Field(description="The outcome has not come back in time.")
    escalation_level: int


class ListOut(Schema):
    items: list[ListItemOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")


class CountsOut(Schema):
    incoming: int
    accepted: int
    tasks: int = Field(description="Open follow-up tasks of mine.")


class ReferralAttachmentOut(Schema):
    id: uuid.UUID = Field(description="The file's id.")
    filename: str
    kind: str
    content_type: str
    size: int
    sha256: str
    url: str


class ReferralAuthorOut(Schema):
    name: str
    organisation: str
    practitioner_id: uuid.UUID | None


class EntryOut(Schema):
    id: uuid.UUID
    seq: int
    kind: EntryKind
    audience: Audience
    event: str = Field(description="For referral events (kind system): what happened (create, accept, "
                                   "check_in, …).")
    detail: dict[str, Any] = Field(description="The event's particulars (organisation, appointment, plan, …).")
    body: str
    author: ReferralAuthorOut
    created_at: dt.datetime
    attachments: list[ReferralAttachmentOut]


class TaskOut(Schema):
    id: uuid.UUID
    referral_id: uuid.UUID
    patient: PatientBrief
    position: int
    kind: TaskKind
    kind_label: str
    description: str
    due_on: dt.date
    state: TaskState
    version: int = Field(description="Send as `expected_version` when completing it.")
    organisation: NamedRef
    assignee: PractitionerBrief | None
    completed_at: dt.datetime | None
    completed_by: PractitionerBrief | None
    result: str
    sent_by: PractitionerBrief = Field(description="Who referred the patient down.")
    sent_from: NamedRef


class TaskListOut(Schema):
    items: list[TaskOut]


class ChildOut(Schema):
    id: uuid.UUID
    direction: Direction
    state: State
    to_organisation: NamedRef


class ReferralClinicalOut(Schema):
    """The referral itself: for clinicians only."""

    patient: PatientBrief
    consortium: NamedRef
    reason: str
    clinical_summary: str
    requested_by: dt.date | None
    sender: PractitionerBrief
    target_practitioner: PractitionerBrief | None
    receiver: PractitionerBrief | None
    consult_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    status_reason: str = Field(description="Why it was declined, redirected or cancelled.")
    redirect_count: int
    escalation_level: int
    escalate_at: dt.datetime | None
    overdue: bool
    outcome_due_at: dt.datetime | None
    outcome_missing: bool
    review_at: dt.datetime | None
    close_at: dt.datetime | None = Field(description="When the loop closes by itself.")
    closed_automatically: bool
    attachments: list[ReferralAttachmentOut] = Field(description="Sent with the referral.")
    tasks: list[TaskOut] = Field(description="The follow-up tasks of a downward referral.")
    children: list[ChildOut] = Field(description="Referrals made from this one (back down).")


class ReferralOut(Schema):
    summary: ReferralSummaryOut
    roles: list[str] = Field(description="Your roles on the referral (sender, receiving, receiver, patient, …).")
    events: list[str] = Field(description="The steps you may take now.")
    acts: list[str] = Field(description="What else you may do now: interim_note, clinician_message, "
                                        "patient_message.")
    last_seq: int = Field(description="Pass as `after` to GET …/changes.")
    entries: list[EntryOut] = Field(description="The timeline: both audiences for clinicians, the patient's "
                                                "entries only for the patient.")
    clinical: ReferralClinicalOut | None = Field(description="Reason, clinical summary, files, tasks: null for the "
                                                     "patient.")


class ReferralChangesOut(Schema):
    state: State
    version: int
    last_seq: int = Field(description="Pass as `after` next time.")
    entries: list[EntryOut]


class LiveOut(Schema):
    referral: ReferralSummaryOut | None = Field(description="The patient's live referral in this direction, if any: "
                                                    "track it rather than start another.")


class AvailabilityOut(Schema):
    beds_reserved: int
    beds_in_use: int
    beds_free: int
    slots_reserved: int
    slots_in_use: int
    slots_free: int


class DestinationDepartmentOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    specialty: Specialty | None
    green_channel: AvailabilityOut


class DestinationOut(Schema):
    id: uuid.UUID
    name: str
    tier: Tier
    departments: list[DestinationDepartmentOut]


class CapacityOut(DestinationDepartmentOut):
    organisation: NamedRef
    beds: int
    daily_slots: int


class ClockOut(Schema):
    consortium_id: uuid.UUID
    emergency_hours: int
    urgent_hours: int
    routine_hours: int
    outcome_days: int
    close_after_days: int


class FigureRowOut(Schema):
    up: int
    down: int
    across: int
    total: int
    accepted: int
    median_acceptance_hours: float | None = Field(description="From sending to acceptance.")
    closed_share: float | None = Field(description="Of the accepted referrals not cancelled, the share closed.")
    within_county_share: float | None = Field(description="Received in the referring organisation's county.")


class FigureGroupOut(FigureRowOut):
    key: str = Field(description="YYYY-MM, or the organisation's or consortium's id.")
    label: str


class ReferralFiguresOut(Schema):
    by: str
    rows: list[FigureGroupOut]
    totals: FigureRowOut


# --- rendering ---------------------------------------------------------------------------------

def _named(obj: Any) -> dict[str, Any] | None:
    return {"id": obj.pk, "name": obj.name} if obj is not None else None


def _practitioner(p: Any) -> dict[str, Any] | None:
    return {"id": p.pk, "name": p.name, "title": p.title} if p is not None else None


def patient_brief(p: Any) -> dict[str, Any]:
    return {"id": p.pk, "name": p.name, "sex": p.sex, "age": age(p.birth_date)}


def summary(r: Referral) -> dict[str, Any]:
    """Expects the referral loaded with ``machine.RELATED``."""
    return {
        "id": r.pk, "direction": r.direction, "direction_label": str(r.get_direction_display()),
        "urgency": r.urgency, "state": r.state, "state_label": str(r.get_state_display()),
        "green_channel": r.green_channel, "green_place": r.green_place, "created_at": r.created_at,
        "from_organisation": _named(r.sender_organisation), "to_organisation": _named(r.target_organisation),
        "to_department": _named(r.target_department) if r.target_department_id else None,
        "address": r.target_organisation.address, "admit_kind": r.admit_kind, "appointment_at": r.appointment_at,
        "location": r.location, "bring": r.bring, "accepted_at": r.accepted_at, "arrived_at": r.arrived_at,
        "outcome_at": r.outcome_at, "completed_at": r.completed_at, "version": r.version,
    }


def state_out(r: Referral, events: list[str]) -> dict[str, Any]:
    return {**summary(r), "last_seq": r.last_seq, "events": events}


def list_item(r: Referral, *, clinician: bool) -> dict[str, Any]:
    return {**summary(r), "patient": patient_brief(r.patient), "reason": r.reason if clinician else None,
            "sender": _practitioner(r.sender) if clinician else None,
            "receiver": _practitioner(r.receiver) if clinician and r.receiver_id else None,
            "overdue": is_overdue(r), "outcome_missing": outcome_missing(r), "escalation_level": r.escalation_level}


def attachment(referral_id: Any, a: ReferralAttachment) -> dict[str, Any]:
    f = a.file
    return {"id": f.pk, "filename": f.filename, "kind": f.kind, "content_type": f.content_type, "size": f.size,
            "sha256": f.sha256,
            "url": reverse("api:referral_file", kwargs={"referral_id": referral_id, "file_id": f.pk})}


def entry(e: ReferralEntry) -> dict[str, Any]:
    """Expects ``attachments`` prefetched, already cut to the reader's audiences (``queries.entries``)."""
    return {"id": e.pk, "seq": e.seq, "kind": e.kind, "audience": e.audience, "event": e.event,
            "detail": e.detail or {}, "body": e.body,
            "author": {"name": e.author_name, "organisation": e.author_organisation,
                       "practitioner_id": e.author_practitioner_id},
            "created_at": e.created_at, "attachments": [attachment(e.referral_id, a) for a in e.attachments.all()]}


def task(t: FollowUpTask, referral: Referral | None = None) -> dict[str, Any]:
    """Expects ``patient``, ``organisation``, ``assignee`` and ``completed_by`` loaded with it,
    and its referral's sender (or the referral given)."""
    r = referral or t.referral
    return {"id": t.pk, "referral_id": t.referral_id, "patient": patient_brief(t.patient), "position": t.position,
            "kind": t.kind, "kind_label": str(t.get_kind_display()), "description": t.description,
            "due_on": t.due_on, "state": t.state, "version": t.version, "organisation": _named(t.organisation),
            "assignee": _practitioner(t.assignee), "completed_at": t.completed_at,
            "completed_by": _practitioner(t.completed_by), "result": t.result, "sent_by": _practitioner(r.sender),
            "sent_from": _named(r.sender_organisation)}


def clinical(view: ReferralView) -> dict[str, Any] | None:
    if view.is_patient:
        return None
    r = view.referral
    return {
        "patient": patient_brief(r.patient), "consortium": _named(r.consortium), "reason": r.reason,
        "clinical_summary": r.clinical_summary, "requested_by": r.requested_by, "sender": _practitioner(r.sender),
        "target_practitioner": _practitioner(r.target_practitioner) if r.target_practitioner_id else None,
        "receiver": _practitioner(r.receiver) if r.receiver_id else None, "consult_id": r.consult_id,
        "parent_id": r.parent_id, "status_reason": r.status_reason, "redirect_count": r.redirect_count,
        "escalation_level": r.escalation_level, "escalate_at": r.escalate_at, "overdue": is_overdue(r),
        "outcome_due_at": r.outcome_due_at, "outcome_missing": outcome_missing(r), "review_at": r.review_at,
        "close_at": r.close_at, "closed_automatically": r.closed_automatically,
        "attachments": [attachment(r.pk, a) for a in view.attachments],
        "tasks": [task(t, r) for t in view.tasks],
        "children": [{"id": c.pk, "direction": c.direction, "state": c.state,
                      "to_organisation": _named(c.target_organisation)} for c in view.children],
    }


def referral(view: ReferralView) -> dict[str, Any]:
    return {"summary": summary(view.referral), "roles": sorted(view.roles), "events": view.events,
            "acts": view.acts, "last_seq": view.referral.last_seq, "entries": [entry(e) for e in view.entries],
            "clinical": clinical(view)}


def availability(a: Any) -> dict[str, Any]:
    if a is None:
        return {"beds_reserved": 0, "beds_in_use": 0, "beds_free": 0, "slots_reserved": 0, "slots_in_use": 0,
                "slots_free": 0}
    d = a.as_dict()
    d.pop("department_id")
    return d


def department(d: Any, avail: Any) -> dict[str, Any]:
    return {"id": d.pk, "code": d.code, "name": d.name, "specialty": d.specialty or None,
            "green_channel": availability(avail)}


def capacity_row(d: Any) -> dict[str, Any]:
    from .capacity import Availability

    avail = Availability(d.pk, d.green_channel_beds, d.green_channel_beds_in_use, d.green_channel_slots,
                         d.green_channel_slots_in_use)
    return {**department(d, avail), "organisation": _named(d.organisation), "beds": d.beds,
            "daily_slots": d.daily_slots}
