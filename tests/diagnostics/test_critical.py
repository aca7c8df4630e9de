"""Critical findings (危急值): raised when the report is signed, the requester told at once,
acknowledged once (the second is told who did), escalated by the worker — on a frozen clock — at
MEDUNION_CRITICAL_ACK_MINUTES, once, to the requesting organisation's clinicians and the
coordinators; an acknowledged finding never escalates."""

from __future__ import annotations

import datetime as dt

import pytest

from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, PermissionDenied
from medunion.diagnostics import actions_reading as reading
from medunion.diagnostics import worker
from medunion.diagnostics.models import CriticalFinding
from medunion.diagnostics.queries import open_critical
from medunion.notifications.models import Notification
from tests.consults.conftest import add_practitioner
from tests.diagnostics.conftest import signed_ct, snapshot

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
M = dt.timedelta(minutes=1)
NOTE = "右侧基底节区急性脑出血"


def _finding(exam) -> CriticalFinding:
    return CriticalFinding.objects.get(examination=exam)


def _ack(dw, persona: str, finding: CriticalFinding) -> CriticalFinding:
    return reading.acknowledge_critical(acting=dw.actor(persona), finding_id=finding.pk)


def test_a_critical_finding_is_raised_at_signing_and_the_requester_told(dw):
    exam = signed_ct(dw, critical=True)
    finding = _finding(exam)
    report = reading.current_report(exam)
    assert (finding.note, finding.report_id, finding.raised_by_id) == (NOTE, report.pk, dw.pid("hub_radiologist"))
    assert finding.acknowledged_at is None and finding.escalated_at is None
    told = Notification.objects.get(kind="exam.critical")
    assert (told.user.username, told.body, told.url) == ("township_doctor", NOTE, f"/examinations/{exam.pk}")
    # In the recipient's language (Chinese by default): it says critical, never who.
    assert ("危急值" in told.title or "CRITICAL" in told.title) and "陈桂芳" not in told.title
    [raised] = AuditEvent.objects.filter(action="examination.critical.raise")
    assert raised.patient_id == dw.patient.pk and raised.detail["report"] == str(report.pk)
    assert [f.pk for f in open_critical(dw.actor("township_doctor"))] == [finding.pk]
    assert list(open_critical(dw.actor("hub_radiologist"))) == []
    # A report without one raises none.
    signed_ct(dw, critical=False, body_site="chest", repeat_reason="")
    assert CriticalFinding.objects.count() == 1


def test_acknowledged_once_and_the_second_is_told_who(dw):
    exam = signed_ct(dw, critical=True)
    finding = _finding(exam)
    before = snapshot()
    with pytest.raises(PermissionDenied):  # the reader raised it; the requesting side acknowledges
        _ack(dw, "hub_radiologist", finding)
    with pytest.raises(PermissionDenied):
        _ack(dw, "patient_a", finding)
    for stranger in ("village_doctor_b", "hub_sonographer", "outsider"):
        with pytest.raises(NotFound):
            _ack(dw, stranger, finding)
    with pytest.raises(NotFound):
        reading.acknowledge_critical(acting=dw.actor("township_doctor"), finding_id="not-a-uuid")
    assert snapshot() == before
    done = _ack(dw, "township_doctor", finding)
    assert (done.acknowledged_by_id, done.acknowledged_by_name) == (dw.pid("township_doctor"), "冯家医")
    after = snapshot()
    with pytest.raises(Conflict) as err:
        _ack(dw, "county_doctor", finding)  # care team: may acknowledge, but it is done
    assert str(err.value.message) == "冯家医 acknowledged this critical finding already."
    assert err.value.details["code_detail"] == "already_acknowledged"
    assert snapshot() == after
    [row] = AuditEvent.objects.filter(action="examination.critical.acknowledge")
    assert row.actor_id == dw.actor("township_doctor").user_id and row.detail["examination"] == str(exam.pk)
    assert list(open_critical(dw.actor("township_doctor"))) == []


def test_the_care_team_may_acknowledge_too(dw):
    finding = _finding(signed_ct(dw, critical=True))
    assert _ack(dw, "county_doctor", finding).acknowledged_by_name == "吴县内"


def _colleague(dw) -> None:
    add_practitioner(dw.world, dw.users, "township_colleague", "郑乡医", "township", "110610424000014",
                     ["general_practice"])


def test_unacknowledged_it_escalates_at_the_window_once(dw, settings):
    _colleague(dw)
    assert settings.MEDUNION_CRITICAL_ACK_MINUTES == 10
    with clock.frozen(START):
        exam = signed_ct(dw, critical=True)
        finding = _finding(exam)
        assert finding.created_at == START
        clock.advance(10 * M - dt.timedelta(seconds=1))
        assert worker.run_round() == {"critical_escalated": 0}
        clock.advance(dt.timedelta(seconds=1))
        assert worker.run_round() == {"critical_escalated": 1}
        assert worker.run_round() == {"critical_escalated": 0}  # once only
        clock.advance(24 * 60 * M)
        assert worker.escalate_critical() == 0
    finding.refresh_from_db()
    assert finding.escalated_at == START + 10 * M and finding.acknowledged_at is None
    escalated = Notification.objects.filter(kind="exam.critical_escalated")
    # Every clinician of the requesting township centre, with the finding and the patient's link…
    clinicians = escalated.exclude(user__username="coordinator")
    assert set(clinicians.values_list("user__username", flat=True)) == {"township_doctor", "township_colleague"}
    assert {(n.body, n.patient_id, n.url) for n in clinicians} == {(NOTE, dw.patient.pk, f"/examinations/{exam.pk}")}
    # …and the coordinator, who sees no patient data: the organisation to call, no more.
    coordinator = escalated.get(user__username="coordinator")
    assert (coordinator.body, coordinator.patient_id, coordinator.url) == ("", None, "")
    assert "城关镇卫生院" in coordinator.title and "陈桂芳" not in coordinator.title
    [row] = AuditEvent.objects.filter(action="examination.critical.escalate")
    assert (row.actor_display, row.actor_id, row.patient_id) == ("system:worker", None, dw.patient.pk)
    assert row.detail == {"examination": str(exam.pk), "recipients": 3}
    # Escalated, it can still be acknowledged (and is then done).
    assert _ack(dw, "township_colleague", finding).acknowledged_by_name == "郑乡医"


def test_the_window_is_configurable(dw, settings):
    settings.MEDUNION_CRITICAL_ACK_MINUTES = 3
    with clock.frozen(START):
        signed_ct(dw, critical=True)
        clock.advance(2 * M)
        assert worker.escalate_critical() == 0
        clock.advance(M)
        assert worker.escalate_critical() == 1


def test_an_acknowledged_finding_never_escalates(dw):
    with clock.frozen(START):
        first = _finding(signed_ct(dw, critical=True))
        second = _finding(signed_ct(dw, critical=True, body_site="chest"))
        clock.advance(9 * M)
        _ack(dw, "township_doctor", first)
        clock.advance(M)
        assert worker.escalate_critical() == 1  # the other one
        clock.advance(60 * M)
        assert worker.escalate_critical() == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.escalated_at is None and second.escalated_at == START + 10 * M
    assert AuditEvent.objects.filter(action="examination.critical.escalate").count() == 1


def test_a_critical_addendum_raises_a_finding_of_its_own(dw):
    exam = signed_ct(dw)
    assert not CriticalFinding.objects.exists()
    add = reading.add_addendum(acting=dw.actor("hub_radiologist"), examination_id=exam.pk,
                               text="复核：右侧额叶另见小片状出血。", critical=True, critical_note="新发额叶出血")
    finding = CriticalFinding.objects.get(report=add)
    assert finding.note == "新发额叶出血"
    assert Notification.objects.filter(kind="exam.critical", user__username="township_doctor").count() == 1
