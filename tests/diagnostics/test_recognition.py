"""Region-wide recognition: a signed report reaches the consortium's clinicians treating the
patient, and a clinician asking for the same examination (modality and body site) within the
window is shown it first; what they decide is counted. Before signing, only the working side
sees an examination; the patient sees her reported ones only."""

from __future__ import annotations

import datetime as dt

import pytest

from medunion.access.diagnostics import visible_examinations
from medunion.access.policy import Action, can
from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound
from medunion.diagnostics import actions_reading as reading
from medunion.diagnostics.actions import recent_reports, use_recent_report
from medunion.diagnostics.machine import load
from medunion.diagnostics.models import Examination, Recognition
from medunion.diagnostics.queries import patient_report, patient_reports
from medunion.diagnostics.validation import RecentReportExists, ReportInput
from tests.consults.conftest import add_practitioner
from tests.diagnostics.conftest import new_ct, signed_ct, snapshot, uploaded_ct

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
D = dt.timedelta(days=1)


def _county_asks(dw, **changes) -> Examination:
    return new_ct(dw, "county_doctor", urgency="routine", question="头痛复查", **changes)


def test_a_county_clinician_asking_again_is_shown_the_recent_report(dw):
    with clock.frozen(START):
        exam = signed_ct(dw)
    with clock.frozen(START + 12 * D):
        before = snapshot()
        with pytest.raises(RecentReportExists) as err:
            _county_asks(dw)
        assert snapshot() == before  # nothing created, nothing recorded
        assert err.value.status == 409 and err.value.code == "recent_report_exists"
        assert err.value.field == "repeat_reason"
        assert err.value.details == {"days": 30, "examinations": [str(exam.pk)]}
        assert "from the last 30 days" in str(err.value.message)
        # It is the recognised report he may read.
        assert [e.pk for e in recent_reports(dw.actor("county_doctor"), dw.patient.pk, "CT", "head")] == [exam.pk]
        assert can(dw.actor("county_doctor"), Action.VIEW_EXAMINATION, load(exam.pk))


def test_using_the_recent_report_is_an_avoided_repeat(dw):
    exam = signed_ct(dw)
    row = use_recent_report(acting=dw.actor("county_doctor"), examination_id=exam.pk)
    assert (row.decision, row.examination_id, row.new_examination_id) == ("reused", exam.pk, None)
    assert (row.decided_by_id, row.organisation_id, row.modality) == (dw.pid("county_doctor"), dw.orgs["county"].pk,
                                                                      "CT")
    audit = AuditEvent.objects.get(action="examination.recognise")
    assert audit.patient_id == dw.patient.pk and audit.detail == {"examination": str(exam.pk), "decision": "reused"}
    assert Examination.objects.count() == 1
    # Only a signed report can be used so.
    pending = uploaded_ct(dw, slices=1, body_site="chest")
    with pytest.raises(Conflict):
        use_recent_report(acting=dw.actor("township_doctor"), examination_id=pending.pk)


def test_with_a_reason_the_new_examination_is_made_and_the_repeat_recorded(dw):
    exam = signed_ct(dw)
    new = _county_asks(dw, repeat_reason="症状加重，需复查除外再出血")
    assert new.state == "draft" and new.repeat_reason == "症状加重，需复查除外再出血"
    row = Recognition.objects.get()
    assert (row.decision, row.examination_id, row.new_examination_id, row.reason) == (
        "repeated", exam.pk, new.pk, "症状加重，需复查除外再出血")
    created = AuditEvent.objects.filter(action="examination.create").latest("seq")
    assert created.detail["repeat_of"] == str(exam.pk)
    # Without a recent report a reason is not kept (there was nothing to repeat).
    chest = _county_asks(dw, body_site="chest", repeat_reason="无")
    assert chest.repeat_reason == "" and Recognition.objects.count() == 1


def test_another_site_or_modality_or_a_draft_or_cancelled_one_is_not_recognised(dw):
    from medunion.diagnostics.actions import cancel

    signed_ct(dw)
    assert _county_asks(dw, body_site="chest").state == "draft"
    assert _county_asks(dw, modality="MR").state == "draft"
    uploaded_ct(dw, slices=1, body_site="neck")  # awaiting reading: no report yet
    cancelled = uploaded_ct(dw, slices=1, body_site="neck")
    cancel(acting=dw.actor("township_doctor"), examination_id=cancelled.pk, reason="患者拒绝")
    assert _county_asks(dw, body_site="neck").state == "draft"
    assert Recognition.objects.count() == 0


def test_outside_the_window_there_is_no_prompt(dw):
    with clock.frozen(START):
        exam = signed_ct(dw)
    with clock.frozen(START + 29 * D), pytest.raises(RecentReportExists):
        _county_asks(dw)
    with clock.frozen(START + 31 * D):
        assert recent_reports(dw.actor("county_doctor"), dw.patient.pk, "CT", "head") == []
        assert _county_asks(dw).state == "draft"
    # The old report is still his to read, just no longer offered instead.
    assert can(dw.actor("county_doctor"), Action.VIEW_EXAMINATION, load(exam.pk))


def test_the_window_is_configurable(dw, settings):
    settings.MEDUNION_RECOGNITION_DAYS = 7
    with clock.frozen(START):
        exam = signed_ct(dw)
    with clock.frozen(START + 6 * D), pytest.raises(RecentReportExists) as err:
        _county_asks(dw)
    assert err.value.details == {"days": 7, "examinations": [str(exam.pk)]}
    assert "from the last 7 days" in str(err.value.message)
    with clock.frozen(START + 8 * D):
        assert _county_asks(dw).state == "draft"


def test_the_newest_reports_come_first(dw):
    with clock.frozen(START):
        older = signed_ct(dw)
    with clock.frozen(START + 2 * D):
        newer = signed_ct(dw, repeat_reason="术后复查")
    with clock.frozen(START + 3 * D), pytest.raises(RecentReportExists) as err:
        _county_asks(dw)
    assert err.value.details["examinations"] == [str(newer.pk), str(older.pk)]
    with clock.frozen(START + 3 * D):
        new = _county_asks(dw, repeat_reason="再次复查")
    assert Recognition.objects.get(new_examination=new).examination_id == newer.pk


# --- who sees what, before and after signing ------------------------------------------------------------

def _strangers(dw) -> None:
    # At the clinic where she is registered, not in her care team: treating, not working.
    add_practitioner(dw.world, dw.users, "clinic_a_colleague", "韩村医", "clinic_a", "V610424000009",
                     ["general_practice"])


def test_an_unrelated_clinician_is_never_shown_it(dw):
    exam = signed_ct(dw)
    stranger = dw.actor("village_doctor_b")
    assert recent_reports(stranger, dw.patient.pk, "CT", "head") == []
    assert not visible_examinations(stranger).exists()
    with pytest.raises(NotFound):  # nor may he ask for an examination of her
        new_ct(dw, "village_doctor_b")
    with pytest.raises(NotFound):
        use_recent_report(acting=stranger, examination_id=exam.pk)
    for outsider in ("outsider", "hub_sonographer", "coordinator", "cardiologist_tertiary"):
        assert not can(dw.actor(outsider), Action.VIEW_EXAMINATION, load(exam.pk)), outsider
    assert Recognition.objects.count() == 0


def test_before_signing_only_the_working_side_sees_it(dw):
    _strangers(dw)
    exam = uploaded_ct(dw, slices=1)
    working = {"township_doctor", "county_doctor", "village_doctor_a", "hub_radiologist", "hub_radiologist_b",
               "hub_chief"}
    others = {"clinic_a_colleague", "village_doctor_b", "hub_sonographer", "outsider", "coordinator", "patient_a"}

    def seen_by() -> set[str]:
        fresh = load(exam.pk)
        return {p for p in working | others if can(dw.actor(p), Action.VIEW_EXAMINATION, fresh)}

    def listed_for() -> set[str]:
        return {p for p in working | others if visible_examinations(dw.actor(p)).filter(pk=exam.pk).exists()}

    assert seen_by() == listed_for() == working
    reading.claim(acting=dw.actor("hub_radiologist"), examination_id=exam.pk)
    assert seen_by() == listed_for() == working
    assert recent_reports(dw.actor("clinic_a_colleague"), dw.patient.pk, "CT", "head") == []
    reading.sign(acting=dw.actor("hub_radiologist"), examination_id=exam.pk, data=ReportInput(
        findings="脑实质未见异常密度影。", impression="头颅 CT 平扫未见异常。"))
    # Signed: recognised for the treating clinician too, and the patient sees her report.
    assert seen_by() == working | {"clinic_a_colleague", "patient_a"}
    assert listed_for() == working | {"clinic_a_colleague"}  # the patient has her own list
    assert [e.pk for e in recent_reports(dw.actor("clinic_a_colleague"), dw.patient.pk, "CT", "head")] == [exam.pk]


def test_the_patient_sees_her_reported_examinations_only(dw):
    reported = signed_ct(dw)
    waiting = uploaded_ct(dw, slices=1, body_site="chest")
    me = dw.actor("patient_a")
    assert [e.pk for e in patient_reports(me)] == [reported.pk]
    assert can(me, Action.VIEW_EXAMINATION, load(reported.pk))
    assert not can(me, Action.VIEW_EXAMINATION, load(waiting.pk))
    view = patient_report(me, reported.pk)
    assert [r.status for r in view.reports] == ["signed"]
    with pytest.raises(NotFound):
        patient_report(me, waiting.pk)
    # Clinicians' lists are not hers, nor are the examination actions.
    assert not visible_examinations(me).exists()
    with pytest.raises(NotFound):
        patient_reports(dw.actor("township_doctor"))
