"""Matrix rows of the teleconsultation pages (issue 3): the queues, asking, the case page and its
steps, the live fragments, the files, the patient's own pages, the inbox and the coordinator's.

The matrix world's "consult" was asked by village_doctor_a (with a photo, "consult_file") and
claimed by consult_specialist, who wrote "consult_message" to the clinicians; "pool_consult" is
still in the cardiology pool. The clinicians' pages are 404 for everyone else (a patient too: their
own pages are under /me). A step a clinician's role does not allow on a case they may see is 403;
a step their role allows but the case's state does not (provide-info while in progress) shows the
case again with the 409 message, counted as getting through.
"""

from __future__ import annotations

from tests.matrix.spec import CLINICIANS, COORD, PATIENT, SIGNED_IN, E

C = "/consults/{consult}"
POOL = "/consults/{pool_consult}"
ASKER = {"village_doctor_a"}
ASSIGNEE = {"consult_specialist"}
ON_CASE = ASKER | ASSIGNEE  # the clinicians who see "consult"
SEES_CASE = ON_CASE | PATIENT
POOL_CLINICIANS = ASKER | {"cardiologist_tertiary", "consult_specialist"}
ONCE = "0123456789abcdef0123456789abcdef"
STEP = {"once": ONCE, "version": "2"}

ENDPOINTS = [
    E("page", "get", "/consults", CLINICIANS),
    E("page", "get", "/consults?queue=pool&specialty=cardiology&patient=陈", CLINICIANS),
    E("page", "get", "/consults/rows?queue=asked&sig=x", CLINICIANS),
    E("page", "get", "/consults/new", CLINICIANS),
    E("page", "get", "/consults/new?patient={patient}", {"village_doctor_a", "consult_specialist", "hub_radiologist"},
      reads_patient=True),
    E("page", "post", "/consults/new", CLINICIANS, form=True,
      body={"once": ONCE, "specialty": "cardiology", "urgency": "routine", "question": "妊娠期高血压的首选用药？"}),
    E("page", "get", C, SEES_CASE, reads_patient=True),
    E("page", "get", C + "/live?after=0&v=0", SEES_CASE, reads_patient=True),
    E("page", "get", C + "/mdt", ON_CASE, reads_patient=True),
    E("page", "get", C + "/invitable?q=%E5%BF%83", ASSIGNEE, ASKER),  # colleagues for an MDT: no patient data
    # The request's photo is for clinicians: the patient gets 404 like everyone else outside.
    E("page", "get", C + "/files/{consult_file}", ON_CASE, reads_patient=True),
    E("page", "get", C + "/files/{consult_file}/preview", ON_CASE, reads_patient=True),
    E("page", "post", POOL + "/claim", {"cardiologist_tertiary", "consult_specialist"}, ASKER, form=True,
      body={"once": ONCE, "version": "1"}),
    E("page", "post", POOL + "/assign", set(), POOL_CLINICIANS, form=True,
      body={**STEP, "version": "1", "practitioner": "{practitioner}"}),
    E("page", "post", C + "/decline", ASSIGNEE, ASKER, form=True, body={**STEP, "reason": "Outside my field"}),
    E("page", "post", C + "/hand-over", ASSIGNEE, ASKER, form=True, body={**STEP, "practitioner": "{practitioner}"}),
    E("page", "post", C + "/request-info", ASSIGNEE, ASKER, form=True, body={**STEP, "body": "请补做心电图"}),
    E("page", "post", C + "/provide-info", ASKER, ASSIGNEE, form=True, body={**STEP, "body": "心电图已上传"}),
    E("page", "post", C + "/answer", ASSIGNEE, ASKER, form=True,
      body={**STEP, "assessment": "稳定型心绞痛", "recommendation": "manage_locally", "plan": "阿司匹林 100mg qd"}),
    E("page", "post", C + "/amend", set(), ON_CASE, form=True,
      body={**STEP, "assessment": "稳定型心绞痛", "recommendation": "manage_locally", "plan": "阿司匹林 100mg qd"}),
    E("page", "post", C + "/confirm", ASKER, ASSIGNEE, form=True, body={**STEP, "useful": "5"}),
    E("page", "post", C + "/follow-up", ASKER, ASSIGNEE, form=True, body={**STEP, "body": "需要复查吗？"}),
    E("page", "post", C + "/cancel", ASKER, ASSIGNEE, form=True, body={**STEP, "reason": "Went to the county hospital"}),
    E("page", "post", C + "/invite", ASSIGNEE, ASKER, form=True, body={**STEP, "practitioners": "{practitioner}"}),
    E("page", "post", C + "/opinion", set(), ON_CASE, form=True, body={**STEP, "body": "同意"}),
    E("page", "post", C + "/messages", SEES_CASE, form=True, body={"once": ONCE, "body": "已收到", "audience": "patient"}),
    # Only its author corrects a message; the patient never learns a clinician message exists.
    E("page", "post", C + "/messages/{consult_message}/correct", ASSIGNEE, ASKER, form=True,
      body={"once": ONCE, "body": "请补做十八导联心电图。"}),
    E("page", "get", "/me/consults", PATIENT),
    E("page", "get", "/me/consults/{consult}", PATIENT, reads_patient=True),
    E("page", "get", "/inbox", SIGNED_IN),
    E("page", "get", "/inbox?show=unread", SIGNED_IN),
    E("page", "post", "/inbox/read-all", SIGNED_IN, form=True),
    E("page", "post", "/inbox/{notification}/read", ASKER, form=True),  # one's own; anyone else's is 404
    E("page", "get", "/network/consults/overdue", COORD),
    E("page", "get", "/network/consults/targets", COORD),
    E("page", "post", "/network/consults/targets", COORD, form=True,
      body={"which": "{consortium}", "cQX-YGT-emergency": "30", "cQX-YGT-urgent": "240", "cQX-YGT-routine": "2880"}),
]
