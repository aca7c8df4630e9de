"""Matrix rows of the teleconsultation API, the inbox, uploads and the FHIR resources of
teleconsultation (issue 3).

The matrix world's "consult" was asked by village_doctor_a (with a photo, "consult_file") and
claimed by consult_specialist; "pool_consult" is still in the cardiology pool, where
cardiologist_tertiary and consult_specialist may claim it. Both are about patient_a, who sees
their cases (the patient conversation only). A step the caller's role does not allow on a case
they may see is 403; a case they may not see is 404. A step their role allows but the case's
state does not (provide-info on a case in progress) is 409, counted as getting through.
"""

from __future__ import annotations

from tests.matrix.spec import CLINICIANS, COMMISSION, COORD, PATIENT, QX_CLINICIANS, SECADMIN, SIGNED_IN, E

A = "/api/v1"
C = A + "/consults/{consult}"
POOL = A + "/consults/{pool_consult}"
ASKER = {"village_doctor_a"}
ASSIGNEE = {"consult_specialist"}
ON_CASE = ASKER | ASSIGNEE  # the clinicians who see "consult"
SEES_CASE = ON_CASE | PATIENT
# "pool_consult": the asker (and care team), the eligible specialists, the patient.
SEES_POOL = ASKER | {"cardiologist_tertiary", "consult_specialist"} | PATIENT
CARE_OR_GLASS = {"village_doctor_a", "consult_specialist", "hub_radiologist"}
STEP = {"expected_version": 1}
NOBODY = "00000000-0000-4000-8000-000000000001"  # lists are not filled from the matrix ids

ENDPOINTS = [
    E("api", "get", A + "/consults", CLINICIANS | PATIENT),
    E("api", "get", A + "/consults?queue=pool&specialty=cardiology", CLINICIANS | PATIENT),
    E("api", "post", A + "/consults", CLINICIANS,
      body={"patient_id": "{patient}", "specialty": "cardiology", "question": "胸痛一小时，如何处理？"}),
    E("api", "get", C, SEES_CASE, reads_patient=True),
    E("api", "get", C + "/changes?after=0", SEES_CASE, reads_patient=True),
    E("api", "post", POOL + "/claim", {"cardiologist_tertiary", "consult_specialist"}, ASKER | PATIENT, body={}),
    E("api", "post", POOL + "/assign", set(), SEES_POOL, body={"practitioner_id": "{practitioner}"}),
    E("api", "post", C + "/decline", ASSIGNEE, ASKER | PATIENT, body={"reason": "Outside my field", **STEP}),
    E("api", "post", C + "/hand-over", ASSIGNEE, ASKER | PATIENT, body={"practitioner_id": "{practitioner}"}),
    E("api", "post", C + "/request-info", ASSIGNEE, ASKER | PATIENT, body={"question": "请补做心电图", **STEP}),
    E("api", "post", C + "/provide-info", ASKER, ASSIGNEE | PATIENT, body={"body": "心电图已上传"}),
    E("api", "post", C + "/answer", ASSIGNEE, ASKER | PATIENT,
      body={"assessment": "稳定型心绞痛", "recommendation": "manage_locally", "plan": "阿司匹林 100mg qd", **STEP}),
    E("api", "post", C + "/amend-answer", set(), SEES_CASE,
      body={"assessment": "稳定型心绞痛", "recommendation": "manage_locally", "plan": "阿司匹林 100mg qd"}),
    E("api", "post", C + "/confirm", ASKER, ASSIGNEE | PATIENT, body={"useful": 5}),
    E("api", "post", C + "/follow-up", ASKER, ASSIGNEE | PATIENT, body={"question": "需要复查吗？"}),
    E("api", "post", C + "/cancel", ASKER, ASSIGNEE | PATIENT, body={"reason": "Patient went to the county hospital"}),
    E("api", "post", C + "/messages", ON_CASE, PATIENT, body={"body": "已收到", "audience": "clinicians"}),
    # Only its author corrects a message; the patient never learns a clinician message exists.
    E("api", "post", C + "/messages/{consult_message}/corrections", ASSIGNEE, ASKER, body={"body": "请补做十八导联心电图。"}),
    E("api", "post", C + "/invitations", ASSIGNEE, ASKER | PATIENT, body={"practitioner_ids": [NOBODY]}),
    E("api", "post", C + "/opinions", set(), SEES_CASE, body={"body": "同意"}),
    # The request's photo is for clinicians: the patient gets 404 like everyone else outside.
    E("api", "get", C + "/attachments/{consult_file}", ON_CASE, reads_patient=True),
    E("api", "get", C + "/attachments/{consult_file}/preview", ON_CASE, reads_patient=True),
    E("api", "get", A + "/consults/overdue", COORD),
    E("api", "get", A + "/consults/figures", COORD),
    E("api", "get", A + "/consults/targets/{consortium}", COORD, QX_CLINICIANS | COMMISSION | SECADMIN),
    E("api", "put", A + "/consults/targets/{consortium}", COORD, QX_CLINICIANS | COMMISSION | SECADMIN,
      body={"emergency": 20, "urgent": 180, "routine": 1440}),
    E("api", "get", A + "/notifications", SIGNED_IN),
    E("api", "get", A + "/notifications/unread-count", SIGNED_IN),
    E("api", "post", A + "/notifications/read-all", SIGNED_IN),
    E("api", "post", A + "/notifications/{notification}/read", ASKER),  # the recipient's own
    # Uploads: a clinician for a patient they may see, the patient for themselves.
    E("api", "post", A + "/files", CARE_OR_GLASS | PATIENT, form=True,
      body={"patient_id": "{patient}", "file": "@ecg.jpg"}),
    E("fhir", "get", "/fhir/ServiceRequest", CLINICIANS),
    E("fhir", "get", "/fhir/ServiceRequest/{consult}", ON_CASE, reads_patient=True),
    E("fhir", "get", "/fhir/Task", CLINICIANS | PATIENT),
    E("fhir", "get", "/fhir/Task/{consult}", SEES_CASE, reads_patient=True),
    E("fhir", "get", "/fhir/Communication", CLINICIANS | PATIENT),
    E("fhir", "get", "/fhir/Communication/{consult_message}", ON_CASE, reads_patient=True),
    E("fhir", "get", "/fhir/Communication/{patient_message}", SEES_CASE, reads_patient=True),
]
