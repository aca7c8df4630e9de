"""A clinicians' working day for locust, run by ``benchmarks/mixed_load.py`` (which signs everyone
in first and hands the sessions and tokens over in the file named by ``MEDUNION_LOAD_PLAN``).

Who does what:

- specialists open their queue (page) and their cases (page), and work the pool: open the pool
  page, open a case, take it and answer it (API);
- village doctors send consultations with a photo (a real JPEG, multipart upload, then the case,
  each with an ``Idempotency-Key``), refer patients up (``Idempotency-Key``) and look at their cases;
- township GPs request ultrasounds with a photo and send them to the hub (the readers' supply);
- hub readers open the worklist (page), claim an examination, open the report editor and sign;
- patients open their own pages;
- an integrator reads FHIR Patients by id and by resident ID number, with a bearer token.

Every response is checked: the status, and for a page the marker of that page and no error
message in it (a 200 that shows an error is a failure); redirects are not followed, so an expired
session (a redirect to the sign-in page) is a failure too. ``MEDUNION_LOAD_RATE`` is the rate of
tasks (one user action, 1–4 requests) of all users together; each user starts its actions at
random moments (exponential gaps, mean ``users / rate``), so all users together arrive as a
Poisson stream, as independent people do (see ``poisson_pacing``). Request names say what they
are: ``R`` reads, ``W`` writes.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, task

PLAN: dict[str, Any] = json.loads(Path(os.environ["MEDUNION_LOAD_PLAN"]).read_text()) \
    if os.environ.get("MEDUNION_LOAD_PLAN") else {}
USERS = max(1, int(os.environ.get("MEDUNION_LOAD_USERS", "1")))
RATE = float(os.environ.get("MEDUNION_LOAD_RATE", "1"))
PER_USER = RATE / USERS

CASE_LINK = re.compile(r'class="case-link" href="/consults/([0-9a-f-]{36})"')
CLAIM = re.compile(r'data-claim="([0-9a-f-]{36})"')
ERROR_MARKERS = ("message--error", "message--warning", 'class="errorlist', "form-errors")

# Patients referred already (by this run or an earlier step, kept in MEDUNION_LOAD_REFERRED): a live
# referral may not be sent twice.
REFERRED_FILE = Path(os.environ.get("MEDUNION_LOAD_REFERRED", "")) if os.environ.get("MEDUNION_LOAD_REFERRED") \
    else None
REFERRED: set[str] = set(REFERRED_FILE.read_text().split()) if REFERRED_FILE and REFERRED_FILE.exists() else set()
# Cases and examinations being worked by some user of this process (one process, gevent): two
# users never take the same one, so a 409 is a real failure and not a lost race.
TAKEN: set[str] = set()


def _jpeg() -> bytes:
    """A real small JPEG (a 480×360 picture of a skin lesion's colours, with noise)."""
    from PIL import Image, ImageDraw, ImageFilter

    rnd = random.Random(810)
    img = Image.new("RGB", (480, 360), (214, 170, 150))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y, r = rnd.randrange(480), rnd.randrange(360), rnd.randrange(4, 40)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rnd.randrange(120, 200), rnd.randrange(60, 120), 90))
    img = img.filter(ImageFilter.GaussianBlur(2))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


PHOTO = _jpeg()


def poisson_pacing(rate: float) -> Any:
    """A ``wait_time`` that starts the user's actions at random moments, ``rate`` per second on
    average, counted from when each action *started* (so the time an action takes does not slow the
    user down), and never in a catch-up burst after falling behind.

    Not locust's ``constant_throughput``: it counts its first period from the user's creation, so
    users spread over the period in ``on_start`` are pulled back into step at the first wait, and
    40 users then act in the same instant every period. That made the server queue 40 requests at
    once and the benchmark report 10× the latency that spread-out users see (seen: a FHIR read at
    10/s, 140 ms median in bursts against 11 ms spread out; the server's own time 20 ms either way).
    """

    def wait(user: Any) -> float:
        now = time.monotonic()
        user.next_at = max(now, user.next_at + random.expovariate(rate))
        return user.next_at - now

    return wait


def _slots(key: str) -> itertools.cycle:
    return itertools.cycle(PLAN.get("sessions", {}).get(key) or [None])


SLOTS = {k: _slots(k) for k in ("specialists", "village", "township", "readers", "patients", "integrator")}


def _multipart(fields: dict[str, str], name: str, filename: str, data: bytes, ctype: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                 f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Clinician(FastHttpUser):
    """A signed-in user: a page session (cookie) and an API token, from the plan."""

    abstract = True
    slot_key = ""
    wait_time = poisson_pacing(PER_USER)

    def on_start(self) -> None:
        self.me: dict[str, Any] = next(SLOTS[self.slot_key]) or {}
        self.cookie = self.me.get("cookie", "")
        self.bearer = {"Authorization": f"Bearer {self.me['token']}"} if self.me.get("token") else {}
        # Started together, the users would all act in the first instant: each begins after a
        # random wait of its own (its first gap), and its later actions follow from there.
        gevent.sleep(random.expovariate(PER_USER))
        self.next_at = time.monotonic()

    # --- checked requests --------------------------------------------------------------------

    def page(self, path: str, name: str, marker: str) -> str:
        with self.client.get(path, name=f"R page {name}", headers={"Cookie": self.cookie}, allow_redirects=False,
                             catch_response=True) as r:
            text = r.text or ""
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
            elif marker not in text:
                r.failure(f"the page lacks {marker!r}")
            elif any(m in text for m in ERROR_MARKERS):
                r.failure("the page shows an error")
            else:
                return text
        return ""

    def api(self, method: str, path: str, name: str, *, json_body: Any = None, data: bytes | None = None,
            ctype: str = "", expect: int = 200, key: bool = False, check: str = "") -> dict[str, Any] | None:
        headers = dict(self.bearer)
        if key:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        if json_body is not None:
            data, ctype = json.dumps(json_body).encode(), "application/json"
        if ctype:
            headers["Content-Type"] = ctype
        kind = "R" if method == "GET" else "W"
        with self.client.request(method, path, name=f"{kind} api {name}", data=data, headers=headers,
                                 allow_redirects=False, catch_response=True) as r:
            if r.status_code != expect:
                r.failure(f"status {r.status_code}: {(r.text or '')[:300]}")
                return None
            try:
                body = r.json() if r.text else {}
            except ValueError:
                r.failure("not JSON")
                return None
            if check and check not in body:
                r.failure(f"the answer lacks {check!r}")
                return None
            return body


class Specialist(Clinician):
    weight = 4
    slot_key = "specialists"

    @task(3)
    def my_queue(self) -> None:
        text = self.page("/consults?queue=mine", "/consults?queue=mine", 'id="queue-filter"')
        ids = CASE_LINK.findall(text)
        if ids:
            cid = random.choice(ids[:10])
            self.page(f"/consults/{cid}", "/consults/{id} (case)", f"/consults/{cid}/")

    @task(2)
    def work_the_pool(self) -> None:
        text = self.page("/consults?queue=pool", "/consults?queue=pool", 'id="queue-filter"')
        free = [c for c in CASE_LINK.findall(text) if c not in TAKEN]
        if not free:
            return
        cid = free[0]
        TAKEN.add(cid)
        if not self.page(f"/consults/{cid}", "/consults/{id} (case)", f"/consults/{cid}/"):
            return
        if self.api("POST", f"/api/v1/consults/{cid}/claim", "POST /consults/{id}/claim", json_body={},
                    check="state") is None:
            return
        self.api("POST", f"/api/v1/consults/{cid}/answer", "POST /consults/{id}/answer", check="state", json_body={
            "assessment": "考虑高血压2级，目前控制欠佳，未见急性靶器官损害证据。",
            "recommendation": "manage_locally",
            "plan": "氨氯地平5mg每日一次，两周后复测血压；低盐饮食，规律监测。"})


class VillageDoctor(Clinician):
    weight = 3
    slot_key = "village"

    def patient(self) -> dict[str, str]:
        return random.choice(self.me["patients"])

    @task(2)
    def consult_with_photo(self) -> None:
        pid = self.patient()["id"]
        body, ctype = _multipart({"patient_id": pid}, "file", "rash.jpg", PHOTO, "image/jpeg")
        stored = self.api("POST", "/api/v1/files", "POST /files (photo)", data=body, ctype=ctype, expect=201,
                          key=True, check="id")
        if stored is None:
            return
        self.api("POST", "/api/v1/consults", "POST /consults", expect=201, key=True, check="summary", json_body={
            "patient_id": pid, "specialty": self.me.get("specialty") or PLAN["consult_specialty"],
            "urgency": "routine",
            "question": "患者头晕两周，血压波动在150-170/95-105 mmHg，请问如何调整降压方案？",
            "history": "高血压病史5年。", "medication": "硝苯地平缓释片 20mg bid",
            "attachment_ids": [stored["id"]]})

    @task(1)
    def refer_up(self) -> None:
        dest = self.me.get("referral")
        free = [p["id"] for p in self.me.get("referable", []) if p["id"] not in REFERRED]
        if not dest or not free:
            return
        REFERRED.add(free[0])
        if REFERRED_FILE:
            with REFERRED_FILE.open("a") as f:
                f.write(free[0] + "\n")
        self.api("POST", "/api/v1/referrals", "POST /referrals", expect=201, key=True, check="summary", json_body={
            "patient_id": free[0], "direction": "up", "urgency": "routine",
            "target_organisation_id": dest["organisation_id"], "target_department_id": dest["department_id"],
            "reason": "血压控制不佳，需上级医院调整治疗方案", "clinical_summary": "高血压2级，规律服药血压仍偏高。"})

    @task(2)
    def my_cases(self) -> None:
        self.api("GET", "/api/v1/consults?limit=20", "GET /consults", check="items")


class TownshipGP(Clinician):
    weight = 1
    slot_key = "township"

    @task
    def request_ultrasound(self) -> None:
        pid = random.choice(self.me["patients"])["id"]
        exam = self.api("POST", "/api/v1/examinations", "POST /examinations", expect=201, key=True,
                        check="summary", json_body={
                            "patient_id": pid, "modality": "US", "body_site": "abdomen", "urgency": "routine",
                            "question": "右上腹隐痛一月，请评估肝胆情况",
                            # Runs on the same data set sign reports for these patients; within 30 days a
                            # new request then needs a reason (409 recent_report_exists without one). The
                            # server ignores the reason when there is no recent report.
                            "repeat_reason": "症状加重，需复查"})
        if exam is None:
            return
        eid = exam["summary"]["id"]
        body, ctype = _multipart({}, "file", "us.jpg", PHOTO, "image/jpeg")
        if self.api("POST", f"/api/v1/examinations/{eid}/files", "POST /examinations/{id}/files (photo)",
                    data=body, ctype=ctype, expect=201, check="id") is None:
            return
        self.api("POST", f"/api/v1/examinations/{eid}/submit", "POST /examinations/{id}/submit", json_body={},
                 check="state")


class HubReader(Clinician):
    weight = 2
    slot_key = "readers"

    @task(2)
    def worklist(self) -> None:
        self.page("/reading", "/reading (worklist)", 'data-tab="worklist"')

    @task(1)
    def claim_and_sign(self) -> None:
        text = self.page("/reading", "/reading (worklist)", 'data-tab="worklist"')
        free = [e for e in CLAIM.findall(text) if e not in TAKEN]
        if not free:
            return
        eid = free[0]
        TAKEN.add(eid)
        if self.api("POST", f"/api/v1/examinations/{eid}/claim", "POST /examinations/{id}/claim", json_body={},
                    check="state") is None:
            return
        if not self.page(f"/examinations/{eid}/report", "/examinations/{id}/report (editor)",
                         f"/examinations/{eid}/report/sign"):
            return
        self.api("POST", f"/api/v1/examinations/{eid}/report/sign", "POST /examinations/{id}/report/sign",
                 check="state", json_body={"report": {
                     "findings": "肝脏大小形态正常，实质回声均匀；胆囊壁光滑，腔内未见异常回声。",
                     "impression": "肝胆超声未见明显异常。"}})


class Patient(Clinician):
    weight = 3
    slot_key = "patients"

    @task(3)
    def home(self) -> None:
        self.page("/", "/ (patient home)", "/me/access-log")

    @task(1)
    def my_consults(self) -> None:
        self.page("/me/consults", "/me/consults", "<h1")

    @task(1)
    def my_referrals(self) -> None:
        self.page("/me/referrals", "/me/referrals", "<h1")

    @task(1)
    def my_reports(self) -> None:
        self.page("/me/reports", "/me/reports", "<h1")


class Integrator(Clinician):
    weight = 1
    slot_key = "integrator"

    def fhir(self, path: str, name: str, resource_type: str) -> None:
        with self.client.get(path, name=f"R fhir {name}", headers={**self.bearer, "Accept": "application/fhir+json"},
                             allow_redirects=False, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}: {(r.text or '')[:300]}")
                return
            body = r.json()
            if body.get("resourceType") != resource_type or (resource_type == "Bundle" and not body.get("entry")):
                r.failure(f"not a {resource_type} with entries: {(r.text or '')[:200]}")

    @task(3)
    def read_patient(self) -> None:
        p = random.choice(self.me["patients"])
        self.fhir(f"/fhir/Patient/{p['id']}", "GET /Patient/{id}", "Patient")

    @task(2)
    def search_patient(self) -> None:
        p = random.choice(self.me["patients"])
        self.fhir(f"/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.3|{p['id_number']}",
                  "GET /Patient?identifier=", "Bundle")
