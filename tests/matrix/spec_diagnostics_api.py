"""Matrix rows of the remote-diagnosis API (issue 5).

The matrix world's "exam" (patient_a, CT head, reported with a critical finding "critical") was
requested by village_doctor_a and read and signed by hub_radiologist at the imaging hub: it is
seen by village_doctor_a (requester), consult_specialist (patient_a's care team), hub_radiologist
(a reader of the hub, its reader) and — its signed report only — patient_a. "exam_waiting" (chest,
sent for reading) is seen by the same clinicians, not the patient; "exam_draft" (abdomen, not yet
sent) by the requesting side and the care team only. A step the caller's role does not allow on an
examination they may see is 403 (the patient included); a step their role allows but the state
does not is 409, counted as getting through. Images, files and lists are clinicians' business:
404 for the patient.
"""

from __future__ import annotations

from tests.matrix.spec import CLINICIANS, COMMISSION, COORD, PATIENT, E

A = "/api/v1"
X = A + "/examinations"
EXAM = X + "/{exam}"
WAITING = X + "/{exam_waiting}"
DRAFT = X + "/{exam_draft}"
REQUESTER = {"village_doctor_a"}
CARE = {"consult_specialist"}  # patient_a's care team (not the requesting side)
READER = {"hub_radiologist"}  # reads at the hub, signed "exam"; a break-the-glass grant on patient_a
SEES = REQUESTER | CARE | READER
SEES_DRAFT = REQUESTER | CARE
REPORT = {"findings": "右侧基底节区高密度影。", "impression": "脑出血。"}

ENDPOINTS = [
    E("api", "get", X, CLINICIANS | PATIENT),
    E("api", "get", X + "?list=worklist&modality=CT", CLINICIANS | PATIENT),
    # Those who may act for patient_a (care team, break-the-glass) create; a recent head CT would be 409.
    E("api", "post", X, SEES, body={"patient_id": "{patient}", "modality": "CT", "body_site": "neck",
                                    "urgency": "routine", "question": "颈部肿物"}),
    E("api", "get", X + "/counts", CLINICIANS),
    E("api", "get", EXAM, SEES | PATIENT, reads_patient=True),
    E("api", "get", WAITING, SEES, reads_patient=True),
    E("api", "get", DRAFT, SEES_DRAFT, reads_patient=True),
    E("api", "post", EXAM + "/recognise", SEES, body={}),
    E("api", "post", DRAFT + "/files", REQUESTER, CARE, form=True, body={"file": "@IM0001.dcm"}),  # a CSV: 422
    E("api", "get", DRAFT + "/files", SEES_DRAFT, reads_patient=True),
    E("api", "get", EXAM + "/attachments/{exam_instance}", set()),  # an instance is no attachment
    E("api", "get", EXAM + "/instances/{exam_instance}/frames/{exam_frame}.png", SEES, reads_patient=True),
    E("api", "post", DRAFT + "/submit", REQUESTER, CARE, body={}),
    E("api", "post", WAITING + "/cancel", REQUESTER, CARE | READER, body={"reason": "患者拒绝"}),
    E("api", "post", WAITING + "/claim", READER, REQUESTER | CARE, body={}),
    E("api", "post", EXAM + "/release", READER, REQUESTER | CARE | PATIENT, body={}),  # reported: 409
    E("api", "put", EXAM + "/report/draft", READER, REQUESTER | CARE | PATIENT, body=REPORT),  # reported: 409
    E("api", "post", EXAM + "/report/sign", READER, REQUESTER | CARE | PATIENT, body={"report": REPORT}),
    E("api", "post", EXAM + "/report/addenda", READER, REQUESTER | CARE | PATIENT, body={"text": "补充：中线居中。"}),
    E("api", "post", EXAM + "/report/amendments", READER, REQUESTER | CARE | PATIENT,
      body={**REPORT, "reason": "补充测量"}),
    # A second read needs a senior reader (hub_radiologist is an attending).
    E("api", "post", EXAM + "/report/second-read", set(), SEES | PATIENT, body={"verdict": "agree"}),
    E("api", "get", EXAM + "/report.pdf", SEES | PATIENT, reads_patient=True),
    E("api", "get", WAITING + "/report.pdf", SEES),  # not signed yet: 409
    E("api", "get", A + "/critical-findings", CLINICIANS),
    E("api", "post", A + "/critical-findings/{critical}/acknowledge", REQUESTER | CARE, READER),
    E("api", "get", A + "/diagnostics/figures", COORD | COMMISSION),
    E("api", "get", A + "/reading-routes", CLINICIANS | COORD),
    E("api", "put", A + "/reading-routes", COORD,
      body={"consortium_id": "{consortium}", "modality": "ECG", "hub_id": "{org}"}),
]
