"""Matrix rows of the FHIR resources of remote diagnosis (issue 5): ImagingStudy, DiagnosticReport,
Observation.

The matrix world's "exam" (reported) is seen by village_doctor_a, who requested it,
consult_specialist (patient_a's care team) and hub_radiologist (its reader), and its signed report
by patient_a; "exam_waiting" (sent, not read) has an ImagingStudy but no DiagnosticReport;
"exam_draft" (not sent) neither. ImagingStudy is for clinicians only. An Observation's id is the
report's id, a hyphen, the measurement's number.
"""

from __future__ import annotations

from tests.matrix.spec import CLINICIANS, PATIENT, E

F = "/fhir"
SEES = {"village_doctor_a", "consult_specialist", "hub_radiologist"}

ENDPOINTS = [
    E("fhir", "get", F + "/ImagingStudy", CLINICIANS),
    E("fhir", "get", F + "/ImagingStudy?patient={patient}&modality=CT", CLINICIANS),
    E("fhir", "get", F + "/ImagingStudy/{exam_study}", SEES, reads_patient=True),
    E("fhir", "get", F + "/ImagingStudy/{exam_draft_study}", set(), reads_patient=True),  # not sent yet
    E("fhir", "get", F + "/DiagnosticReport", CLINICIANS | PATIENT),
    E("fhir", "get", F + "/DiagnosticReport?patient={patient}&category=RAD", CLINICIANS | PATIENT),
    E("fhir", "get", F + "/DiagnosticReport/{exam}", SEES | PATIENT, reads_patient=True),
    E("fhir", "get", F + "/DiagnosticReport/{exam_waiting}", set(), reads_patient=True),  # not signed
    E("fhir", "get", F + "/Observation", CLINICIANS | PATIENT),
    E("fhir", "get", F + "/Observation?patient={patient}&code=http://loinc.org|21889-1", CLINICIANS | PATIENT),
    E("fhir", "get", F + "/Observation/{exam_observation}", SEES | PATIENT, reads_patient=True),
]
