"""Coming back down: the outcome's rehabilitation plan becomes follow-up tasks for the grassroots
clinician, who records them; a problem found goes back up to the clinician who sent the patient
down."""

from __future__ import annotations

import datetime as dt

import pytest

from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, ValidationFailed
from medunion.notifications.models import Notification
from medunion.referrals import actions, queries
from medunion.referrals.actions import PlanItem, ReferralInput, create_referral
from medunion.referrals.models import FollowUpTask, Referral, ReferralEntry
from tests.referrals.conftest import (
    START,
    accept,
    check_in,
    decline,
    new_patient,
    outcome,
    refer_up,
    snapshot,
)

PLAN = [PlanItem(kind="visit", description="出院后第一次家访，测血压心率", due_in_days=3),
        PlanItem(kind="medication_review", description="复核双抗用药", due_in_days=14),
        PlanItem(kind="check", description="复查心电图", due_on="2026-04-01")]


def _back_down(rw):
    with clock.frozen(START):
        up = check_in(rw, accept(rw, refer_up(rw)))
        up = outcome(rw, up, refer_down=True, discharge_summary="支架术后", plan=PLAN)
    return up, Referral.objects.get(parent=up)


def test_the_plan_becomes_the_village_doctors_tasks(rw):
    up, down = _back_down(rw)
    assert (down.direction, down.sender_id, down.target_organisation_id, down.target_practitioner_id) == (
        "down", rw.pid("cardiologist_tertiary"), rw.orgs["clinic_a"].pk, rw.pid("village_doctor_a"))
    assert down.state == "requested" and not down.green_channel
    tasks = list(FollowUpTask.objects.filter(referral=down))
    assert [(t.kind, t.due_on, t.assignee_id, t.state) for t in tasks] == [
        ("visit", dt.date(2026, 3, 5), rw.pid("village_doctor_a"), "scheduled"),
        ("medication_review", dt.date(2026, 3, 16), rw.pid("village_doctor_a"), "scheduled"),
        ("check", dt.date(2026, 4, 1), rw.pid("village_doctor_a"), "scheduled")]
    [create] = AuditEvent.objects.filter(action="referral.create", object_id=str(down.pk))
    assert create.detail["tasks"] == 3 and create.detail["parent"] == str(up.pk)
    doctor = rw.actor("village_doctor_a")
    assert [t.pk for t in queries.my_tasks(doctor)] == [t.pk for t in tasks]
    assert not queries.my_tasks(rw.actor("village_doctor_b")).exists()


def test_completing_a_task_and_escalating_a_problem(rw):
    up, down = _back_down(rw)
    doctor = rw.actor("village_doctor_a")
    first, second, _third = FollowUpTask.objects.filter(referral=down)
    done = actions.complete_task(acting=doctor, task_id=first.pk, result="血压128/80，心率72")
    assert (done.state, done.completed_by_id, done.version) == ("done", doctor.practitioner_id, 1)
    with pytest.raises(Conflict):  # recorded already
        actions.complete_task(acting=doctor, task_id=first.pk, result="again")
    with pytest.raises(Conflict):  # a stale page
        actions.complete_task(acting=doctor, task_id=second.pk, result="x", expected_version=5)
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        actions.complete_task(acting=doctor, task_id=second.pk, result=" ")
    assert list(err.value.errors) == ["result"] and snapshot() == before
    for stranger in ("village_doctor_b", "outsider", "patient_a", "coordinator"):
        with pytest.raises(NotFound):
            actions.complete_task(acting=rw.actor(stranger), task_id=second.pk, result="x")
    problem = actions.complete_task(acting=doctor, task_id=second.pk, result="漏服氯吡格雷三天", problem=True)
    assert problem.state == "problem"
    note = Notification.objects.get(kind="followup.problem")
    assert note.user.username == "cardiologist_tertiary" and note.body == "漏服氯吡格雷三天"
    assert ReferralEntry.objects.filter(referral=down, event="follow_up_problem", audience="clinicians").count() == 1
    assert [a.detail["problem"] for a in AuditEvent.objects.filter(action="referral.follow_up.complete")
            .order_by("seq")] == [False, True]
    assert [t.pk for t in queries.my_tasks(doctor)] == [_third.pk]


def test_unassigned_tasks_go_to_whoever_accepts_and_end_with_the_referral(rw):
    patient = new_patient(rw, 1, persona="county_doctor")

    def send():
        return create_referral(acting=rw.actor("county_doctor"), data=ReferralInput(
            patient_id=patient.pk, direction="down", target_organisation_id=rw.orgs["clinic_a"].pk,
            reason="康复", clinical_summary="心衰稳定", discharge_summary="出院小结",
            plan=[PlanItem(kind="visit", description="家访", due_in_days=1)]))

    r = send()
    task = FollowUpTask.objects.get(referral=r)
    assert task.assignee_id is None
    assert [t.pk for t in queries.my_tasks(rw.actor("village_doctor_a"))] == [task.pk]  # at their clinic
    accept(rw, r, persona="village_doctor_a", admit_kind="appointment")
    task.refresh_from_db()
    assert task.assignee_id == rw.pid("village_doctor_a")
    # A cancelled (or declined) downward referral cancels its tasks.
    actions.cancel_referral(acting=rw.actor("county_doctor"), referral_id=r.pk, reason="患者去了别处")
    task.refresh_from_db()
    assert task.state == "cancelled" and not queries.my_tasks(rw.actor("village_doctor_a")).exists()
    r2 = send()
    decline(rw, r2, persona="village_doctor_a")
    assert set(FollowUpTask.objects.filter(referral=r2).values_list("state", flat=True)) == {"cancelled"}


def test_only_one_live_downward_referral(rw):
    up, down = _back_down(rw)
    with pytest.raises(actions.LiveReferralExists) as err:
        create_referral(acting=rw.actor("cardiologist_tertiary"), data=ReferralInput(
            patient_id=rw.patient.pk, direction="down", target_organisation_id=rw.orgs["township"].pk,
            reason="康复", clinical_summary="x"))
    assert err.value.code == "referral_live" and err.value.details["referral_id"] == str(down.pk)
    assert queries.live_for(rw.actor("village_doctor_a"), rw.patient.pk, "down") == down


def test_a_redirected_downward_referral_takes_its_tasks_along(rw):
    _up, down = _back_down(rw)
    moved = actions.redirect_referral(acting=rw.actor("village_doctor_a"), referral_id=down.pk,
                                      organisation_id=rw.orgs["township"].pk, reason="患者搬到镇上住")
    assert (moved.target_organisation_id, moved.target_practitioner_id) == (rw.orgs["township"].pk, None)
    tasks = FollowUpTask.objects.filter(referral=down)
    assert set(tasks.values_list("organisation_id", "assignee_id")) == {(rw.orgs["township"].pk, None)}
    # The township's clinicians have them now; the village doctor no longer does.
    assert [t.referral_id for t in queries.my_tasks(rw.actor("township_doctor"))] == [down.pk] * 3
    assert not queries.my_tasks(rw.actor("village_doctor_a")).exists()
    task = tasks.first()
    with pytest.raises(NotFound):
        actions.complete_task(acting=rw.actor("village_doctor_a"), task_id=task.pk, result="x")
    done = actions.complete_task(acting=rw.actor("township_doctor"), task_id=task.pk, result="血压正常")
    assert done.assignee_id == rw.pid("township_doctor")


def test_a_task_recorded_meanwhile_is_not_reminded(rw):
    from medunion.referrals import worker

    _up, down = _back_down(rw)
    task = FollowUpTask.objects.filter(referral=down).first()
    actions.complete_task(acting=rw.actor("village_doctor_a"), task_id=task.pk, result="已随访")
    # A worker that listed the task before it was recorded must not remind of it.
    assert worker._remind(task.pk, clock.now()) == 0
    assert not AuditEvent.objects.filter(action="referral.follow_up.remind").exists()
