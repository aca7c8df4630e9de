import pytest

from medunion.audit.models import AuditEvent
from medunion.consults.models import Consult, ConsultAttachment, ConsultMessage
from medunion.core.errors import NotFound, ValidationFailed
from medunion.notifications.models import Notification
from tests.consults.conftest import ask, stored_file


def test_a_pool_case_is_created_audited_and_announced_to_the_eligible(cw):
    photo = stored_file(cw)
    c = ask(cw, attachments=[photo])
    assert (c.state, c.target_kind, c.version, c.last_seq) == ("requested", "pool", 0, 1)
    assert c.asker_organisation == cw.world.orgs["clinic_a"] and c.asker_tier_rank == 1
    assert c.vitals == {"systolic": 150, "diastolic": 95, "heart_rate": 88}
    assert (c.due_at - c.created_at).total_seconds() == 4 * 3600  # urgent: 4 hours by default
    assert ConsultAttachment.objects.get(consult=c).file == photo
    row = AuditEvent.objects.get(action="consult.create")
    assert row.patient_id == cw.patient.pk and row.object_id == str(c.pk)
    told = set(Notification.objects.filter(consult=c).values_list("user__username", flat=True))
    # Every cardiologist of a higher tier in the consortium; not the outsider's consortium.
    assert told == {"cardiologist_tertiary", "cardiologist_b", "county_cardiologist"}
    assert all("陈桂芳" not in n.title for n in Notification.objects.filter(consult=c))
    assert ConsultMessage.objects.get(consult=c).event == "create"


def test_team_and_named_targets(cw):
    team_case = ask(cw, target_kind="team", target_team_id=cw.team.pk)
    assert team_case.target_team == cw.team
    assert set(Notification.objects.filter(consult=team_case).values_list("user__username", flat=True)) == {
        "cardiologist_tertiary", "cardiologist_b"}
    named = ask(cw, target_kind="practitioner", target_practitioner_id=cw.pid("cardiologist_b"))
    assert named.target_practitioner_id == cw.pid("cardiologist_b")
    assert list(Notification.objects.filter(consult=named).values_list("user__username", flat=True)) == [
        "cardiologist_b"]


def test_a_general_question_needs_no_patient(cw):
    c = ask(cw, patient_id=None, vitals={})
    assert c.patient_id is None
    assert AuditEvent.objects.get(action="consult.create").patient_id is None


@pytest.mark.parametrize("overrides, field", [
    ({"question": "   "}, "question"),
    ({"question": "x" * 4001}, "question"),
    ({"specialty": "astrology"}, "specialty"),
    ({"urgency": "whenever"}, "urgency"),
    ({"vitals": {"systolic": 400}}, "vitals.systolic"),
    ({"vitals": {"systolic": 90, "diastolic": 120}}, "vitals.diastolic"),
    ({"vitals": {"temperature": "hot"}}, "vitals.temperature"),
    ({"vitals": {"mood": 3}}, "vitals.mood"),
    ({"vitals": {"spo2": True}}, "vitals.spo2"),
    ({"vitals": {"glucose": "NaN"}}, "vitals.glucose"),
    ({"target_kind": "everyone"}, "target_kind"),
    ({"target_kind": "team"}, "target_team"),
    ({"target_kind": "practitioner", "target_practitioner_id": "not-a-uuid"}, "target_practitioner"),
    ({"patient_id": "not-a-uuid"}, "patient"),
])
def test_bad_input_is_refused_with_the_field_and_nothing_is_saved(cw, overrides, field):
    with pytest.raises(ValidationFailed) as err:
        ask(cw, **overrides)
    assert field in err.value.errors, err.value.errors
    assert not Consult.objects.exists() and not AuditEvent.objects.filter(action="consult.create").exists()


def test_vitals_are_normalised(cw):
    c = ask(cw, vitals={"temperature": "38.26", "spo2": 97, "weight": "", "glucose": 6.1})
    assert c.vitals == {"temperature": 38.3, "spo2": 97, "glucose": 6.1}


def test_the_target_must_be_able_to_answer(cw):
    w = cw.world
    cases = [
        ({"target_kind": "practitioner", "target_practitioner_id": w.users["outsider"].practitioner_id},
         "This specialist is not in the consortium."),
        ({"target_kind": "practitioner", "target_practitioner_id": cw.pid("oncologist")},
         "This specialist does not practise cardiology."),
        ({"target_kind": "practitioner", "target_practitioner_id": cw.pid("village_doctor_a"),
          "specialty": "general_practice"}, "You cannot send a case to yourself."),
    ]
    for overrides, message in cases:
        with pytest.raises(ValidationFailed) as err:
            ask(cw, **overrides)
        assert message in err.value.errors["target_practitioner"], err.value.errors
    # A county-hospital doctor asking: the county cardiologist is not of a higher tier.
    from tests.consults.conftest import add_practitioner
    add_practitioner(w, cw.users, "county_gp", "县全科", "county", "110610424000099", ["general_practice"])
    with pytest.raises(ValidationFailed) as err:
        ask(cw, "county_gp", patient_id=None, target_kind="practitioner",
            target_practitioner_id=cw.pid("county_cardiologist"))
    assert "higher level of care" in err.value.errors["target_practitioner"][0]
    # A team of another consortium.
    from medunion.access.actor import system_actor
    from medunion.network import actions as net
    other_team = net.create_team(acting=system_actor("t"), consortium_id=w.other_consortium.pk, name="外队",
                                 kind="specialty", specialty="cardiology")
    with pytest.raises(ValidationFailed) as err:
        ask(cw, target_kind="team", target_team_id=other_team.pk)
    assert err.value.errors["target_team"] == ["This team is not in the consortium."]


def test_a_pool_without_anyone_to_answer_says_so(cw):
    with pytest.raises(ValidationFailed) as err:
        ask(cw, specialty="dermatology")
    assert "No dermatology specialist" in err.value.errors["specialty"][0]


def test_patient_must_be_visible_to_the_asker(cw):
    with pytest.raises(ValidationFailed) as err:
        ask(cw, "village_doctor_b")  # patient_a is not theirs
    assert err.value.errors["patient"] == ["Unknown patient."]


def test_only_practitioners_ask(cw):
    for persona in ("coordinator", "patient_a", "sysadmin"):
        with pytest.raises(NotFound):
            ask(cw, persona)


def test_attachments_must_be_the_askers_own_and_the_patients(cw):
    with pytest.raises(ValidationFailed) as err:
        ask(cw, attachments=[stored_file(cw, "village_doctor_b", name="b.jpg")])
    assert "was not sent by you" in err.value.errors["attachments"][0]
    from medunion.patients.actions import PatientInput, register_patient
    other = register_patient(acting=cw.actor("village_doctor_a"),
                             data=PatientInput(name="另一人", sex="male", birth_date=__import__("datetime").date(1980, 1, 1)))
    with pytest.raises(ValidationFailed) as err:
        ask(cw, attachments=[stored_file(cw, patient=other)])
    assert "belongs to another patient" in err.value.errors["attachments"][0]
    assert not Consult.objects.exists()
