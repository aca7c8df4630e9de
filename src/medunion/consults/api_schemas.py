"""Schemas of the teleconsultation API (``/api/v1/consults``) and the functions that render the
domain's objects into them. What a patient is given is decided by the domain's allowlist
(``queries.case_view`` / ``changes_since``); rendering adds nothing the view does not hold.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.urls import reverse
from ninja import Field, Schema
from pydantic import ConfigDict

from medunion.core import clock
from medunion.core.json_body import BodyIn
from medunion.network.codes import Specialty

from .models import (
    Audience,
    Consult,
    ConsultAnswer,
    ConsultAttachment,
    ConsultMessage,
    ConsultParticipant,
    ConsultRating,
    MessageKind,
    ParticipantRole,
    Recommendation,
    TargetKind,
    Urgency,
)
from .queries import CaseView, Changes, ConsultSummary, has_preview, system_text
from .states import Event, State
from .validation import (
    MAX_ATTACHMENTS,
    MAX_EXAMINATIONS,
    MESSAGE_MAX,
    QUESTION_MAX,
    REASON_MAX,
    TEXT_MAX,
    VITALS,
)

# Text of several lines: no control characters other than tab and line breaks (PostgreSQL refuses
# NUL; the others have no place in clinical text).
BLOCK = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
LINE = r"^[^\x00-\x1f\x7f]*$"
MAX_VERSION = 2_147_483_647


# --- what goes in -----------------------------------------------------------------------------

def _vital(key: str) -> Any:
    low, high, _decimals, label = VITALS[key]
    return Field(None, description=f"{label} ({low}–{high})")


class VitalsIn(BodyIn):
    """Vital signs; leave out what was not measured. Values outside the plausible range are refused."""

    model_config = ConfigDict(extra="forbid")

    systolic: float | None = _vital("systolic")
    diastolic: float | None = _vital("diastolic")
    heart_rate: float | None = _vital("heart_rate")
    temperature: float | None = _vital("temperature")
    spo2: float | None = _vital("spo2")
    respiratory_rate: float | None = _vital("respiratory_rate")
    glucose: float | None = _vital("glucose")
    weight: float | None = _vital("weight")


def _files_field() -> Any:
    return Field(default_factory=list, max_length=MAX_ATTACHMENTS,
                 description="Ids of files you uploaded with POST /api/v1/files (for this case's patient).")


class ConsultIn(BodyIn):
    patient_id: uuid.UUID | None = Field(None, description="The patient the case is about; leave out for a "
                                                           "general question.")
    specialty: Specialty
    urgency: Urgency = Urgency.ROUTINE
    question: str = Field(min_length=1, max_length=QUESTION_MAX, pattern=BLOCK)
    history: str = Field("", max_length=TEXT_MAX, pattern=BLOCK)
    medication: str = Field("", max_length=TEXT_MAX, pattern=BLOCK, description="Current medication.")
    vitals: VitalsIn | None = None
    target_kind: TargetKind = Field(TargetKind.POOL, description="pool: every eligible specialist of the "
                                                                 "consortium; team (target_team_id); practitioner "
                                                                 "(target_practitioner_id).")
    target_team_id: uuid.UUID | None = None
    target_practitioner_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = Field(None, description="Where you practise; needed when you practise at "
                                                                "more than one organisation.")
    consortium_id: uuid.UUID | None = Field(None, description="Needed when your organisation is in more than one "
                                                              "consortium.")
    attachment_ids: list[uuid.UUID] = _files_field()


class StepIn(BodyIn):
    expected_version: int | None = Field(
        None, ge=0, le=MAX_VERSION,
        description="The case's `version` as you saw it: if the case changed since, the answer is 409 saying what "
                    "happened, and nothing is done.")


class ClaimIn(StepIn):
    pass


class ColleagueIn(StepIn):
    practitioner_id: uuid.UUID
    reason: str = Field("", max_length=REASON_MAX, pattern=BLOCK)


class ReasonIn(StepIn):
    reason: str = Field(max_length=REASON_MAX, pattern=BLOCK, description="Required.")


class QuestionIn(StepIn):
    question: str = Field(max_length=MESSAGE_MAX, pattern=BLOCK)
    attachment_ids: list[uuid.UUID] = _files_field()


class InfoIn(StepIn):
    body: str = Field(max_length=MESSAGE_MAX, pattern=BLOCK)
    attachment_ids: list[uuid.UUID] = _files_field()


class AnswerIn(StepIn):
    assessment: str = Field(max_length=TEXT_MAX, pattern=BLOCK)
    recommendation: Recommendation
    plan: str = Field("", max_length=TEXT_MAX, pattern=BLOCK, description="Required to manage locally.")
    examinations: list[str] = Field(default_factory=list, max_length=MAX_EXAMINATIONS,
                                    description="Required for `examinations`: one per item.")
    referral_specialty: Specialty | None = Field(None, description="Required for `referral`.")
    referral_notes: str = Field("", max_length=TEXT_MAX, pattern=BLOCK)
    consensus: bool = Field(False, description="This answer records the consensus of the MDT consult.")


class AmendIn(AnswerIn):
    reason: str = Field("", max_length=REASON_MAX, pattern=BLOCK)


class ConfirmIn(StepIn):
    useful: int = Field(ge=1, le=5, description="How useful the answer was, 1–5.")
    avoided_referral: bool = False
    avoided_travel: bool = False
    comment: str = Field("", max_length=REASON_MAX * 2, pattern=BLOCK)


class MessageIn(BodyIn):
    body: str = Field(max_length=MESSAGE_MAX, pattern=BLOCK)
    audience: Audience = Field(Audience.CLINICIANS, description="clinicians: the clinician conversation, which the "
                                                                "patient never sees; patient: the patient and the "
                                                                "care team.")
    attachment_ids: list[uuid.UUID] = _files_field()


class CorrectionIn(BodyIn):
    body: str = Field(max_length=MESSAGE_MAX, pattern=BLOCK)


class InviteIn(BodyIn):
    practitioner_ids: list[uuid.UUID] = Field(min_length=1, max_length=10)
    note: str = Field("", max_length=REASON_MAX, pattern=BLOCK)


class OpinionIn(BodyIn):
    body: str = Field(max_length=MESSAGE_MAX, pattern=BLOCK)
    attachment_ids: list[uuid.UUID] = _files_field()


class TargetsIn(BodyIn):
    emergency: int = Field(ge=1, le=1_000_000, description="Minutes.")
    urgent: int = Field(ge=1, le=1_000_000, description="Minutes.")
    routine: int = Field(ge=1, le=1_000_000, description="Minutes.")


# --- what comes out ---------------------------------------------------------------------------

class NamedRef(Schema):
    id: uuid.UUID
    name: str


class PractitionerBrief(Schema):
    id: uuid.UUID
    name: str
    title: str


class PatientBrief(Schema):
    id: uuid.UUID
    name: str
    sex: str
    age: int


class SummaryOut(Schema):
    """Where a case stands; what anyone who may see it is shown, the patient included."""

    id: uuid.UUID
    state: State
    state_label: str
    specialty: Specialty
    specialty_label: str
    urgency: Urgency
    created_at: dt.datetime
    due_at: dt.datetime
    answered_at: dt.datetime | None
    closed_at: dt.datetime | None
    asker_name: str
    asker_organisation: str
    assignee_name: str
    version: int = Field(description="Send as `expected_version` with the next step.")
    overdue: bool


class StateOut(SummaryOut):
    last_seq: int
    events: list[Event] = Field(description="The steps you may take now.")


class QueueItemOut(SummaryOut):
    patient: PatientBrief | None = Field(description="Null for a general question.")
    question: str | None = Field(description="The start of the question; null for a patient.")
    target_kind: TargetKind
    target_name: str = Field(description="The team or the named specialist; empty for the pool.")
    escalation_level: int


class QueueOut(Schema):
    items: list[QueueItemOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")


class AttachmentOut(Schema):
    id: uuid.UUID = Field(description="The file's id.")
    filename: str
    kind: str
    content_type: str
    size: int
    sha256: str
    url: str
    preview_url: str | None = Field(description="An image to show inline; null when there is none (a PDF).")


class AuthorOut(Schema):
    name: str
    title: str
    specialty: str
    organisation: str
    practitioner_id: uuid.UUID | None


class MessageOut(Schema):
    id: uuid.UUID
    seq: int
    audience: Audience
    kind: MessageKind
    event: str = Field(description="For case events (kind system): what happened.")
    text: str = Field(description="The message, or the case event in words.")
    author: AuthorOut
    created_at: dt.datetime
    supersedes_id: uuid.UUID | None = Field(description="The version this one corrects.")
    superseded: bool = Field(description="A later version corrects this one.")
    attachments: list[AttachmentOut]


class AnswerOut(Schema):
    id: uuid.UUID
    seq: int
    author: AuthorOut
    assessment: str
    recommendation: Recommendation
    plan: str
    examinations: list[str]
    referral_specialty: str
    referral_notes: str
    consensus: bool
    amendment_reason: str
    supersedes_id: uuid.UUID | None
    current: bool
    created_at: dt.datetime


class ParticipantOut(Schema):
    practitioner: PractitionerBrief
    role: ParticipantRole
    invited_by_id: uuid.UUID | None
    invited_at: dt.datetime
    opinion_given_at: dt.datetime | None
    left_at: dt.datetime | None


class RatingOut(Schema):
    useful: int
    avoided_referral: bool
    avoided_travel: bool
    comment: str
    created_at: dt.datetime


class ClinicalOut(Schema):
    """The case itself: for clinicians only."""

    patient: PatientBrief | None
    consortium: NamedRef
    question: str
    history: str
    medication: str
    vitals: dict[str, float]
    target_kind: TargetKind
    target_team: NamedRef | None
    target_practitioner: PractitionerBrief | None
    asker: PractitionerBrief
    asker_organisation: NamedRef
    assignee: PractitionerBrief | None
    escalation_level: int
    target_minutes: int
    close_reason: str
    attachments: list[AttachmentOut] = Field(description="Sent with the request.")
    answers: list[AnswerOut] = Field(description="Every version, oldest first; the last is the answer.")
    participants: list[ParticipantOut]
    rating: RatingOut | None


class CaseOut(Schema):
    summary: SummaryOut
    roles: list[str] = Field(description="Your roles on the case (asker, assignee, patient, …).")
    events: list[Event] = Field(description="The steps you may take now.")
    acts: list[str] = Field(description="What else you may do now: clinician_message, patient_message, invite, "
                                        "opinion.")
    last_seq: int = Field(description="Pass as `after` to GET …/changes.")
    messages: list[MessageOut] = Field(description="Both conversations for clinicians; for the patient only the "
                                                   "patient conversation (current versions).")
    case: ClinicalOut | None = Field(description="The question, clinical details, answer, participants: null for "
                                                 "the patient.")


class ChangesOut(Schema):
    state: State
    version: int
    last_seq: int = Field(description="Pass as `after` next time.")
    messages: list[MessageOut]
    answers: list[AnswerOut] = Field(description="Always empty for the patient.")


class OverdueOut(Schema):
    id: uuid.UUID
    consortium: str
    specialty: Specialty
    urgency: Urgency
    state: State
    created_at: dt.datetime
    due_at: dt.datetime
    escalation_level: int
    asker_organisation: str
    target_kind: TargetKind
    target_team: str | None
    assignee: str | None


class FiguresOut(Schema):
    by_state: dict[str, int]
    by_urgency: dict[str, int]
    overdue: int
    answered: int
    on_time: int = Field(description="Answered cases answered by their due time.")


class TargetsOut(Schema):
    consortium_id: uuid.UUID
    emergency: int
    urgent: int
    routine: int


# --- rendering ---------------------------------------------------------------------------------

def age(birth: dt.date) -> int:
    today = clock.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def patient_brief(c: Consult) -> dict[str, Any] | None:
    p = c.patient if c.patient_id is not None else None
    if p is None:
        return None
    return {"id": p.pk, "name": p.name, "sex": p.sex, "age": age(p.birth_date)}


def _practitioner(p: Any) -> dict[str, Any] | None:
    return {"id": p.pk, "name": p.name, "title": p.title} if p is not None else None


def summary(s: ConsultSummary) -> dict[str, Any]:
    return dict(s.__dict__)


def state_out(c: Consult, events: list[str]) -> dict[str, Any]:
    return {**summary(ConsultSummary.of(c)), "last_seq": c.last_seq, "events": events}


def queue_item(c: Consult, *, clinician: bool) -> dict[str, Any]:
    target = c.target_team.name if c.target_team_id and c.target_team else \
        c.target_practitioner.name if c.target_practitioner_id and c.target_practitioner else ""
    question = c.question if len(c.question) <= 200 else c.question[:199] + "…"
    return {**summary(ConsultSummary.of(c)), "patient": patient_brief(c),
            "question": question if clinician else None, "target_kind": c.target_kind, "target_name": target,
            "escalation_level": c.escalation_level}


def attachment(consult_id: uuid.UUID, a: ConsultAttachment) -> dict[str, Any]:
    f = a.file
    url = reverse("api:consult_attachment", kwargs={"consult_id": consult_id, "file_id": f.pk})
    return {"id": f.pk, "filename": f.filename, "kind": f.kind, "content_type": f.content_type, "size": f.size,
            "sha256": f.sha256, "url": url, "preview_url": f"{url}/preview" if has_preview(f) else None}


def _author(m: ConsultMessage) -> dict[str, Any]:
    return {"name": m.author_name, "title": m.author_title, "specialty": m.author_specialty,
            "organisation": m.author_organisation, "practitioner_id": m.author_practitioner_id}


def message(m: ConsultMessage) -> dict[str, Any]:
    """Expects ``attachments`` prefetched (already cut to the reader's audiences)."""
    text = system_text(m) if m.kind == MessageKind.SYSTEM and not m.body else m.body
    return {"id": m.pk, "seq": m.seq, "audience": m.audience, "kind": m.kind, "event": m.event, "text": text,
            "author": _author(m), "created_at": m.created_at, "supersedes_id": m.supersedes_id,
            "superseded": bool(getattr(m, "is_superseded", False)),
            "attachments": [attachment(m.consult_id, a) for a in m.attachments.all()]}


def answer(a: ConsultAnswer, *, current: bool) -> dict[str, Any]:
    return {"id": a.pk, "seq": a.seq, "author": {"name": a.author_name, "title": a.author_title, "specialty": "",
                                                 "organisation": a.author_organisation,
                                                 "practitioner_id": a.author_id},
            "assessment": a.assessment, "recommendation": a.recommendation, "plan": a.plan,
            "examinations": list(a.examinations or []), "referral_specialty": a.referral_specialty,
            "referral_notes": a.referral_notes, "consensus": a.consensus, "amendment_reason": a.amendment_reason,
            "supersedes_id": a.supersedes_id, "current": current, "created_at": a.created_at}


def answers(rows: list[ConsultAnswer]) -> list[dict[str, Any]]:
    return [answer(a, current=i == len(rows) - 1) for i, a in enumerate(rows)]


def participant(p: ConsultParticipant) -> dict[str, Any]:
    return {"practitioner": _practitioner(p.practitioner), "role": p.role, "invited_by_id": p.invited_by_id,
            "invited_at": p.invited_at, "opinion_given_at": p.opinion_given_at, "left_at": p.left_at}


def _rating(r: ConsultRating | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"useful": r.useful, "avoided_referral": r.avoided_referral, "avoided_travel": r.avoided_travel,
            "comment": r.comment, "created_at": r.created_at}


def clinical(view: CaseView) -> dict[str, Any] | None:
    c = view.consult
    if c is None:
        return None
    return {
        "patient": patient_brief(c), "consortium": {"id": c.consortium_id, "name": c.consortium.name},
        "question": c.question, "history": c.history, "medication": c.medication,
        "vitals": {k: float(v) for k, v in (c.vitals or {}).items()},
        "target_kind": c.target_kind,
        "target_team": {"id": c.target_team_id, "name": c.target_team.name} if c.target_team is not None else None,
        "target_practitioner": _practitioner(c.target_practitioner), "asker": _practitioner(c.asker),
        "asker_organisation": {"id": c.asker_organisation_id, "name": c.asker_organisation.name},
        "assignee": _practitioner(c.assignee), "escalation_level": c.escalation_level,
        "target_minutes": c.target_minutes, "close_reason": c.close_reason,
        "attachments": [attachment(c.pk, a) for a in view.request_attachments],
        "answers": answers(view.answers), "participants": [participant(p) for p in view.participants],
        "rating": _rating(view.rating),
    }


def case(view: CaseView) -> dict[str, Any]:
    return {"summary": summary(view.summary), "roles": sorted(view.roles), "events": view.events,
            "acts": view.acts, "last_seq": view.last_seq, "messages": [message(m) for m in view.messages],
            "case": clinical(view)}


def changes(ch: Changes) -> dict[str, Any]:
    rows = list(ch.answers)
    return {"state": ch.state, "version": ch.version, "last_seq": ch.last_seq,
            "messages": [message(m) for m in ch.messages],
            # ``current``: the newest of what is shown here (the page holds the older versions).
            "answers": answers(rows)}


def overdue(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "consortium": row["consortium__name"], "specialty": row["specialty"],
            "urgency": row["urgency"], "state": row["state"], "created_at": row["created_at"],
            "due_at": row["due_at"], "escalation_level": row["escalation_level"],
            "asker_organisation": row["asker_organisation__name"], "target_kind": row["target_kind"],
            "target_team": row["target_team__name"], "assignee": row["assignee__name"]}

