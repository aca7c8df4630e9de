"""Matrix rows of the referral API (issue 4).

The matrix world's "referral" (patient_a, up, green-channel bed) was sent by village_doctor_a to
the tertiary hospital's cardiology department and accepted by consult_specialist; so it is seen
by its sender, by every clinician of the receiving hospital (consult_specialist, also receiver,
and cardiologist_tertiary, who is not in patient_a's care team), and by patient_a.
"down_referral" (patient_a, down, still requested) was sent by consult_specialist to
village_doctor_a's clinic with a two-step plan ("task" is its first step); it is seen by the two
of them and patient_a. A step the caller's role does not allow on a referral they may see is
403; a referral they may not see is 404. A step their role allows but the state does not (accept
an accepted referral) is 409, counted as getting through.
"""

from __future__ import annotations

from tests.matrix.spec import CLINICIANS, COMMISSION, COORD, PATIENT, QX_CLINICIANS, SECADMIN, E

A = "/api/v1/referrals"
UP = A + "/{referral}"
DOWN = A + "/{down_referral}"
SENDER = {"village_doctor_a"}
RECEIVER = {"consult_specialist"}
RECEIVING = RECEIVER | {"cardiologist_tertiary"}  # practise at the receiving hospital
SEES_UP = SENDER | RECEIVING | PATIENT
DOWN_SENDER = {"consult_specialist"}
DOWN_RECEIVING = {"village_doctor_a"}
SEES_DOWN = DOWN_SENDER | DOWN_RECEIVING | PATIENT
CARE_OR_GLASS = {"village_doctor_a", "consult_specialist", "hub_radiologist"}
# Sending: without the privilege 403 naming the credential; with it, patient_a's live upward
# referral answers 409 (or, for a clinician who may not see the patient, 422).
UNPRIVILEGED = {"village_doctor_b", "hub_radiologist"}
ACCEPT = {"admit_kind": "appointment", "appointment_at": "2030-01-07T09:00:00+08:00", "location": "东村卫生室"}

ENDPOINTS = [
    E("api", "get", A, CLINICIANS | PATIENT),
    E("api", "get", A + "?list=incoming&direction=down", CLINICIANS | PATIENT),
    E("api", "post", A, (CLINICIANS - UNPRIVILEGED), UNPRIVILEGED,
      body={"patient_id": "{patient}", "direction": "up", "target_organisation_id": "{org}",
            "target_department_id": "{department}", "urgency": "urgent", "reason": "肾功能恶化",
            "clinical_summary": "肌酐进行性升高。"}),
    E("api", "get", A + "/counts", CLINICIANS),
    E("api", "get", A + "/destinations?direction=up&specialty=cardiology", CLINICIANS),
    E("api", "get", A + "/live?patient={patient}&direction=up", CARE_OR_GLASS, reads_patient=True),
    E("api", "post", A + "/check-in", RECEIVING, SENDER | PATIENT, body={"code": "{referral_code}"}),
    E("api", "get", A + "/tasks", CLINICIANS),
    E("api", "post", A + "/tasks/{task}/complete", DOWN_RECEIVING, body={"result": "血压 128/80，伤口愈合良好"}),
    E("api", "get", A + "/capacity", COORD),
    # The county's health commission does not see the tertiary hospital in Xi'an: 404.
    E("api", "put", A + "/capacity/{card_department}", COORD, QX_CLINICIANS | SECADMIN,
      body={"green_channel_beds": 5, "green_channel_slots": 6}),
    E("api", "get", A + "/clock/{consortium}", COORD, QX_CLINICIANS | COMMISSION | SECADMIN),
    E("api", "put", A + "/clock/{consortium}", COORD, QX_CLINICIANS | COMMISSION | SECADMIN,
      body={"emergency_hours": 1, "urgent_hours": 2, "routine_hours": 24, "outcome_days": 30,
            "close_after_days": 14}),
    E("api", "get", A + "/figures?by=organisation", COORD | COMMISSION),
    E("api", "get", UP, SEES_UP, reads_patient=True),
    E("api", "get", UP + "/changes?after=0", SEES_UP, reads_patient=True),
    E("api", "get", DOWN, SEES_DOWN, reads_patient=True),
    # The receiving side decides (with the privilege); the sender and the patient may not.
    E("api", "post", DOWN + "/accept", DOWN_RECEIVING, DOWN_SENDER | PATIENT, body=ACCEPT),
    E("api", "post", UP + "/accept", RECEIVING, SENDER | PATIENT, body=ACCEPT),  # accepted already: 409
    E("api", "post", DOWN + "/decline", DOWN_RECEIVING, DOWN_SENDER | PATIENT, body={"reason": "本村无康复条件"}),
    E("api", "post", DOWN + "/redirect", DOWN_RECEIVING, DOWN_SENDER | PATIENT,
      body={"organisation_id": "{org}", "reason": "转乡镇卫生院"}),
    E("api", "post", DOWN + "/cancel", DOWN_SENDER, DOWN_RECEIVING | PATIENT, body={"reason": "患者留院"}),
    E("api", "post", UP + "/cancel", SENDER, RECEIVING | PATIENT, body={"reason": "患者拒绝转诊", "expected_version": 1}),
    E("api", "post", UP + "/check-in", RECEIVING, SENDER | PATIENT, body={}),
    E("api", "post", UP + "/outcome", RECEIVING, SENDER | PATIENT, body={"summary": "支架术后，恢复良好。"}),
    E("api", "post", UP + "/complete", SENDER, RECEIVING | PATIENT, body={}),
    E("api", "post", UP + "/reopen", SENDER | RECEIVER, {"cardiologist_tertiary"} | PATIENT, body={}),
    E("api", "post", UP + "/notes", RECEIVING, SENDER | PATIENT, body={"body": "已安排冠脉造影。"}),
    E("api", "post", UP + "/messages", SENDER | RECEIVING, PATIENT, body={"body": "收到", "audience": "clinicians"}),
    E("api", "post", UP + "/messages?to=patient", SENDER | RECEIVER | PATIENT, {"cardiologist_tertiary"},
      body={"body": "请带好医保卡", "audience": "patient"}),
    # The referral's file is for clinicians: the patient gets 404 like everyone else outside.
    E("api", "get", UP + "/files/{referral_file}", SENDER | RECEIVING, reads_patient=True),
    E("api", "get", UP + "/slip.pdf", SEES_UP, reads_patient=True),
    E("api", "get", DOWN + "/slip.pdf", SEES_DOWN),  # not accepted yet: 409
]
