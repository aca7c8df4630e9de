"""The reading side over the API: the worklist, one winner of a claim, the draft, signing, addenda,
amended versions, second reads, the critical-finding loop and the PDF."""

from __future__ import annotations

import io
import threading

import pytest
from django.db import connection

from medunion.audit.models import AuditEvent
from medunion.diagnostics.models import CriticalFinding, Report, ReportStatus
from tests.api.conftest import ApiClient, issue_token

from .conftest import REPORT, assert_problem, signed, uploaded


def test_claim_draft_and_sign(dw, api):
    reader = api("hub_radiologist")
    eid = uploaded(api, dw)
    worklist = reader.get("/examinations", {"list": "worklist"}).json()["items"]
    assert [e["id"] for e in worklist] == [eid] and worklist[0]["question"].startswith("突发头痛")
    view = reader.get(f"/examinations/{eid}").json()
    assert view["events"] == ["claim"] and view["clinical"]["draft"] is None
    version = view["summary"]["version"]
    claimed = reader.post(f"/examinations/{eid}/claim", {"expected_version": version})
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["state"] == "in_reading" and claimed.json()["reader"]["name"] == "赵明"
    assert set(claimed.json()["events"]) == {"release", "sign"} and claimed.json()["acts"] == ["write_draft"]
    assert [e["id"] for e in reader.get("/examinations", {"list": "mine"}).json()["items"]] == [eid]

    draft = reader.put(f"/examinations/{eid}/report/draft", {"findings": "初步所见", "second_read": True})
    assert draft.status_code == 200, draft.content
    assert (draft.json()["status"], draft.json()["findings"], draft.json()["signed_at"]) == ("draft", "初步所见", None)
    assert reader.get(f"/examinations/{eid}").json()["clinical"]["draft"]["findings"] == "初步所见"
    # The draft is the reader's: the requester never sees it, nor anyone else.
    assert api("township_doctor").get(f"/examinations/{eid}").json()["clinical"]["draft"] is None
    # Signing an incomplete draft names the missing sections; nothing changes.
    problem = assert_problem(reader.post(f"/examinations/{eid}/report/sign", {}), 422)
    assert "impression" in problem["errors"]
    reader.put(f"/examinations/{eid}/report/draft", {**REPORT, "second_read": True})
    done = reader.post(f"/examinations/{eid}/report/sign", {"expected_version": claimed.json()["version"]})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["state"] == "reported" and body["signed_at"] and body["acts"] == ["addendum", "amend"]
    report = body["report"]
    assert (report["status"], report["kind"], report["version"]) == ("signed", "original", 1)
    assert report["impression"] == REPORT["impression"] and len(report["content_sha256"]) == 64
    assert report["codes"][0]["code"] == "I61.9" and report["measurements"][0]["unit"] == "mm"
    assert report["second_read_requested"] is True
    # Reported: no more drafts.
    assert_problem(reader.put(f"/examinations/{eid}/report/draft", REPORT), 409)


def test_field_errors_of_a_report(dw, api):
    reader = api("hub_radiologist")
    eid = uploaded(api, dw)
    reader.post(f"/examinations/{eid}/claim", {})
    problem = assert_problem(reader.put(f"/examinations/{eid}/report/draft", {
        "codes": ["X99.9"], "measurements": [{"code": "21889-1", "value": 9999}, {"code": "0000-0", "value": 1}],
        "critical": True}), 422)
    assert {"codes", "measurements", "critical_note"} <= set(problem["errors"])
    problem = assert_problem(reader.put(f"/examinations/{eid}/report/draft", {
        "measurements": [{"code": "21889-1", "value": "lots"}]}), 422)
    assert any(k.startswith("measurements") for k in problem["errors"])
    assert not Report.objects.filter(examination_id=eid).exists()


def test_only_the_reader_who_claimed_writes(dw, api):
    eid = uploaded(api, dw)
    reader, other = api("hub_radiologist"), api("hub_radiologist_b")
    reader.post(f"/examinations/{eid}/claim", {})
    problem = assert_problem(other.post(f"/examinations/{eid}/claim", {}), 409, "examination_claimed")
    assert problem["reader"] == "赵明" and "赵明" in problem["title"]
    assert_problem(other.put(f"/examinations/{eid}/report/draft", REPORT), 403)
    assert_problem(other.post(f"/examinations/{eid}/release", {}), 403)
    assert_problem(api("township_doctor").post(f"/examinations/{eid}/report/sign", {"report": REPORT}), 403)
    assert_problem(api("hub_sonographer").post(f"/examinations/{eid}/claim", {}), 404)  # reads ultrasound only
    assert_problem(api("village_doctor_b").get(f"/examinations/{eid}"), 404)
    released = reader.post(f"/examinations/{eid}/release", {})
    assert released.status_code == 200 and released.json()["state"] == "awaiting" and released.json()["reader"] is None
    assert other.post(f"/examinations/{eid}/claim", {}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_readers_claim_at_once_one_wins(world):
    """Two requests racing on PostgreSQL (SQLite serialises writers, so the race is checked there
    by the version in the conditional update)."""
    from tests.diagnostics.conftest import build_diagnosis_world, uploaded_ct

    dw = build_diagnosis_world(world)
    exam = uploaded_ct(dw)
    tokens = [issue_token("hub_radiologist"), issue_token("hub_radiologist_b")]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def claim(token: str) -> None:
        try:
            barrier.wait()
            results.append(ApiClient(token).post(f"/examinations/{exam.pk}/claim", {}).status_code)
        finally:
            connection.close()

    if connection.vendor != "postgresql":
        for token in tokens:
            results.append(ApiClient(token).post(f"/examinations/{exam.pk}/claim", {"expected_version": 2})
                           .status_code)
    else:
        threads = [threading.Thread(target=claim, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == [200, 409]


def test_corrections_addenda_amendments_second_reads(dw, api):
    eid = signed(api, dw, second_read=True)
    reader, chief = api("hub_radiologist"), api("hub_chief")
    # An addendum, once per Idempotency-Key.
    body = {"text": "补充：左侧额叶未见异常。"}
    added = reader.post(f"/examinations/{eid}/report/addenda", body, **{"Idempotency-Key": "add-1"})
    replay = reader.post(f"/examinations/{eid}/report/addenda", body, **{"Idempotency-Key": "add-1"})
    assert added.status_code == replay.status_code == 201, added.content
    assert added.json() == replay.json() and replay["Idempotent-Replayed"] == "true"
    assert (added.json()["kind"], added.json()["version"], added.json()["status"]) == ("addendum", 1, "signed")
    assert Report.objects.filter(examination_id=eid, kind="addendum").count() == 1
    assert_problem(reader.post(f"/examinations/{eid}/report/addenda", {"text": ""}), 422)
    assert_problem(api("township_doctor").post(f"/examinations/{eid}/report/addenda", body), 403)
    # A senior reader's second read of the version in force.
    assert_problem(reader.post(f"/examinations/{eid}/report/second-read", {"verdict": "agree"}), 403)  # not senior
    assert_problem(chief.post(f"/examinations/{eid}/report/second-read", {"verdict": "major"}), 422)  # say why
    assert [e["id"] for e in chief.get("/examinations", {"list": "second_reads"}).json()["items"]] == [eid]
    read = chief.post(f"/examinations/{eid}/report/second-read", {"verdict": "major", "comment": "出血量估计偏小"})
    assert read.status_code == 201 and read.json()["verdict"] == "major" and read.json()["reviewer"] == "孙主任"
    assert_problem(chief.post(f"/examinations/{eid}/report/second-read", {"verdict": "agree"}), 409)
    assert chief.get("/examinations", {"list": "second_reads"}).json()["items"] == []
    # An amended version: a new signed row, the old one unchanged.
    problem = assert_problem(reader.post(f"/examinations/{eid}/report/amendments", REPORT), 422)
    assert "reason" in problem["errors"]
    amended = reader.post(f"/examinations/{eid}/report/amendments",
                          {**REPORT, "impression": "右侧基底节区脑出血，约 30 mL。", "reason": "出血量补充"})
    assert amended.status_code == 201, amended.content
    assert (amended.json()["kind"], amended.json()["version"]) == ("amended", 2)
    view = reader.get(f"/examinations/{eid}").json()
    assert [(r["kind"], r["version"]) for r in view["reports"]] == [("original", 1), ("addendum", 1), ("amended", 2)]
    assert view["current_report_id"] == amended.json()["id"] and len(view["clinical"]["second_reads"]) == 1
    assert Report.objects.get(examination_id=eid, version=1, kind="original").impression == REPORT["impression"]


def test_the_critical_finding_loop(dw, api):
    eid = signed(api, dw, critical=True, critical_note="急性脑出血")
    doctor = api("township_doctor")
    finding = CriticalFinding.objects.get(examination_id=eid)
    waiting = doctor.get("/critical-findings").json()["items"]
    assert [c["id"] for c in waiting] == [str(finding.pk)] and waiting[0]["examination"]["id"] == eid
    assert doctor.get("/examinations/counts").json()["critical"] == 1
    assert api("hub_radiologist").get("/critical-findings").json()["items"] == []
    assert_problem(api("hub_radiologist").post(f"/critical-findings/{finding.pk}/acknowledge"), 403)
    assert_problem(api("village_doctor_b").post(f"/critical-findings/{finding.pk}/acknowledge"), 404)
    done = doctor.post(f"/critical-findings/{finding.pk}/acknowledge")
    assert done.status_code == 200, done.content
    assert done.json()["acknowledged_by"] == "冯家医" and done.json()["acknowledged_at"]
    problem = assert_problem(api("county_doctor").post(f"/critical-findings/{finding.pk}/acknowledge"), 409)
    assert "冯家医" in problem["title"]
    assert doctor.get("/critical-findings").json()["items"] == []


def test_the_report_as_pdf(dw, api):
    from pypdf import PdfReader

    eid = signed(api, dw, critical=True, critical_note="急性脑出血")
    api("hub_radiologist").post(f"/examinations/{eid}/report/addenda", {"text": "补充：中线结构居中。"})
    before = AuditEvent.objects.filter(action="examination.report.pdf").count()
    for persona in ("township_doctor", "patient_a", "county_doctor"):
        response = api(persona).get(f"/examinations/{eid}/report.pdf")
        assert response.status_code == 200, (persona, response.content[:200])
        assert response["Content-Type"] == "application/pdf" and response["Cache-Control"] == "private, no-store"
        assert response["Content-Disposition"].startswith("attachment; filename=\"report-EX")
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
        assert REPORT["impression"] in text and "中线结构居中" in text and "急性脑出血" in text
    assert AuditEvent.objects.filter(action="examination.report.pdf").count() == before + 3
    # The same signed report gives the same bytes.
    assert api("township_doctor").get(f"/examinations/{eid}/report.pdf").content == \
        api("township_doctor").get(f"/examinations/{eid}/report.pdf").content
    waiting = uploaded(api, dw, body_site="chest")
    assert_problem(api("township_doctor").get(f"/examinations/{waiting}/report.pdf"), 409)
    assert_problem(api("village_doctor_b").get(f"/examinations/{eid}/report.pdf"), 404)
    assert not Report.objects.filter(examination_id=waiting, status=ReportStatus.SIGNED).exists()
