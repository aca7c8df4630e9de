"""The requesting side's pages through Django's test client: requesting an examination (with the
recognition prompt and both of its answers), the examination's page for the people it is for in
both languages (404 for everyone else), its steps (send, cancel, claim, acknowledge a critical
finding), the report as signed, amended and added to, the list with a fixed number of queries,
and the patient's own report pages."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.diagnostics import actions_reading as dr
from medunion.diagnostics.models import Examination, Recognition
from medunion.diagnostics.validation import ReportInput
from tests.diagnostics.conftest import new_ct, signed_ct, uploaded_ct
from tests.pins import AUDIT

from .conftest import client, page

pytestmark = pytest.mark.django_db

QUESTION = "突发头痛伴呕吐2小时，排除颅内出血"


def form(dw, **extra):
    return {"once": "a" * 32, "patient": dw.patient.pk, "modality": "CT", "body_site": "head", "urgency": "urgent",
            "question": QUESTION, **extra}


# --- requesting -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_a_clinician_requests_an_examination_once(dw, lang):
    doctor = client("township_doctor", lang)
    shown = doctor.get(f"/examinations/new?patient={dw.patient.pk}")
    assert shown.status_code == 200
    body = page(shown)
    assert 'data-testid="exam-form"' in body and dw.patient.name in body
    assert ("Record the examination" if lang == "en" else "data-testid=\"exam-create\"") in body
    sent = doctor.post("/examinations/new", form(dw))
    assert sent.status_code == 302
    exam = Examination.objects.get()
    assert sent["Location"] == f"/examinations/{exam.pk}"
    assert (exam.modality, exam.body_site, exam.urgency, exam.question) == ("CT", "head", "urgent", QUESTION)
    again = doctor.post("/examinations/new", form(dw))  # a double tap: the same once token
    assert again.status_code == 302 and Examination.objects.count() == 1
    opened = page(doctor.get(sent["Location"]))
    assert exam.accession in opened and 'data-testid="upload"' in opened and "webkitdirectory" in opened


def test_the_form_without_a_patient_asks_which_and_bad_input_is_explained(dw):
    doctor = client("township_doctor")
    picker = page(doctor.get("/examinations/new"))
    assert 'data-testid="exam-pick"' in picker and dw.patient.name in picker  # in the doctor's care
    refused = doctor.post("/examinations/new", form(dw, question="", body_site=""))
    assert refused.status_code == 422
    body = page(refused)
    assert "Say what the reader should answer." in body and "Choose a body site." in body
    unknown = doctor.post("/examinations/new", form(dw, modality="XX"))
    assert unknown.status_code == 422 and "Select a valid choice" in page(unknown)
    other = doctor.post("/examinations/new", form(dw, body_site="other", once="b" * 32))
    assert other.status_code == 422 and "Say which body site." in page(other)
    no_hub = doctor.post("/examinations/new", form(dw, modality="ECG", once="c" * 32))
    assert no_hub.status_code == 422 and "ask your coordinator" in page(no_hub)
    assert not Examination.objects.exists()
    # A patient the clinician may not see: 404, as if there were none.
    assert client("village_doctor_b").get(f"/examinations/new?patient={dw.patient.pk}").status_code == 404
    assert client("outsider").post("/examinations/new", form(dw)).status_code == 404


def test_a_recent_signed_report_is_shown_first_and_can_be_used(dw):
    done = signed_ct(dw)
    county = client("county_doctor", "zh-hans")
    asked = county.post("/examinations/new", form(dw, once="d" * 32))
    assert asked.status_code == 409
    body = page(asked)
    assert 'data-testid="recognition"' in body and "右侧基底节区脑出血。" in body  # the impression
    assert "乾县影像诊断中心" in body and f"/examinations/{done.pk}/recognise" in body
    assert Examination.objects.count() == 1
    used = county.post(f"/examinations/{done.pk}/recognise", {"once": "e" * 32})
    assert used.status_code == 302 and used["Location"] == f"/examinations/{done.pk}"
    assert county.post(f"/examinations/{done.pk}/recognise", {"once": "e" * 32}).status_code == 302  # once
    row = Recognition.objects.get()
    assert row.decision == "reused" and row.examination_id == done.pk and row.new_examination_id is None
    after = page(county.get(used["Location"]))
    assert "右侧基底节区脑出血。" in after
    assert Examination.objects.count() == 1
    # Someone who may not see the report cannot use it.
    assert client("village_doctor_b").post(f"/examinations/{done.pk}/recognise", {"once": "f" * 32}).status_code == 404


def test_a_new_examination_despite_a_recent_report_needs_a_reason(dw):
    done = signed_ct(dw)
    county = client("county_doctor")
    first = county.post("/examinations/new", form(dw, once="g" * 32))
    assert first.status_code == 409 and 'name="repeat"' in page(first)
    empty = county.post("/examinations/new", form(dw, once="g" * 32, repeat="1"))
    assert empty.status_code == 409 and "Say why a new examination is needed." in page(empty)
    sent = county.post("/examinations/new", form(dw, once="g" * 32, repeat="1",
                                                   repeat_reason="症状加重，需复查"))
    assert sent.status_code == 302
    new = Examination.objects.exclude(pk=done.pk).get()
    assert new.repeat_reason == "症状加重，需复查"
    row = Recognition.objects.get()
    assert row.decision == "repeated" and row.new_examination_id == new.pk
    assert "症状加重，需复查" in page(county.get(f"/examinations/{new.pk}"))


# --- the examination's page ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_the_page_is_for_the_requesting_side_the_care_team_and_the_hub(dw, lang):
    exam = new_ct(dw)
    requester = page(client("township_doctor", lang).get(f"/examinations/{exam.pk}"))
    assert 'data-testid="upload"' in requester and 'data-step="submit"' in requester
    care = client("county_doctor", lang).get(f"/examinations/{exam.pk}")
    assert care.status_code == 200 and 'data-testid="upload"' not in page(care)
    for persona in ("village_doctor_b", "outsider", "hub_radiologist", "coordinator"):
        assert client(persona, lang).get(f"/examinations/{exam.pk}").status_code == 404, persona
    sent = uploaded_ct(dw, slices=1)
    hub = page(client("hub_radiologist", lang).get(f"/examinations/{sent.pk}"))
    assert 'data-step="claim"' in hub and f"/examinations/{sent.pk}/report" in hub
    assert 'data-testid="upload"' not in hub
    assert client("patient_a", lang).get(f"/examinations/{sent.pk}").status_code == 404  # not reported yet
    assert client("township_doctor").get("/examinations/not-a-uuid").status_code == 404


def test_send_for_reading_and_cancel(dw):
    exam = new_ct(dw)
    doctor = client("township_doctor")
    empty = doctor.post(f"/examinations/{exam.pk}/submit", {"once": "h" * 32, "version": exam.version})
    assert empty.status_code == 422 and "Upload the images before sending" in page(empty)
    assert client("county_doctor").post(f"/examinations/{exam.pk}/submit",
                                        {"once": "i" * 32, "version": exam.version}).status_code == 403
    assert client("village_doctor_b").post(f"/examinations/{exam.pk}/cancel",
                                           {"once": "j" * 32, "reason": "x"}).status_code == 404
    no_reason = doctor.post(f"/examinations/{exam.pk}/cancel", {"once": "k" * 32, "version": exam.version})
    assert no_reason.status_code == 422 and "Please give a reason." in page(no_reason)
    stale = doctor.post(f"/examinations/{exam.pk}/cancel", {"once": "l" * 32, "version": exam.version + 5,
                                                           "reason": "患者拒绝"})
    assert stale.status_code == 409 and 'data-testid="conflict"' in page(stale)
    cancelled = doctor.post(f"/examinations/{exam.pk}/cancel", {"once": "m" * 32, "version": exam.version,
                                                               "reason": "患者拒绝检查"})
    assert cancelled.status_code == 302
    exam.refresh_from_db()
    assert exam.state == "cancelled" and exam.cancel_reason == "患者拒绝检查"
    assert "患者拒绝检查" in page(doctor.get(f"/examinations/{exam.pk}"))


def test_claim_goes_to_the_report_editor_and_the_second_reader_is_told_who_won(dw):
    exam = uploaded_ct(dw, slices=1)
    won = client("hub_radiologist").post(f"/examinations/{exam.pk}/claim", {"once": "n" * 32, "version": exam.version})
    assert won.status_code == 302 and won["Location"] == f"/examinations/{exam.pk}/report"
    lost = client("hub_radiologist_b").post(f"/examinations/{exam.pk}/claim",
                                            {"once": "o" * 32, "version": exam.version})
    assert lost.status_code == 409 and "赵明" in page(lost)
    assert client("township_doctor").post(f"/examinations/{exam.pk}/claim",
                                          {"once": "p" * 32}).status_code == 403


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_the_signed_report_and_its_critical_finding_are_acknowledged_once(dw, lang):
    exam = signed_ct(dw, critical=True)
    finding = exam.critical_findings.get()
    doctor = client("township_doctor", lang)
    body = page(doctor.get(f"/examinations/{exam.pk}"))
    for text in ("右侧基底节区脑出血。", "右侧基底节区急性脑出血", "I61.9", 'data-testid="acknowledge"',
                 'data-testid="unacknowledged"', "25"):
        assert text in body, text
    reader = page(client("hub_radiologist", lang).get(f"/examinations/{exam.pk}"))
    assert 'data-testid="critical"' in reader and 'data-testid="acknowledge"' not in reader
    url = f"/examinations/{exam.pk}/critical/{finding.pk}/acknowledge"
    assert client("hub_radiologist").post(url, {"once": "q" * 32}).status_code == 403
    assert client("village_doctor_b").post(url, {"once": "q" * 32}).status_code == 404
    assert client("patient_a").post(url, {"once": "q" * 32}).status_code == 404
    done = doctor.post(url, {"once": "r" * 32})
    assert done.status_code == 302 and done["Location"] == f"/examinations/{exam.pk}"
    finding.refresh_from_db()
    assert finding.acknowledged_by_name == "冯家医"
    late = client("county_doctor", lang).post(url, {"once": "s" * 32})
    assert late.status_code == 409 and "冯家医" in page(late)
    after = page(doctor.get(f"/examinations/{exam.pk}"))
    assert 'data-testid="acknowledged"' in after and 'data-testid="acknowledge"' not in after


def test_amended_versions_addenda_and_second_reads_are_shown(dw):
    exam = signed_ct(dw)
    dr.amend(acting=dw.actor("hub_radiologist"), examination_id=exam.pk, reason="测量值更正", data=ReportInput(
        findings="右侧基底节区血肿，约 30 mm。", impression="右侧基底节区脑出血（修订）。", codes=["I61.9"],
        measurements=[{"code": "21889-1", "value": 30}]))
    dr.add_addendum(acting=dw.actor("hub_radiologist"), examination_id=exam.pk, text="建议 24 小时后复查 CT。")
    dr.second_read(acting=dw.actor("hub_chief"), examination_id=exam.pk, verdict="minor", comment="水肿带描述不足")
    body = page(client("township_doctor").get(f"/examinations/{exam.pk}"))
    assert "右侧基底节区脑出血（修订）。" in body and "测量值更正" in body and 'data-testid="version"' in body
    assert 'data-testid="superseded"' in body and "右侧基底节区脑出血。" in body  # the earlier version, folded
    assert body.index("右侧基底节区脑出血（修订）。") < body.index('data-testid="superseded"')
    assert "建议 24 小时后复查 CT。" in body and "水肿带描述不足" in body and "minor discrepancy" in body


# --- the list ----------------------------------------------------------------------------------------

def test_the_list_has_open_and_reported_tabs_and_a_fixed_number_of_queries(dw):
    def count(url: str) -> tuple[int, str]:
        c = client("township_doctor")
        with CaptureQueriesContext(connection) as ctx:
            response = c.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries), page(response)

    first = new_ct(dw)
    signed = signed_ct(dw, body_site="chest")
    small = {"requested": count("/examinations")[0], "reported": count("/examinations?list=reported")[0]}
    open_body = count("/examinations")[1]
    assert first.accession in open_body and signed.accession not in open_body
    assert signed.accession in count("/examinations?list=reported")[1]
    for site in ("abdomen", "pelvis", "spine", "neck"):
        new_ct(dw, body_site=site)
        signed_ct(dw, body_site=site, critical=site == "neck")
    big = {"requested": count("/examinations")[0], "reported": count("/examinations?list=reported")[0]}
    assert big == small, (small, big)
    assert big["requested"] <= 20 + AUDIT
    assert 'data-testid="open-critical"' in count("/examinations")[1]
    assert client("village_doctor_b").get("/examinations?list=nothing").status_code == 404
    assert client("patient_a").get("/examinations").status_code == 404


# --- the patient -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_the_patient_reads_their_signed_reports_only(dw, lang):
    exam = signed_ct(dw, critical=True)
    waiting = uploaded_ct(dw, slices=1, body_site="chest")
    patient = client("patient_a", lang)
    home = page(patient.get("/"))
    assert 'data-testid="my-reports-link"' in home
    mine = page(patient.get("/me/reports"))
    assert f"/me/reports/{exam.pk}" in mine and str(waiting.pk) not in mine
    report = patient.get(f"/me/reports/{exam.pk}")
    assert report.status_code == 200
    body = page(report)
    assert "右侧基底节区脑出血。" in body and "建议立即转上级医院神经外科。" in body
    for hidden in (QUESTION, "右侧基底节区急性脑出血", "acknowledge", "worklist", "/viewer", "/frames/"):
        assert hidden not in body, hidden
    assert page(patient.get(f"/examinations/{exam.pk}")) .count("右侧基底节区脑出血。") == 1
    assert patient.get(f"/me/reports/{waiting.pk}").status_code == 404
    assert client("township_doctor").get("/me/reports").status_code == 404


def test_the_patient_record_links_to_a_new_examination(dw):
    body = page(client("township_doctor").get(f"/patients/{dw.patient.pk}"))
    assert f"/examinations/new?patient={dw.patient.pk}" in body
