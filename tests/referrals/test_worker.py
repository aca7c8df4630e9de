"""The referral clocks on a frozen clock (core.clock.frozen / advance), run by worker.run_round:
escalation of an unanswered referral, the missing-outcome flag, the automatic close and its undo,
and follow-up reminders."""

from __future__ import annotations

import datetime as dt

import pytest

from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medunion.notifications.models import Notification
from medunion.patients.models import CareTeamMember
from medunion.referrals import actions, worker
from medunion.referrals.models import Referral, ReferralEntry
from medunion.referrals.queries import is_overdue, outcome_missing
from medunion.referrals.timing import DEFAULTS, clock_for, set_referral_clock
from tests.referrals.conftest import (
    START,
    accept,
    check_in,
    complete,
    outcome,
    redirect,
    refer_up,
)

H, M, D = dt.timedelta(hours=1), dt.timedelta(minutes=1), dt.timedelta(days=1)
NOTHING = {"escalated": 0, "outcome_flagged": 0, "closed": 0, "reminded": 0}


def audit(action: str, referral) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_id=str(referral.pk)).order_by("seq"))


def test_an_unanswered_urgent_referral_escalates_at_four_hours_once_and_is_audited(rw):
    with clock.frozen(START):
        r = refer_up(rw, urgency="urgent")
        assert r.escalate_at == START + 4 * H
        clock.advance(4 * H - M)
        assert worker.run_round() == NOTHING and not is_overdue(Referral.objects.get(pk=r.pk))
        clock.advance(M)
        assert is_overdue(Referral.objects.get(pk=r.pk))
        assert worker.run_round() == {**NOTHING, "escalated": 1}
        assert worker.run_round() == NOTHING  # once only
        clock.advance(100 * H)
        assert worker.run_round() == NOTHING
    r.refresh_from_db()
    assert r.escalation_level == 1 and r.state == "requested" and r.version == 0
    [row] = audit("referral.escalate", r)
    assert (row.actor_display, row.actor_id, row.patient_id) == ("system:referrals", None, rw.patient.pk)
    assert row.detail == {"level": 1, "waited_minutes": 240, "urgency": "urgent"}
    assert ReferralEntry.objects.filter(referral=r, event="escalate", audience="clinicians").count() == 1
    # The coordinators hear of it without the patient; the sender and the receiving side with it.
    coord = Notification.objects.get(kind="referral.escalated", user__username="coordinator")
    assert coord.patient_id is None and coord.url == "/network/referrals" and "陈桂芳" not in coord.title
    others = Notification.objects.filter(kind="referral.escalated").exclude(user__username="coordinator")
    assert set(others.values_list("user__username", flat=True)) == {
        "village_doctor_a", "cardiologist_tertiary", "cardiologist_b", "tertiary_colleague"}
    assert set(others.values_list("patient_id", flat=True)) == {rw.patient.pk}


@pytest.mark.parametrize("urgency, hours", [("emergency", 1), ("urgent", 4), ("routine", 48)])
def test_the_default_answer_times(rw, urgency, hours):
    assert DEFAULTS[f"{urgency}_hours"] == hours
    with clock.frozen(START):
        refer_up(rw, urgency=urgency)
        clock.advance(hours * H - M)
        assert worker.escalate_unanswered() == 0
        clock.advance(M)
        assert worker.escalate_unanswered() == 1


def test_the_configured_time_applies(rw):
    coordinator = rw.actor("coordinator")
    cid = rw.world.consortium.pk
    values = {**DEFAULTS, "urgent_hours": 2, "close_after_days": 3}
    with pytest.raises(ValidationFailed) as err:
        set_referral_clock(acting=coordinator, consortium_id=cid, values={**values, "routine_hours": 0})
    assert set(err.value.errors) == {"routine_hours"}
    with pytest.raises(NotFound):
        set_referral_clock(acting=rw.actor("cardiologist_tertiary"), consortium_id=cid, values=values)
    set_referral_clock(acting=coordinator, consortium_id=cid, values=values)
    assert clock_for(cid).urgent_hours == 2 and clock_for(cid).close_after_days == 3
    with clock.frozen(START):
        r = refer_up(rw)
        clock.advance(2 * H - M)
        assert worker.run_round()["escalated"] == 0
        clock.advance(M)
        assert worker.run_round()["escalated"] == 1
        r = accept(rw, r)
        r = check_in(rw, r)
        r = outcome(rw, r)
        assert r.close_at == clock.now() + 3 * D


def test_an_answered_referral_does_not_escalate(rw):
    with clock.frozen(START):
        r = refer_up(rw, urgency="emergency")
        accept(rw, r)
        clock.advance(10 * H)
        assert worker.run_round()["escalated"] == 0
    assert Referral.objects.get(pk=r.pk).escalate_at is None


def test_a_redirect_restarts_the_clock(rw):
    with clock.frozen(START):
        r = refer_up(rw, urgency="urgent")
        clock.advance(5 * H)
        assert worker.run_round()["escalated"] == 1
        clock.advance(H)  # 6 hours after sending, escalated once; now sent on to the county
        r = redirect(rw, r)
        assert (r.escalation_level, r.escalate_at) == (0, START + 10 * H)
        clock.advance(4 * H - M)
        assert worker.run_round()["escalated"] == 0
        clock.advance(M)
        assert worker.run_round()["escalated"] == 1
    assert [a.detail["waited_minutes"] for a in audit("referral.escalate", r)] == [300, 600]
    # The second time the county's department hears of it, not the tertiary hospital's.
    assert Notification.objects.filter(kind="referral.escalated", user__username="county_doctor").count() == 1


def test_two_workers_never_escalate_twice(rw):
    with clock.frozen(START):
        r = refer_up(rw, urgency="emergency")
        clock.advance(H)
        assert worker._escalate(r.pk, clock.now()) == 1
        assert worker._escalate(r.pk, clock.now()) == 0
    assert len(audit("referral.escalate", r)) == 1


def test_a_missing_outcome_is_flagged_once(rw):
    with clock.frozen(START):
        r = accept(rw, refer_up(rw), appointment_at=START + 4 * H)
        assert r.outcome_due_at == START + 4 * H + 30 * D
        clock.advance(2 * H)
        r = check_in(rw, r)  # arrived early: the outcome is due 30 days after arrival
        assert r.outcome_due_at == START + 2 * H + 30 * D
        clock.advance(30 * D - M)
        assert worker.run_round()["outcome_flagged"] == 0 and not outcome_missing(Referral.objects.get(pk=r.pk))
        clock.advance(M)
        assert worker.run_round()["outcome_flagged"] == 1
        assert worker.run_round()["outcome_flagged"] == 0
        r.refresh_from_db()
        assert outcome_missing(r) and r.outcome_flagged_at == clock.now()
        [row] = audit("referral.outcome_missing", r)
        assert row.actor_display == "system:referrals" and row.detail["state"] == "arrived"
        assert set(Notification.objects.filter(kind="referral.outcome_missing")
                   .values_list("user__username", flat=True)) == {"village_doctor_a", "cardiologist_tertiary"}
        r = outcome(rw, r)
        assert not outcome_missing(r) and r.outcome_due_at is None


def test_a_late_arrival_restarts_the_outcome_clock(rw):
    """Flagged while waiting for the patient, who then arrives: the flag is for the new clock."""
    with clock.frozen(START):
        r = accept(rw, refer_up(rw), appointment_at=START + 4 * H)
        clock.advance(31 * D)
        assert worker.run_round()["outcome_flagged"] == 1
        assert audit("referral.outcome_missing", r)[0].detail["state"] == "accepted"
        r = check_in(rw, r)
        assert not outcome_missing(r) and r.outcome_due_at == clock.now() + 30 * D
        clock.advance(30 * D)
        assert worker.run_round()["outcome_flagged"] == 1
    assert [a.detail["state"] for a in audit("referral.outcome_missing", r)] == ["accepted", "arrived"]


@pytest.mark.parametrize("review_in", [None, 20 * D])
def test_the_loop_closes_by_itself_after_the_later_of_outcome_and_review(rw, review_in):
    with clock.frozen(START):
        r = check_in(rw, accept(rw, refer_up(rw)))
        clock.advance(3 * D)
        outcome_at = clock.now()
        r = outcome(rw, r, review_at=outcome_at + review_in if review_in else None)
        last = outcome_at + (review_in or dt.timedelta(0))
        assert r.close_at == last + 14 * D
        clock.advance(last + 14 * D - M - clock.now())
        assert worker.run_round()["closed"] == 0
        clock.advance(M)
        assert worker.run_round()["closed"] == 1
        assert worker.run_round()["closed"] == 0
        r.refresh_from_db()
        assert (r.state, r.closed_automatically, r.completed_at, r.close_at) == ("completed", True, clock.now(), None)
    [row] = audit("referral.complete", r)
    assert row.actor_display == "system:referrals" and row.detail["automatic"] is True
    assert ReferralEntry.objects.filter(referral=r, event="complete", audience="patient").count() == 1
    assert set(Notification.objects.filter(kind="referral.completed").values_list("user__username", flat=True)) \
        == {"village_doctor_a", "cardiologist_tertiary"}


@pytest.mark.parametrize("who", ["village_doctor_a", "cardiologist_tertiary"])
def test_an_automatic_close_is_undone_by_the_sender_or_the_receiver(rw, who):
    with clock.frozen(START):
        r = outcome(rw, check_in(rw, accept(rw, refer_up(rw))))
        clock.advance(15 * D)
        assert worker.run_round()["closed"] == 1
        member = CareTeamMember.objects.get(source_type="referral", source_id=str(r.pk))
        assert member.until is not None  # the receiver's access is winding down
        with pytest.raises(PermissionDenied):  # the family doctor may not
            actions.reopen_referral(acting=rw.actor("township_doctor"), referral_id=r.pk)
        r = actions.reopen_referral(acting=rw.actor(who), referral_id=r.pk)
        assert (r.state, r.closed_automatically, r.completed_at, r.close_at) == ("outcome_returned", False, None, None)
        member.refresh_from_db()
        assert member.until is None
        [row] = audit("referral.reopen", r)
        assert row.actor_id == rw.actor(who).user_id
        clock.advance(100 * D)  # reopened loops are closed by hand
        assert worker.run_round()["closed"] == 0
        r = complete(rw, r)
        with pytest.raises(Conflict):  # … and then stay closed
            actions.reopen_referral(acting=rw.actor(who), referral_id=r.pk)


def test_a_loop_closed_by_hand_cannot_be_reopened(rw):
    r = complete(rw, outcome(rw, check_in(rw, accept(rw, refer_up(rw)))))
    assert not r.closed_automatically
    for who in ("village_doctor_a", "cardiologist_tertiary"):
        with pytest.raises(Conflict) as err:
            actions.reopen_referral(acting=rw.actor(who), referral_id=r.pk)
        assert err.value.details["state"] == "completed"
    assert Referral.objects.get(pk=r.pk).state == "completed" and not audit("referral.reopen", r)


def test_follow_up_reminders_go_out_once(rw):
    from medunion.referrals.actions import PlanItem

    with clock.frozen(START):
        r = check_in(rw, accept(rw, refer_up(rw)))
        plan = [PlanItem(kind="visit", description="出院后第一次家访，测血压心率", due_in_days=0),
                PlanItem(kind="medication_review", description="复核双抗用药", due_in_days=7)]
        outcome(rw, r, refer_down=True, discharge_summary="支架术后，双抗12个月", plan=plan)
        down = Referral.objects.get(parent=r)
        assert down.direction == "down" and down.target_practitioner_id == rw.pid("village_doctor_a")
        assert worker.run_round()["reminded"] == 1
        assert worker.run_round()["reminded"] == 0
        clock.advance(6 * D)
        assert worker.run_round()["reminded"] == 0
        clock.advance(D)
        assert worker.run_round()["reminded"] == 1
        clock.advance(30 * D)
        assert worker.run_round()["reminded"] == 0
    reminders = Notification.objects.filter(kind="followup.reminder")
    assert list(reminders.values_list("user__username", flat=True)) == ["village_doctor_a"] * 2
    assert [a.detail["due_on"] for a in AuditEvent.objects.filter(action="referral.follow_up.remind")
            .order_by("seq")] == ["2026-03-02", "2026-03-09"]
