"""The state machine over every (state, event, role) cell, the illegal ones included.

For each state a green-channel referral of patient_a (naming cardiologist_b as the receiving
doctor) is brought there through the actions; then every persona tries every event and every act, each
attempt inside a savepoint that is rolled back afterwards. The expected answer is derived twice,
from ``states.TRANSITIONS`` / ``states.ACTS`` and from the hand-written table below, and the two
must agree: a change of the table in states.py fails here until this file says it was meant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from medunion.access.referrals import referral_roles
from medunion.audit.models import AuditEvent
from medunion.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from medunion.referrals import actions
from medunion.referrals.models import Referral
from medunion.referrals.states import (
    ACTS,
    CLOSED_STATES,
    LIVE_STATES,
    OPEN_STATES,
    TRANSITIONS,
    Act,
    Event,
    Role,
    State,
    events_for,
    may,
    may_act,
)
from tests.referrals.conftest import (
    STATES,
    accept,
    cancel,
    check_in,
    complete,
    decline,
    in_state,
    outcome,
    redirect,
    snapshot,
)

# --- the hand-written table ----------------------------------------------------------------
# event -> (states it may happen in, roles that may do it, needs the transfer_patients privilege)
LEGAL: dict[str, tuple[set[str], set[str], bool]] = {
    "accept": ({"requested"}, {"target", "receiving"}, True),
    "decline": ({"requested"}, {"target", "receiving"}, True),
    "redirect": ({"requested"}, {"target", "receiving"}, True),
    "cancel": ({"requested", "accepted"}, {"sender"}, False),
    "check_in": ({"accepted"}, {"receiver", "receiving"}, False),
    "return_outcome": ({"arrived"}, {"receiver", "receiving"}, False),
    "complete": ({"outcome_returned"}, {"sender"}, False),
    "reopen": ({"completed"}, {"sender", "receiver"}, False),
}
TARGETS = {"accept": "accepted", "decline": "declined", "redirect": "requested", "cancel": "cancelled",
           "check_in": "arrived", "return_outcome": "outcome_returned", "complete": "completed",
           "reopen": "outcome_returned"}
REASONED = {"decline", "redirect", "cancel"}
OPEN = {"requested", "accepted", "arrived", "outcome_returned"}
LEGAL_ACTS: dict[str, set[str]] = {
    "interim_note": {"receiver", "target", "receiving"},
    "clinician_message": {"sender", "target", "receiving", "receiver", "care_team"},
    "patient_message": {"patient", "sender", "receiver", "care_team"},
}
AUDIT_ACTION = {"accept": "referral.accept", "decline": "referral.decline", "redirect": "referral.redirect",
                "cancel": "referral.cancel", "check_in": "referral.check_in", "return_outcome": "referral.outcome",
                "complete": "referral.complete", "reopen": "referral.reopen", "interim_note": "referral.note",
                "clinician_message": "referral.message", "patient_message": "referral.message"}

# --- who is who, by hand -------------------------------------------------------------------
PRIVILEGED = {"village_doctor_a", "cardiologist_b", "cardiologist_tertiary", "tertiary_colleague"}
PERSONAS = ("village_doctor_a", "cardiologist_b", "cardiologist_tertiary", "tertiary_colleague",
            "tertiary_unlicensed", "township_doctor", "patient_a", "village_doctor_b", "outsider", "coordinator")
ACCEPTED_BY_CARDIOLOGIST = {"accepted", "cancelled", "arrived", "outcome_returned", "completed", "completed_auto"}


def roles_of(persona: str, state: str) -> set[str]:
    """The persona's roles on the referral in this state (the test's own reading of the policy)."""
    return {
        "village_doctor_a": {"sender", "care_team"},  # referred, and registered the patient
        "cardiologist_b": {"target", "receiving"},  # named as the receiving doctor
        # accepts it (and so joins the care team) in every state that follows an acceptance
        "cardiologist_tertiary": {"receiving", "receiver", "care_team"} if state in ACCEPTED_BY_CARDIOLOGIST
        else {"receiving"},
        "tertiary_colleague": {"receiving"},
        "tertiary_unlicensed": {"receiving"},
        "township_doctor": {"care_team"},  # the family doctor
        "patient_a": {"patient"},
    }.get(persona, set())  # village_doctor_b, outsider, coordinator: nothing


def expected(state: str, name: str, roles: set[str], privileged: bool) -> str:
    """The answer by the hand-written tables."""
    table_state = "completed" if state == "completed_auto" else state
    if not roles:
        return "404"
    if name in LEGAL_ACTS:
        if not roles & LEGAL_ACTS[name]:
            return "403"
        return "ok" if table_state in OPEN else "409"
    sources, allowed, needs_privilege = LEGAL[name]
    if not roles & allowed:
        return "403"
    if needs_privilege and not privileged:
        return "privilege_missing"
    if table_state not in sources or (name == "reopen" and state == "completed"):  # closed by hand: stays closed
        return "409"
    return "ok"


def derived(state: str, name: str, roles: set[str], privileged: bool) -> str:
    """The same answer derived from states.py."""
    table_state = "completed" if state == "completed_auto" else state
    if not roles:
        return "404"
    if name in Act.values:
        rule = ACTS[Act(name)]
        if not rule.roles & roles:
            return "403"
        return "ok" if may_act(name, table_state, roles) else "409"
    t = TRANSITIONS[Event(name)]
    if not t.roles & roles:
        return "403"
    if t.privileged and not privileged:
        return "privilege_missing"
    if not may(name, table_state, roles) or (t.event == Event.REOPEN and state == "completed"):
        return "409"
    return "ok"


# --- the table's own properties --------------------------------------------------------------

def test_the_hand_written_table_is_the_table():
    assert set(TRANSITIONS) == set(Event) == set(LEGAL)
    for event, (sources, roles, privileged) in LEGAL.items():
        t = TRANSITIONS[Event(event)]
        assert (set(t.sources), set(t.roles), t.privileged, str(t.target)) == \
            (sources, roles, privileged, TARGETS[event]), event
        assert t.reason_required == (event in REASONED), event
    assert {a: set(r.roles) for a, r in ACTS.items()} == LEGAL_ACTS
    assert all(set(r.states) == OPEN for r in ACTS.values())
    assert set(OPEN_STATES) == OPEN and OPEN_STATES | CLOSED_STATES == set(State)
    assert LIVE_STATES == {"requested", "accepted", "arrived"}
    reachable = {t.target for t in TRANSITIONS.values()} | {State.REQUESTED}
    assert reachable == set(State)
    # Nothing leaves a declined or cancelled referral; only the undo leaves a completed one.
    assert events_for(State.DECLINED, set(Role)) == events_for(State.CANCELLED, set(Role)) == []
    assert events_for(State.COMPLETED, set(Role)) == [Event.REOPEN]
    assert events_for(State.REQUESTED, {Role.PATIENT, Role.CARE_TEAM}) == []


# --- every cell ------------------------------------------------------------------------------

def _calls(rw: Any, r: Referral, persona: str) -> dict[str, Callable[[], Any]]:
    actor, pk = rw.actor(persona), r.pk
    return {
        "accept": lambda: accept(rw, r, persona=persona),
        "decline": lambda: decline(rw, r, persona=persona),
        "redirect": lambda: redirect(rw, r, persona=persona),
        "cancel": lambda: cancel(rw, r, persona=persona),
        "check_in": lambda: check_in(rw, r, persona=persona),
        "return_outcome": lambda: outcome(rw, r, persona=persona),
        "complete": lambda: complete(rw, r, persona=persona),
        "reopen": lambda: actions.reopen_referral(acting=actor, referral_id=pk),
        "interim_note": lambda: actions.post_interim_note(acting=actor, referral_id=pk, body="造影已完成，今晚观察"),
        "clinician_message": lambda: actions.post_message(acting=actor, referral_id=pk, audience="clinicians",
                                                          body="请补充既往心电图"),
        "patient_message": lambda: actions.post_message(acting=actor, referral_id=pk, audience="patient",
                                                        body="请带上医保卡"),
    }


def _classify(exc: DomainError) -> str:
    if isinstance(exc, NotFound):
        return "404"
    if isinstance(exc, PermissionDenied):
        return "privilege_missing" if exc.code == "privilege_missing" else "403"
    if isinstance(exc, Conflict):
        return "409"
    if isinstance(exc, ValidationFailed):
        return f"422:{exc.errors}"
    return f"{exc.code}"


def _attempt(rw: Any, state: str, r: Referral, persona: str, name: str) -> str:
    actor = rw.actor(persona)
    call = _calls(rw, r, persona)[name]
    with transaction.atomic():
        before = snapshot()
        last_audit = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
        row = Referral.objects.get(pk=r.pk)
        try:
            call()
        except DomainError as exc:
            result = _classify(exc)
            assert snapshot() == before, (state, persona, name, "a refusal wrote something")
        else:
            result = "ok"
            after = Referral.objects.get(pk=r.pk)
            rows = list(AuditEvent.objects.filter(seq__gt=last_audit, action__startswith="referral.")
                        .exclude(action__startswith="referral.follow_up"))
            assert [a.action for a in rows] == [AUDIT_ACTION[name]], (state, persona, name, rows)
            assert rows[0].actor_id == actor.user_id and rows[0].patient_id == r.patient_id
            if name in LEGAL:
                assert after.state == TARGETS[name] and after.version == row.version + 1, (state, persona, name)
                assert rows[0].object_id == str(r.pk)
                if name in REASONED:
                    assert rows[0].detail["reason"] and after.status_reason == rows[0].detail["reason"]
            else:
                assert (after.state, after.version) == (row.state, row.version)
                assert after.last_seq == row.last_seq + 1
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("state", STATES)
def test_every_event_and_act_by_every_role(rw, state):
    # A green-channel bed: a refusal must not move the place either (``snapshot`` counts it).
    r = in_state(rw, state, target_practitioner_id=rw.pid("cardiologist_b"), green_channel=True, green_place="bed")
    assert r.state == ("completed" if state == "completed_auto" else state)
    got: dict[tuple[str, str], str] = {}
    want: dict[tuple[str, str], str] = {}
    for persona in PERSONAS:
        roles = roles_of(persona, state)
        assert set(referral_roles(rw.actor(persona), Referral.objects.get(pk=r.pk))) == roles, persona
        for name in [*LEGAL, *LEGAL_ACTS]:
            by_hand = expected(state, name, roles, persona in PRIVILEGED)
            assert by_hand == derived(state, name, roles, persona in PRIVILEGED), (state, persona, name)
            want[(persona, name)] = by_hand
            got[(persona, name)] = _attempt(rw, state, r, persona, name)
    wrong = {cell: (got[cell], want[cell]) for cell in want if got[cell] != want[cell]}
    assert not wrong, wrong
    # Every kind of answer is exercised somewhere in every state (the table is not vacuous).
    assert {"404", "403"} <= set(got.values())
    # Finally: every attempt was rolled back.
    fresh = Referral.objects.get(pk=r.pk)
    assert (fresh.state, fresh.version) == (r.state, r.version)


def test_every_answer_kind_occurs_across_the_states():
    kinds = {expected(s, n, roles_of(p, s), p in PRIVILEGED) for s in STATES for p in PERSONAS
             for n in [*LEGAL, *LEGAL_ACTS]}
    assert kinds == {"ok", "403", "404", "409", "privilege_missing"}


def test_a_stale_page_gets_409_and_the_loser_is_told_who_accepted(rw):
    r = in_state(rw, "requested")
    seen = r.version
    accept(rw, r, persona="cardiologist_b")
    with pytest.raises(Conflict) as err:
        actions.decline_referral(acting=rw.actor("tertiary_colleague"), referral_id=r.pk, reason="满",
                                 expected_version=seen)
    assert "周心怡" in str(err.value.message) and err.value.details["state"] == "accepted"
    with pytest.raises(Conflict) as err:
        accept(rw, r, persona="tertiary_colleague")
    assert err.value.details["receiver"] == "周心怡"


def test_a_reason_is_required_where_the_table_says(rw):
    r = in_state(rw, "requested")
    for call in (lambda: decline(rw, r, reason="  "), lambda: cancel(rw, r, reason=""),
                 lambda: redirect(rw, r, reason="")):
        before = snapshot()
        with pytest.raises(ValidationFailed) as err:
            call()
        assert "reason" in err.value.errors and snapshot() == before
