import datetime as dt

import pytest

from medunion.access.actor import system_actor
from medunion.audit.models import AuditEvent
from medunion.consults import actions
from medunion.consults.escalation import escalate_overdue
from medunion.consults.models import Consult, ConsultMessage
from medunion.consults.queries import consult_figures, overdue_cases, overdue_consults_for_coordinator
from medunion.consults.targets import is_overdue, set_response_targets, targets_for
from medunion.core import clock
from medunion.core.errors import NotFound, PermissionDenied, ValidationFailed
from medunion.notifications.models import Notification
from tests.consults.conftest import START, ask

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def escalations(c):
    return list(AuditEvent.objects.filter(action="consult.escalate", object_id=str(c.pk))
                .order_by("seq").values_list("detail__level", flat=True))


def test_an_urgent_case_unanswered_for_4_hours_is_overdue_and_escalated_and_audited(cw):
    """The acceptance test of issue 3."""
    with clock.frozen(START):
        c = ask(cw, urgency="urgent")
        clock.advance(4 * H - M)
        assert escalate_overdue() == 0 and not is_overdue(Consult.objects.get(pk=c.pk))
        clock.advance(M)  # unanswered for 4 hours
        c = Consult.objects.get(pk=c.pk)
        assert is_overdue(c)
        assert c in overdue_cases(cw.actor("cardiologist_b"))
        assert escalate_overdue() == 1
        c.refresh_from_db()
        assert c.escalation_level == 1 and c.escalate_at == START + 8 * H
        row = AuditEvent.objects.get(action="consult.escalate")
        assert (row.actor_display, row.patient_id, row.detail["level"]) == ("system:escalation", cw.patient.pk, 1)
        # A pool case goes to the leads of the consortium's cardiology teams.
        assert list(Notification.objects.filter(kind="consult.escalated.lead").values_list(
            "user__username", flat=True)) == ["cardiologist_tertiary"]
        assert ConsultMessage.objects.filter(consult=c, event="escalate").exists()
        assert escalate_overdue() == 0  # idempotent: nothing more until the next point
        clock.advance(4 * H)
        assert escalate_overdue() == 1 and escalate_overdue() == 0
        c.refresh_from_db()
        assert c.escalation_level == 2 and c.escalate_at is None
        coord = Notification.objects.get(kind="consult.escalated.coordinator")
        assert coord.user.username == "coordinator" and coord.patient_id is None and "consults/overdue" in coord.url
        assert escalations(c) == [1, 2]
        clock.advance(100 * H)
        assert escalate_overdue() == 0


@pytest.mark.parametrize("urgency, minutes", [("emergency", 30), ("urgent", 240), ("routine", 2880)])
def test_default_targets(cw, urgency, minutes):
    with clock.frozen(START):
        c = ask(cw, urgency=urgency)
        assert c.due_at == START + dt.timedelta(minutes=minutes)
        clock.advance(dt.timedelta(minutes=minutes) - M)
        assert escalate_overdue() == 0
        clock.advance(M)
        assert escalate_overdue() == 1


def test_time_on_hold_does_not_count_against_the_specialist(cw):
    with clock.frozen(START):
        c = ask(cw, urgency="urgent")
        cardio = cw.actor("cardiologist_tertiary")
        clock.advance(H)
        actions.claim_consult(acting=cardio, consult_id=c.pk)
        actions.request_info(acting=cardio, consult_id=c.pk, question="心电图？")
        clock.advance(5 * H)  # waiting on the asker: past the original due time, not overdue
        assert escalate_overdue() == 0 and not is_overdue(Consult.objects.get(pk=c.pk))
        actions.provide_info(acting=cw.actor("village_doctor_a"), consult_id=c.pk, body="见附件")
        c.refresh_from_db()
        assert c.due_at == START + 9 * H and c.escalate_at == START + 9 * H
        clock.advance(3 * H - M)
        assert escalate_overdue() == 0
        clock.advance(M)
        assert escalate_overdue() == 1
        # The team-lead level of a team case goes to its leads; answered cases stop escalating.
        actions.answer_consult(acting=cardio, consult_id=c.pk, data=__import__(
            "medunion.consults.validation", fromlist=["AnswerInput"]).AnswerInput(
            assessment="a", recommendation="manage_locally", plan="p"))
        clock.advance(10 * H)
        assert escalate_overdue() == 0


def test_a_team_case_escalates_to_its_leads_and_without_leads_to_the_coordinator(cw):
    with clock.frozen(START):
        team_case = ask(cw, urgency="emergency", target_kind="team", target_team_id=cw.team.pk)
        general = ask(cw, urgency="emergency", specialty="cardiology", patient_id=None, vitals={})
        from medunion.network.models import TeamMember
        TeamMember.objects.filter(team=cw.team, role="lead").update(role="member")  # no leads at all
        clock.advance(31 * M)
        assert escalate_overdue() == 2
        assert set(Notification.objects.filter(kind="consult.escalated.coordinator")
                   .values_list("consult_id", flat=True)) == {team_case.pk, general.pk}


def test_the_coordinators_overdue_list_holds_no_patient_data(cw):
    with clock.frozen(START):
        c = ask(cw, urgency="emergency")
        clock.advance(H)
        rows = overdue_consults_for_coordinator(cw.actor("coordinator"))
        assert [r["id"] for r in rows] == [c.pk]
        assert not any("patient" in key or key in ("question", "history", "vitals") for key in rows[0])
        assert "陈桂芳" not in repr(rows) and "胸闷" not in repr(rows)
        figures = consult_figures(cw.actor("coordinator"))
        assert figures["overdue"] == 1 and figures["by_state"] == {"requested": 1}
        for persona in ("cardiologist_tertiary", "patient_a", "commission_viewer"):
            with pytest.raises(NotFound):
                overdue_consults_for_coordinator(cw.actor(persona))
        with pytest.raises(NotFound):  # another consortium's coordinator
            overdue_consults_for_coordinator(cw.actor("coordinator_b"), cw.world.consortium.pk)
        assert overdue_consults_for_coordinator(cw.actor("coordinator_b")) == []


def test_consortium_targets(cw):
    coordinator = cw.actor("coordinator")
    with pytest.raises(ValidationFailed):
        set_response_targets(acting=coordinator, consortium_id=cw.world.consortium.pk, emergency=60, urgent=30,
                             routine=600)
    with pytest.raises(ValidationFailed):
        set_response_targets(acting=coordinator, consortium_id=cw.world.consortium.pk, emergency=1, urgent=30,
                             routine=600)
    with pytest.raises(PermissionDenied):
        set_response_targets(acting=cw.actor("cardiologist_tertiary"), consortium_id=cw.world.consortium.pk,
                             emergency=20, urgent=120, routine=1440)
    with pytest.raises(NotFound):
        set_response_targets(acting=cw.actor("coordinator_b"), consortium_id=cw.world.consortium.pk,
                             emergency=20, urgent=120, routine=1440)
    set_response_targets(acting=coordinator, consortium_id=cw.world.consortium.pk, emergency=20, urgent=120,
                         routine=1440)
    assert targets_for(cw.world.consortium.pk) == {"emergency": 20, "urgent": 120, "routine": 1440}
    with clock.frozen(START):
        assert ask(cw, urgency="urgent").due_at == START + 2 * H


def test_two_workers_never_escalate_twice(cw):
    with clock.frozen(START):
        c = ask(cw, urgency="emergency")
        clock.advance(H)
        from medunion.consults.escalation import _escalate
        assert _escalate(c.pk, 0, clock.now()) == 1
        assert _escalate(c.pk, 0, clock.now()) == 0  # a second worker that read level 0 as well
        assert escalations(c) == [1]


def test_the_worker_command_runs_once(cw, capsys):
    from medunion.cli import main

    with clock.frozen(START):
        c = ask(cw, urgency="emergency")
        clock.advance(H)
        assert main(["worker", "--once"]) == 0
    assert "1 consultation(s) escalated" in capsys.readouterr().out
    assert escalations(c) == [1]
    assert system_actor("escalation").system
