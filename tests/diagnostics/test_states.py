"""The reading workflow over every (state, event, role) cell, the illegal ones included.

For each state an examination of patient_a (a CT head, requested by township_doctor) is brought
there through the actions; then every persona tries every event and every act, each attempt
inside a savepoint that is rolled back afterwards. The expected answer is derived twice, from
``states.TRANSITIONS`` / ``states.ACTS`` and from the hand-written table below, and the two must
agree: a change of the table in states.py fails here until this file says it was meant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from medunion.access.diagnostics import examination_roles
from medunion.audit.models import AuditEvent
from medunion.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from medunion.diagnostics import actions, actions_reading
from medunion.diagnostics.machine import load
from medunion.diagnostics.models import CriticalFinding, Examination
from medunion.diagnostics.states import (
    ACTS,
    OPEN_STATES,
    REPORTED_ROLES,
    TRANSITIONS,
    WORKING_ROLES,
    WORKLIST_STATES,
    Act,
    Event,
    Role,
    State,
    visible_by_roles,
)
from medunion.diagnostics.validation import ReportInput
from tests.consults.conftest import add_practitioner
from tests.diagnostics.conftest import ct_slice, signed_ct, snapshot, upload, uploaded_ct

# --- the hand-written table ----------------------------------------------------------------
# event -> (states it may happen in, roles that may do it)
LEGAL: dict[str, tuple[set[str], set[str]]] = {
    "submit": ({"draft"}, {"requester", "requesting"}),
    "cancel": ({"draft", "awaiting"}, {"requester", "requesting"}),
    "claim": ({"awaiting"}, {"hub_reader"}),
    "release": ({"in_reading"}, {"reader"}),
    "sign": ({"in_reading"}, {"reader"}),
}
TARGETS = {"submit": "awaiting", "cancel": "cancelled", "claim": "in_reading", "release": "awaiting",
           "sign": "reported"}
REASONED = {"cancel"}
LEGAL_ACTS: dict[str, tuple[set[str], set[str]]] = {
    "upload": ({"draft"}, {"requester", "requesting"}),
    "write_draft": ({"in_reading"}, {"reader"}),
    "addendum": ({"reported"}, {"hub_reader"}),
    "amend": ({"reported"}, {"hub_reader"}),
    "second_read": ({"reported"}, {"senior_reader"}),
    "acknowledge": ({"reported"}, {"requester", "requesting", "care_team"}),
}
# Who sees the examination, by hand: the working side always (the hub once it is sent), the
# consortium's treating clinicians once it is reported, the patient only then.
WORKING = {"requester", "requesting", "hub_reader", "reader", "senior_reader", "care_team"}
AUDIT_ACTION = {"submit": "examination.submit", "cancel": "examination.cancel", "claim": "examination.claim",
                "release": "examination.release", "sign": "examination.report.sign",
                "upload": "examination.upload", "write_draft": "examination.report.draft",
                "addendum": "examination.report.addendum", "amend": "examination.report.amend",
                "second_read": "examination.report.second_read", "acknowledge": "examination.critical.acknowledge"}
STATES = ("draft", "awaiting", "in_reading", "reported", "cancelled")

# --- who is who, by hand -------------------------------------------------------------------
PERSONAS = ("township_doctor", "township_colleague", "county_doctor", "village_doctor_a", "clinic_a_colleague",
            "hub_radiologist", "hub_radiologist_b", "hub_chief", "hub_sonographer", "village_doctor_b",
            "patient_a", "coordinator", "outsider", "cardiologist_tertiary")


def roles_of(persona: str, state: str) -> set[str]:
    """The persona's roles on the examination in this state (the test's own reading of the policy)."""
    claimed = state in {"in_reading", "reported"}
    return {
        # requested it, from 城关镇卫生院, as patient_a's family doctor
        "township_doctor": {"requester", "requesting", "care_team", "treating"},
        "township_colleague": {"requesting"},  # same township centre, not in the care team
        "county_doctor": {"care_team", "treating"},
        "village_doctor_a": {"care_team", "treating"},  # registered her
        "clinic_a_colleague": {"treating"},  # at the clinic where she is registered
        # reads CT at the hub; claimed it in reading and signed it
        "hub_radiologist": {"hub_reader", "reader"} if claimed else {"hub_reader"},
        "hub_radiologist_b": {"hub_reader"},
        "hub_chief": {"hub_reader", "senior_reader"},
        "patient_a": {"patient"},
        # hub_sonographer reads ultrasound only; the rest are strangers to her and to CT
    }.get(persona, set())


def sees(state: str, roles: set[str]) -> bool:
    if "patient" in roles:
        return state == "reported"
    allowed = WORKING | {"treating"} if state == "reported" else set(WORKING)
    if state == "draft":
        allowed -= {"hub_reader", "senior_reader"}
    return bool(allowed & roles)


def expected(state: str, name: str, roles: set[str]) -> str:
    """The answer by the hand-written tables: 404 unseen, 403 not yours, 409 not now."""
    if not sees(state, roles):
        return "404"
    sources, allowed = LEGAL[name] if name in LEGAL else LEGAL_ACTS[name]
    if not roles & allowed:
        return "403"
    return "ok" if state in sources else "409"


def derived(state: str, name: str, roles: set[str]) -> str:
    """The same answer derived from states.py."""
    if not visible_by_roles(state, frozenset(roles)) if "patient" not in roles else state != State.REPORTED:
        return "404"
    if name in Event.values:
        t = TRANSITIONS[Event(name)]
        sources, allowed = t.sources, t.roles
    else:
        rule = ACTS[Act(name)]
        sources, allowed = rule.states, rule.roles
    if not allowed & roles:
        return "403"
    return "ok" if state in sources else "409"


# --- the table's own properties --------------------------------------------------------------

def test_the_hand_written_table_is_the_table():
    assert set(TRANSITIONS) == set(Event) == set(LEGAL)
    for event, (sources, roles) in LEGAL.items():
        t = TRANSITIONS[Event(event)]
        assert (set(t.sources), set(t.roles), str(t.target)) == (sources, roles, TARGETS[event]), event
        assert t.reason_required == (event in REASONED), event
    assert set(ACTS) == set(Act) == set(LEGAL_ACTS)
    assert {a: (set(r.states), set(r.roles)) for a, r in ACTS.items()} == LEGAL_ACTS
    assert set(WORKING_ROLES) == WORKING and set(REPORTED_ROLES) == WORKING | {"treating"}
    assert set(OPEN_STATES) == {"draft", "awaiting", "in_reading"}
    assert set(WORKLIST_STATES) == {"awaiting", "in_reading"}
    # Every state is reached; nothing leaves a reported or cancelled examination.
    assert {t.target for t in TRANSITIONS.values()} | {State.DRAFT} == set(State)
    assert not [t for t in TRANSITIONS.values() if t.sources & {State.REPORTED, State.CANCELLED}]
    # The patient and a treating clinician move nothing and write nothing.
    everything = [*TRANSITIONS.values(), *ACTS.values()]
    assert not [x for x in everything if x.roles & {Role.PATIENT, Role.TREATING}]


def test_visibility_by_hand_is_visibility_by_the_table():
    role_sets = [set(), {"patient"}, {"treating"}, {"hub_reader"}, {"hub_reader", "senior_reader"}, {"reader"},
                 {"care_team"}, {"requesting"}, {"requester"}, {"treating", "care_team"}]
    for state in State.values:
        for roles in role_sets:
            by_table = (state == "reported") if "patient" in roles else visible_by_roles(state, frozenset(roles))
            assert sees(state, roles) == by_table, (state, roles)


# --- every cell ------------------------------------------------------------------------------

def _world(dw: Any) -> None:
    add_practitioner(dw.world, dw.users, "township_colleague", "郑乡医", "township", "110610424000014",
                     ["general_practice"])
    add_practitioner(dw.world, dw.users, "clinic_a_colleague", "韩村医", "clinic_a", "V610424000009",
                     ["general_practice"])


def in_state(dw: Any, state: str) -> Examination:
    """A CT head of patient_a brought into ``state`` through the actions; the reported one
    carries a critical finding (to acknowledge)."""
    if state == "draft":
        exam = actions.create_examination(acting=dw.actor("township_doctor"), data=actions.ExaminationInput(
            patient_id=dw.patient.pk, modality="CT", body_site="head", question="头痛", urgency="urgent"))
        actions.upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk,
                            upload=upload("IM0.dcm", ct_slice(dw)))
        return load(exam.pk)
    if state == "reported":
        return signed_ct(dw, critical=True)
    exam = uploaded_ct(dw, slices=1)
    if state == "cancelled":
        return actions.cancel(acting=dw.actor("township_doctor"), examination_id=exam.pk, reason="患者已转院")
    if state == "in_reading":
        return actions_reading.claim(acting=dw.actor("hub_radiologist"), examination_id=exam.pk)
    return exam


REPORT = ReportInput(findings="脑实质未见异常密度影。", impression="头颅 CT 平扫未见异常。", codes=["Z01.8"])


def _calls(dw: Any, exam: Examination, persona: str) -> dict[str, Callable[[], Any]]:
    actor, pk = dw.actor(persona), exam.pk
    finding = CriticalFinding.objects.filter(examination_id=pk).values_list("pk", flat=True).first()
    return {
        "submit": lambda: actions.submit(acting=actor, examination_id=pk),
        "cancel": lambda: actions.cancel(acting=actor, examination_id=pk, reason="重复申请"),
        "claim": lambda: actions_reading.claim(acting=actor, examination_id=pk),
        "release": lambda: actions_reading.release(acting=actor, examination_id=pk),
        "sign": lambda: actions_reading.sign(acting=actor, examination_id=pk, data=REPORT),
        "upload": lambda: actions.upload_file(acting=actor, examination_id=pk,
                                              upload=upload("IM9.dcm", ct_slice(dw))),
        "write_draft": lambda: actions_reading.save_draft(acting=actor, examination_id=pk, data=REPORT),
        "addendum": lambda: actions_reading.add_addendum(acting=actor, examination_id=pk, text="补充：左侧无异常。"),
        "amend": lambda: actions_reading.amend(acting=actor, examination_id=pk, data=REPORT, reason="更正测量"),
        "second_read": lambda: actions_reading.second_read(acting=actor, examination_id=pk, verdict="agree"),
        "acknowledge": lambda: actions_reading.acknowledge_critical(acting=actor, finding_id=finding),
    }


def _classify(exc: DomainError) -> str:
    if isinstance(exc, NotFound):
        return "404"
    if isinstance(exc, PermissionDenied):
        return "403"
    if isinstance(exc, Conflict):
        return "409"
    if isinstance(exc, ValidationFailed):
        return f"422:{exc.errors}"
    return f"{exc.code}"


def _attempt(dw: Any, state: str, exam: Examination, persona: str, name: str) -> str:
    actor = dw.actor(persona)
    with transaction.atomic():
        before = snapshot()
        last_audit = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
        row = Examination.objects.get(pk=exam.pk)
        try:
            _calls(dw, exam, persona)[name]()
        except DomainError as exc:
            result = _classify(exc)
            assert snapshot() == before, (state, persona, name, "a refusal wrote something")
        else:
            result = "ok"
            after = Examination.objects.get(pk=exam.pk)
            rows = list(AuditEvent.objects.filter(seq__gt=last_audit, action__startswith="examination."))
            assert [a.action for a in rows] == [AUDIT_ACTION[name]], (state, persona, name, rows)
            assert rows[0].actor_id == actor.user_id and rows[0].patient_id == exam.patient_id
            if name in LEGAL:
                assert (after.state, after.version) == (TARGETS[name], row.version + 1), (state, persona, name)
                assert rows[0].object_id in {str(exam.pk), *map(str, after.reports.values_list("pk", flat=True))}
                if name in REASONED:
                    assert after.cancel_reason == rows[0].detail["reason"] == "重复申请"
            else:
                assert (after.state, after.version) == (row.state, row.version), (state, persona, name)
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("state", STATES)
def test_every_event_and_act_by_every_role(dw, state):
    _world(dw)
    exam = in_state(dw, state)
    assert exam.state == state
    got: dict[tuple[str, str], str] = {}
    want: dict[tuple[str, str], str] = {}
    for persona in PERSONAS:
        roles = roles_of(persona, state)
        assert set(examination_roles(dw.actor(persona), load(exam.pk))) == roles, persona
        for name in [*LEGAL, *LEGAL_ACTS]:
            if name == "acknowledge" and state != "reported":
                continue  # a critical finding exists only once a report is signed
            by_hand = expected(state, name, roles)
            assert by_hand == derived(state, name, roles), (state, persona, name)
            want[(persona, name)] = by_hand
            got[(persona, name)] = _attempt(dw, state, exam, persona, name)
    wrong = {cell: (got[cell], want[cell]) for cell in want if got[cell] != want[cell]}
    assert not wrong, wrong
    # Every kind of answer is exercised in every state (the table is not vacuous); in a draft
    # only its requesting side may act, and nothing it may do is out of turn.
    assert {"404", "403"} <= set(got.values()) and ("ok" in got.values()) == (state != "cancelled")
    assert ("409" in got.values()) == (state != "draft"), set(got.values())
    # Finally: every attempt was rolled back.
    fresh = Examination.objects.get(pk=exam.pk)
    assert (fresh.state, fresh.version) == (exam.state, exam.version)


def test_every_answer_kind_occurs_across_the_states():
    kinds = {expected(s, n, roles_of(p, s)) for s in STATES for p in PERSONAS for n in [*LEGAL, *LEGAL_ACTS]}
    assert kinds == {"ok", "403", "404", "409"}


def test_a_reason_is_required_to_cancel_and_a_stale_page_gets_409(dw):
    exam = uploaded_ct(dw, slices=1)
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        actions.cancel(acting=dw.actor("township_doctor"), examination_id=exam.pk, reason="   ")
    assert err.value.field == "reason" and snapshot() == before
    seen = exam.version
    actions_reading.claim(acting=dw.actor("hub_radiologist"), examination_id=exam.pk)
    with pytest.raises(Conflict) as stale:
        actions.cancel(acting=dw.actor("township_doctor"), examination_id=exam.pk, reason="重复",
                       expected_version=seen)
    assert stale.value.code == "examination_changed" and stale.value.details["state"] == "in_reading"
    # The one who comes second to claim is told who came first.
    with pytest.raises(Conflict) as taken:
        actions_reading.claim(acting=dw.actor("hub_radiologist_b"), examination_id=exam.pk)
    assert taken.value.code == "examination_claimed" and taken.value.details["reader"] == "赵明"
    assert "赵明" in str(taken.value.message)


def test_submitting_an_empty_examination_asks_for_images_first(dw):
    exam = actions.create_examination(acting=dw.actor("township_doctor"), data=actions.ExaminationInput(
        patient_id=dw.patient.pk, modality="CT", body_site="head", question="头痛"))
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        actions.submit(acting=dw.actor("township_doctor"), examination_id=exam.pk)
    assert err.value.field == "file" and "Upload the images" in str(err.value.message)
    assert snapshot() == before
    # Someone who may not send it is told so, not asked for images.
    with pytest.raises(PermissionDenied):
        actions.submit(acting=dw.actor("county_doctor"), examination_id=exam.pk)
