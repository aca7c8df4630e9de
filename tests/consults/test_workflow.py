import pytest

from medunion.audit.models import AuditEvent
from medunion.consults import actions
from medunion.consults.models import ConsultAnswer, ConsultDecline, ConsultMessage, ConsultParticipant
from medunion.consults.validation import AnswerInput, RatingInput
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medunion.notifications.models import Notification
from tests.consults.conftest import ask, stored_file

LOCAL = AnswerInput(assessment="稳定型心绞痛可能", recommendation="manage_locally", plan="阿司匹林 100mg qd，两周复诊")


def told(consult, username):
    return Notification.objects.filter(consult=consult, user__username=username)


def test_the_whole_journey(cw):
    c = ask(cw)
    doctor, cardio = cw.actor("village_doctor_a"), cw.actor("cardiologist_tertiary")
    c = actions.claim_consult(acting=cardio, consult_id=c.pk)
    assert (c.state, c.assignee_id, c.version) == ("in_progress", cardio.practitioner_id, 1)
    assert told(c, "village_doctor_a").filter(kind="consult.claimed").exists()
    c = actions.request_info(acting=cardio, consult_id=c.pk, question="请上传心电图")
    assert c.state == "on_hold" and told(c, "village_doctor_a").filter(kind="consult.info_requested").exists()
    ecg = stored_file(cw, name="ecg2.jpg")
    c = actions.provide_info(acting=doctor, consult_id=c.pk, body="心电图见附件", attachments=[ecg])
    assert c.state == "in_progress" and c.asker_replied_at is not None
    reply = ConsultMessage.objects.get(consult=c, kind="info_reply")
    assert reply.attachments.get().file == ecg and reply.author_name == "张卫国"
    answer = actions.answer_consult(acting=cardio, consult_id=c.pk, data=LOCAL)
    assert answer.author_name == "王建生" and answer.author_title == "chief"
    assert answer.author_organisation == "西安交通大学第一附属医院"
    c.refresh_from_db()
    assert c.state == "answered" and c.answered_at is not None
    c = actions.confirm_consult(acting=doctor, consult_id=c.pk,
                                rating=RatingInput(useful=5, avoided_referral=True, avoided_travel=True))
    assert c.state == "completed" and c.closed_at is not None and c.rating.useful == 5
    assert told(c, "cardiologist_tertiary").filter(kind="consult.confirmed").exists()
    actions_logged = list(AuditEvent.objects.filter(object_id=str(c.pk), action__startswith="consult.")
                          .order_by("seq").values_list("action", flat=True))
    assert actions_logged == ["consult.create", "consult.claim", "consult.request_info", "consult.provide_info",
                              "consult.confirm"]
    assert AuditEvent.objects.get(action="consult.answer").patient_id == cw.patient.pk
    seqs = list(ConsultMessage.objects.filter(consult=c).values_list("seq", flat=True))
    assert sorted([*seqs, answer.seq]) == list(range(1, c.last_seq + 1))  # one sequence, no gaps


def test_who_may_claim(cw):
    c = ask(cw)
    with pytest.raises(NotFound):  # another consortium: does not even see it
        actions.claim_consult(acting=cw.actor("outsider"), consult_id=c.pk)
    with pytest.raises(NotFound):  # a colleague of the asker with no relation to it
        actions.claim_consult(acting=cw.actor("village_doctor_b"), consult_id=c.pk)
    with pytest.raises(NotFound):  # wrong specialty
        actions.claim_consult(acting=cw.actor("oncologist"), consult_id=c.pk)
    with pytest.raises(PermissionDenied):  # the asker sees it but cannot claim it
        actions.claim_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk)
    with pytest.raises(PermissionDenied):  # the patient sees it, cannot claim
        actions.claim_consult(acting=cw.actor("patient_a"), consult_id=c.pk)
    actions.claim_consult(acting=cw.actor("county_cardiologist"), consult_id=c.pk)
    with pytest.raises(Conflict) as err:  # too late: told who took it
        actions.claim_consult(acting=cw.actor("cardiologist_b"), consult_id=c.pk)
    assert "吴县心" in str(err.value.message) and err.value.details["assignee"] == "吴县心"


def test_a_named_case_only_by_that_specialist_and_a_team_case_by_its_members(cw):
    named = ask(cw, target_kind="practitioner", target_practitioner_id=cw.pid("cardiologist_b"))
    with pytest.raises(NotFound):
        actions.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=named.pk)
    actions.claim_consult(acting=cw.actor("cardiologist_b"), consult_id=named.pk)
    team_case = ask(cw, target_kind="team", target_team_id=cw.team.pk)
    with pytest.raises(NotFound):  # eligible by specialty, but not in the team
        actions.claim_consult(acting=cw.actor("county_cardiologist"), consult_id=team_case.pk)
    assert actions.claim_consult(acting=cw.actor("cardiologist_b"), consult_id=team_case.pk).state == "in_progress"


def test_decline_returns_the_case_and_remembers_the_decliner(cw):
    c = ask(cw)
    cardio = cw.actor("cardiologist_tertiary")
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    with pytest.raises(ValidationFailed):
        actions.decline_consult(acting=cardio, consult_id=c.pk, reason="  ")
    c = actions.decline_consult(acting=cardio, consult_id=c.pk, reason="本周出差")
    assert (c.state, c.assignee_id) == ("requested", None)
    assert ConsultDecline.objects.filter(consult=c, practitioner_id=cardio.practitioner_id).exists()
    assert ConsultParticipant.objects.get(consult=c, practitioner_id=cardio.practitioner_id).left_at is not None
    with pytest.raises(NotFound):  # no longer theirs to see: not in their pool, not in the care team
        actions.claim_consult(acting=cardio, consult_id=c.pk)
    assert actions.claim_consult(acting=cw.actor("cardiologist_b"), consult_id=c.pk).state == "in_progress"


def test_a_named_specialist_declining_sends_the_case_to_the_pool(cw):
    c = ask(cw, target_kind="practitioner", target_practitioner_id=cw.pid("cardiologist_b"))
    with pytest.raises(PermissionDenied):  # the asker cannot decline
        actions.decline_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk, reason="x")
    c = actions.decline_consult(acting=cw.actor("cardiologist_b"), consult_id=c.pk, reason="不在我专业范围")
    assert (c.state, c.target_kind, c.target_practitioner_id) == ("requested", "pool", None)
    assert told(c, "county_cardiologist").filter(kind="consult.new").exists()
    assert told(c, "cardiologist_b").filter(kind="consult.new").count() == 1  # the decliner: not again
    actions.claim_consult(acting=cw.actor("county_cardiologist"), consult_id=c.pk)


def test_hand_over_to_an_eligible_colleague(cw):
    c = ask(cw)
    cardio = cw.actor("cardiologist_tertiary")
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    with pytest.raises(ValidationFailed) as err:
        actions.hand_over_consult(acting=cardio, consult_id=c.pk, practitioner_id=cw.pid("oncologist"))
    assert "does not practise cardiology" in str(err.value)
    with pytest.raises(ValidationFailed):
        actions.hand_over_consult(acting=cardio, consult_id=c.pk, practitioner_id=cw.pid("village_doctor_a"))
    with pytest.raises(PermissionDenied):  # only the assignee (or a team lead)
        actions.hand_over_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk,
                                  practitioner_id=cw.pid("cardiologist_b"))
    c = actions.hand_over_consult(acting=cardio, consult_id=c.pk, practitioner_id=cw.pid("cardiologist_b"),
                                  reason="她更熟悉")
    assert (c.state, c.assignee_id, c.version) == ("in_progress", cw.pid("cardiologist_b"), 2)
    assert told(c, "cardiologist_b").filter(kind="consult.handed_over").exists()
    with pytest.raises(NotFound):  # no longer on the case, nor in the care team it gave them
        actions.request_info(acting=cardio, consult_id=c.pk, question="?")


def test_a_team_lead_assigns_a_waiting_team_case(cw):
    c = ask(cw, target_kind="team", target_team_id=cw.team.pk)
    with pytest.raises(PermissionDenied):
        actions.assign_consult(acting=cw.actor("cardiologist_b"), consult_id=c.pk,
                               practitioner_id=cw.pid("cardiologist_b"))
    c = actions.assign_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk,
                               practitioner_id=cw.pid("cardiologist_b"))
    assert (c.state, c.assignee_id) == ("in_progress", cw.pid("cardiologist_b"))


def test_states_refuse_what_they_do_not_allow(cw):
    c = ask(cw)
    cardio, doctor = cw.actor("cardiologist_tertiary"), cw.actor("village_doctor_a")
    with pytest.raises(PermissionDenied):  # not the assignee yet
        actions.answer_consult(acting=cardio, consult_id=c.pk, data=LOCAL)
    with pytest.raises(Conflict):
        actions.provide_info(acting=doctor, consult_id=c.pk, body="x")
    with pytest.raises(Conflict):
        actions.confirm_consult(acting=doctor, consult_id=c.pk, rating=RatingInput(useful=3))
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    actions.answer_consult(acting=cardio, consult_id=c.pk, data=LOCAL)
    with pytest.raises(Conflict) as err:
        actions.answer_consult(acting=cardio, consult_id=c.pk, data=LOCAL)
    assert str(err.value.message) == "This case has been answered already."
    with pytest.raises(Conflict):
        actions.cancel_consult(acting=doctor, consult_id=c.pk, reason="no")
    with pytest.raises(ValidationFailed):
        actions.confirm_consult(acting=doctor, consult_id=c.pk, rating=RatingInput(useful=6))


def test_answers_are_validated(cw):
    c = ask(cw)
    cardio = cw.actor("cardiologist_tertiary")
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    bad = [
        (AnswerInput(assessment="", recommendation="manage_locally", plan="p"), "assessment"),
        (AnswerInput(assessment="a", recommendation="manage_locally"), "plan"),
        (AnswerInput(assessment="a", recommendation="examinations"), "examinations"),
        (AnswerInput(assessment="a", recommendation="referral"), "referral_specialty"),
        (AnswerInput(assessment="a", recommendation="pray"), "recommendation"),
        (AnswerInput(assessment="a", recommendation="manage_locally", plan="p", consensus=True), "consensus"),
    ]
    for data, field in bad:
        with pytest.raises(ValidationFailed) as err:
            actions.answer_consult(acting=cardio, consult_id=c.pk, data=data)
        assert field in err.value.errors, (field, err.value.errors)
    a = actions.answer_consult(acting=cardio, consult_id=c.pk, data=AnswerInput(
        assessment="需冠脉造影", recommendation="referral", referral_specialty="cardiology", referral_notes="绿色通道"))
    assert (a.recommendation, a.referral_specialty, a.referral_notes) == ("referral", "cardiology", "绿色通道")


def test_amendments_are_new_versions_by_the_author_only(cw):
    c = ask(cw)
    cardio = cw.actor("cardiologist_tertiary")
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    first = actions.answer_consult(acting=cardio, consult_id=c.pk, data=LOCAL)
    with pytest.raises(PermissionDenied):
        actions.amend_answer(acting=cw.actor("village_doctor_a"), consult_id=c.pk, data=LOCAL)
    second = actions.amend_answer(acting=cardio, consult_id=c.pk, reason="剂量更正", data=AnswerInput(
        assessment="稳定型心绞痛可能", recommendation="examinations", examinations=["运动平板试验", " "]))
    assert second.supersedes == first and second.examinations == ["运动平板试验"]
    assert list(ConsultAnswer.objects.filter(consult=c).order_by("seq")) == [first, second]
    assert told(c, "village_doctor_a").filter(kind="consult.amended").exists()


def test_follow_up_reopens_with_a_fresh_target(cw):
    import datetime as dt

    from medunion.core import clock
    from tests.consults.conftest import START

    with clock.frozen(START):
        c = ask(cw)
        cardio, doctor = cw.actor("cardiologist_tertiary"), cw.actor("village_doctor_a")
        actions.claim_consult(acting=cardio, consult_id=c.pk)
        actions.answer_consult(acting=cardio, consult_id=c.pk, data=LOCAL)
        clock.advance(dt.timedelta(hours=10))
        with pytest.raises(PermissionDenied):
            actions.follow_up_consult(acting=cardio, consult_id=c.pk, question="?")
        c = actions.follow_up_consult(acting=doctor, consult_id=c.pk, question="需要加用他汀吗？")
        assert c.state == "in_progress" and c.due_at == START + dt.timedelta(hours=14)
        assert told(c, "cardiologist_tertiary").filter(kind="consult.follow_up").exists()


def test_cancel_by_the_asker_with_a_reason(cw):
    c = ask(cw)
    with pytest.raises(PermissionDenied):
        actions.cancel_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk, reason="x")
    with pytest.raises(ValidationFailed):
        actions.cancel_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk, reason="")
    c = actions.cancel_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk, reason="患者已去县医院")
    assert c.state == "cancelled" and c.close_reason == "患者已去县医院"
    with pytest.raises(Conflict):
        actions.cancel_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk, reason="again")


def test_a_stale_version_is_a_conflict(cw):
    c = ask(cw)
    cardio = cw.actor("cardiologist_tertiary")
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    actions.request_info(acting=cardio, consult_id=c.pk, question="血压？")
    actions.provide_info(acting=cw.actor("village_doctor_a"), consult_id=c.pk, body="150/95")
    with pytest.raises(Conflict):  # the page showed version 1; the case is at 3 now
        actions.answer_consult(acting=cardio, consult_id=c.pk, data=LOCAL, expected_version=1)
    actions.answer_consult(acting=cardio, consult_id=c.pk, data=LOCAL, expected_version=3)
