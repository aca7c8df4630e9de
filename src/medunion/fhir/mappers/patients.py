"""The master patient index as FHIR: Patient, Consent, and the patient's CareTeam.

These are patient data: the handlers audit every resource they serve."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from medunion.patients.models import CareRole, CareTeamMember, Consent, ConsentScope, Patient

from .. import codes
from .common import Division, address, coding, concept, human_name, instant, meta, phone_telecom, ref

PATIENT_CARE_TEAM_PREFIX = "pt-"

_FHIR_SCOPE_DISPLAY = {"patient-privacy": "Privacy Consent", "research": "Research"}
_ACTION_DISPLAY = {"disclose": "Disclose", "use": "Use", "access": "Access"}
_PURPOSE_DISPLAY = {"TREAT": "treatment", "HRESCH": "healthcare research"}


def resident_identifier(number: str) -> dict[str, Any]:
    return {
        "use": "official",
        "type": concept(codes.V2_0203, "NI", "National unique individual identifier", _("resident ID number")),
        "system": codes.RESIDENT_ID,
        "value": number,
    }


def patient(p: Patient, chains: dict[str, list[Division]]) -> dict[str, Any]:
    """Expects ``registered_at`` selected. The ID number, phone and address are served in full:
    this is only ever called for an actor allowed to see the patient."""
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(p.pk),
        "meta": meta(p.updated_at),
    }
    if p.id_number:
        out["identifier"] = [resident_identifier(p.id_number)]
    out.update({
        "active": True,
        "name": [human_name(p.name)],
        "gender": p.sex,
        "birthDate": p.birth_date.isoformat(),
    })
    if p.phone:
        out["telecom"] = [phone_telecom(p.phone, "home")]
    addr = address(chains.get(p.region_id or "", []), p.address, use="home")
    if addr:
        out["address"] = [addr]
    out["managingOrganization"] = ref("Organization", p.registered_at_id, p.registered_at.name)
    return out


def consent_is_active(c: Consent, today: dt.date) -> bool:
    return c.revoked_at is None and (c.valid_until is None or c.valid_until >= today)


def consent(c: Consent, today: dt.date) -> dict[str, Any]:
    """Expects consortium and organisation selected."""
    fhir_scope, action, purpose = codes.CONSENT_MAP.get(c.scope, ("patient-privacy", "disclose", "TREAT"))
    period: dict[str, Any] = {"start": c.valid_from.isoformat()}
    if c.valid_until:
        period["end"] = c.valid_until.isoformat()
    provision: dict[str, Any] = {
        "type": "permit" if c.permit else "deny",
        "period": period,
        "action": [concept(codes.CONSENT_ACTION, action, _ACTION_DISPLAY[action])],
        "purpose": [coding(codes.V3_ACT_REASON, purpose, _PURPOSE_DISPLAY[purpose])],
    }
    recipients = []
    recipient_role = concept(codes.V3_PARTICIPATION, "IRCP", "information recipient")
    if c.consortium_id and c.consortium:
        recipients.append({"role": recipient_role, "reference": ref("Organization", c.consortium_id,
                                                                    c.consortium.name)})
    if c.organisation_id and c.organisation:
        recipients.append({"role": recipient_role, "reference": ref("Organization", c.organisation_id,
                                                                    c.organisation.name)})
    if recipients:
        provision["actor"] = recipients
    try:
        scope_label = str(ConsentScope(c.scope).label)
    except ValueError:
        scope_label = c.scope
    return {
        "resourceType": "Consent",
        "id": str(c.pk),
        "meta": meta(c.revoked_at or c.created_at),
        "status": "active" if consent_is_active(c, today) else "inactive",
        "scope": concept(codes.CONSENT_SCOPE, fhir_scope, _FHIR_SCOPE_DISPLAY[fhir_scope]),
        "category": [concept(codes.LOINC, "59284-0", "Patient Consent"),
                     concept(codes.CS_CONSENT_SCOPE, c.scope, scope_label)],
        "patient": ref("Patient", c.patient_id),
        "dateTime": instant(c.created_at),
        "performer": [ref("Patient", c.patient_id)],
        "policyRule": concept(codes.V3_ACT_CODE, "OPTIN" if c.permit else "OPTOUT",
                              "opt-in" if c.permit else "opt-out"),
        "provision": provision,
    }


def care_team_id(patient_id: Any) -> str:
    return f"{PATIENT_CARE_TEAM_PREFIX}{patient_id}"


def patient_care_team(p: Patient, members: list[CareTeamMember]) -> dict[str, Any]:
    """The people and teams looking after a patient (live CareTeamMember rows, practitioner and
    team selected). Its id is ``pt-<patient id>``."""
    participants = []
    for m in members:
        try:
            role_label = str(CareRole(m.role).label)
        except ValueError:
            role_label = m.role
        if m.practitioner_id and m.practitioner:
            member = ref("Practitioner", m.practitioner_id, m.practitioner.name)
        elif m.team_id and m.team:
            member = ref("CareTeam", m.team_id, m.team.name)
        else:
            continue
        period: dict[str, Any] = {"start": instant(m.since)}
        if m.until:
            period["end"] = instant(m.until)
        participants.append({"role": [concept(codes.CS_CARE_ROLE, m.role, role_label)], "member": member,
                             "period": period})
    out: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": care_team_id(p.pk),
        "meta": meta(max((m.since for m in members), default=p.created_at)),
        "status": "active",
        "category": [concept(codes.LOINC, "LA28865-6", "Longitudinal care-coordination focused care team")],
        "name": _("Care team of %(name)s") % {"name": p.name},
        "subject": ref("Patient", p.pk, p.name),
        "managingOrganization": [ref("Organization", p.registered_at_id, p.registered_at.name)],
    }
    if participants:
        out["participant"] = participants
    return out
