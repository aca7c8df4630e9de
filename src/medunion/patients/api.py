"""``/api/v1/patients``: the master patient index for phones, clinics and integrations.

Every answer that shows a patient is an audited read (one row per patient); every write leaves
its own row (the actions write it). A patient the caller may not see answers 404, exactly like
one that does not exist.

The resident ID number: lists (search) show only ``masked_id_number``; the single-patient
answers (read, register, update, check-in) also carry ``id_number`` in full — whoever may open
the record (the patient, a clinician in the care team, at the registering organisation or with
break-the-glass access) needs the number to identify the person in front of them. Phones are
masked in lists in the same way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from medunion.access.loaders import access_patient
from medunion.access.policy import Action, relationship_to, require
from medunion.api import api_actor, idempotent, problems
from medunion.core import clock
from medunion.core.idempotency import run_once
from medunion.core.json_body import BodyIn, JsonBody

from . import actions, queries
from .models import CareRole, CareTeamMember, Consent, ConsentScope, Patient, Sex

router = Router(tags=["patients"])

# No control characters: they have no place in a name or address, and PostgreSQL refuses NUL.
LINE = r"^[^\x00-\x1f\x7f]*$"



# --- schemas ------------------------------------------------------------------------------------

class PatientOrganisationRef(Schema):
    id: uuid.UUID
    name: str


class PatientRegionRef(Schema):
    code: str
    name: str


class PatientSummary(Schema):
    id: uuid.UUID
    name: str
    sex: Sex
    birth_date: dt.date
    age: int
    masked_id_number: str = Field(description="The resident ID number with all but its last four characters hidden.")
    masked_phone: str
    registered_at: PatientOrganisationRef


class PatientOut(PatientSummary):
    id_number: str = Field(description="The full resident ID number (empty when none is recorded).")
    phone: str
    region: PatientRegionRef | None
    address: str
    relationship: str = Field(description="Why you may see this patient: self, care_team, same_organisation, "
                                          "break_glass.")
    created_at: dt.datetime
    updated_at: dt.datetime


class PatientIn(BodyIn):
    name: str = Field(min_length=1, max_length=100, pattern=LINE)
    id_number: str = Field("", max_length=18, pattern=LINE,
                           description="The 18-character resident ID number; sex and date of birth follow from it.")
    sex: Sex | None = Field(None, description="Required without an ID number.")
    birth_date: dt.date | None = Field(None, description="Required without an ID number.")
    phone: str = Field("", max_length=20, pattern=LINE)
    region_code: str = Field("", max_length=12, pattern=LINE, description="12-digit division code of the address.")
    address: str = Field("", max_length=300, pattern=LINE)


class RegisterIn(PatientIn):
    organisation_id: uuid.UUID | None = Field(
        None, description="Where the patient is registered; needed when you practise at more than one organisation.")


class CareTeamMemberOut(Schema):
    id: uuid.UUID
    role: CareRole
    practitioner_id: uuid.UUID | None
    practitioner_name: str | None
    team_id: uuid.UUID | None
    team_name: str | None
    since: dt.datetime
    until: dt.datetime | None


class CareTeamIn(BodyIn):
    role: CareRole
    practitioner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None


class ConsentOut(Schema):
    id: uuid.UUID
    scope: ConsentScope
    permit: bool
    consortium: PatientOrganisationRef | None
    organisation: PatientOrganisationRef | None
    valid_from: dt.date
    valid_until: dt.date | None
    revoked_at: dt.datetime | None
    active: bool


class ConsentIn(BodyIn):
    scope: ConsentScope
    permit: bool = True
    consortium_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    valid_from: dt.date | None = Field(None, description="Today when left out.")
    valid_until: dt.date | None = None


class QrOut(Schema):
    token: str = Field(description="The check-in code: shown this once; encode it as a QR code for the patient.")
    issued_at: dt.datetime


class CheckInIn(BodyIn):
    token: str = Field(min_length=1, max_length=100, pattern=LINE)


class AccessLogEntryOut(Schema):
    at: dt.datetime
    who: str
    role: str
    organisation: str
    what: str
    purpose: str
    action: str
    refused: bool
    by_you: bool


class AccessLogOut(Schema):
    items: list[AccessLogEntryOut]
    next_before: int | None = Field(description="Pass as `before` to get the next (older) page; null at the end.")


# --- rendering ------------------------------------------------------------------------------------

def _age(birth: dt.date) -> int:
    today = clock.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _mask_phone(phone: str) -> str:
    digits = phone.replace("-", "")
    if not digits:
        return ""
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


def _summary(p: Patient) -> dict[str, Any]:
    return {"id": p.pk, "name": p.name, "sex": p.sex, "birth_date": p.birth_date, "age": _age(p.birth_date),
            "masked_id_number": p.masked_id_number, "masked_phone": _mask_phone(p.phone),
            "registered_at": {"id": p.registered_at_id, "name": p.registered_at.name}}


def _full(request: HttpRequest, p: Patient, relationship: str | None = None) -> dict[str, Any]:
    actor = api_actor(request)
    out = _summary(p)
    out.update(id_number=p.id_number, phone=p.phone, address=p.address,
               region={"code": p.region.code, "name": p.region.name} if p.region is not None else None,
               relationship=relationship or relationship_to(actor, p.pk) or "",
               created_at=p.created_at, updated_at=p.updated_at)
    return out


def _member(m: CareTeamMember) -> dict[str, Any]:
    return {"id": m.pk, "role": m.role, "since": m.since, "until": m.until,
            "practitioner_id": m.practitioner_id, "practitioner_name": m.practitioner.name if m.practitioner else None,
            "team_id": m.team_id, "team_name": m.team.name if m.team else None}


def _consent(c: Consent) -> dict[str, Any]:
    today = clock.today()
    return {"id": c.pk, "scope": c.scope, "permit": c.permit, "valid_from": c.valid_from,
            "valid_until": c.valid_until, "revoked_at": c.revoked_at,
            "consortium": {"id": c.consortium_id, "name": c.consortium.name} if c.consortium else None,
            "organisation": {"id": c.organisation_id, "name": c.organisation.name} if c.organisation else None,
            "active": c.revoked_at is None and c.valid_from <= today and (c.valid_until is None or c.valid_until >= today)}


def _input(payload: PatientIn) -> actions.PatientInput:
    return actions.PatientInput(name=payload.name, id_number=payload.id_number, sex=payload.sex or "",
                                birth_date=payload.birth_date, phone=payload.phone,
                                region_code=payload.region_code, address=payload.address)


# --- the patient --------------------------------------------------------------------------------------

@router.get("", response=list[PatientSummary], summary="Find patients by ID number, phone or name")
def search(request: HttpRequest, q: str = Query(..., min_length=1, max_length=100, pattern=LINE,
                                               description="An 18-character ID number or a mobile number "
                                                           "(exact), or part of a name.")):
    actor = api_actor(request)
    require(actor, Action.SEARCH_PATIENTS, visible=False)
    return [_summary(p) for p in queries.search_patients(actor, q)]


@router.post("", response={201: PatientOut}, summary="Register a patient", openapi_extra=idempotent(403, 409))
def register(request: HttpRequest, response: HttpResponse, payload: JsonBody[RegisterIn]):
    actor = api_actor(request)
    created: dict[str, Patient] = {}

    def perform() -> dict[str, Any]:
        created["patient"] = actions.register_patient(acting=actor, data=_input(payload),
                                                      organisation_id=payload.organisation_id)
        return {"status": 201, "patient_id": created["patient"].pk}

    result, replayed = run_once(request, response, actor=actor, scope="patients.register",
                                payload=payload.model_dump(mode="json"), perform=perform)
    patient = access_patient(actor, result["patient_id"]) if replayed else created["patient"]
    return Status(result["status"], _full(request, patient))


@router.post("/check-in", response=PatientOut, summary="Find the patient of a check-in code",
             openapi_extra=problems(404))
def check_in(request: HttpRequest, payload: JsonBody[CheckInIn]):
    patient = actions.find_by_qr(acting=api_actor(request), token=payload.token)
    return _full(request, patient)


@router.get("/{patient_id}", response=PatientOut, summary="Read a patient", openapi_extra=problems(404))
def read(request: HttpRequest, patient_id: uuid.UUID):
    actor = api_actor(request)
    return _full(request, access_patient(actor, patient_id))


@router.put("/{patient_id}", response=PatientOut, summary="Update a patient's details",
            openapi_extra=problems(403, 404, 409))
def update(request: HttpRequest, patient_id: uuid.UUID, payload: JsonBody[PatientIn]):
    patient = actions.update_patient(acting=api_actor(request), patient_id=patient_id, data=_input(payload))
    return _full(request, patient)


# --- care team ---------------------------------------------------------------------------------------

@router.get("/{patient_id}/care-team", response=list[CareTeamMemberOut], summary="The patient's care team",
            openapi_extra=problems(404))
def care_team(request: HttpRequest, patient_id: uuid.UUID):
    patient = access_patient(api_actor(request), patient_id, audit_action="patient.care_team.read")
    return [_member(m) for m in queries.care_team_of(patient)]


@router.post("/{patient_id}/care-team", response={201: CareTeamMemberOut},
             summary="Add a practitioner or a team to the care team (adding a present member returns it)",
             openapi_extra=problems(403, 404))
def add_care_team_member(request: HttpRequest, patient_id: uuid.UUID, payload: JsonBody[CareTeamIn]):
    member = actions.add_to_care_team(acting=api_actor(request), patient_id=patient_id, role=payload.role,
                                      practitioner_id=payload.practitioner_id, team_id=payload.team_id,
                                      source_type="api")
    return Status(201, _member(member))


# --- consent ----------------------------------------------------------------------------------------

@router.get("/{patient_id}/consents", response=list[ConsentOut], summary="The patient's consents",
            openapi_extra=problems(404))
def consents(request: HttpRequest, patient_id: uuid.UUID):
    patient = access_patient(api_actor(request), patient_id, audit_action="patient.consents.read")
    return [_consent(c) for c in queries.consents_of(patient)]


@router.post("/{patient_id}/consents", response={201: ConsentOut}, summary="Record a consent",
             openapi_extra=idempotent(403, 404))
def record_consent(request: HttpRequest, response: HttpResponse, patient_id: uuid.UUID, payload: JsonBody[ConsentIn]):
    actor = api_actor(request)
    created: dict[str, Consent] = {}

    def perform() -> dict[str, Any]:
        created["consent"] = actions.record_consent(
            acting=actor, patient_id=patient_id, scope=payload.scope, permit=payload.permit,
            consortium_id=payload.consortium_id, organisation_id=payload.organisation_id,
            valid_from=payload.valid_from, valid_until=payload.valid_until)
        return {"status": 201, "consent_id": created["consent"].pk}

    result, replayed = run_once(request, response, actor=actor, scope="patients.consent",
                                payload={"patient_id": patient_id, "body": payload.model_dump(mode="json")},
                                perform=perform)
    if replayed:
        patient = access_patient(actor, patient_id, audit_action="patient.consents.read")
        consent = queries.consent_of(patient, result["consent_id"])
        if consent is None:  # pragma: no cover - consents are never deleted
            from medunion.core.errors import NotFound

            raise NotFound()
    else:
        consent = created["consent"]
    return Status(result["status"], _consent(consent))


@router.post("/{patient_id}/consents/{consent_id}/revoke", response=ConsentOut, summary="Withdraw a consent",
             openapi_extra=problems(403, 404, 409))
def revoke_consent(request: HttpRequest, patient_id: uuid.UUID, consent_id: uuid.UUID):
    consent = actions.revoke_consent(acting=api_actor(request), patient_id=patient_id, consent_id=consent_id)
    return _consent(consent)


# --- check-in QR code -----------------------------------------------------------------------------------

@router.post("/{patient_id}/qr", response={201: QrOut},
             summary="Issue a new check-in code (the previous one stops working)", openapi_extra=problems(403, 404))
def issue_qr(request: HttpRequest, patient_id: uuid.UUID):
    token = actions.issue_qr_token(acting=api_actor(request), patient_id=patient_id)
    return Status(201, {"token": token.token, "issued_at": token.created_at})


@router.delete("/{patient_id}/qr", response={204: None}, summary="Revoke the check-in code",
               openapi_extra=problems(403, 404, 409))
def revoke_qr(request: HttpRequest, patient_id: uuid.UUID):
    actions.revoke_qr_token(acting=api_actor(request), patient_id=patient_id)
    return Status(204, None)


# --- who accessed the record ---------------------------------------------------------------------------

@router.get("/{patient_id}/access-log", response=AccessLogOut,
            summary="Who accessed this record (the patient's own account only)", openapi_extra=problems(403, 404))
def access_log(request: HttpRequest, patient_id: uuid.UUID,
               limit: int = Query(50, ge=1, le=200),
               before: int | None = Query(None, ge=1, description="`next_before` of the previous page.")):
    actor = api_actor(request)
    patient = access_patient(actor, patient_id, Action.VIEW_ACCESS_LOG, audit_action="patient.access_log.read")
    entries = queries.readable_access_log(patient, viewer_user_id=actor.user_id, limit=limit, before=before)
    return {"items": [e.__dict__ for e in entries],
            "next_before": entries[-1].seq if len(entries) == limit else None}
