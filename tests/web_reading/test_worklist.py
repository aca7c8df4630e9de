"""The hub's worklist page: who sees it, the order (emergency, urgent, routine; then the longest
waiting first), the waiting time in words, the modality filter, the tabs, claiming from it (one
winner: the loser is told who claimed first; a double tap claims once), and a fixed number of
queries whatever the number of rows."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.diagnostics.models import Examination
from tests.diagnostics.conftest import new_ct, signed_ct, upload, uploaded_ct
from tests.pins import AS_WRITTEN, AUDIT

from .conftest import client, page

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


def rows(body: str) -> list[str]:
    return re.findall(r'data-exam="([0-9a-f-]{36})"', body)


def claim_form(exam: Examination, once: str = "a" * 32, **extra: str) -> dict[str, str]:
    prefix = f"c{exam.pk.hex[:8]}"
    return {f"{prefix}-once": once, f"{prefix}-version": str(exam.version), **extra}


def ultrasound(dw) -> Examination:
    """An abdominal ultrasound sent with a photo from the cart (read by the hub's sonographer)."""
    from PIL import Image

    from medunion.diagnostics.actions import submit, upload_file

    exam = new_ct(dw, modality="US", body_site="abdomen", urgency="routine", question="右上腹痛，胆囊结石？")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 90, 90)).save(buffer, "JPEG")
    upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk,
                upload=upload("us.jpg", buffer.getvalue(), "image/jpeg"))
    return submit(acting=dw.actor("township_doctor"), examination_id=exam.pk)


def test_the_worklist_is_ordered_by_urgency_then_waiting_time(dw):
    with clock.frozen(START):
        routine_old = uploaded_ct(dw, slices=1, urgency="routine")
        clock.advance(dt.timedelta(minutes=20))
        urgent_old = uploaded_ct(dw, slices=1, urgency="urgent")
        clock.advance(dt.timedelta(minutes=20))
        urgent_new = uploaded_ct(dw, slices=1, urgency="urgent")
        clock.advance(dt.timedelta(minutes=20))
        emergency = uploaded_ct(dw, slices=1, urgency="emergency")
        clock.advance(dt.timedelta(minutes=70))  # 2 h 10 min after the first was sent
        body = page(client("hub_radiologist").get("/reading"))
    assert rows(body) == [str(e.pk) for e in (emergency, urgent_old, urgent_new, routine_old)]
    waiting = re.findall(r'data-testid="waiting">· (waiting [^<]+)<', body)
    assert waiting == ["waiting 1 h 10 min", "waiting 1 h 50 min", "waiting 1 h 30 min", "waiting 2 h 10 min"]
    assert "城关镇卫生院" in body and "陈桂芳" in body and body.count("data-claim=") == 4
    # What a colleague is reading goes after what is still to claim, in the same order.
    from medunion.diagnostics import actions_reading

    for exam in (urgent_old, emergency):
        actions_reading.claim(acting=dw.actor("hub_radiologist_b"), examination_id=exam.pk)
    with clock.frozen(START + dt.timedelta(minutes=130)):
        body = page(client("hub_radiologist").get("/reading"))
    assert rows(body) == [str(e.pk) for e in (urgent_new, routine_old, emergency, urgent_old)]
    assert body.count("data-claim=") == 2 and body.count('data-testid="claimed-by"') == 2


def test_tabs_filter_and_who_sees_the_worklist(dw):
    ct = uploaded_ct(dw, slices=1)
    us = ultrasound(dw)
    reader = client("hub_radiologist")
    assert rows(page(reader.get("/reading"))) == [str(ct.pk), str(us.pk)]
    assert rows(page(reader.get("/reading?modality=US"))) == [str(us.pk)]
    assert rows(page(reader.get("/reading?modality=CT"))) == [str(ct.pk)]
    assert rows(page(reader.get("/reading?modality=XX"))) == [str(ct.pk), str(us.pk)]  # not read: ignored
    # The sonographer reads ultrasound only: no CT, and no filter to choose.
    sono = page(client("hub_sonographer").get("/reading"))
    assert rows(sono) == [str(us.pk)] and 'data-testid="modality-filter"' not in sono
    # Second reads are a senior reader's tab.
    assert 'data-tab="second_reads"' not in page(reader.get("/reading"))
    assert reader.get("/reading?list=second_reads").status_code == 404
    assert reader.get("/reading?list=requested").status_code == 404
    assert 'data-tab="second_reads"' in page(client("hub_chief").get("/reading"))
    for persona in ("township_doctor", "village_doctor_a", "county_doctor", "coordinator", "patient_a",
                    "commission_viewer"):
        assert client(persona).get("/reading").status_code == 404, persona


def test_claiming_opens_the_editor_and_moves_the_row_to_mine(dw):
    exam = uploaded_ct(dw, slices=1)
    reader = client("hub_radiologist")
    form = claim_form(exam)
    response = reader.post(f"/reading/{exam.pk}/claim", form)
    assert response.status_code == 302 and response["Location"] == f"/examinations/{exam.pk}/report"
    exam.refresh_from_db()
    assert exam.state == "in_reading" and exam.reader_id == dw.pid("hub_radiologist")
    # The same tap again (a resend on a weak network): claimed once, no error.
    again = reader.post(f"/reading/{exam.pk}/claim", form)
    assert again.status_code == 302 and again["Location"] == f"/examinations/{exam.pk}/report"
    assert AuditEvent.objects.filter(action="examination.claim").count() == 1
    mine = page(reader.get("/reading?list=mine"))
    assert rows(mine) == [str(exam.pk)] and "Continue the report" in mine
    colleague = page(client("hub_radiologist_b").get("/reading"))
    assert "claimed by 赵明" in colleague and "data-claim=" not in colleague


def test_the_claim_form_on_the_worklist_posts_back_what_the_claim_reads(dw):
    exam = uploaded_ct(dw, slices=1)
    reader = client("hub_radiologist")
    body = page(reader.get("/reading"))
    form = re.search(rf'<form method="post" action="/reading/{exam.pk}/claim"[^>]*>(.*?)</form>', body, re.S)
    assert form is not None, body
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1)))
    prefix = f"c{exam.pk.hex[:8]}"
    assert {f"{prefix}-once", f"{prefix}-version", "csrfmiddlewaretoken"} <= set(fields), fields
    assert fields[f"{prefix}-version"] == str(exam.version) and len(fields[f"{prefix}-once"]) == 32
    # Posted back as the page gave them: claimed; a second page gives a new once token.
    response = reader.post(f"/reading/{exam.pk}/claim", fields)
    assert response.status_code == 302 and response["Location"] == f"/examinations/{exam.pk}/report"
    exam.refresh_from_db()
    assert exam.state == "in_reading" and exam.reader_id == dw.pid("hub_radiologist")
    other = uploaded_ct(dw, slices=1, body_site="neck")
    again = page(reader.get("/reading"))
    assert fields[f"{prefix}-once"] not in again and f"c{other.pk.hex[:8]}-once" in again


def test_a_lost_claim_race_names_who_claimed_first(dw):
    exam = uploaded_ct(dw, slices=1)
    first, second = client("hub_radiologist"), client("hub_radiologist_b", "zh-hans")
    assert first.post(f"/reading/{exam.pk}/claim", claim_form(exam, "1" * 32)).status_code == 302
    lost = second.post(f"/reading/{exam.pk}/claim", claim_form(exam, "2" * 32))
    assert lost.status_code == 409
    body = lost.content.decode()
    assert 'data-testid="conflict"' in body and "赵明" in body
    assert Examination.objects.get(pk=exam.pk).reader_id == dw.pid("hub_radiologist")


def test_claiming_is_for_the_hub_readers(dw):
    exam = uploaded_ct(dw, slices=1)
    # The requester may see the examination but not claim it; an unrelated clinician sees nothing.
    assert client("township_doctor").post(f"/reading/{exam.pk}/claim", claim_form(exam)).status_code == 403
    assert client("village_doctor_b").post(f"/reading/{exam.pk}/claim", claim_form(exam)).status_code == 404
    assert client("hub_sonographer").post(f"/reading/{exam.pk}/claim", claim_form(exam)).status_code == 404
    assert client("coordinator").post(f"/reading/{exam.pk}/claim", claim_form(exam)).status_code == 404
    assert client("hub_radiologist").get(f"/reading/{exam.pk}/claim").status_code == 405
    assert Examination.objects.get(pk=exam.pk).state == "awaiting"


def test_the_worklist_comes_in_pages(dw, settings):
    """``MEDUNION_LIST_PAGE_SIZE`` rows a page (web.common.list_window), in the worklist's order;
    a page number that is not one shows the first page."""
    settings.MEDUNION_LIST_PAGE_SIZE = 2
    with clock.frozen(START):
        exams = []
        for _ in range(3):
            exams.append(uploaded_ct(dw, slices=1))
            clock.advance(dt.timedelta(minutes=5))
        reader = client("hub_radiologist")
        first = page(reader.get("/reading"))
        assert rows(first) == [str(e.pk) for e in exams[:2]] and 'rel="next"' in first and 'rel="prev"' not in first
        second = page(reader.get("/reading?page=2"))
        assert rows(second) == [str(exams[2].pk)] and 'rel="prev"' in second and 'rel="next"' not in second
        for nonsense in ("0", "-1", "abc", "99999"):
            assert rows(page(reader.get(f"/reading?page={nonsense}"))) == rows(first), nonsense


def test_the_worklist_records_one_audit_row_per_examination_shown(dw):
    exams = [uploaded_ct(dw, slices=1) for _ in range(2)]
    before = AuditEvent.objects.filter(action="examination.list").count()
    page(client("hub_radiologist").get("/reading"))
    shown = AuditEvent.objects.filter(action="examination.list").order_by("-seq")[:2]
    assert AuditEvent.objects.filter(action="examination.list").count() == before + 2
    assert {e.object_id for e in shown} == {str(e.pk) for e in exams}


def test_the_worklist_keeps_a_fixed_number_of_queries(dw):
    reader = client("hub_radiologist")

    def count(url: str = "/reading") -> int:
        with CaptureQueriesContext(connection) as ctx:
            page(reader.get(url))
        return len(ctx.captured_queries)

    from medunion.diagnostics.actions_reading import claim

    me, colleague = dw.actor("hub_radiologist"), dw.actor("hub_radiologist_b")
    signed_ct(dw)
    uploaded_ct(dw, slices=1, urgency="routine", body_site="chest")
    claim(acting=me, examination_id=uploaded_ct(dw, slices=1, body_site="neck").pk)
    few = {"worklist": count(), "mine": count("/reading?list=mine")}
    for site, urgency in (("spine", "emergency"), ("pelvis", "urgent"), ("abdomen", "routine")):
        uploaded_ct(dw, slices=1, urgency=urgency, body_site=site)
    claim(acting=me, examination_id=uploaded_ct(dw, slices=1, body_site="upper_limb").pk)
    claim(acting=colleague, examination_id=uploaded_ct(dw, slices=1, body_site="lower_limb").pk)
    many = {"worklist": count(), "mine": count("/reading?list=mine")}
    assert many == few, (few, many)
    # The page's keys, then its rows (core.planner.rows_by_key); the reader's specialties asked once;
    # the session not written again within a minute of its last renewal (web.live.RENEW_SECONDS).
    assert many["worklist"] == 16 + AUDIT + AS_WRITTEN, many


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_the_worklist_renders_in_both_languages(dw, lang):
    from django.utils import translation

    uploaded_ct(dw, slices=1)
    body = page(client("hub_radiologist", lang).get("/reading"))
    assert ('lang="zh-CN"' if lang == "zh-hans" else 'lang="en"') in body
    with translation.override(lang):
        words = [translation.gettext(w) for w in ("Reading worklist", "Claim", "urgent", "awaiting reading")]
    assert all(w in body for w in words), words
    assert "突发头痛伴呕吐" not in body  # the question is the editor's, not the list's
    assert "陈桂芳" in body and 'href="/reading"' in body
