"""Matrix rows of the referral pages (issue 4): the lists, referring, the referral page and its
steps, the slip, the files, the desk's check-in, follow-up tasks, the patient's own pages and the
coordinator's figures, capacity and clock.

The matrix world's "referral" (patient_a, up to the tertiary hospital's cardiology department,
green channel) was sent by village_doctor_a and accepted by consult_specialist; cardiologist_tertiary
practises at the receiving hospital (its inbox) and holds the privilege; "down_referral" was sent by
consult_specialist to village_doctor_a's clinic, with a two-step plan ("task"). Referring needs the
transfer_patients privilege: the other clinicians get the refusal (403) that names what they lack.
A step a role does not allow on a referral one may see is 403; a step the role allows but the
state does not (accepting an accepted referral) shows the referral again with the 409 message,
counted as getting through.
"""

from __future__ import annotations

from tests.matrix.spec import CLINICIANS, COMMISSION, COORD, PATIENT, QX_CLINICIANS, E

R = "/referrals/{referral}"
SENDER = {"village_doctor_a"}
RECEIVER = {"consult_specialist"}
RECEIVING = {"cardiologist_tertiary", "consult_specialist"}  # practise at the receiving hospital
PRIVILEGED = SENDER | RECEIVING
SEES = SENDER | RECEIVING  # the clinicians who see "referral"
SEES_ALL = SEES | PATIENT
ONCE = "0123456789abcdef0123456789abcdef"
STEP = {"once": ONCE, "version": "1"}

ENDPOINTS = [
    E("page", "get", "/referrals", CLINICIANS),
    E("page", "get", "/referrals?list=closed&direction=up", CLINICIANS),
    E("page", "get", "/referrals/new", PRIVILEGED, CLINICIANS - PRIVILEGED),
    E("page", "get", "/referrals/new?direction=down&find=陈", PRIVILEGED, CLINICIANS - PRIVILEGED),
    # The patient is seen by the privileged clinicians of their care team only.
    E("page", "get", "/referrals/new?patient={patient}", {"village_doctor_a", "consult_specialist"},
      CLINICIANS - PRIVILEGED, reads_patient=True),
    E("page", "get", "/referrals/new?consult={consult}", {"village_doctor_a", "consult_specialist"},
      CLINICIANS - PRIVILEGED),
    E("page", "post", "/referrals/new", PRIVILEGED, CLINICIANS - PRIVILEGED, form=True,
      body={"once": ONCE, "patient": "{patient}", "direction": "up", "urgency": "routine",
            "destination": "{tertiary}/{card_department}", "reason": "复查", "clinical_summary": "病情稳定"}),
    E("page", "get", "/referrals/availability?destination={tertiary}/{card_department}", QX_CLINICIANS),
    E("page", "get", R, SEES_ALL, reads_patient=True),
    E("page", "get", R + "/slip.pdf", SEES_ALL, reads_patient=True),
    # The referral's own file is for clinicians: the patient gets 404 like everyone else outside.
    E("page", "get", R + "/files/{referral_file}", SEES, reads_patient=True),
    E("page", "post", R + "/accept", RECEIVING, SENDER | PATIENT, form=True,
      body={**STEP, "admit_kind": "bed", "appointment_at": "2030-01-15T09:30", "location": "5楼12床"}),
    E("page", "post", R + "/decline", RECEIVING, SENDER | PATIENT, form=True, body={**STEP, "reason": "无床位"}),
    E("page", "post", R + "/redirect", RECEIVING, SENDER | PATIENT, form=True,
      body={**STEP, "destination": "{org}", "reason": "县医院可处理"}),
    E("page", "post", R + "/cancel", SENDER, RECEIVING | PATIENT, form=True, body={**STEP, "reason": "患者拒绝转诊"}),
    E("page", "post", R + "/check-in", RECEIVING, SENDER | PATIENT, form=True, body=STEP),
    E("page", "post", R + "/outcome", RECEIVING, SENDER | PATIENT, form=True, body={**STEP, "summary": "已治疗"}),
    E("page", "post", R + "/complete", SENDER, RECEIVING | PATIENT, form=True, body=STEP),
    E("page", "post", R + "/reopen", SENDER | RECEIVER, {"cardiologist_tertiary"} | PATIENT, form=True, body=STEP),
    E("page", "post", R + "/notes", RECEIVING, SENDER | PATIENT, form=True, body={"once": ONCE, "body": "病情平稳"}),
    E("page", "post", R + "/messages", SEES_ALL, form=True, body={"once": ONCE, "body": "收到", "audience": "clinicians"}),
    E("page", "post", R + "/messages", SENDER | RECEIVER | PATIENT, {"cardiologist_tertiary"}, form=True,
      body={"once": ONCE, "body": "请按时来院", "audience": "patient"}),
    E("page", "get", "/referrals/checkin", CLINICIANS),
    E("page", "get", "/referrals/checkin?code={referral_code}", CLINICIANS),
    E("page", "get", "/referrals/checkin/{referral_code}", SEES, reads_patient=True),
    E("page", "post", "/referrals/checkin/{referral_code}", RECEIVING, SENDER, form=True),
    E("page", "get", "/referrals/tasks", CLINICIANS),
    E("page", "post", "/referrals/tasks/{task}/complete", {"village_doctor_a"}, form=True,
      body={"result": "血压正常"}),
    E("page", "get", "/me/referrals", PATIENT),
    E("page", "get", "/me/referrals/{referral}", PATIENT, reads_patient=True),
    E("page", "get", "/network/referrals", COORD | COMMISSION),
    E("page", "get", "/network/referrals?by=organisation&since=2026-01-01", COORD | COMMISSION),
    E("page", "get", "/network/referrals/capacity", COORD),
    E("page", "post", "/network/referrals/capacity/{card_department}", COORD, form=True,
      body={"green_channel_beds": "4", "green_channel_slots": "6"}),
    E("page", "post", "/network/referrals/clock/{consortium}", COORD, form=True, body={"urgent_hours": "4"}),
]
