"""Matrix rows of the FHIR resources of tiered referral (issue 4): ServiceRequest and Task (shared
with teleconsultation, whose searches are in spec_consults_api.py), Appointment and
DocumentReference.

The matrix world's "referral" (up, accepted with a bed) is seen by its sender village_doctor_a,
by the receiving hospital's clinicians (consult_specialist, who accepted it, and
cardiologist_tertiary) and by patient_a; "down_referral" (still requested, so without an
appointment) by consult_specialist, who sent it, village_doctor_a, whose clinic it goes to, and
patient_a. A ServiceRequest and the referral letter (DocumentReference with the referral's id)
carry the reason and the clinical summary: clinicians only.
"""

from __future__ import annotations

from tests.matrix.spec import CLINICIANS, PATIENT, E

F = "/fhir"
SEES_UP_CLINICIANS = {"village_doctor_a", "consult_specialist", "cardiologist_tertiary"}
SEES_DOWN_CLINICIANS = {"village_doctor_a", "consult_specialist"}

ENDPOINTS = [
    E("fhir", "get", F + "/ServiceRequest/{referral}", SEES_UP_CLINICIANS, reads_patient=True),
    E("fhir", "get", F + "/ServiceRequest/{down_referral}", SEES_DOWN_CLINICIANS, reads_patient=True),
    E("fhir", "get", F + "/Task/{referral}", SEES_UP_CLINICIANS | PATIENT, reads_patient=True),
    E("fhir", "get", F + "/Task/{down_referral}", SEES_DOWN_CLINICIANS | PATIENT, reads_patient=True),
    E("fhir", "get", F + "/Appointment", CLINICIANS | PATIENT),
    E("fhir", "get", F + "/Appointment?patient={patient}&status=booked", CLINICIANS | PATIENT),
    E("fhir", "get", F + "/Appointment/{referral}", SEES_UP_CLINICIANS | PATIENT, reads_patient=True),
    E("fhir", "get", F + "/Appointment/{down_referral}", set(), reads_patient=True),  # not accepted yet
    E("fhir", "get", F + "/DocumentReference", CLINICIANS | PATIENT),
    E("fhir", "get", F + "/DocumentReference?related=ServiceRequest/{down_referral}", CLINICIANS | PATIENT),
    E("fhir", "get", F + "/DocumentReference/{referral}", SEES_UP_CLINICIANS, reads_patient=True),
    E("fhir", "get", F + "/DocumentReference/{referral_entry}", set(), reads_patient=True),  # a message
]
