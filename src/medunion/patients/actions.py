"""Writes to the master patient index. Each checks the policy, validates, writes in one
transaction with its audit row (DESIGN §4.1)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import access_patient, parse_uuid
from medunion.access.policy import Action, can, require
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.crypto import lookup_hash
from medunion.core.errors import Conflict, Duplicate, NotFound, ValidationFailed

from .identity import parse_resident_id
from .models import CareRole, CareTeamMember, Consent, ConsentScope, Patient, QrToken, Sex

_PHONE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")


@dataclass
class PatientInput:
    name: str
    id_number: str = ""
    sex: str = ""
    birth_date: dt.date | None = None
    phone: str = ""
    region_code: str = ""
    address: str = ""


def id_hash(number: str) -> str:
    return lookup_hash(number.upper(), "resident_id")


def phone_hash(phone: str) -> str:
    return lookup_hash(re.sub(r"[^\d]", "", phone)[-11:], "phone")


def _clean(data: PatientInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = (data.name or "").strip()
    if not name or len(name) > 100:
        errors.setdefault("name", []).append(str(_("Enter the patient's name (at most 100 characters).")))
    out: dict[str, Any] = {"name": name, "id_number": "", "id_number_hash": None, "id_number_last4": ""}
    sex, birth = data.sex or "", data.birth_date
    if data.id_number.strip():
        try:
            rid = parse_resident_id(data.id_number)
        except ValidationFailed as exc:
            errors.setdefault("id_number", []).append(str(exc.message))
        else:
            if sex and sex != rid.sex:
                errors.setdefault("sex", []).append(
                    str(_("The sex does not match the ID number, which says %(sex)s.") % {"sex": Sex(rid.sex).label}))
            if birth and birth != rid.birth_date:
                errors.setdefault("birth_date", []).append(
                    str(_("The date of birth does not match the ID number, which says %(date)s.")
                        % {"date": rid.birth_date.isoformat()}))
            sex, birth = rid.sex, rid.birth_date
            out.update(id_number=rid.number, id_number_hash=id_hash(rid.number), id_number_last4=rid.last4)
    else:
        if sex not in Sex.values:
            errors.setdefault("sex", []).append(str(_("Choose the sex, or enter the ID number.")))
        if birth is None:
            errors.setdefault("birth_date", []).append(str(_("Enter the date of birth, or the ID number.")))
    if birth and birth > clock.today():
        errors.setdefault("birth_date", []).append(str(_("The date of birth is in the future.")))
    phone = (data.phone or "").strip().replace(" ", "")
    if phone and not _PHONE.match(phone):
        errors.setdefault("phone", []).append(str(_("Enter a mobile number (11 digits) or a landline.")))
    region = None
    if data.region_code:
        from medunion.network.models import Region

        region = Region.objects.filter(pk=data.region_code).first()
        if region is None:
            errors.setdefault("region_code", []).append(str(_("Unknown region code.")))
    if errors:
        raise ValidationFailed(errors=errors)
    out.update(sex=sex, birth_date=birth, phone=phone, phone_hash=phone_hash(phone) if phone else "",
               region=region, address=(data.address or "").strip()[:300])
    return out


def _existing_error(actor: Actor, existing_id: uuid.UUID) -> Duplicate:
    if can(actor, Action.VIEW_PATIENT, Patient(pk=existing_id)):
        return Duplicate(_("A patient with this ID number is registered already."), field="id_number",
                         existing_patient=str(existing_id))
    return Duplicate(_("A patient with this ID number is registered already, at an organisation you "
                       "cannot see. Ask the patient's family doctor or use break-the-glass access."),
                     field="id_number")


def register_patient(*, acting: Actor, data: PatientInput, organisation_id: uuid.UUID | None = None) -> Patient:
    """Register a patient at the actor's organisation; the actor joins the care team."""
    if not acting.is_practitioner and not acting.system:
        require(acting, Action.REGISTER_PATIENT, visible=False)
    if organisation_id is None:
        if len(acting.org_ids) != 1:
            raise ValidationFailed(_("Choose the organisation you register the patient at."), field="organisation")
        organisation_id = next(iter(acting.org_ids))
    if not can(acting, Action.REGISTER_PATIENT, organisation_id):
        raise ValidationFailed(_("You can only register patients at an organisation where you practise."),
                               field="organisation")
    fields = _clean(data)
    if fields["id_number_hash"]:
        existing = Patient.objects.filter(id_number_hash=fields["id_number_hash"]).values_list("pk", flat=True).first()
        if existing:
            raise _existing_error(acting, existing)
    try:
        with transaction.atomic():
            patient = Patient.objects.create(registered_at_id=organisation_id, registered_by_id=acting.practitioner_id,
                                             **fields)
            if acting.practitioner_id:
                CareTeamMember.objects.create(patient=patient, practitioner_id=acting.practitioner_id,
                                              role=CareRole.REGISTERING, source_type="registration")
            record(acting, "patient.register", Verb.CREATE, obj=patient, patient_id=patient.pk)
    except IntegrityError as exc:  # a concurrent registration of the same ID number won the race
        existing = Patient.objects.filter(id_number_hash=fields["id_number_hash"]).values_list("pk", flat=True).first()
        if existing:
            raise _existing_error(acting, existing) from exc
        raise
    return patient


def update_patient(*, acting: Actor, patient_id: Any, data: PatientInput) -> Patient:
    with transaction.atomic():
        patient = access_patient(acting, patient_id, Action.UPDATE_PATIENT, audit=False)
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        fields = _clean(data)
        if fields["id_number_hash"] and fields["id_number_hash"] != patient.id_number_hash:
            existing = Patient.objects.filter(id_number_hash=fields["id_number_hash"]).exclude(pk=patient.pk) \
                .values_list("pk", flat=True).first()
            if existing:
                raise _existing_error(acting, existing)
        elif not fields["id_number_hash"] and patient.id_number_hash:
            # An ID number once linked is not silently dropped.
            fields.update(id_number=patient.id_number, id_number_hash=patient.id_number_hash,
                          id_number_last4=patient.id_number_last4, sex=patient.sex, birth_date=patient.birth_date)
        changed = sorted(k for k, v in fields.items() if getattr(patient, k) != v and not k.endswith("_hash"))
        for key, value in fields.items():
            setattr(patient, key, value)
        patient.updated_at = clock.now()
        patient.save()
        record(acting, "patient.update", Verb.UPDATE, obj=patient, patient_id=patient.pk,
               detail={"fields": [c for c in changed if c != "id_number_last4"]})
    return patient


# --- QR check-in tokens -------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return lookup_hash(token, "qr")


def issue_qr_token(*, acting: Actor, patient_id: Any) -> QrToken:
    """Issue a new check-in token, revoking the previous one."""
    with transaction.atomic():
        patient = access_patient(acting, patient_id, Action.MANAGE_QR, audit=False)
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        now = clock.now()
        QrToken.objects.filter(patient=patient, revoked_at__isnull=True).update(revoked_at=now)
        raw = secrets.token_urlsafe(18)
        token = QrToken.objects.create(patient=patient, token=raw, token_hash=_token_hash(raw))
        record(acting, "patient.qr.issue", Verb.CREATE, obj=token, patient_id=patient.pk)
    return token


def current_qr_token(*, acting: Actor, patient_id: Any) -> QrToken | None:
    patient = access_patient(acting, patient_id, Action.MANAGE_QR, audit=False)
    return QrToken.objects.filter(patient=patient, revoked_at__isnull=True).first()


def revoke_qr_token(*, acting: Actor, patient_id: Any) -> int:
    with transaction.atomic():
        patient = access_patient(acting, patient_id, Action.MANAGE_QR, audit=False)
        n = QrToken.objects.filter(patient=patient, revoked_at__isnull=True).update(revoked_at=clock.now())
        if not n:
            raise Conflict(_("This patient has no live check-in code."))
        record(acting, "patient.qr.revoke", Verb.UPDATE, object_type="patients.qrtoken", patient_id=patient.pk)
    return n


def find_by_qr(*, acting: Actor, token: str) -> Patient:
    """Check-in: the token names a patient; the actor must still be allowed to see them."""
    qr = QrToken.objects.filter(token_hash=_token_hash((token or "").strip()), revoked_at__isnull=True).first()
    if qr is None:
        raise NotFound(_("This check-in code is unknown or has been revoked."))
    return access_patient(acting, qr.patient_id, audit_action="patient.read_by_qr")


# --- consent --------------------------------------------------------------------------------

def record_consent(*, acting: Actor, patient_id: Any, scope: str, permit: bool = True,
                   consortium_id: Any = None, organisation_id: Any = None,
                   valid_from: dt.date | None = None, valid_until: dt.date | None = None) -> Consent:
    if scope not in ConsentScope.values:
        raise ValidationFailed(_("Unknown consent scope."), field="scope")
    valid_from = valid_from or clock.today()
    if valid_until and valid_until < valid_from:
        raise ValidationFailed(_("The end date is before the start date."), field="valid_until")
    from medunion.access.policy import visible_consortia, visible_organisations

    cons = org = None
    if consortium_id:
        cons = visible_consortia(acting).filter(pk=parse_uuid(consortium_id)).first()
        if cons is None:
            raise ValidationFailed(_("Unknown consortium."), field="consortium")
    if organisation_id:
        org = visible_organisations(acting).filter(pk=parse_uuid(organisation_id)).first()
        if org is None:
            raise ValidationFailed(_("Unknown organisation."), field="organisation")
    with transaction.atomic():
        patient = access_patient(acting, patient_id, Action.MANAGE_CONSENT, audit=False)
        consent = Consent.objects.create(patient=patient, scope=scope, permit=permit, consortium=cons,
                                         organisation=org, valid_from=valid_from, valid_until=valid_until,
                                         recorded_by_id=acting.practitioner_id)
        record(acting, "patient.consent.record", Verb.CREATE, obj=consent, patient_id=patient.pk,
               detail={"scope": scope, "permit": permit})
    return consent


def revoke_consent(*, acting: Actor, patient_id: Any, consent_id: Any) -> Consent:
    with transaction.atomic():
        patient = access_patient(acting, patient_id, Action.MANAGE_CONSENT, audit=False)
        consent = Consent.objects.select_for_update().filter(pk=parse_uuid(consent_id), patient=patient).first()
        if consent is None:
            raise NotFound()
        if consent.revoked_at:
            raise Conflict(_("This consent was revoked already."))
        consent.revoked_at = clock.now()
        consent.save(update_fields=["revoked_at"])
        record(acting, "patient.consent.revoke", Verb.UPDATE, obj=consent, patient_id=patient.pk)
    return consent


# --- care team ------------------------------------------------------------------------------

# Roles a clinician may give by hand; the others come with their workflow (registration, a
# consultation, a referral), which calls add_to_care_team with its own source_type.
MANUAL_CARE_ROLES = {CareRole.FAMILY_DOCTOR, CareRole.ATTENDING}
WORKFLOW_SOURCES = {"registration", "consult", "referral", "contract"}


def add_to_care_team(*, acting: Actor, patient_id: Any, role: str, practitioner_id: Any = None,
                     team_id: Any = None, source_type: str = "", source_id: str = "") -> CareTeamMember:
    """Used by registration, family-doctor contracting, consults and referrals, and by clinicians
    by hand (source_type "page" or "api") for the family doctor or attending clinician.

    Whoever is added sees the record for as long as they stay, so it takes a lasting relationship
    to the patient (Action.MANAGE_CARE_TEAM: not break-the-glass)."""
    from medunion.access.policy import visible_practitioners, visible_teams

    with transaction.atomic():
        # The patient first: someone who may not see them learns nothing from the other checks.
        patient = access_patient(acting, patient_id, Action.MANAGE_CARE_TEAM, audit=False)
        # One change to a care team at a time: two clinicians adding the same team at once get one member.
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        if role not in CareRole.values:
            raise ValidationFailed(_("Unknown care-team role."), field="role")
        if role not in MANUAL_CARE_ROLES and source_type not in WORKFLOW_SOURCES:
            raise ValidationFailed(_("This role is given by its workflow (registration, consultation, referral); "
                                     "add a family doctor or an attending clinician here."), field="role")
        if bool(practitioner_id) == bool(team_id):
            raise ValidationFailed(_("Name either a practitioner or a team."), field="practitioner")
        if practitioner_id and not visible_practitioners(acting).filter(pk=parse_uuid(practitioner_id)).exists():
            raise ValidationFailed(_("Unknown practitioner."), field="practitioner")
        if team_id and not visible_teams(acting).filter(pk=parse_uuid(team_id)).exists():
            raise ValidationFailed(_("Unknown team."), field="team")
        # `x_id=None` is an IS NULL lookup, which the stubs do not model.
        existing = CareTeamMember.objects.filter(patient=patient, role=role, until__isnull=True,  # type: ignore[misc]
                                                 practitioner_id=practitioner_id or None,
                                                 team_id=team_id or None).first()
        if existing:
            return existing
        member = CareTeamMember.objects.create(patient=patient, role=role, practitioner_id=practitioner_id or None,
                                               team_id=team_id or None, source_type=source_type,
                                               source_id=source_id)
        record(acting, "patient.care_team.add", Verb.CREATE, obj=member, patient_id=patient.pk,
               detail={"role": role})
    return member


def join_care_team_for_workflow(*, acting: Actor, patient_id: uuid.UUID, practitioner_id: uuid.UUID, role: str,
                                source_type: str, source_id: str) -> CareTeamMember:
    """A workflow that has authorised its own step adds a clinician to the care team: a
    specialist claiming a consultation, a colleague invited to its MDT. The acting clinician may
    not have a lasting relationship yet (that is what the step creates), so this does not ask
    for one; the caller's policy check is the authority, and the audit row names the clinician
    who acted, the workflow and its record (``source_type``/``source_id``). Grep:
    join_care_team_for_workflow."""
    if source_type not in WORKFLOW_SOURCES - {"registration"} or role not in CareRole.values:
        raise ValidationFailed(_("Unknown care-team role."), field="role")
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient_id).first()
        existing = CareTeamMember.objects.filter(patient_id=patient_id, practitioner_id=practitioner_id, role=role,
                                                 source_type=source_type, source_id=source_id,
                                                 until__isnull=True).first()
        if existing:
            return existing
        member = CareTeamMember.objects.create(patient_id=patient_id, practitioner_id=practitioner_id, role=role,
                                               source_type=source_type, source_id=source_id)
        record(acting, "patient.care_team.add", Verb.CREATE, obj=member, patient_id=patient_id,
               detail={"role": role, "source_type": source_type, "source_id": source_id,
                       "practitioner": str(practitioner_id)})
    return member


def end_workflow_care_team(*, acting: Actor, patient_id: uuid.UUID, source_type: str, source_id: str,
                           until: dt.datetime, practitioner_id: uuid.UUID | None = None) -> int:
    """End the care-team rows a workflow created (all of them, or one clinician's), so access
    does not last forever: they stay live until ``until``. One audit row when any ended."""
    with transaction.atomic():
        rows = CareTeamMember.objects.filter(patient_id=patient_id, source_type=source_type, source_id=source_id,
                                             until__isnull=True)
        if practitioner_id is not None:
            rows = rows.filter(practitioner_id=practitioner_id)
        n = rows.update(until=until)
        if n:
            record(acting, "patient.care_team.end", Verb.UPDATE, object_type="patients.careteammember",
                   patient_id=patient_id, detail={"source_type": source_type, "source_id": source_id, "count": n,
                                                  "until": until.isoformat()})
    return n
