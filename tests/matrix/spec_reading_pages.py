"""Matrix rows of the reading pages (issue 5): the hub's worklist, claiming, the report editor and
its steps, and the coordinator's turnaround figures and reading routes.

CT is read at the imaging hub, where hub_radiologist reads (and signed "exam", so he is its
reader); "exam_waiting" waits in the worklist. Both are seen by village_doctor_a (who asked for
them) and consult_specialist (patient_a's care team), who are sent from the editor to the
examination's own page (302) and refused its steps (403). The worklist is for every clinician
whose specialty reads a modality at a site: radiologists, and cardiologists (ECG), of whom
cardiologist_tertiary is a chief physician (second reads). A step the role allows but the state
does not (a draft of a signed report) shows the page again with the 409 message, counted as
getting through.
"""

from __future__ import annotations

from tests.matrix.spec import COMMISSION, COORD, E

X = "/examinations/{exam}/report"
W = "/examinations/{exam_waiting}/report"
READER = {"hub_radiologist"}
REQUESTING = {"village_doctor_a", "consult_specialist"}  # the requester and the care team
SEES = READER | REQUESTING
READERS = READER | {"cardiologist_tertiary", "consult_specialist", "outsider"}
ONCE = "0123456789abcdef0123456789abcdef"
REPORT = {"once": ONCE, "findings": "右侧基底节区高密度影。", "impression": "脑出血。", "codes": ["I61.9"],
          "m0_code": "21889-1", "m0_value": "25", "confirm": "on"}

ENDPOINTS = [
    E("page", "get", "/reading", READERS),
    E("page", "get", "/reading?list=mine&modality=CT", READERS),
    E("page", "get", "/reading?list=second_reads", {"cardiologist_tertiary"}),
    E("page", "post", "/reading/{exam_waiting}/claim", READER, REQUESTING, form=True, body={"once": ONCE}),
    E("page", "get", X, SEES),
    E("page", "get", W, SEES),
    # Only the reader who claimed writes: nobody has claimed "exam_waiting".
    E("page", "post", W + "/draft", set(), SEES, form=True, body=REPORT),
    E("page", "post", X + "/draft", READER, REQUESTING, form=True, body=REPORT),
    E("page", "post", X + "/sign", READER, REQUESTING, form=True, body=REPORT),
    E("page", "post", W + "/release", set(), SEES, form=True, body={"once": ONCE}),
    E("page", "post", X + "/release", READER, REQUESTING, form=True, body={"once": ONCE}),
    E("page", "post", X + "/addendum", READER, REQUESTING, form=True, body={"once": ONCE, "text": "补充：无变化。"}),
    E("page", "post", X + "/amend", READER, REQUESTING, form=True,
      body={**REPORT, "reason": "复阅补充", "impression": "脑出血，破入脑室。"}),
    # No senior reader at the hub: the second read is refused to all who see the report.
    E("page", "post", X + "/second-read", set(), SEES, form=True, body={"once": ONCE, "verdict": "agree"}),
    E("page", "get", "/network/diagnostics", COORD | COMMISSION),
    E("page", "get", "/network/diagnostics?since=2026-01-01&consortium={consortium}", COORD | COMMISSION),
    E("page", "get", "/network/diagnostics/routes", COORD),
    E("page", "post", "/network/diagnostics/routes/{consortium}", COORD, form=True,
      body={"modality": "ECG", "hub": "{org}"}),
]
