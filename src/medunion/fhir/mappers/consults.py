"""Teleconsultation as FHIR R4: ServiceRequest (the request, category consultation), Task (its
workflow state) and Communication (each message, with its audience as a security label).

These are patient data: the handlers audit every resource they serve. What a patient is served is
decided there by allowlist; the mappers are told who reads (``for_patient``) only to leave out
the little a patient-visible resource must not carry (a cancellation's reason).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from medunion.consults.models import Audience, Consult, ConsultMessage, MessageKind, TargetKind, Urgency
from medunion.consults.queries import system_text
from medunion.consults.states import State
from medunion.consults.validation import VITALS
from medunion.network.codes import Specialty

from .. import codes
from .common import coding, concept, instant, ref

# MedUnion's code systems and extensions of this area (published in docs/fhir.md).
CS_SERVICE_CATEGORY = f"{codes.CANONICAL}/CodeSystem/service-category"
CS_CONSULT_STATE = f"{codes.CANONICAL}/CodeSystem/consult-state"
CS_MESSAGE_KIND = f"{codes.CANONICAL}/CodeSystem/message-kind"
CS_AUDIENCE = f"{codes.CANONICAL}/CodeSystem/audience"
EXT_SHA256 = f"{codes.CANONICAL}/StructureDefinition/attachment-sha256"
EXT_REPLACES = f"{codes.CANONICAL}/StructureDefinition/replaces"
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SNOMED = "http://snomed.info/sct"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
CONSULTATION = "consultation"
SNOMED_CONSULTATION = "11429006"

PRIORITY: dict[str, str] = {Urgency.ROUTINE: "routine", Urgency.URGENT: "urgent", Urgency.EMERGENCY: "stat"}
SERVICE_REQUEST_STATUS: dict[str, str] = {State.REQUESTED: "active", State.IN_PROGRESS: "active", State.ON_HOLD: "on-hold",
                          State.ANSWERED: "active", State.COMPLETED: "completed", State.CANCELLED: "revoked"}
# ``answered`` is not the end of the workflow (the asker confirms, or asks a follow-up question):
# the Task stays in progress and says so in its businessStatus.
TASK_STATUS: dict[str, str] = {State.REQUESTED: "requested", State.IN_PROGRESS: "in-progress", State.ON_HOLD: "on-hold",
               State.ANSWERED: "in-progress", State.COMPLETED: "completed", State.CANCELLED: "cancelled"}


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def security(audience: str) -> list[dict[str, Any]]:
    """The audience as security labels: clinician-only content is v3 Confidentiality R
    (restricted) plus MedUnion's ``clinicians``; the patient conversation N plus ``patient``."""
    if audience == Audience.PATIENT:
        return [coding(V3_CONFIDENTIALITY, "N", "normal"), coding(CS_AUDIENCE, "patient", _("patient and care team"))]
    return [coding(V3_CONFIDENTIALITY, "R", "restricted"), coding(CS_AUDIENCE, "clinicians", _("clinicians only"))]


def _last_change(c: Consult) -> dt.datetime:
    return max(t for t in (c.created_at, c.assigned_at, c.answered_at, c.closed_at, c.on_hold_since,
                           c.asker_replied_at) if t is not None)


def _subject(c: Consult) -> dict[str, Any]:
    if c.patient_id is not None:
        return ref("Patient", c.patient_id)
    return {"display": _("general question, about no patient")}


def _requester(c: Consult) -> dict[str, Any]:
    return ref("Practitioner", c.asker_id, c.asker.name)


def _performer(c: Consult) -> dict[str, Any]:
    if c.target_kind == TargetKind.PRACTITIONER and c.target_practitioner_id:
        return ref("Practitioner", c.target_practitioner_id, c.target_practitioner.name)  # type: ignore[union-attr]
    if c.target_kind == TargetKind.TEAM and c.target_team_id:
        return ref("CareTeam", c.target_team_id, c.target_team.name)  # type: ignore[union-attr]
    return ref("Organization", c.consortium_id, c.consortium.name)


def _vitals_text(vitals: dict[str, Any]) -> str:
    parts = []
    for key, value in (vitals or {}).items():
        label = VITALS[key][3] if key in VITALS else key
        parts.append(f"{label}: {value}")
    return "; ".join(parts)


def service_request(c: Consult) -> dict[str, Any]:
    """The request: what was asked, about whom, by whom, of whom. Clinician-only (label R).
    Expects patient, asker, consortium, target_practitioner and target_team selected."""
    specialty = _label(Specialty, c.specialty)
    notes = [{"text": f"{title}: {text}"} for title, text in (
        (_("History"), c.history), (_("Current medication"), c.medication),
        (_("Vital signs"), _vitals_text(c.vitals))) if text]
    out: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(c.pk),
        "meta": {"lastUpdated": instant(_last_change(c)), "security": security(Audience.CLINICIANS)},
        "status": SERVICE_REQUEST_STATUS.get(c.state, "unknown"),
        "intent": "order",
        "category": [concept(CS_SERVICE_CATEGORY, CONSULTATION, _("consultation"))],
        "priority": PRIORITY.get(c.urgency, "routine"),
        "code": {"coding": [coding(SNOMED, SNOMED_CONSULTATION, "Consultation")],
                 "text": _("%(specialty)s consultation") % {"specialty": specialty}},
        "subject": _subject(c),
        "occurrencePeriod": {"start": instant(c.created_at), "end": instant(c.due_at)},
        "authoredOn": instant(c.created_at),
        "requester": _requester(c),
        "performerType": concept(codes.CS_SPECIALTY, c.specialty, specialty),
        "performer": [_performer(c)],
        "reasonCode": [{"text": c.question}],
    }
    if notes:
        out["note"] = notes
    return out


def task(c: Consult, *, for_patient: bool) -> dict[str, Any]:
    """The workflow state of the case: who owns it, by when it must be answered. A patient may
    read it (it carries no clinical content; for them the cancellation's reason is left out).
    Expects asker and assignee selected."""
    out: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(c.pk),
        "meta": {"lastUpdated": instant(_last_change(c))},
        "basedOn": [ref("ServiceRequest", c.pk)],
        "status": TASK_STATUS.get(c.state, "requested"),
        "businessStatus": concept(CS_CONSULT_STATE, c.state, _label(State, c.state)),
        "intent": "order",
        "priority": PRIORITY.get(c.urgency, "routine"),
        "code": concept(TASK_CODE, "fulfill", "Fulfill the focal request"),
        "focus": ref("ServiceRequest", c.pk),
        "authoredOn": instant(c.created_at),
        "lastModified": instant(_last_change(c)),
        "requester": _requester(c),
        "restriction": {"period": {"end": instant(c.due_at)}},
    }
    if c.patient_id is not None:
        out["for"] = ref("Patient", c.patient_id)
    if c.state == State.CANCELLED and c.close_reason and not for_patient:
        out["statusReason"] = {"text": c.close_reason}
    period: dict[str, Any] = {}
    if c.assigned_at:
        period["start"] = instant(c.assigned_at)
    if c.closed_at:
        period["end"] = instant(c.closed_at)
    if period:
        out["executionPeriod"] = period
    if c.assignee_id:
        out["owner"] = ref("Practitioner", c.assignee_id, c.assignee.name)  # type: ignore[union-attr]
    return out


def attachment_url(consult_id: Any, file_id: Any) -> str:
    """The JSON API's download of the file (the same access check and audit as the case page).
    Absolute when MEDUNION_PUBLIC_URL is set."""
    path = reverse("api:consult_attachment", kwargs={"consult_id": consult_id, "file_id": file_id})
    return getattr(settings, "MEDUNION_PUBLIC_URL", "").rstrip("/") + path


def _attachment(consult_id: Any, f: Any) -> dict[str, Any]:
    # R4's Attachment.hash is SHA-1; MedUnion keeps SHA-256, carried in an extension (base64).
    return {"contentType": f.content_type, "url": attachment_url(consult_id, f.pk), "size": f.size,
            "title": f.filename, "creation": instant(f.created_at),
            "extension": [{"url": EXT_SHA256,
                           "valueBase64Binary": base64.b64encode(bytes.fromhex(f.sha256)).decode()}]}


def _sender(m: ConsultMessage) -> dict[str, Any] | None:
    if m.author_practitioner_id:
        return ref("Practitioner", m.author_practitioner_id, m.author_name)
    author = m.author if m.author_id else None
    if author is not None and author.patient_id:
        return ref("Patient", author.patient_id, m.author_name)
    return None


def communication(m: ConsultMessage, *, superseded: bool) -> dict[str, Any]:
    """One message of a case. Expects author selected and ``attachments`` prefetched, already cut
    to what the reader may see."""
    text = system_text(m) if m.kind == MessageKind.SYSTEM and not m.body else m.body
    payload: list[dict[str, Any]] = [{"contentString": text}] if text else []
    payload += [{"contentAttachment": _attachment(m.consult_id, a.file)} for a in m.attachments.all()]
    out: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(m.pk),
        "meta": {"lastUpdated": instant(m.created_at), "security": security(m.audience)},
    }
    if m.supersedes_id:
        out["extension"] = [{"url": EXT_REPLACES, "valueReference": ref("Communication", m.supersedes_id)}]
    out.update({
        "basedOn": [ref("ServiceRequest", m.consult_id)],
        # A corrected message stays on the record, marked as replaced by its correction.
        "status": "entered-in-error" if superseded else "completed",
        "category": [concept(CS_MESSAGE_KIND, m.kind, _label(MessageKind, m.kind))],
    })
    if m.patient_id is not None:
        out["subject"] = ref("Patient", m.patient_id)
    out["sent"] = instant(m.created_at)
    sender = _sender(m)
    if sender:
        out["sender"] = sender
    if payload:
        out["payload"] = payload
    return out
