import dataclasses

import pytest

from medunion.access.loaders import access_consult
from medunion.audit.models import AuditEvent
from medunion.consults import actions
from medunion.consults.models import ConsultMessage
from medunion.consults.queries import case_view, changes_since, patient_consults, poll, system_text
from medunion.consults.validation import AnswerInput, RatingInput
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medunion.notifications.models import Notification
from tests.consults.conftest import ask, stored_file

SECRET = "仅限医生：考虑恶性可能"


@pytest.fixture
def case(cw):
    c = ask(cw, question=f"{SECRET}？", attachments=[stored_file(cw, name="request.jpg")])
    cardio = cw.actor("cardiologist_tertiary")
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    actions.post_message(acting=cardio, consult_id=c.pk, body=SECRET,
                         attachments=[stored_file(cw, "cardiologist_tertiary", name="clinical.jpg")])
    actions.post_message(acting=cardio, consult_id=c.pk, body="请按时服药，两周后复诊", audience="patient",
                         attachments=[stored_file(cw, "cardiologist_tertiary", name="leaflet.jpg")])
    actions.request_info(acting=cardio, consult_id=c.pk, question=f"{SECRET}：请补充肿瘤标志物")
    actions.provide_info(acting=cw.actor("village_doctor_a"), consult_id=c.pk, body=f"{SECRET} CEA 正常")
    actions.answer_consult(acting=cardio, consult_id=c.pk, data=AnswerInput(
        assessment=SECRET, recommendation="manage_locally", plan=SECRET))
    return c


def _everything_the_patient_gets(cw, c):
    patient = cw.actor("patient_a")
    consult = access_consult(patient, c.pk)
    view = case_view(patient, consult)
    yield view
    yield changes_since(patient, consult, 0)
    yield poll(patient, c.pk, 0)
    yield patient_consults(patient)


def test_a_patient_never_gets_a_clinician_message(cw, case):
    patient_stuff = list(_everything_the_patient_gets(cw, case))
    view, changes, polled, mine = patient_stuff
    assert view.consult is None and view.answers == [] and view.request_attachments == []
    assert view.participants == [] and view.rating is None
    assert [m.body for m in view.messages] == ["请按时服药，两周后复诊"]
    assert [a.file.filename for m in view.messages for a in m.attachments.all()] == ["leaflet.jpg"]
    assert [m.body for m in changes.messages] == ["请按时服药，两周后复诊"] and changes.answers == []
    assert [m.body for m in polled.messages] == ["请按时服药，两周后复诊"]
    assert len(mine) == 1 and mine[0].id == case.pk
    for thing in patient_stuff:
        assert SECRET not in repr(thing)
        for m in getattr(thing, "messages", []):
            assert m.audience == "patient"
    # The cursor only moves over what the patient may see.
    assert changes.last_seq == view.messages[0].seq


def test_clinicians_see_both_conversations_the_question_and_the_answer(cw, case):
    for persona in ("cardiologist_tertiary", "village_doctor_a"):
        actor = cw.actor(persona)
        view = case_view(actor, access_consult(actor, case.pk))
        assert view.consult is not None and SECRET in view.consult.question
        assert {m.audience for m in view.messages} == {"clinicians", "patient"}
        assert view.answer is not None and view.answer.assessment == SECRET
        assert [a.file.filename for a in view.request_attachments] == ["request.jpg"]
        assert [p.role for p in view.participants] == ["assignee"]
    assert case_view(cw.actor("village_doctor_a"), access_consult(cw.actor("village_doctor_a"), case.pk)).events == [
        "confirm", "follow_up"]


def test_who_writes_where(cw, case):
    patient = cw.actor("patient_a")
    with pytest.raises(PermissionDenied):
        actions.post_message(acting=patient, consult_id=case.pk, body="我想看医生的讨论")
    before = set(Notification.objects.values_list("pk", flat=True))
    m = actions.post_message(acting=patient, consult_id=case.pk, body="谢谢医生", audience="patient")
    assert m.author_name == "陈桂芳" and m.author_practitioner_id is None
    new = Notification.objects.filter(consult=case, kind="consult.message").exclude(pk__in=before)
    assert sorted(n.user.username for n in new) == ["cardiologist_tertiary", "village_doctor_a"]
    with pytest.raises(ValidationFailed):
        actions.post_message(acting=patient, consult_id=case.pk, body="x", audience="everyone")
    with pytest.raises(ValidationFailed):
        actions.post_message(acting=patient, consult_id=case.pk, body="  ", audience="patient")
    with pytest.raises(NotFound):
        actions.post_message(acting=cw.actor("outsider"), consult_id=case.pk, body="hi")
    # A pool specialist who saw the case but did not take it may not write in it.
    c2 = ask(cw)
    with pytest.raises(PermissionDenied):
        actions.post_message(acting=cw.actor("cardiologist_b"), consult_id=c2.pk, body="我来看看")
    # A clinician writing to the patient conversation tells the patient.
    actions.post_message(acting=cw.actor("village_doctor_a"), consult_id=case.pk, body="明天来卫生室", audience="patient")
    assert Notification.objects.filter(user__username="patient_a", kind="consult.patient_message").exists()
    assert AuditEvent.objects.filter(action="consult.message.create", patient_id=cw.patient.pk).count() == 4


def test_no_messages_on_a_closed_case(cw, case):
    actions.confirm_consult(acting=cw.actor("village_doctor_a"), consult_id=case.pk, rating=RatingInput(useful=4))
    with pytest.raises(Conflict):
        actions.post_message(acting=cw.actor("village_doctor_a"), consult_id=case.pk, body="还有一个问题")


def test_corrections_keep_the_old_version_for_clinicians_only(cw, case):
    cardio = cw.actor("cardiologist_tertiary")
    old = ConsultMessage.objects.get(consult=case, body="请按时服药，两周后复诊")
    with pytest.raises(PermissionDenied):
        actions.correct_message(acting=cw.actor("village_doctor_a"), message_id=old.pk, body="改")
    new = actions.correct_message(acting=cardio, message_id=old.pk, body="请按时服药，一周后复诊")
    assert new.supersedes == old and new.audience == "patient"
    with pytest.raises(Conflict):
        actions.correct_message(acting=cardio, message_id=old.pk, body="again")
    clinician_view = case_view(cardio, access_consult(cardio, case.pk))
    shown = {m.body: m.is_superseded for m in clinician_view.messages if m.audience == "patient"}
    assert shown == {"请按时服药，两周后复诊": True, "请按时服药，一周后复诊": False}
    patient = cw.actor("patient_a")
    assert [m.body for m in case_view(patient, access_consult(patient, case.pk)).messages] == ["请按时服药，一周后复诊"]
    clinical = ConsultMessage.objects.get(consult=case, body=SECRET)
    with pytest.raises(NotFound):  # a patient does not learn a clinician message exists
        actions.correct_message(acting=patient, message_id=clinical.pk, body="x")
    system = ConsultMessage.objects.filter(consult=case, kind="system").first()
    with pytest.raises(PermissionDenied):
        actions.correct_message(acting=cardio, message_id=system.pk, body="rewrite history")
    assert ConsultMessage.objects.filter(pk=old.pk, body="请按时服药，两周后复诊").exists()  # never edited


def test_changes_since_is_cheap_and_the_live_poll_audits_only_news(cw, case, django_assert_num_queries):
    cardio = cw.actor("cardiologist_tertiary")
    consult = access_consult(cardio, case.pk)
    with django_assert_num_queries(0):
        nothing = changes_since(cardio, consult, consult.last_seq)
    assert nothing.empty and nothing.last_seq == consult.last_seq
    before = AuditEvent.objects.filter(action="consult.read").count()
    poll(cardio, case.pk, consult.last_seq)
    assert AuditEvent.objects.filter(action="consult.read").count() == before
    actions.post_message(acting=cw.actor("village_doctor_a"), consult_id=case.pk, body="收到")
    consult = access_consult(cardio, case.pk, audit=False)
    with django_assert_num_queries(3):  # the new messages, their attachments, the new answer versions
        news = changes_since(cardio, consult, consult.last_seq - 1)
    assert [m.body for m in news.messages] == ["收到"]
    polled = poll(cardio, case.pk, consult.last_seq - 1)
    assert [m.body for m in polled.messages] == ["收到"]
    assert AuditEvent.objects.filter(action="consult.read").count() == before + 1


def test_system_messages_read_as_sentences(cw, case):
    texts = [system_text(m) for m in ConsultMessage.objects.filter(consult=case, kind="system").order_by("seq")]
    assert texts == ["张卫国 sent the case.", "王建生 took the case.", "王建生 answered."]


def test_case_views_cost_a_fixed_number_of_queries(cw, case, django_assert_max_num_queries):
    cardio = cw.actor("cardiologist_tertiary")
    consult = access_consult(cardio, case.pk)
    case_view(cardio, consult)  # roles cached on the instance by the loader
    for _ in range(5):
        actions.post_message(acting=cardio, consult_id=case.pk, body="补充",
                             attachments=[stored_file(cw, "cardiologist_tertiary", name=f"x{_}.jpg")])
    consult = access_consult(cardio, case.pk)
    with django_assert_max_num_queries(6):
        view = case_view(cardio, consult)
        assert [len(m.attachments.all()) for m in view.messages if m.body == "补充"] == [1] * 5
    assert dataclasses.asdict  # the view is a plain dataclass


def test_each_message_carries_its_own_attachments_of_the_readers_audiences(cw, case,
                                                                          django_assert_num_queries):
    cardio, patient = cw.actor("cardiologist_tertiary"), cw.actor("patient_a")

    def files(view_messages):
        return {m.body: sorted(a.file.filename for a in m.attachments.all()) for m in view_messages if m.body}

    view = case_view(cardio, access_consult(cardio, case.pk))
    with django_assert_num_queries(0):  # the attachments are in place, their files with them
        seen = files(view.messages)
    assert seen[SECRET] == ["clinical.jpg"] and seen["请按时服药，两周后复诊"] == ["leaflet.jpg"]
    assert sum(len(v) for v in seen.values()) == 2  # the request's own file is not a message's
    # The patient: the leaflet only, on its message.
    mine = files(case_view(patient, access_consult(patient, case.pk)).messages)
    assert list(mine.values()) == [["leaflet.jpg"]]
    # A live page's update: the new message with its file, nothing of the earlier ones.
    before = access_consult(cardio, case.pk).last_seq
    actions.post_message(acting=cardio, consult_id=case.pk, body="补充",
                         attachments=[stored_file(cw, "cardiologist_tertiary", name="later.jpg")])
    new = changes_since(cardio, access_consult(cardio, case.pk), before).messages
    with django_assert_num_queries(0):
        assert files(new) == {"补充": ["later.jpg"]}


def test_a_general_question_has_no_patient_conversation(cw):
    c = ask(cw, patient_id=None, vitals={})
    with pytest.raises(ValidationFailed) as err:
        actions.post_message(acting=cw.actor("village_doctor_a"), consult_id=c.pk, body="x", audience="patient")
    assert "audience" in err.value.errors
    view = case_view(cw.actor("village_doctor_a"), access_consult(cw.actor("village_doctor_a"), c.pk))
    assert "patient_message" not in view.acts and "clinician_message" in view.acts
