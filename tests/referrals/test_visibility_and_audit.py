"""Who sees a referral (everyone else: 404 for every action), what the patient sees (the
patient-audience allowlist), and the audit trail: one row per transition with actor and reason,
one row per referral shown on a list page, a fixed number of queries per page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from medunion.access.actor import system_actor
from medunion.accounts.actions import create_account
from medunion.audit.models import AuditEvent
from medunion.core.errors import NotFound
from medunion.referrals import actions, queries
from medunion.referrals.actions import OutcomeInput, PlanItem
from medunion.referrals.models import FollowUpTask, Referral
from tests.consults.conftest import stored_file
from tests.pins import AS_WRITTEN, AUDIT
from tests.referrals.conftest import (
    accept,
    cancel,
    check_in,
    complete,
    decline,
    new_patient,
    outcome,
    redirect,
    refer_up,
    snapshot,
)
from tests.world import PASSWORD

SUMMARY = "胸痛反复发作三天"
DISCHARGE = "支架术后双抗十二个月，避免剧烈运动"


def pg(n: int) -> int:
    return n + AUDIT


def _down_loop(rw) -> tuple[Referral, Referral, Any]:
    """Up with a file, notes and messages in both conversations, back down with a plan."""
    file = stored_file(rw, "village_doctor_a")
    r = check_in(rw, accept(rw, refer_up(rw, attachments=[file])))
    tertiary, sender, patient = (rw.actor(p) for p in ("cardiologist_tertiary", "village_doctor_a", "patient_a"))
    actions.post_interim_note(acting=tertiary, referral_id=r.pk, body="造影示前降支狭窄")
    actions.post_message(acting=sender, referral_id=r.pk, audience="clinicians", body="既往有消化道出血史")
    actions.post_message(acting=tertiary, referral_id=r.pk, audience="patient", body="请空腹来")
    actions.post_message(acting=patient, referral_id=r.pk, audience="patient", body="好的，谢谢医生")
    r = outcome(rw, r, refer_down=True, discharge_summary=DISCHARGE,
                plan=[PlanItem(kind="visit", description="家访测血压", due_in_days=3)])
    return r, Referral.objects.get(parent=r), file


# --- who may see ---------------------------------------------------------------------------

STRANGERS = ("outsider", "village_doctor_b", "county_doctor", "hub_radiologist", "coordinator",
             "commission_viewer", "sysadmin", "patient_b")


def _every_action(rw, actor: Any, r: Referral, down: Referral, file: Any) -> dict[str, Callable[[], Any]]:
    task = FollowUpTask.objects.get(referral=down)
    pk = r.pk
    code = Referral.objects.get(pk=pk).checkin_code
    return {
        "view": lambda: queries.access_referral(actor, pk),
        "accept": lambda: actions.accept_referral(acting=actor, referral_id=down.pk, data=actions.AcceptInput(
            admit_kind="appointment", appointment_at="2099-01-01T09:00:00+08:00", location="诊室")),
        "decline": lambda: actions.decline_referral(acting=actor, referral_id=down.pk, reason="r"),
        "redirect": lambda: actions.redirect_referral(acting=actor, referral_id=down.pk,
                                                      organisation_id=rw.orgs["clinic_b"].pk, reason="r"),
        "cancel": lambda: actions.cancel_referral(acting=actor, referral_id=down.pk, reason="r"),
        "check_in": lambda: actions.check_in(acting=actor, referral_id=pk),
        "check_in_by_code": lambda: actions.check_in(acting=actor, code=code),
        "outcome": lambda: actions.return_outcome(acting=actor, referral_id=pk, data=OutcomeInput(summary="s")),
        "complete": lambda: actions.complete_referral(acting=actor, referral_id=pk),
        "reopen": lambda: actions.reopen_referral(acting=actor, referral_id=pk),
        "note": lambda: actions.post_interim_note(acting=actor, referral_id=pk, body="b"),
        "clinician_message": lambda: actions.post_message(acting=actor, referral_id=pk, audience="clinicians",
                                                          body="b"),
        "patient_message": lambda: actions.post_message(acting=actor, referral_id=pk, audience="patient", body="b"),
        "file": lambda: queries.visible_attachment(actor, pk, file.pk),
        "task": lambda: actions.complete_task(acting=actor, task_id=task.pk, result="ok"),
    }


def test_whoever_is_not_party_to_the_referral_gets_404_for_every_action(rw):
    r, down, file = _down_loop(rw)
    # An accepted referral still waiting for its patient, for the check-in by code.
    other = new_patient(rw, 1)
    waiting = accept(rw, refer_up(rw, patient_id=other.pk))
    p2 = new_patient(rw, 2)
    rw.users["patient_b"] = create_account(acting=system_actor("tests"), username="patient_b", password=PASSWORD,
                                           role="patient", display_name="患者二", patient_id=p2.pk)
    for persona in STRANGERS:
        actor = rw.actor(persona)
        calls = _every_action(rw, actor, r, down, file)
        calls["check_in_by_code"] = lambda a=actor: actions.check_in(acting=a, code=waiting.checkin_code)
        for name, call in calls.items():
            before = snapshot()
            with pytest.raises(NotFound):
                call()
            assert snapshot() == before, (persona, name)
        assert queries.live_for(actor, rw.patient.pk, "up") is None
        for listing in queries.LISTS:
            assert not queries.listing(actor, listing).exists(), (persona, listing)
        assert not queries.my_tasks(actor).exists()


def test_a_redirect_takes_the_referral_out_of_the_first_hospitals_sight(rw):
    r = refer_up(rw)
    queries.access_referral(rw.actor("tertiary_colleague"), r.pk)
    redirect(rw, r)
    for persona in ("tertiary_colleague", "cardiologist_tertiary"):
        with pytest.raises(NotFound):
            queries.access_referral(rw.actor(persona), r.pk)
    assert queries.access_referral(rw.actor("county_doctor"), r.pk).pk == r.pk


def test_a_malformed_or_unknown_id_is_404(rw):
    import uuid

    for value in ("nope", "", None, uuid.uuid4()):
        with pytest.raises(NotFound):
            queries.access_referral(rw.actor("village_doctor_a"), value)
    for code in ("", "ABCDE-FGHJK", "x" * 40):
        with pytest.raises(NotFound):
            actions.check_in(acting=rw.actor("cardiologist_tertiary"), code=code)


# --- what the patient sees -----------------------------------------------------------------

def test_the_patients_view_holds_no_clinician_entry(rw):
    r, down, file = _down_loop(rw)
    patient = rw.actor("patient_a")
    for referral in (r, down):
        view = queries.referral_view(patient, queries.access_referral(patient, referral.pk))
        assert view.is_patient and view.audiences == ("patient",)
        assert view.entries and {e.audience for e in view.entries} == {"patient"}
        assert all(a.audience == "patient" for e in view.entries for a in e.attachments.all())
        assert view.attachments == [] and view.children == [] and view.events == [] and view.acts == [
            "patient_message"]
        text = repr([(e.body, e.detail) for e in view.entries])
        assert SUMMARY not in text and DISCHARGE not in text and "造影示" not in text and "消化道" not in text
    bodies = [e.body for e in queries.referral_view(patient, r).entries if e.body]
    assert bodies == ["请空腹来", "好的，谢谢医生"]
    with pytest.raises(NotFound):  # the referral's own file is for clinicians
        queries.visible_attachment(patient, r.pk, file.pk)
    # The clinicians read both conversations and the documents.
    clinician = queries.referral_view(rw.actor("village_doctor_a"), r)
    assert {e.audience for e in clinician.entries} == {"clinicians", "patient"}
    assert [a.file_id for a in clinician.attachments] == [file.pk] and clinician.children == [down]
    kinds = {e.kind for e in queries.referral_view(rw.actor("village_doctor_a"), down).entries}
    assert {"discharge_summary", "rehab_plan"} <= kinds
    assert queries.patient_referrals(patient) == [down, r]


# --- the audit trail -------------------------------------------------------------------------

def _trail(r: Referral) -> list[tuple[str, Any, str]]:
    return [(a.action, a.actor_id, a.detail.get("reason", ""))
            for a in AuditEvent.objects.filter(object_id=str(r.pk), action__startswith="referral.").order_by("seq")]


def test_every_transition_leaves_one_audit_row_with_actor_and_reason(rw):
    uid = {p: rw.actor(p).user_id for p in ("village_doctor_a", "cardiologist_tertiary", "county_doctor",
                                            "cardiologist_b")}
    r = refer_up(rw)
    r = redirect(rw, r, reason="县医院可处理")
    r = decline(rw, r, persona="county_doctor", reason="无床")
    assert _trail(r) == [("referral.create", uid["village_doctor_a"], ""),
                         ("referral.redirect", uid["cardiologist_tertiary"], "县医院可处理"),
                         ("referral.decline", uid["county_doctor"], "无床")]
    r2 = refer_up(rw)
    r2 = cancel(rw, accept(rw, r2, persona="cardiologist_b"), reason="家属要求就近")
    assert _trail(r2) == [("referral.create", uid["village_doctor_a"], ""),
                          ("referral.accept", uid["cardiologist_b"], ""),
                          ("referral.cancel", uid["village_doctor_a"], "家属要求就近")]
    r3 = complete(rw, outcome(rw, check_in(rw, accept(rw, refer_up(rw)))))
    who = uid["cardiologist_tertiary"]
    assert _trail(r3) == [("referral.create", uid["village_doctor_a"], ""), ("referral.accept", who, ""),
                          ("referral.check_in", who, ""), ("referral.outcome", who, ""),
                          ("referral.complete", uid["village_doctor_a"], "")]
    # The state and version each transition left are in its row.
    assert [a.detail.get("version") for a in AuditEvent.objects.filter(object_id=str(r3.pk)).order_by("seq")
            if a.action != "referral.create"] == [1, 2, 3, 4]


def test_a_list_page_leaves_one_row_per_referral_shown_at_a_fixed_cost(rw, django_assert_max_num_queries):
    sent = [refer_up(rw)] + [refer_up(rw, patient_id=new_patient(rw, i).pk) for i in range(1, 6)]
    actor = rw.actor("cardiologist_b")
    qs = queries.listing(actor, "incoming")
    assert qs.count() == 6
    with django_assert_max_num_queries(pg(5) + AS_WRITTEN):
        page = queries.list_page(actor, qs, name="incoming", limit=4)
    listed = AuditEvent.objects.filter(action="referral.list", actor_id=actor.user_id)
    rows = list(listed.order_by("seq"))
    assert [a.object_id for a in rows] == [str(r.pk) for r in page] and len(page) == 4
    assert {a.patient_id for a in rows} == {r.patient_id for r in page}
    assert all(a.detail == {"list": "incoming"} for a in rows)
    assert set(page) <= set(sent)
    with django_assert_max_num_queries(pg(5) + AS_WRITTEN):
        rest = queries.list_page(actor, qs, name="incoming", limit=4, offset=4)
    assert len(rest) == 2 and listed.count() == 6
    with django_assert_max_num_queries(1 + AS_WRITTEN):  # nothing shown, nothing audited
        assert queries.list_page(actor, qs, name="incoming", offset=10) == []
    assert listed.count() == 6


def test_the_referral_page_costs_a_fixed_number_of_queries(rw, django_assert_max_num_queries):
    r, down, _file = _down_loop(rw)
    for persona in ("village_doctor_a", "patient_a"):
        actor = rw.actor(persona)
        referral = queries.access_referral(actor, r.pk)
        with django_assert_max_num_queries(8):
            view = queries.referral_view(actor, referral)
            for e in view.entries:
                list(e.attachments.all())
                _ = e.author_name
    assert AuditEvent.objects.filter(action="referral.view", object_id=str(r.pk)).count() == 2


def test_the_follow_up_task_list_leaves_one_row_per_task(rw, django_assert_max_num_queries):
    _r, down, _file = _down_loop(rw)
    actor = rw.actor("village_doctor_a")
    with django_assert_max_num_queries(pg(5)):
        tasks = queries.task_page(actor, queries.my_tasks(actor))
        _ = [(t.patient.name, t.referral.sender.name, t.referral.sender_organisation.name) for t in tasks]
    assert [t.referral_id for t in tasks] == [down.pk]
    assert list(AuditEvent.objects.filter(action="referral.follow_up.list").values_list("object_id", flat=True)) == [
        str(tasks[0].pk)]
