"""The queue page: tabs, filters, the patient search, overdue rows, a fixed number of queries per
page, and the fragment it polls so a new pool case appears without reloading."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent
from medunion.consults import actions as ca
from medunion.core import clock
from medunion.patients import actions as pa
from tests.pins import AS_WRITTEN, AUDIT

from .conftest import START, ask, page


def rows(html: str) -> list[str]:
    return re.findall(r'data-consult="([0-9a-f-]+)"', html)


def test_each_tab_lists_its_cases(cw, client_for):
    with clock.frozen(START):
        pool = ask(cw, urgency="routine")
        mine = ask(cw, urgency="emergency")
        team = ask(cw, target_kind="team", target_team_id=cw.team.pk)
        ca.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=mine.pk)
        cardio, doctor = client_for("cardiologist_tertiary"), client_for("village_doctor_a")
        assert rows(page(cardio.get("/consults?queue=mine"))) == [str(mine.pk)]
        assert rows(page(cardio.get("/consults?queue=pool"))) == [str(pool.pk)]
        assert rows(page(cardio.get("/consults?queue=team"))) == [str(team.pk)]
        assert set(rows(page(doctor.get("/consults?queue=asked")))) == {str(pool.pk), str(mine.pk), str(team.pk)}
        assert rows(page(doctor.get("/consults?queue=pool"))) == []  # never one's own case
        ca.request_info(acting=cw.actor("cardiologist_tertiary"), consult_id=mine.pk, question="血糖多少？")
        assert rows(page(doctor.get("/consults?queue=waiting"))) == [str(mine.pk)]


def test_the_tabs_and_the_default_tab(cw, client_for):
    html = page(client_for("village_doctor_a").get("/consults"))
    for key in ("mine", "team", "pool", "overdue", "waiting", "asked"):
        assert f'data-tab="{key}"' in html
    assert re.search(r'data-tab="asked" aria-current="page"', html)  # a village doctor asks
    html = page(client_for("cardiologist_tertiary").get("/consults"))
    assert re.search(r'data-tab="mine" aria-current="page"', html)  # a specialist answers
    assert client_for("cardiologist_tertiary").get("/consults?queue=nonsense").status_code == 404


def test_a_row_says_who_asked_about_whom_and_how_urgent(cw, client_for):
    with clock.frozen(START):
        ask(cw)
        ask(cw, patient_id=None, vitals={}, question="妊娠期高血压的首选用药？", urgency="routine")
        html = page(client_for("cardiologist_tertiary").get("/consults?queue=pool"))
    assert "urgency--urgent" in html and "urgency--routine" in html
    assert "陈桂芳" in html and "general question" in html
    assert "<strong>cardiology</strong>" in html
    assert re.search(r"asked by \S+ \(village doctor\), ", html)
    assert "due " in html


def test_overdue_rows_are_highlighted_and_have_their_tab(cw, client_for):
    with clock.frozen(START):
        late = ask(cw)  # urgent: 4 hours by default
        on_time = ask(cw, urgency="routine")
        clock.advance(dt.timedelta(hours=5))
        cardio = client_for("cardiologist_tertiary")
        html = page(cardio.get("/consults?queue=pool"))
        assert re.search(rf'case-row case-row--overdue" data-consult="{late.pk}"', html)
        assert re.search(rf'class="case-row" data-consult="{on_time.pk}"', html)
        assert "overdue since" in html
        assert rows(page(cardio.get("/consults?queue=overdue"))) == [str(late.pk)]


def test_filters_and_the_patient_search(cw, client_for):
    with clock.frozen(START):
        urgent = ask(cw)
        routine = ask(cw, urgency="routine")
        general = ask(cw, patient_id=None, vitals={})
        oncology = ask(cw, specialty="oncology", urgency="routine")
        doctor = client_for("village_doctor_a")
        assert set(rows(page(doctor.get("/consults?queue=asked&urgency=routine")))) == {str(routine.pk), str(oncology.pk)}
        assert rows(page(doctor.get("/consults?queue=asked&specialty=oncology"))) == [str(oncology.pk)]
        ca.cancel_consult(acting=cw.actor("village_doctor_a"), consult_id=routine.pk, reason="不需要了")
        assert rows(page(doctor.get("/consults?queue=asked&state=cancelled"))) == [str(routine.pk)]
        found = set(rows(page(doctor.get("/consults", {"queue": "asked", "patient": "陈桂"}))))
        assert found == {str(urgent.pk), str(routine.pk), str(oncology.pk)} and str(general.pk) not in found
        # The filter form posts too (a search is not left in the address bar).
        assert set(rows(page(doctor.post("/consults?queue=asked", {"patient": "陈桂", "urgency": "urgent"})))) == \
            {str(urgent.pk)}
        # Unknown values are an error on the form, not a 500 and not a silent filter.
        response = doctor.get("/consults?queue=asked&urgency=whenever")
        assert response.status_code == 200 and "Select a valid choice" in page(response)


def test_the_pool_is_not_for_those_who_may_not_answer(cw, client_for):
    ask(cw)
    for persona in ("village_doctor_b", "oncologist", "outsider"):
        assert rows(page(client_for(persona).get("/consults?queue=pool"))) == [], persona
    for persona in ("patient_a", "coordinator", "commission_viewer", "sysadmin", "auditadmin"):
        assert client_for(persona).get("/consults").status_code == 404, persona
        assert client_for(persona).get("/consults/rows").status_code == 404, persona


def test_each_patient_shown_is_audited_once(cw, client_for):
    ask(cw)
    ask(cw, urgency="routine")
    ask(cw, patient_id=None, vitals={})
    before = AuditEvent.objects.filter(action="consult.list").count()
    client_for("cardiologist_tertiary").get("/consults?queue=pool")
    listed = AuditEvent.objects.filter(action="consult.list").order_by("-pk")[: 5]
    assert AuditEvent.objects.filter(action="consult.list").count() - before == 2
    assert {e.patient_id for e in listed[:2]} == {cw.patient.pk}


def _many(cw, n: int) -> None:
    doctor = cw.actor("village_doctor_a")
    patients = [cw.patient.pk]
    for i in range(3):
        patients.append(pa.register_patient(acting=doctor, data=pa.PatientInput(
            name=f"测试{i}", sex="male", birth_date=dt.date(1960 + i, 1, 1))).pk)
    for i in range(n):
        ask(cw, patient_id=patients[i % len(patients)], urgency=("routine", "urgent")[i % 2])


@pytest.mark.parametrize("tab", ["pool", "asked"])
def test_the_queue_costs_the_same_for_few_and_many_rows(cw, client_for, tab, settings):
    persona = "cardiologist_tertiary" if tab == "pool" else "village_doctor_a"
    c = client_for(persona)
    ask(cw)
    c.get(f"/consults?queue={tab}")  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert len(rows(page(c.get(f"/consults?queue={tab}")))) == 1
    _many(cw, 30)
    with CaptureQueriesContext(connection) as many:  # a full page (of 31 cases)
        assert len(rows(page(c.get(f"/consults?queue={tab}")))) == settings.MEDUNION_LIST_PAGE_SIZE == 20
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
    # The page's keys, then its rows (core.planner.rows_by_key); PostgreSQL locks the audit chain in
    # one more; the navigation asks whether a clinician reads at a hub; the pool, the specialties.
    assert len(many) == {"pool": 13, "asked": 11}[tab] + AUDIT + AS_WRITTEN


def test_a_new_pool_case_appears_without_reloading(cw, client_for):
    cardio = client_for("cardiologist_tertiary")
    html = page(cardio.get("/consults?queue=pool"))
    assert 'hx-trigger="every 5s"' in html
    sig = re.search(r'data-sig="([0-9a-f]+)"', html).group(1)
    # Nothing new: 204, no patient data read, nothing audited.
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as polled:
        assert cardio.post("/consults/rows?queue=pool&page=1", {"sig": sig}).status_code == 204
    assert AuditEvent.objects.count() == before and len(polled) <= 12  # the session and the actor, then one
    new = ask(cw)
    response = cardio.post("/consults/rows?queue=pool&page=1", {"sig": sig})
    assert response.status_code == 200
    fragment = page(response)
    assert fragment.lstrip().startswith('<div id="queue-rows"') and rows(fragment) == [str(new.pk)]
    assert 'id="inbox-link" hx-swap-oob="true"' in fragment  # the header's unread count follows
    assert re.search(r'data-sig="([0-9a-f]+)"', fragment).group(1) != sig
    # The filters go with the poll (hx-include): under an oncology filter the list is still empty.
    assert cardio.post("/consults/rows?queue=pool", {"sig": sig, "specialty": "oncology"}).status_code == 204
    assert rows(page(cardio.post("/consults/rows?queue=pool", {"specialty": "oncology"}))) == []


def test_pages_of_the_queue(cw, client_for, settings):
    settings.MEDUNION_LIST_PAGE_SIZE = 2
    for _ in range(3):
        ask(cw)
    doctor = client_for("village_doctor_a")
    first = page(doctor.get("/consults?queue=asked"))
    assert len(rows(first)) == 2 and 'rel="next"' in first
    second = page(doctor.get("/consults?queue=asked&page=2"))
    assert len(rows(second)) == 1 and 'rel="prev"' in second and 'rel="next"' not in second
    assert len(rows(page(doctor.get("/consults?queue=asked&page=abc")))) == 2
    # A filtered list keeps its filter from page to page.
    html = page(doctor.post("/consults?queue=asked", {"patient": "陈桂", "urgency": "urgent"}))
    nxt = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "urgency=urgent" in nxt and "page=2" in nxt
    assert len(rows(page(doctor.get("/consults" + nxt)))) == 1
