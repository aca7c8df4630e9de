import datetime as dt

import pytest

from medunion.audit.models import AuditEvent
from medunion.consults import actions
from medunion.consults.queries import (
    asked_by_me,
    list_page,
    my_open_cases,
    my_team_cases,
    newest_visible,
    overdue_cases,
    pool_cases,
    queue,
    waiting_on_me,
)
from medunion.consults.validation import AnswerInput
from medunion.core import clock
from medunion.core.errors import NotFound, ValidationFailed
from tests.consults.conftest import START, ask
from tests.pins import AS_WRITTEN


def ids(qs):
    return [c.pk for c in qs]


def test_each_queue_holds_what_it_says(cw):
    with clock.frozen(START):
        pool = ask(cw, urgency="routine")
        team = ask(cw, target_kind="team", target_team_id=cw.team.pk)
        mine = ask(cw, urgency="emergency")
        cardio, b, doctor = cw.actor("cardiologist_tertiary"), cw.actor("cardiologist_b"), cw.actor("village_doctor_a")
        actions.claim_consult(acting=cardio, consult_id=mine.pk)
        assert ids(my_open_cases(cardio)) == [mine.pk]
        assert ids(my_team_cases(b)) == [team.pk] and ids(my_team_cases(cw.actor("county_cardiologist"))) == []
        assert ids(pool_cases(b)) == [pool.pk]  # the team case is not in the pool
        assert ids(pool_cases(doctor)) == []  # never one's own
        assert ids(asked_by_me(doctor)) == [mine.pk, team.pk, pool.pk]
        assert ids(waiting_on_me(doctor)) == []
        actions.request_info(acting=cardio, consult_id=mine.pk, question="血糖？")
        assert ids(waiting_on_me(doctor)) == [mine.pk] and ids(waiting_on_me(cardio)) == []
        actions.provide_info(acting=doctor, consult_id=mine.pk, body="6.1")
        assert ids(waiting_on_me(cardio)) == [mine.pk] and ids(waiting_on_me(doctor)) == []
        actions.answer_consult(acting=cardio, consult_id=mine.pk, data=AnswerInput(
            assessment="a", recommendation="manage_locally", plan="p"))
        assert ids(waiting_on_me(doctor)) == [mine.pk] and ids(waiting_on_me(cardio)) == []
        clock.advance(dt.timedelta(hours=5))  # the urgent team case is overdue; the routine one not
        assert ids(overdue_cases(b)) == [team.pk]
        assert ids(overdue_cases(cw.actor("county_cardiologist"))) == []
        for persona in ("patient_a", "coordinator", "sysadmin"):
            for q in (my_open_cases, my_team_cases, pool_cases, overdue_cases, waiting_on_me, asked_by_me):
                assert ids(q(cw.actor(persona))) == [], (persona, q.__name__)


def test_filters_and_search(cw):
    urgent = ask(cw)
    routine = ask(cw, urgency="routine")
    general = ask(cw, patient_id=None, vitals={})
    doctor = cw.actor("village_doctor_a")
    assert ids(queue(doctor, "asked", urgency="routine")) == [routine.pk]
    assert set(ids(queue(doctor, "asked", specialty="cardiology", state="requested"))) == {
        urgent.pk, routine.pk, general.pk}
    with pytest.raises(ValidationFailed):
        queue(doctor, "asked", urgency="soon")
    with pytest.raises(NotFound):
        queue(doctor, "everything")
    number = cw.world.patients["patient_a_id_number"]
    for q in ("陈桂", number, number.lower(), "13800000001"):
        assert set(ids(newest_visible(doctor, patient=q)[0])) == {urgent.pk, routine.pk}, q
    assert ids(queue(doctor, "asked", patient="陈桂芳", urgency="urgent")) == [urgent.pk]
    assert ids(newest_visible(cw.actor("outsider"), patient=number)[0]) == []
    assert ids(newest_visible(cw.actor("village_doctor_b"), patient="陈桂")[0]) == []
    assert ids(newest_visible(doctor, patient="610424196203140029")[0]) == []  # a malformed number finds nothing


def test_listing_a_page_audits_each_patient_shown(cw):
    ask(cw)
    ask(cw, patient_id=None, vitals={})
    b = cw.actor("cardiologist_b")
    before = AuditEvent.objects.filter(action="consult.list").count()
    page = list_page(b, pool_cases(b), listing="pool")
    assert len(page) == 2
    rows = AuditEvent.objects.filter(action="consult.list")
    assert rows.count() == before + 1 and rows.get().patient_id == cw.patient.pk


def _page_cost(actor, name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        page = list_page(actor, queue(actor, name), listing=name)
        shown = [(c.patient.name if c.patient else "", c.asker.name, c.asker_organisation.name,  # a queue row
                  c.assignee.name if c.assignee else "", c.target_team.name if c.target_team else "",
                  c.consortium.name) for c in page]
        assert len(shown) == len(page)
    return len(ctx), len(page)


def _cases(cw, n):
    for i in range(n):
        c = ask(cw, target_kind="team", target_team_id=cw.team.pk) if i % 2 else ask(cw)
        if i % 4 < 2:
            actions.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk)
        if i % 4 == 0:
            actions.request_info(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk, question="?")


@pytest.mark.parametrize("name", ["mine", "team", "pool", "overdue", "waiting", "asked"])
def test_queue_pages_run_a_fixed_number_of_queries(cw, name):
    """A page costs the same whatever its length: the page's keys, then its rows (select_related),
    the actor's pool scope and led teams, and the audit batch (at most 10 with PostgreSQL's lock)."""
    persona = "village_doctor_a" if name in ("asked", "waiting") else "cardiologist_tertiary"
    with clock.frozen(START):
        _cases(cw, 4)
        clock.advance(dt.timedelta(days=3))
        small = _page_cost(cw.actor(persona), name)
        _cases(cw, 12)
        clock.advance(dt.timedelta(days=3))
        large = _page_cost(cw.actor(persona), name)
    assert large[1] > small[1] > 0, (small, large)
    assert large[0] == small[0] <= 10 + AS_WRITTEN, (small, large)
