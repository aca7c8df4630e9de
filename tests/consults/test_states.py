"""The state machine: the table's own properties, and random sequences of real actions by real
people that never reach a state the table does not allow."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medunion.consults import actions
from medunion.consults.models import Consult
from medunion.consults.states import (
    CLOSED_STATES,
    OPEN_STATES,
    TRANSITIONS,
    Event,
    Role,
    State,
    events_for,
    may,
)
from medunion.consults.validation import AnswerInput, RatingInput
from medunion.core.errors import Conflict, DomainError
from tests.consults.conftest import ask

ANSWER = AnswerInput(assessment="评估", recommendation="manage_locally", plan="计划")
PEOPLE = ["village_doctor_a", "cardiologist_tertiary", "cardiologist_b", "county_cardiologist", "patient_a",
          "outsider"]


def test_the_table_is_well_formed():
    assert set(TRANSITIONS) == set(Event)
    for t in TRANSITIONS.values():
        assert t.sources and t.target in State.values and t.roles <= set(Role)
        assert not t.sources & CLOSED_STATES  # nothing leaves a closed case
    reachable = {t.target for t in TRANSITIONS.values()} | {State.REQUESTED}
    assert reachable == set(State)
    assert OPEN_STATES | CLOSED_STATES == set(State)
    assert {t.event for t in TRANSITIONS.values() if t.reason_required} == {Event.DECLINE, Event.CANCEL}
    assert events_for(State.COMPLETED, set(Role)) == []
    assert not may(Event.CLAIM, State.REQUESTED, {Role.ASKER, Role.PATIENT, Role.CARE_TEAM})


def _do(cw, event, persona, consult):
    a = cw.actor(persona)
    other = "county_cardiologist" if consult.assignee_id == cw.pid("cardiologist_b") else "cardiologist_b"
    calls = {
        Event.CLAIM: lambda: actions.claim_consult(acting=a, consult_id=consult.pk),
        Event.ASSIGN: lambda: actions.assign_consult(acting=a, consult_id=consult.pk, practitioner_id=cw.pid(other)),
        Event.DECLINE: lambda: actions.decline_consult(acting=a, consult_id=consult.pk, reason="忙"),
        Event.HAND_OVER: lambda: actions.hand_over_consult(acting=a, consult_id=consult.pk,
                                                           practitioner_id=cw.pid(other)),
        Event.REQUEST_INFO: lambda: actions.request_info(acting=a, consult_id=consult.pk, question="?"),
        Event.PROVIDE_INFO: lambda: actions.provide_info(acting=a, consult_id=consult.pk, body="!"),
        Event.ANSWER: lambda: actions.answer_consult(acting=a, consult_id=consult.pk, data=ANSWER),
        Event.AMEND_ANSWER: lambda: actions.amend_answer(acting=a, consult_id=consult.pk, data=ANSWER),
        Event.CONFIRM: lambda: actions.confirm_consult(acting=a, consult_id=consult.pk, rating=RatingInput(useful=3)),
        Event.FOLLOW_UP: lambda: actions.follow_up_consult(acting=a, consult_id=consult.pk, question="?"),
        Event.CANCEL: lambda: actions.cancel_consult(acting=a, consult_id=consult.pk, reason="不需要了"),
    }
    calls[event]()


ASKER_EVENTS = {Event.PROVIDE_INFO, Event.CONFIRM, Event.FOLLOW_UP, Event.CANCEL}
SPECIALISTS = ["cardiologist_tertiary", "cardiologist_b", "county_cardiologist"]


def _plausible(cw, event, consult):
    """Who would usually do this: most steps are by the right person, so the walk gets far."""
    if event in ASKER_EVENTS:
        return ["village_doctor_a"]
    if event == Event.CLAIM:
        return SPECIALISTS
    if event == Event.ASSIGN:
        return ["cardiologist_tertiary"]
    return [p for p in SPECIALISTS if cw.pid(p) == consult.assignee_id] or SPECIALISTS


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(target=st.sampled_from(["pool", "team", "practitioner"]), data=st.data())
def test_random_sequences_only_take_the_tables_transitions(cw, target, data):
    extra = {"team": {"target_team_id": cw.team.pk},
             "practitioner": {"target_practitioner_id": cw.pid("cardiologist_b")}}.get(target, {})
    consult = ask(cw, target_kind=target, **extra)
    moves = 0
    for _step in range(data.draw(st.integers(1, 20), label="steps")):
        before = Consult.objects.get(pk=consult.pk)
        # Mostly an event the state allows (cancelling ends the walk: only as a stray event).
        open_now = [e for e in Event if before.state in TRANSITIONS[e].sources and e != Event.CANCEL]
        stray = not open_now or data.draw(st.integers(0, 3), label="stray") == 0  # now and then: any event
        event = data.draw(st.sampled_from(list(Event) if stray else open_now), label="event")
        anyone = data.draw(st.booleans(), label="anyone")  # half the time: someone who may well not
        persona = data.draw(st.sampled_from(PEOPLE if anyone else _plausible(cw, event, before)), label="who")
        try:
            _do(cw, event, persona, before)
        except DomainError:
            after = Consult.objects.get(pk=consult.pk)
            assert (after.state, after.version, after.last_seq) == (before.state, before.version, before.last_seq)
            continue
        moves += 1
        after = Consult.objects.get(pk=consult.pk)
        t = TRANSITIONS[event]
        assert before.state in t.sources, (event, before.state)
        assert after.state == t.target and after.version == before.version + 1
        assert after.last_seq > before.last_seq
        # Invariants of every state.
        if after.state == State.REQUESTED:
            assert after.assignee_id is None
        elif after.state != State.CANCELLED:
            assert after.assignee_id is not None
        assert (after.closed_at is not None) == (after.state in CLOSED_STATES)
        assert (after.on_hold_since is not None) == (after.state == State.ON_HOLD)
    assert Consult.objects.get(pk=consult.pk).version == moves


@pytest.mark.parametrize("first, second", [
    (("claim", "cardiologist_b"), ("claim", "county_cardiologist")),
    (("cancel", "village_doctor_a"), ("claim", "cardiologist_b")),
])
def test_two_people_acting_on_what_they_saw_get_one_success(cw, first, second):
    c = ask(cw)
    version = c.version

    def run(step):
        event, persona = step
        a = cw.actor(persona)
        if event == "claim":
            return actions.claim_consult(acting=a, consult_id=c.pk, expected_version=version)
        return actions.cancel_consult(acting=a, consult_id=c.pk, reason="r", expected_version=version)

    run(first)
    with pytest.raises(Conflict):
        run(second)
    assert Consult.objects.get(pk=c.pk).version == version + 1


def test_racing_on_a_worked_case(cw):
    c = ask(cw)
    cardio = cw.actor("cardiologist_tertiary")
    c = actions.claim_consult(acting=cardio, consult_id=c.pk)
    seen = c.version
    actions.answer_consult(acting=cardio, consult_id=c.pk, data=ANSWER, expected_version=seen)
    with pytest.raises(Conflict) as err:  # a hand-over from the same stale page
        actions.hand_over_consult(acting=cardio, consult_id=c.pk, practitioner_id=cw.pid("cardiologist_b"),
                                  expected_version=seen)
    assert err.value.details["state"] == "answered"
