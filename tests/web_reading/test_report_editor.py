"""The report editor: saving a draft, signing it only after confirming (and only when complete),
per-field errors, releasing back to the worklist, a signed report shown read-only, addenda,
amended versions with their reason, the second read by a senior reader who is not the author, and
who may open the page at all. Each step posts once per form token."""

from __future__ import annotations

import re

import pytest

from medunion.audit.models import AuditEvent
from medunion.diagnostics.actions_reading import claim
from medunion.diagnostics.codes import IMPRESSION_CODES
from medunion.diagnostics.models import CriticalFinding, Examination, Report, SecondRead
from tests.diagnostics.conftest import signed_ct, uploaded_ct

from .conftest import client, page

pytestmark = pytest.mark.django_db

FINDINGS = "右侧基底节区见类圆形高密度影，约 25 mm。"
IMPRESSION = "右侧基底节区脑出血。"


def claimed(dw, persona: str = "hub_radiologist") -> Examination:
    exam = uploaded_ct(dw, slices=2)
    return claim(acting=dw.actor(persona), examination_id=exam.pk)


def report_form(exam: Examination, once: str = "f" * 32, **fields: object) -> dict[str, object]:
    data: dict[str, object] = {"once": once, "version": exam.version, "findings": FINDINGS, "impression": IMPRESSION,
                               "recommendation": "建议转神经外科。", "codes": ["I61.9"], "m0_code": "21889-1",
                               "m0_value": "25", "m1_code": "", "m1_value": "", "m2_code": "", "m2_value": ""}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def errors_of(body: str, field: str) -> str:
    """The error list shown under a field of the editor (id_report_<field>)."""
    match = re.search(rf'id="id_report_{field}".*?(<ul class="errorlist".*?</ul>)', body, re.S)
    return match.group(1) if match else ""


def test_the_reader_saves_a_draft_and_finds_it_again(dw):
    exam = claimed(dw)
    reader = client("hub_radiologist")
    body = page(reader.get(f"/examinations/{exam.pk}/report"))
    assert 'data-testid="report-form"' in body and "突发头痛伴呕吐2小时" in body
    assert f"/examinations/{exam.pk}/frames/" in body and "size=thumb" in body and "/viewer?series=" in body
    saved = reader.post(f"/examinations/{exam.pk}/report/draft", report_form(exam, findings="初步：高密度影"))
    assert saved.status_code == 302 and saved["Location"] == f"/examinations/{exam.pk}/report"
    draft = Report.objects.get(examination=exam)
    assert draft.status == "draft" and draft.findings == "初步：高密度影"
    assert draft.codes[0]["code"] == "I61.9" and draft.measurements[0]["value"] == 25
    again = page(reader.get(f"/examinations/{exam.pk}/report"))
    assert "初步：高密度影" in again and 'value="I61.9" id="id_report_codes_3" checked' in again
    assert 'value="21889-1" selected' in again
    # A draft may be incomplete; the state does not move.
    assert reader.post(f"/examinations/{exam.pk}/report/draft",
                       report_form(exam, once="e" * 32, findings="", impression="")).status_code == 302
    assert Examination.objects.get(pk=exam.pk).state == "in_reading"


def test_signing_needs_a_complete_report_and_a_confirmation(dw):
    exam = claimed(dw)
    reader = client("hub_radiologist")
    url = f"/examinations/{exam.pk}/report/sign"
    unconfirmed = reader.post(url, report_form(exam))
    assert unconfirmed.status_code == 422
    assert "cannot be changed" in errors_of(unconfirmed.content.decode(), "confirm")
    # Unconfirmed and incomplete: both said at once.
    both = reader.post(url, report_form(exam, impression="")).content.decode()
    assert "cannot be changed" in errors_of(both, "confirm")
    assert "Give the impression before signing." in errors_of(both, "impression")
    incomplete = reader.post(url, report_form(exam, findings="", critical="on", m0_value="9000", confirm="on"))
    assert incomplete.status_code == 422
    body = incomplete.content.decode()
    assert "Describe the findings before signing." in errors_of(body, "findings")
    assert "Say what the critical finding is." in errors_of(body, "critical_note")
    assert re.search(r'data-testid="measurements">.*?lesion size \(mm\) must be a number from 0.1 to 500', body, re.S)
    assert IMPRESSION in body  # what was typed is kept
    assert Examination.objects.get(pk=exam.pk).state == "in_reading" and not Report.objects.exists()
    assert reader.post(url, report_form(exam, codes=["X99.9"], confirm="on")).status_code == 422


def test_signing_makes_the_report_read_only_once(dw):
    exam = claimed(dw)
    reader = client("hub_radiologist")
    form = report_form(exam, confirm="on", critical="on", critical_note="急性脑出血", second_read="on")
    signed = reader.post(f"/examinations/{exam.pk}/report/sign", form)
    assert signed.status_code == 302 and signed["Location"] == f"/examinations/{exam.pk}/report"
    assert reader.post(f"/examinations/{exam.pk}/report/sign", form).status_code == 302  # a double tap
    report = Report.objects.get(examination=exam)
    assert report.status == "signed" and report.critical and report.second_read_requested
    assert AuditEvent.objects.filter(action="examination.report.sign").count() == 1
    assert CriticalFinding.objects.filter(examination=exam).count() == 1
    body = page(reader.get(f"/examinations/{exam.pk}/report"))
    assert 'data-testid="signed-report"' in body and 'data-testid="report-form"' not in body
    assert "急性脑出血" in body and "intracerebral haemorrhage" in body and "lesion size (mm)" in body
    assert "not yet acknowledged" in body
    # A draft can no longer be written: the page again with what happened.
    late = reader.post(f"/examinations/{exam.pk}/report/draft", report_form(exam, once="d" * 32))
    assert late.status_code == 409 and 'data-testid="conflict"' in late.content.decode()


def test_releasing_puts_the_examination_back_in_the_worklist(dw):
    exam = claimed(dw)
    released = client("hub_radiologist").post(f"/examinations/{exam.pk}/report/release",
                                              {"once": "r" * 32, "version": exam.version})
    assert released.status_code == 302 and released["Location"] == "/reading"
    exam.refresh_from_db()
    assert exam.state == "awaiting" and exam.reader_id is None
    # Only the reader releases: a colleague is refused.
    exam = claimed(dw, "hub_radiologist_b")
    assert client("hub_radiologist").post(f"/examinations/{exam.pk}/report/release",
                                          {"version": exam.version}).status_code == 403
    body = page(client("hub_radiologist").get(f"/examinations/{exam.pk}/report"))
    assert 'data-testid="being-read"' in body and "钱影像" in body and 'data-testid="report-form"' not in body


def test_an_addendum_and_an_amended_version(dw):
    exam = signed_ct(dw)
    colleague = client("hub_radiologist_b")
    body = page(colleague.get(f"/examinations/{exam.pk}/report"))
    assert 'data-step="addendum"' in body and 'data-step="amend"' in body and 'data-step="second_read"' not in body
    empty = colleague.post(f"/examinations/{exam.pk}/report/addendum", {"once": "1" * 32, "text": ""})
    assert empty.status_code == 422 and re.search(r'id="id_addendum_text".*?errorlist', empty.content.decode(), re.S)
    added = colleague.post(f"/examinations/{exam.pk}/report/addendum",
                           {"once": "2" * 32, "text": "补充：左侧脑室受压。"})
    assert added.status_code == 302
    resent = colleague.post(f"/examinations/{exam.pk}/report/addendum",
                            {"once": "2" * 32, "text": "补充：左侧脑室受压。"})
    assert resent.status_code == 302  # a double tap: added once
    assert Report.objects.filter(examination=exam, kind="addendum", status="signed").count() == 1
    no_reason = colleague.post(f"/examinations/{exam.pk}/report/amend", {
        "once": "3" * 32, "findings": FINDINGS, "impression": "右侧基底节区脑出血，破入脑室。", "reason": ""})
    assert no_reason.status_code == 422
    assert re.search(r'id="id_amend_reason".*?errorlist', no_reason.content.decode(), re.S)
    amended = colleague.post(f"/examinations/{exam.pk}/report/amend", {
        "once": "4" * 32, "findings": FINDINGS, "impression": "右侧基底节区脑出血，破入脑室。",
        "reason": "复阅发现脑室积血", "codes": ["I61.9"]})
    assert amended.status_code == 302
    versions = list(Report.objects.filter(examination=exam).exclude(kind="addendum").order_by("version")
                    .values_list("version", "kind", "status"))
    assert versions == [(1, "original", "signed"), (2, "amended", "signed")]
    body = page(client("hub_radiologist").get(f"/examinations/{exam.pk}/report"))
    assert "Amended report" in body and "复阅发现脑室积血" in body and "破入脑室" in body
    assert 'data-testid="superseded"' in body and "补充：左侧脑室受压。" in body
    # The requesting side corrects nothing here.
    assert client("township_doctor").post(f"/examinations/{exam.pk}/report/addendum",
                                          {"once": "5" * 32, "text": "x"}).status_code == 403


def test_the_second_read_is_a_senior_readers_who_is_not_the_author(dw):
    exam = signed_ct(dw)
    chief = client("hub_chief")
    body = page(chief.get(f"/examinations/{exam.pk}/report"))
    assert 'data-step="second_read"' in body
    assert 'data-tab="second_reads"' in page(chief.get("/reading"))
    no_comment = chief.post(f"/examinations/{exam.pk}/report/second-read", {"once": "6" * 32, "verdict": "major"})
    assert no_comment.status_code == 422
    assert re.search(r'id="id_second_read_comment".*?errorlist', no_comment.content.decode(), re.S)
    done = chief.post(f"/examinations/{exam.pk}/report/second-read",
                      {"once": "7" * 32, "verdict": "major", "comment": "漏报脑室积血"})
    assert done.status_code == 302
    assert SecondRead.objects.get(examination=exam).verdict == "major"
    after = page(chief.get(f"/examinations/{exam.pk}/report"))
    assert 'data-step="second_read"' not in after and "漏报脑室积血" in after
    # Twice: the page again with what happened.
    twice = chief.post(f"/examinations/{exam.pk}/report/second-read",
                       {"once": "8" * 32, "verdict": "agree"})
    assert twice.status_code == 409 and "second read already" in twice.content.decode()
    # A reader who is not senior gives none; the author of a report does not read it twice.
    assert client("hub_radiologist_b").post(f"/examinations/{exam.pk}/report/second-read",
                                            {"once": "9" * 32, "verdict": "agree"}).status_code == 403
    own = signed_ct(dw, reader="hub_chief", body_site="chest")
    assert 'data-step="second_read"' not in page(chief.get(f"/examinations/{own.pk}/report"))


def test_who_opens_the_report_page(dw):
    exam = uploaded_ct(dw, slices=1)
    assert 'data-claim=' in page(client("hub_radiologist").get(f"/examinations/{exam.pk}/report"))
    # The requesting side reads the examination on its own page.
    mine = client("township_doctor").get(f"/examinations/{exam.pk}/report")
    assert mine.status_code == 302 and mine["Location"] == f"/examinations/{exam.pk}"
    for persona in ("village_doctor_b", "hub_sonographer", "coordinator", "patient_a", "outsider"):
        assert client(persona).get(f"/examinations/{exam.pk}/report").status_code == 404, persona
    assert client("hub_radiologist").get("/examinations/00000000-0000-0000-0000-000000000000/report").status_code == 404
    before = AuditEvent.objects.filter(action="examination.view", object_id=str(exam.pk)).count()
    page(client("hub_radiologist").get(f"/examinations/{exam.pk}/report"))
    assert AuditEvent.objects.filter(action="examination.view", object_id=str(exam.pk)).count() == before + 1


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_the_editor_renders_in_both_languages(dw, lang):
    from django.utils import translation

    exam = claimed(dw)
    body = page(client("hub_radiologist", lang).get(f"/examinations/{exam.pk}/report"))
    assert ('lang="zh-CN"' if lang == "zh-hans" else 'lang="en"') in body
    with translation.override(lang):
        words = [str(w) for w in (translation.gettext("Save draft"), translation.gettext("Findings"),
                                  IMPRESSION_CODES["I61.9"].label, translation.gettext("Clinical question"))]
    assert all(w in body for w in words), words
    assert "I61.9" in body and "21889-1" in body and 'data-testid="sign"' in body


def test_the_editor_loads_the_examination_and_checks_the_reader_once(dw):
    """The page decides by the reader's roles whether to show the editor, then shows it from the
    same loaded examination: one load, one relationship check (it loaded and checked twice)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    exam = claimed(dw)
    reader = client("hub_radiologist")
    page(reader.get(f"/examinations/{exam.pk}/report"))  # the session and translations warmed up
    with CaptureQueriesContext(connection) as ctx:
        body = page(reader.get(f"/examinations/{exam.pk}/report"))
    assert 'data-testid="report-form"' in body
    sql = [q["sql"] for q in ctx.captured_queries]
    assert sum(1 for q in sql if q.startswith('SELECT "diagnostics_examination"."id"')) == 1, sql
    assert sum(1 for q in sql if 'FROM "access_breakglassgrant"' in q) <= 1, sql
