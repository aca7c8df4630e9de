import datetime as dt

import pytest

from medunion.access.loaders import access_consult
from medunion.access.policy import relationship_to
from medunion.consults import actions
from medunion.consults.models import ConsultAnswer, ConsultMessage, ConsultParticipant
from medunion.consults.queries import case_view
from medunion.consults.validation import AnswerInput, RatingInput
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medunion.notifications.models import Notification
from medunion.patients.models import CareTeamMember
from tests.consults.conftest import START, add_practitioner, ask

CONSENSUS = AnswerInput(assessment="乳腺癌 cT2N1M0", recommendation="referral", referral_specialty="breast_surgery",
                        referral_notes="新辅助化疗后手术", consensus=True)


def test_mdt_invite_opinions_consensus(cw):
    add_practitioner(cw.world, cw.users, "breast_surgeon", "钱乳外", "tertiary", "110610000000004",
                     ["breast_surgery"])
    add_practitioner(cw.world, cw.users, "radiologist_x", "孙影像", "imaging_hub", "110610424000013", ["radiology"])
    c = ask(cw, specialty="oncology", target_kind="practitioner", target_practitioner_id=cw.pid("oncologist"))
    onco = cw.actor("oncologist")
    with pytest.raises(PermissionDenied):  # only the assignee or a team lead invites
        actions.invite_to_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk,
                                  practitioner_ids=[cw.pid("breast_surgeon")])
    with pytest.raises(NotFound):  # not invited: does not even see the case
        actions.give_opinion(acting=cw.actor("breast_surgeon"), consult_id=c.pk, body="x")
    actions.claim_consult(acting=onco, consult_id=c.pk)
    with pytest.raises(ValidationFailed):  # another consortium's clinician
        actions.invite_to_consult(acting=onco, consult_id=c.pk, practitioner_ids=[cw.world.users["outsider"].practitioner_id])
    with pytest.raises(ValidationFailed):
        actions.invite_to_consult(acting=onco, consult_id=c.pk, practitioner_ids=["nonsense"])
    rows = actions.invite_to_consult(acting=onco, consult_id=c.pk,
                                     practitioner_ids=[cw.pid("breast_surgeon"), cw.pid("radiologist_x")])
    assert {r.practitioner_id for r in rows} == {cw.pid("breast_surgeon"), cw.pid("radiologist_x")}
    with pytest.raises(ValidationFailed):  # already in
        actions.invite_to_consult(acting=onco, consult_id=c.pk, practitioner_ids=[cw.pid("breast_surgeon")])
    assert Notification.objects.filter(consult=c, kind="consult.invited").count() == 2
    surgeon = cw.actor("breast_surgeon")
    assert relationship_to(surgeon, cw.patient.pk) == "care_team"  # they may open her record for the MDT
    opinion = actions.give_opinion(acting=surgeon, consult_id=c.pk, body="建议先新辅助化疗")
    assert (opinion.kind, opinion.audience, opinion.author_specialty) == ("opinion", "clinicians", "breast_surgery")
    assert ConsultParticipant.objects.get(consult=c, practitioner_id=surgeon.practitioner_id).opinion_given_at
    with pytest.raises(PermissionDenied):  # the asker is no MDT member
        actions.give_opinion(acting=cw.actor("village_doctor_a"), consult_id=c.pk, body="x")
    actions.give_opinion(acting=cw.actor("radiologist_x"), consult_id=c.pk, body="腋窝淋巴结肿大")
    with pytest.raises(PermissionDenied):  # the consensus is the lead's to record
        actions.answer_consult(acting=surgeon, consult_id=c.pk, data=CONSENSUS)
    answer = actions.answer_consult(acting=onco, consult_id=c.pk, data=CONSENSUS)
    assert answer.consensus and answer.referral_specialty == "breast_surgery"
    with pytest.raises(Conflict):  # opinions are for an open discussion
        actions.give_opinion(acting=surgeon, consult_id=c.pk, body="补充")
    view = case_view(surgeon, access_consult(surgeon, c.pk))
    assert [m.kind for m in view.messages if m.kind == "opinion"] == ["opinion", "opinion"]
    assert {p.role for p in view.participants} == {"assignee", "mdt_member"}
    assert view.answer == answer


def test_claiming_joins_the_care_team_and_closing_ends_it_later(cw):
    with clock.frozen(START):
        c = ask(cw)
        cardio = cw.actor("cardiologist_tertiary")
        assert relationship_to(cardio, cw.patient.pk) is None
        actions.claim_consult(acting=cardio, consult_id=c.pk)
        member = CareTeamMember.objects.get(patient=cw.patient, practitioner_id=cardio.practitioner_id)
        assert (member.role, member.source_type, member.source_id, member.until) == ("consult", "consult", str(c.pk),
                                                                                    None)
        from medunion.audit.models import AuditEvent
        row = AuditEvent.objects.get(action="patient.care_team.add", patient_id=cw.patient.pk,
                                     actor_display="王建生")
        assert row.detail["source_id"] == str(c.pk)  # says which clinician, and why
        assert relationship_to(cardio, cw.patient.pk) == "care_team"
        actions.answer_consult(acting=cardio, consult_id=c.pk, data=AnswerInput(
            assessment="a", recommendation="manage_locally", plan="p"))
        clock.advance(dt.timedelta(hours=2))
        actions.confirm_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk, rating=RatingInput(useful=4))
        member.refresh_from_db()
        assert member.until == START + dt.timedelta(hours=2, days=30)
        clock.advance(dt.timedelta(days=29))
        assert relationship_to(cardio, cw.patient.pk) == "care_team"
        clock.advance(dt.timedelta(days=2))
        assert relationship_to(cardio, cw.patient.pk) is None
        # The case itself stays theirs to read: they answered it.
        assert access_consult(cardio, c.pk) == c


def test_declining_or_handing_over_ends_the_care_team_it_gave(cw):
    c = ask(cw)
    cardio, b = cw.actor("cardiologist_tertiary"), cw.actor("cardiologist_b")
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    actions.hand_over_consult(acting=cardio, consult_id=c.pk, practitioner_id=b.practitioner_id)
    assert relationship_to(cardio, cw.patient.pk) is None
    assert relationship_to(b, cw.patient.pk) == "care_team"
    actions.decline_consult(acting=b, consult_id=c.pk, reason="请其他医生")
    assert relationship_to(b, cw.patient.pk) is None


def test_cancelling_ends_the_care_team_too(cw):
    with clock.frozen(START):
        c = ask(cw)
        actions.claim_consult(acting=cw.actor("cardiologist_b"), consult_id=c.pk)
        actions.cancel_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk, reason="已转诊")
        assert CareTeamMember.objects.get(source_id=str(c.pk)).until == START + dt.timedelta(days=30)


def test_answers_and_opinions_keep_their_author_snapshot(cw):
    c = ask(cw)
    cardio = cw.actor("cardiologist_tertiary")
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    actions.post_message(acting=cardio, consult_id=c.pk, body="看过了")
    from medunion.network.models import Practitioner
    Practitioner.objects.filter(pk=cardio.practitioner_id).update(title="attending", name="王改名")
    m = ConsultMessage.objects.get(consult=c, body="看过了")
    assert (m.author_name, m.author_title, m.author_specialty, m.author_organisation) == (
        "王建生", "chief", "cardiology", "西安交通大学第一附属医院")
    assert not ConsultAnswer.objects.exists()
