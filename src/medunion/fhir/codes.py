"""Identifier systems, code systems and extension URLs of the FHIR interface.

MedUnion's own code systems live under :data:`CANONICAL`; they are published in docs/fhir.md
(there is no terminology server). Standard systems are used wherever a standard code fits.
"""

from __future__ import annotations

CANONICAL = "https://medunion.invalid/fhir"

# --- identifier systems ------------------------------------------------------------------------
# The resident ID number: the OID the WS/T 500 shared-document specifications give the
# patient's ID-card number (患者身份证件号码).
RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"
ORGANISATION_CODE = "urn:medunion:organisation-code"
CONSORTIUM_CODE = "urn:medunion:consortium-code"
DEPARTMENT_CODE = "urn:medunion:department-code"
LICENCE_NUMBER = "urn:medunion:practitioner-licence"
ACCOUNT = "urn:medunion:account"

# --- MedUnion code systems ---------------------------------------------------------------------
CS_ORGANIZATION_TYPE = f"{CANONICAL}/CodeSystem/organization-type"  # the tiers, plus "consortium"
CS_CONSORTIUM_KIND = f"{CANONICAL}/CodeSystem/consortium-kind"
CS_SPECIALTY = f"{CANONICAL}/CodeSystem/specialty"
CS_TITLE = f"{CANONICAL}/CodeSystem/professional-title"
CS_QUALIFICATION = f"{CANONICAL}/CodeSystem/qualification"
CS_TEAM_KIND = f"{CANONICAL}/CodeSystem/team-kind"
CS_TEAM_ROLE = f"{CANONICAL}/CodeSystem/team-role"
CS_CARE_ROLE = f"{CANONICAL}/CodeSystem/care-role"
CS_CONSENT_SCOPE = f"{CANONICAL}/CodeSystem/consent-scope"
CS_AUDIT_ACTION = f"{CANONICAL}/CodeSystem/audit-action"
CS_ROLE = f"{CANONICAL}/CodeSystem/account-role"
CS_SURFACE = f"{CANONICAL}/CodeSystem/surface"
CS_PURPOSE = f"{CANONICAL}/CodeSystem/purpose"
CS_ERROR = f"{CANONICAL}/CodeSystem/error-code"

# --- extensions ----------------------------------------------------------------------------------
EXT_DIVISION_CODE = f"{CANONICAL}/StructureDefinition/division-code"
EXT_CAPACITY = f"{CANONICAL}/StructureDefinition/department-capacity"
EXT_CONSORTIUM_LEAD = f"{CANONICAL}/StructureDefinition/consortium-lead"

# --- standard systems ----------------------------------------------------------------------------
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
LOINC = "http://loinc.org"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
AUDIT_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"

# Consent scope -> (FHIR consent scope, consent action, purpose of use).
CONSENT_MAP = {
    "share_records": ("patient-privacy", "disclose", "TREAT"),
    "teleconsultation": ("patient-privacy", "disclose", "TREAT"),
    "referral": ("patient-privacy", "disclose", "TREAT"),
    "remote_diagnosis": ("patient-privacy", "disclose", "TREAT"),
    "research": ("research", "use", "HRESCH"),
}

# Audit purposes -> v3 ActReason.
PURPOSE_MAP = {
    "treatment": "TREAT",
    "break_glass": "ETREAT",
    "operations": "HOPERAT",
    "audit": "HSYSADMIN",
}

# Django model labels -> FHIR resource types (AuditEvent.entity.what).
OBJECT_TYPES = {
    "patients.patient": "Patient",
    "patients.consent": "Consent",
    "network.organisation": "Organization",
    "network.consortium": "Organization",
    "network.department": "Location",
    "network.practitioner": "Practitioner",
    "network.practicesite": "PractitionerRole",
    "network.team": "CareTeam",
    "audit.auditevent": "AuditEvent",
    "consults.consult": "ServiceRequest",
    "consults.consultmessage": "Communication",
    "referrals.referral": "ServiceRequest",
}
