"""Schemas of the remote-diagnosis API (``/api/v1/examinations`` and its neighbours) and the
functions that render the domain's objects into them. Names start with ``Exam`` or
``Diagnostic``: one OpenAPI component per name across the whole API.

What a patient is given is decided by the domain (``queries.patient_report``: signed reports
only); for them the examination's clinical part (the question, images, files, drafts, critical
findings, second reads) is ``null``. Rendering adds nothing the view does not hold.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.urls import reverse
from ninja import Field, Schema
from pydantic import ConfigDict

from medunion.consults.api_schemas import (
    BLOCK,
    LINE,
    MAX_VERSION,
    NamedRef,
    PatientBrief,
    PractitionerBrief,
    age,
)
from medunion.consults.models import Urgency
from medunion.core.json_body import BodyIn
from medunion.referrals.api_schemas import IsoDate

from .codes import BodySite, Modality
from .models import (
    CriticalFinding,
    Decision,
    ExamAttachment,
    Examination,
    Recognition,
    Report,
    ReportKind,
    ReportStatus,
    SecondRead,
    Verdict,
)
from .queries import ExaminationView
from .render import PRESETS, SIZES
from .states import State
from .validation import MAX_CODES, MAX_MEASUREMENTS, NOTE_MAX, QUESTION_MAX, REASON_MAX, SECTION_MAX

__all__ = ["IsoDate"]

FramePreset = Literal["default", "soft_tissue", "lung", "bone", "brain", "liver"]
FrameSize = Literal["thumb", "full"]
assert set(PRESETS) == set(FramePreset.__args__) and set(SIZES) == set(FrameSize.__args__)  # type: ignore[attr-defined]


# --- what goes in -----------------------------------------------------------------------------

class ExamCreateIn(BodyIn):
    patient_id: uuid.UUID
    modality: Modality = Field(description="CT, DX (DR / X-ray), MR, US (ultrasound), ECG, SM (pathology slide "
                                           "images), ES (endoscopy).")
    body_site: BodySite
    body_site_text: str = Field("", max_length=100, pattern=LINE, description="Details; required for `other`.")
    question: str = Field(min_length=1, max_length=QUESTION_MAX, pattern=BLOCK,
                          description="What the reader should answer.")
    urgency: Urgency = Urgency.ROUTINE
    organisation_id: uuid.UUID | None = Field(None, description="Where you practise; needed when you practise at "
                                                                "more than one organisation.")
    consortium_id: uuid.UUID | None = Field(None, description="Which consortium's hub reads it, when there is more "
                                                              "than one.")
    repeat_reason: str = Field("", max_length=REASON_MAX, pattern=BLOCK,
                               description="Why a new examination is needed although a recent signed report of the "
                                           "same modality and body site exists (the 409 `recent_report_exists` "
                                           "lists them).")


class ExamRecogniseIn(BodyIn):
    organisation_id: uuid.UUID | None = Field(None, description="Where you practise; needed when you practise at "
                                                                "more than one organisation.")


class ExamStepIn(BodyIn):
    expected_version: int | None = Field(
        None, ge=0, le=MAX_VERSION,
        description="The examination's `version` as you saw it: if it changed since, the answer is 409 "
                    "`examination_changed` (or `examination_claimed`, naming the reader), and nothing is done.")


class ExamCancelIn(ExamStepIn):
    reason: str = Field(min_length=1, max_length=REASON_MAX, pattern=BLOCK)


class ExamMeasurementIn(BodyIn):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=20, pattern=LINE,
                      description="LOINC: 21889-1 lesion size (mm), 8867-4 heart rate (/min), 8625-6 PR interval "
                                  "(ms), 8633-0 QRS duration (ms), 8636-3 QTc (ms), 10230-1 LVEF (%).")
    value: float = Field(allow_inf_nan=False)


class ExamReportIn(BodyIn):
    findings: str = Field("", max_length=SECTION_MAX, pattern=BLOCK, description="Required to sign.")
    impression: str = Field("", max_length=SECTION_MAX, pattern=BLOCK, description="Required to sign.")
    recommendation: str = Field("", max_length=SECTION_MAX, pattern=BLOCK)
    codes: list[str] = Field(default_factory=list, max_length=MAX_CODES,
                             description="ICD-10 codes of the impression (the ones MedUnion codes are listed in "
                                         "docs/api.md).")
    measurements: list[ExamMeasurementIn] = Field(default_factory=list, max_length=MAX_MEASUREMENTS)
    critical: bool = Field(False, description="A critical finding (危急值): the requester must acknowledge it.")
    critical_note: str = Field("", max_length=NOTE_MAX, pattern=BLOCK, description="Required with `critical`.")
    second_read: bool = Field(False, description="Ask a senior reader for a quality-control second read.")


class ExamSignIn(ExamStepIn):
    report: ExamReportIn | None = Field(None, description="The report to sign; left out: the saved draft.")


class ExamAddendumIn(BodyIn):
    text: str = Field(min_length=1, max_length=SECTION_MAX, pattern=BLOCK)
    critical: bool = False
    critical_note: str = Field("", max_length=NOTE_MAX, pattern=BLOCK)


class ExamAmendIn(ExamReportIn):
    reason: str = Field(min_length=1, max_length=REASON_MAX, pattern=BLOCK, description="Why it is amended.")


class ExamSecondReadIn(BodyIn):
    verdict: Verdict
    comment: str = Field("", max_length=SECTION_MAX, pattern=BLOCK, description="Required unless you agree.")


class DiagnosticRouteIn(BodyIn):
    consortium_id: uuid.UUID
    modality: Modality
    hub_id: uuid.UUID | None = Field(description="The diagnostic hub or hospital of the consortium that reads this "
                                                 "modality for it; null removes the route (errors name `hub`).")


# --- what comes out ---------------------------------------------------------------------------

class ExamSummaryOut(Schema):
    """Where an examination stands: what anyone who may see it is shown, the patient included."""

    id: uuid.UUID
    accession: str
    patient: PatientBrief
    modality: Modality
    modality_label: str
    body_site: BodySite
    body_site_label: str
    body_site_text: str
    urgency: Urgency
    state: State
    state_label: str
    requester: PractitionerBrief
    requesting_organisation: NamedRef
    hub: NamedRef = Field(description="The hub that reads it.")
    reader: PractitionerBrief | None = Field(description="Who claimed it; null before.")
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    claimed_at: dt.datetime | None
    signed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    instance_count: int
    attachment_count: int
    version: int = Field(description="Send as `expected_version` with the next step.")


class ExamStateOut(ExamSummaryOut):
    events: list[str] = Field(description="The steps you may take now (submit, cancel, claim, release, sign).")
    acts: list[str] = Field(description="What else you may do now (upload, write_draft, addendum, amend, "
                                        "second_read, acknowledge).")


class ExamListItemOut(ExamSummaryOut):
    question: str | None = Field(description="The clinical question; null for the patient.")


class ExamListOut(Schema):
    items: list[ExamListItemOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")


class ExamCodeOut(Schema):
    system: str
    code: str
    display: str


class ExamMeasurementOut(Schema):
    code: str = Field(description="LOINC.")
    display: str
    value: float
    unit: str = Field(description="UCUM.")


class ExamAuthorOut(Schema):
    practitioner_id: uuid.UUID
    name: str
    organisation: str


class ExamReportOut(Schema):
    id: uuid.UUID
    kind: ReportKind
    kind_label: str
    status: ReportStatus
    version: int = Field(description="1 for the original, 2… for amended versions; an addendum carries the "
                                     "version it was added to.")
    findings: str
    impression: str
    recommendation: str
    codes: list[ExamCodeOut]
    measurements: list[ExamMeasurementOut]
    critical: bool
    critical_note: str
    reason: str = Field(description="Why it was amended.")
    second_read_requested: bool
    author: ExamAuthorOut
    created_at: dt.datetime
    signed_at: dt.datetime | None
    content_sha256: str = Field(description="SHA-256 of the signed content (empty for a draft).")


class ExamInstanceOut(Schema):
    id: uuid.UUID
    sop_instance_uid: str
    number: int | None
    frames: int
    slice_location: float | None


class ExamSeriesOut(Schema):
    id: uuid.UUID
    series_instance_uid: str
    study_instance_uid: str
    modality: str = Field(description="The DICOM Modality of the series.")
    number: int | None
    description: str
    body_part: str
    instance_count: int
    key_instance_id: uuid.UUID | None = Field(description="The middle instance: the series' thumbnail.")
    instances: list[ExamInstanceOut] = Field(description="In slice order; GET …/instances/{id}/frames/{n}.png.")


class ExamAttachmentOut(Schema):
    id: uuid.UUID
    filename: str
    kind: str
    content_type: str
    size: int
    sha256: str
    url: str


class ExamCriticalOut(Schema):
    id: uuid.UUID
    examination_id: uuid.UUID
    report_id: uuid.UUID
    note: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str = Field(description="Who acknowledged it; empty before.")
    escalated_at: dt.datetime | None = Field(description="When it was escalated, unacknowledged.")


class ExamCriticalItemOut(ExamCriticalOut):
    examination: ExamSummaryOut


class ExamCriticalListOut(Schema):
    items: list[ExamCriticalItemOut]


class ExamCountsOut(Schema):
    worklist: int | None = Field(description="Waiting in the worklist of the modalities I read; null if I read none.")
    mine: int | None = Field(description="Claimed by me, being read; null if I read none.")
    critical: int = Field(description="Critical findings waiting for my side to acknowledge them.")


class ExamSecondReadOut(Schema):
    id: uuid.UUID
    report_id: uuid.UUID
    reviewer: str
    verdict: Verdict
    verdict_label: str
    comment: str
    created_at: dt.datetime


class ExamClinicalOut(Schema):
    """The examination itself: for clinicians only."""

    question: str
    repeat_reason: str = Field(description="Why it was asked for although a recent report existed.")
    cancel_reason: str
    series: list[ExamSeriesOut]
    attachments: list[ExamAttachmentOut] = Field(description="Photos and PDFs (an ECG tracing, slide photos).")
    draft: ExamReportOut | None = Field(description="The report being written: for the reader who claimed it.")
    critical_findings: list[ExamCriticalOut]
    second_reads: list[ExamSecondReadOut]


class ExamDetailOut(Schema):
    summary: ExamSummaryOut
    roles: list[str] = Field(description="Your roles on the examination (requester, hub_reader, reader, …).")
    events: list[str] = Field(description="The steps you may take now.")
    acts: list[str] = Field(description="What else you may do now.")
    reports: list[ExamReportOut] = Field(description="Signed versions and addenda, oldest first.")
    current_report_id: uuid.UUID | None = Field(description="The signed version in force.")
    clinical: ExamClinicalOut | None = Field(description="Question, images, files, draft, critical findings, second "
                                                         "reads: null for the patient.")


class ExamSignOut(ExamStateOut):
    report: ExamReportOut


class ExamFileOut(Schema):
    kind: Literal["instance", "attachment"]
    created: bool = Field(description="False: this file was stored before (same SOP Instance UID, or the same "
                                      "bytes); nothing new was kept.")
    id: uuid.UUID = Field(description="The instance's or the attachment's id.")
    filename: str
    size: int
    sha256: str
    sop_instance_uid: str = Field(description="Empty for a photo or PDF.")
    series_instance_uid: str
    study_instance_uid: str
    instance_count: int = Field(description="The examination's DICOM instances now.")
    attachment_count: int


class ExamReceivedItemOut(Schema):
    name: str
    size: int
    sop_instance_uid: str
    sha256: str


class ExamReceivedOut(Schema):
    count: int
    items: list[ExamReceivedItemOut]


class ExamRecognitionOut(Schema):
    id: uuid.UUID
    examination_id: uuid.UUID = Field(description="The examination whose report is used.")
    decision: Decision
    created_at: dt.datetime


class DiagnosticTurnaroundRowOut(Schema):
    hub_id: uuid.UUID
    hub: str
    modality: Modality
    urgency: Urgency
    sent: int
    waiting: int
    signed: int
    median_minutes: float | None = Field(description="From sending to signature.")
    p90_minutes: float | None


class DiagnosticTotalOut(Schema):
    sent: int
    waiting: int
    signed: int
    median_minutes: float | None
    p90_minutes: float | None


class DiagnosticCriticalOut(Schema):
    raised: int
    acknowledged: int
    escalated: int
    median_ack_minutes: float | None


class DiagnosticRepeatsOut(Schema):
    avoided: int = Field(description="A recent signed report was used instead of a new examination.")
    repeated: int = Field(description="A new examination was asked for anyway (with a reason).")


class DiagnosticFiguresOut(Schema):
    since: dt.date
    until: dt.date
    consortia: list[uuid.UUID]
    rows: list[DiagnosticTurnaroundRowOut]
    total: DiagnosticTotalOut
    critical: DiagnosticCriticalOut
    repeats: DiagnosticRepeatsOut


class DiagnosticRouteOut(Schema):
    id: uuid.UUID
    consortium: NamedRef
    modality: Modality
    modality_label: str
    hub: NamedRef


# --- rendering ---------------------------------------------------------------------------------

def _named(obj: Any) -> dict[str, Any] | None:
    return {"id": obj.pk, "name": obj.name} if obj is not None else None


def _practitioner(p: Any) -> dict[str, Any] | None:
    return {"id": p.pk, "name": p.name, "title": p.title} if p is not None else None


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def summary(e: Examination) -> dict[str, Any]:
    """Expects patient, requester, requesting_organisation, hub and reader loaded with it."""
    p = e.patient
    return {
        "id": e.pk, "accession": e.accession,
        "patient": {"id": p.pk, "name": p.name, "sex": p.sex, "age": age(p.birth_date)},
        "modality": e.modality, "modality_label": _label(Modality, e.modality), "body_site": e.body_site,
        "body_site_label": _label(BodySite, e.body_site), "body_site_text": e.body_site_text, "urgency": e.urgency,
        "state": e.state, "state_label": _label(State, e.state), "requester": _practitioner(e.requester),
        "requesting_organisation": _named(e.requesting_organisation), "hub": _named(e.hub),
        "reader": _practitioner(e.reader) if e.reader_id else None, "created_at": e.created_at,
        "submitted_at": e.submitted_at, "claimed_at": e.claimed_at, "signed_at": e.signed_at,
        "cancelled_at": e.cancelled_at, "instance_count": e.instance_count, "attachment_count": e.attachment_count,
        "version": e.version,
    }


def state_out(e: Examination, events: list[str], acts: list[str]) -> dict[str, Any]:
    return {**summary(e), "events": events, "acts": acts}


def list_item(e: Examination, *, clinician: bool) -> dict[str, Any]:
    return {**summary(e), "question": e.question if clinician else None}


def report(r: Report) -> dict[str, Any]:
    return {
        "id": r.pk, "kind": r.kind, "kind_label": _label(ReportKind, r.kind), "status": r.status,
        "version": r.version, "findings": r.findings, "impression": r.impression,
        "recommendation": r.recommendation, "codes": list(r.codes or []), "measurements": list(r.measurements or []),
        "critical": r.critical, "critical_note": r.critical_note, "reason": r.reason,
        "second_read_requested": r.second_read_requested,
        "author": {"practitioner_id": r.author_id, "name": r.author_name, "organisation": r.author_organisation},
        "created_at": r.created_at, "signed_at": r.signed_at, "content_sha256": r.content_sha256,
    }


def attachment(a: ExamAttachment) -> dict[str, Any]:
    f = a.file
    return {"id": a.pk, "filename": a.original_name or f.filename, "kind": f.kind, "content_type": f.content_type,
            "size": f.size, "sha256": f.sha256,
            "url": reverse("api:examination_attachment",
                           kwargs={"examination_id": a.examination_id, "attachment_id": a.pk})}


def critical(c: CriticalFinding) -> dict[str, Any]:
    return {"id": c.pk, "examination_id": c.examination_id, "report_id": c.report_id, "note": c.note,
            "created_at": c.created_at, "acknowledged_at": c.acknowledged_at,
            "acknowledged_by": c.acknowledged_by_name, "escalated_at": c.escalated_at}


def second_read(s: SecondRead) -> dict[str, Any]:
    return {"id": s.pk, "report_id": s.report_id, "reviewer": s.reviewer_name, "verdict": s.verdict,
            "verdict_label": _label(Verdict, s.verdict), "comment": s.comment, "created_at": s.created_at}


def recognition(r: Recognition) -> dict[str, Any]:
    return {"id": r.pk, "examination_id": r.examination_id, "decision": r.decision, "created_at": r.created_at}


def _series(view: ExaminationView, study_uids: dict[Any, str]) -> list[dict[str, Any]]:
    out = []
    for sv in view.series:
        s = sv.series
        key = sv.key_instance
        out.append({
            "id": s.pk, "series_instance_uid": s.series_instance_uid,
            "study_instance_uid": study_uids.get(s.study_id, ""), "modality": s.modality, "number": s.number,
            "description": s.description, "body_part": s.body_part, "instance_count": len(sv.instances),
            "key_instance_id": key.pk if key else None,
            "instances": [{"id": i.pk, "sop_instance_uid": i.sop_instance_uid, "number": i.number,
                           "frames": i.frames, "slice_location": i.slice_location} for i in sv.instances],
        })
    return out


def examination(view: ExaminationView, *, for_patient: bool,
                study_uids: dict[Any, str] | None = None) -> dict[str, Any]:
    """The examination as the viewer may see it (``study_uids``: study id → Study Instance UID)."""
    e = view.exam
    current = view.current
    clinical = None
    if not for_patient:
        clinical = {
            "question": e.question, "repeat_reason": e.repeat_reason, "cancel_reason": e.cancel_reason,
            "series": _series(view, study_uids or {}), "attachments": [attachment(a) for a in view.attachments],
            "draft": report(view.draft) if view.draft is not None else None,
            "critical_findings": [critical(c) for c in view.critical],
            "second_reads": [second_read(s) for s in view.second_reads],
        }
    return {"summary": summary(e), "roles": sorted(view.roles), "events": view.events, "acts": view.acts,
            "reports": [report(r) for r in view.reports], "current_report_id": current.pk if current else None,
            "clinical": clinical}


def route(r: Any) -> dict[str, Any]:
    return {"id": r.pk, "consortium": _named(r.consortium), "modality": r.modality,
            "modality_label": _label(Modality, r.modality), "hub": _named(r.hub)}
