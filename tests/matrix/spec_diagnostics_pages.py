"""Matrix rows of the remote-diagnosis pages of the requesting side, the viewer and the patient
(issue 5): the list, requesting an examination (with the recognition prompt), the examination's
page and its steps, uploads, the viewer and its frames, the files, the patient's reports.

In the matrix world village_doctor_a (东村卫生室) requested three CTs of patient_a: "exam"
(reported by hub_radiologist with a critical finding), "exam_waiting" (in the hub's worklist) and
"exam_draft" (being uploaded). consult_specialist is in patient_a's care team: they see all three
but may not upload, send, cancel or claim (403), and may acknowledge the critical finding;
hub_radiologist reads at the hub: the sent ones are theirs to see and claim, the draft is not
(404); they may not acknowledge (403). Requesting for patient_a is open to those who may see and
change her record (care team, break-the-glass); asking for another head CT shows the recent
report first (409, counted as getting through).
"""

from __future__ import annotations

from tests.matrix.spec import CLINICIANS, GLASS, PATIENT, E

X = "/examinations/{exam}"
W = "/examinations/{exam_waiting}"
D = "/examinations/{exam_draft}"
REQUESTER = {"village_doctor_a"}
CARE_TEAM = {"consult_specialist"}
HUB = {"hub_radiologist"}
SEES_ALL = REQUESTER | CARE_TEAM | HUB  # the sent examinations
ONCE = "0123456789abcdef0123456789abcdef"

ENDPOINTS = [
    E("page", "get", "/examinations", CLINICIANS),
    E("page", "get", "/examinations?list=reported&page=2", CLINICIANS),
    E("page", "get", "/examinations/new", CLINICIANS),
    E("page", "get", "/examinations/new?find=陈", CLINICIANS),
    E("page", "get", "/examinations/new?patient={patient}", REQUESTER | CARE_TEAM | GLASS, reads_patient=True),
    E("page", "post", "/examinations/new", REQUESTER | CARE_TEAM | GLASS, form=True,
      body={"once": ONCE, "patient": "{patient}", "modality": "CT", "body_site": "head", "urgency": "urgent",
            "question": "头痛待查"}),
    E("page", "get", X, SEES_ALL | PATIENT, reads_patient=True),
    E("page", "get", W, SEES_ALL, reads_patient=True),
    E("page", "get", D, REQUESTER | CARE_TEAM, reads_patient=True),
    E("page", "post", X + "/recognise", SEES_ALL, form=True, body={"once": ONCE}),
    E("page", "post", D + "/upload", REQUESTER, CARE_TEAM, form=True, body={"files": "@IM0002.dcm"}),
    E("page", "get", D + "/received", REQUESTER | CARE_TEAM, reads_patient=True),
    E("page", "post", D + "/submit", REQUESTER, CARE_TEAM, form=True, body={"once": ONCE, "version": "1"}),
    E("page", "post", D + "/cancel", REQUESTER, CARE_TEAM, form=True,
      body={"once": ONCE, "version": "1", "reason": "患者拒绝检查"}),
    E("page", "post", W + "/claim", HUB, REQUESTER | CARE_TEAM, form=True, body={"once": ONCE}),
    E("page", "post", X + "/critical/{critical}/acknowledge", REQUESTER | CARE_TEAM, HUB, form=True,
      body={"once": ONCE}),
    # A file of another record is not reached through an examination.
    E("page", "get", X + "/files/{consult_file}", set()),
    E("page", "get", X + "/viewer", SEES_ALL, reads_patient=True),
    E("page", "get", X + "/viewer?series={exam_series}&preset=lung", SEES_ALL, reads_patient=True),
    E("page", "get", X + "/frames/{exam_instance}.png?preset=bone", SEES_ALL, reads_patient=True),
    E("page", "get", X + "/frames/{exam_instance}.png?size=thumb", SEES_ALL, reads_patient=True),
    E("page", "get", "/me/reports", PATIENT, reads_patient=True),
    E("page", "get", "/me/reports/{exam}", PATIENT, reads_patient=True),
    E("page", "get", "/me/reports/{exam_waiting}", set()),
]
