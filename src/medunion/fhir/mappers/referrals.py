"""Tiered referral as FHIR R4: ServiceRequest (the referral, category referral), Task (the
closed loop's state), Appointment (the bed or appointment the receiving side gave) and
DocumentReference (the referral letter, the treatment summary, the discharge summary, the
rehabilitation plan and interim notes).

These are patient data: the handlers audit every resource they serve and decide what a patient
is served, by allowlist. The mappers are told who reads (``for_patient``) only to leave out the
little a patient-visible resource must not carry (a decline's or cancellation's reason, the
outcome document the Task points to).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from medunion.network.codes import Specialty
from medunion.referrals.models import (
    AdmitKind,
    Direction,
    EntryKind,
    GreenPlace,
    Referral,
    ReferralEntry,
    TaskKind,
)
from medunion.referrals.states import TASK_STATUS, State

from .. import codes
from .common import coding, concept, instant, ref
from .consults import CS_SERVICE_CATEGORY, PRIORITY, SNOMED, TASK_CODE, security

# MedUnion's code systems and extensions of this area (published in docs/fhir.md).
CS_REFERRAL_DIRECTION = f"{codes.CANONICAL}/CodeSystem/referral-direction"
CS_REFERRAL_STATE = f"{codes.CANONICAL}/CodeSystem/referral-state"
CS_REFERRAL_STATUS_REASON = f"{codes.CANONICAL}/CodeSystem/referral-status-reason"
CS_ADMIT_KIND = f"{codes.CANONICAL}/CodeSystem/admit-kind"
CS_DOCUMENT_KIND = f"{codes.CANONICAL}/CodeSystem/referral-document"
CS_GREEN_PLACE = f"{codes.CANONICAL}/CodeSystem/green-place"
EXT_GREEN_CHANNEL = f"{codes.CANONICAL}/StructureDefinition/green-channel"
EXT_REQUESTER_ORGANIZATION = f"{codes.CANONICAL}/StructureDefinition/requester-organization"
REFERRAL = "referral"
SNOMED_REFERRAL = "3457005"

SERVICE_REQUEST_STATUS: dict[str, str] = {
    State.REQUESTED: "active", State.ACCEPTED: "active", State.ARRIVED: "active", State.OUTCOME_RETURNED: "active",
    State.COMPLETED: "completed", State.DECLINED: "revoked", State.CANCELLED: "revoked"}
# Appointment.status of a referral that was given an appointment or a bed (accepted once).
APPOINTMENT_STATUS: dict[str, str] = {
    State.ACCEPTED: "booked", State.ARRIVED: "arrived", State.OUTCOME_RETURNED: "fulfilled",
    State.COMPLETED: "fulfilled", State.CANCELLED: "cancelled"}
# The entry kinds served as DocumentReference, with their LOINC document type.
DOCUMENT_LOINC: dict[str, tuple[str, str]] = {
    EntryKind.REFERRAL_LETTER: ("57133-1", "Referral note"),
    EntryKind.OUTCOME: ("34133-9", "Summary of episode note"),
    EntryKind.DISCHARGE_SUMMARY: ("18842-5", "Discharge summary"),
    EntryKind.REHAB_PLAN: ("18776-5", "Plan of care note"),
    EntryKind.INTERIM_NOTE: ("11506-3", "Progress note"),
}
# The transitions that leave a reason on the referral (Task.statusReason).
STATUS_REASON_EVENTS: dict[str, str] = {State.DECLINED: "decline", State.CANCELLED: "cancel", State.REQUESTED: "redirect"}


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def last_change(r: Referral) -> dt.datetime:
    return max(t for t in (r.created_at, r.accepted_at, r.arrived_at, r.outcome_at, r.completed_at, r.declined_at,
                           r.cancelled_at) if t is not None)


def direction_concept(direction: str) -> dict[str, Any]:
    return concept(CS_REFERRAL_DIRECTION, direction, _label(Direction, direction))


def _requester(r: Referral) -> dict[str, Any]:
    return ref("Practitioner", r.sender_id, r.sender.name)


def _department(r: Referral) -> dict[str, Any] | None:
    if r.target_department_id and r.target_department is not None:
        return ref("Location", r.target_department_id, r.target_department.name)
    return None


def service_request(r: Referral) -> dict[str, Any]:
    """The referral: who is sent where, why, by when. Clinician-only (label R). Expects sender,
    sender_organisation, target_organisation, target_department and target_practitioner selected."""
    direction = _label(Direction, r.direction)
    place = r.target_organisation.name + (f" · {r.target_department.name}" if r.target_department else "")
    extensions = [{"url": EXT_REQUESTER_ORGANIZATION,
                   "valueReference": ref("Organization", r.sender_organisation_id, r.sender_organisation.name)}]
    if r.green_channel:
        extensions.append({"url": EXT_GREEN_CHANNEL, "valueCoding": coding(
            CS_GREEN_PLACE, r.green_place, _label(GreenPlace, r.green_place))})
    performer = [ref("Organization", r.target_organisation_id, r.target_organisation.name)]
    if r.target_practitioner_id and r.target_practitioner is not None:
        performer.append(ref("Practitioner", r.target_practitioner_id, r.target_practitioner.name))
    occurrence: dict[str, Any] = {"start": instant(r.created_at)}
    if r.requested_by:
        occurrence["end"] = r.requested_by.isoformat()
    out: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(r.pk),
        "meta": {"lastUpdated": instant(last_change(r)), "security": security("clinicians")},
        "extension": extensions,
    }
    based_on = []
    if r.consult_id:
        based_on.append(ref("ServiceRequest", r.consult_id))
    if r.parent_id:
        based_on.append(ref("ServiceRequest", r.parent_id))
    if based_on:
        out["basedOn"] = based_on
    out.update({
        "status": SERVICE_REQUEST_STATUS.get(r.state, "unknown"),
        "intent": "order",
        "category": [concept(CS_SERVICE_CATEGORY, REFERRAL, _("referral")), direction_concept(r.direction)],
        "priority": PRIORITY.get(r.urgency, "routine"),
        "code": {"coding": [coding(SNOMED, SNOMED_REFERRAL, "Patient referral")],
                 "text": _("Referral %(direction)s to %(place)s") % {"direction": direction, "place": place}},
        "subject": ref("Patient", r.patient_id),
        "occurrencePeriod": occurrence,
        "authoredOn": instant(r.created_at),
        "requester": _requester(r),
    })
    if r.target_department_id and r.target_department is not None and r.target_department.specialty:
        specialty = r.target_department.specialty
        out["performerType"] = concept(codes.CS_SPECIALTY, specialty, _label(Specialty, specialty))
    out["performer"] = performer
    department = _department(r)
    if department:
        out["locationReference"] = [department]
    out["reasonCode"] = [{"text": r.reason}]
    out["supportingInfo"] = [ref("DocumentReference", r.pk, _("Referral letter"))]
    out["note"] = [{"text": r.clinical_summary}]
    return out


def _status_reason(r: Referral, *, for_patient: bool) -> dict[str, Any] | None:
    """Why it was declined, redirected (it stays requested, at its new place) or cancelled. A
    patient is told which, not the reason's text."""
    if not r.status_reason or r.state not in STATUS_REASON_EVENTS:
        return None
    if r.state == State.REQUESTED and not r.redirect_count:
        return None
    event = STATUS_REASON_EVENTS[r.state]
    labels = {"decline": _("declined"), "cancel": _("cancelled"), "redirect": _("redirected")}
    out = concept(CS_REFERRAL_STATUS_REASON, event, labels[event])
    if not for_patient:
        out["text"] = r.status_reason
    return out


def task(r: Referral, *, for_patient: bool, outcome: ReferralEntry | None = None) -> dict[str, Any]:
    """The closed loop's state. A patient may read it (no clinical content; for them the reason's
    text and the outcome document are left out). Expects sender, receiver, target_practitioner and
    target_organisation selected; ``outcome`` is the treatment summary's entry, if returned."""
    out: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(r.pk),
        "meta": {"lastUpdated": instant(last_change(r))},
        "basedOn": [ref("ServiceRequest", r.pk)],
        "status": TASK_STATUS.get(r.state, "requested"),  # type: ignore[call-overload]
    }
    reason = _status_reason(r, for_patient=for_patient)
    if reason:
        out["statusReason"] = reason
    out.update({
        "businessStatus": concept(CS_REFERRAL_STATE, r.state, _label(State, r.state)),
        "intent": "order",
        "priority": PRIORITY.get(r.urgency, "routine"),
        "code": concept(TASK_CODE, "fulfill", "Fulfill the focal request"),
        "focus": ref("ServiceRequest", r.pk),
        "for": ref("Patient", r.patient_id),
    })
    period = {"start": instant(r.created_at)}
    end = r.completed_at or r.declined_at or r.cancelled_at
    if end:
        period["end"] = instant(end)
    out.update({"executionPeriod": period, "authoredOn": instant(r.created_at),
                "lastModified": instant(last_change(r)), "requester": _requester(r)})
    if r.receiver_id and r.receiver is not None:
        out["owner"] = ref("Practitioner", r.receiver_id, r.receiver.name)
    elif r.target_practitioner_id and r.target_practitioner is not None:
        out["owner"] = ref("Practitioner", r.target_practitioner_id, r.target_practitioner.name)
    else:
        out["owner"] = ref("Organization", r.target_organisation_id, r.target_organisation.name)
    if r.state == State.REQUESTED and r.escalate_at:
        out["restriction"] = {"period": {"end": instant(r.escalate_at)}}
    if outcome is not None and not for_patient:
        out["output"] = [{"type": concept(CS_DOCUMENT_KIND, EntryKind.OUTCOME, _label(EntryKind, EntryKind.OUTCOME)),
                          "valueReference": ref("DocumentReference", outcome.pk)}]
    return out


def appointment(r: Referral, *, for_patient: bool) -> dict[str, Any]:
    """The appointment (or bed) of an accepted referral: when, where, what to bring. MedUnion
    books a time of arrival, not a slot: ``start`` and ``end`` are both that time. Expects
    receiver, target_organisation and target_department selected, and ``appointment_at`` set."""
    assert r.appointment_at is not None
    status = APPOINTMENT_STATUS.get(r.state, "booked")
    place = r.target_organisation.name + (f" · {r.target_department.name}" if r.target_department else "")
    out: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(r.pk),
        "meta": {"lastUpdated": instant(last_change(r))},
        "status": status,
    }
    if status == "cancelled" and not for_patient and r.status_reason:
        out["cancelationReason"] = {"text": r.status_reason}
    if r.admit_kind:
        out["serviceType"] = [concept(CS_ADMIT_KIND, r.admit_kind, _label(AdmitKind, r.admit_kind))]
    out["description"] = f"{place}: {r.location}" if r.location else place
    out.update({"start": instant(r.appointment_at), "end": instant(r.appointment_at)})
    if r.accepted_at:
        out["created"] = instant(r.accepted_at)
    if r.bring:
        out["patientInstruction"] = r.bring
    out["basedOn"] = [ref("ServiceRequest", r.pk)]
    arrived = r.state in (State.ARRIVED, State.OUTCOME_RETURNED, State.COMPLETED)
    participants = [{"actor": ref("Patient", r.patient_id), "required": "required",
                     "status": "accepted" if arrived else "needs-action"}]
    if r.receiver_id and r.receiver is not None:
        participants.append({"actor": ref("Practitioner", r.receiver_id, r.receiver.name), "required": "required",
                             "status": "accepted"})
    department = _department(r)
    if department:
        participants.append({"actor": department, "required": "required", "status": "accepted"})
    out["participant"] = participants
    return out


# --- DocumentReference -------------------------------------------------------------------------

def _plan_text(detail: dict[str, Any]) -> str:
    lines = []
    for i, step in enumerate(detail.get("plan") or [], start=1):
        lines.append(f"{i}. {step.get('due_on', '')} · {_label(TaskKind, step.get('kind', ''))}: "
                     f"{step.get('description', '')}")
    return "\n".join(lines)


def _text_attachment(text: str, title: str, created: dt.datetime) -> dict[str, Any]:
    return {"contentType": "text/plain; charset=utf-8", "data": base64.b64encode(text.encode()).decode(), "title": title, "creation": instant(created)}


def _document(pk: Any, kind: str, *, audience: str, subject: Any, created: dt.datetime, authors: list[dict[str, Any]],
              text: str, referral_id: Any, description: str = "") -> dict[str, Any]:
    loinc, display = DOCUMENT_LOINC[kind]
    title = _label(EntryKind, kind)
    out: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": str(pk),
        "meta": {"lastUpdated": instant(created), "security": security(audience)},
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [coding(codes.LOINC, loinc, display), coding(CS_DOCUMENT_KIND, kind, title)],
                 "text": title},
        "category": [concept(CS_SERVICE_CATEGORY, REFERRAL, _("referral"))],
        "subject": ref("Patient", subject),
        "date": instant(created),
    }
    if authors:
        out["author"] = authors
    if description:
        out["description"] = description
    out["securityLabel"] = [concept(c["system"], c["code"], c.get("display")) for c in security(audience)]
    out["content"] = [{"attachment": _text_attachment(text, title, created)}]
    out["context"] = {"related": [ref("ServiceRequest", referral_id)]}
    return out


def referral_letter(r: Referral) -> dict[str, Any]:
    """The referral letter: the referral's clinical summary, written by the referring clinician.
    Clinician-only. Its id is the referral's. Expects sender and sender_organisation selected."""
    authors = [ref("Practitioner", r.sender_id, r.sender.name),
               ref("Organization", r.sender_organisation_id, r.sender_organisation.name)]
    return _document(r.pk, EntryKind.REFERRAL_LETTER, audience="clinicians", subject=r.patient_id,
                     created=r.created_at, authors=authors, text=r.clinical_summary, referral_id=r.pk,
                     description=r.reason)


def entry_document(e: ReferralEntry) -> dict[str, Any]:
    """A document of the referral's timeline (outcome, discharge summary, rehabilitation plan,
    interim note), with its audience as a security label. A rehabilitation plan is served as text."""
    authors = [ref("Practitioner", e.author_practitioner_id, e.author_name)] if e.author_practitioner_id else []
    text = _plan_text(e.detail) if e.kind == EntryKind.REHAB_PLAN else e.body
    return _document(e.pk, e.kind, audience=e.audience, subject=e.patient_id, created=e.created_at, authors=authors,
                     text=text, referral_id=e.referral_id)
