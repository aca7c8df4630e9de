import datetime as dt
import threading

import pytest
from django.db import connection, connections

from medunion.audit.models import AuditEvent
from medunion.core.errors import Conflict, Duplicate, NotFound, ValidationFailed
from medunion.patients import actions
from medunion.patients.actions import PatientInput
from medunion.patients.identity import make_resident_id
from medunion.patients.models import CareTeamMember, Patient
from medunion.patients.queries import search_patients


def _number(seq=5, male=True, birth=dt.date(1971, 8, 2)):
    return make_resident_id("610424", birth, seq, male)


def test_register_derives_sex_and_birth_and_joins_the_care_team(world):
    doctor = world.actor("village_doctor_b")
    p = actions.register_patient(acting=doctor, data=PatientInput(name="杨树林", id_number=_number()))
    assert (p.sex, p.birth_date) == ("male", dt.date(1971, 8, 2))
    assert p.registered_at_id == world.orgs["clinic_b"].pk
    assert CareTeamMember.objects.filter(patient=p, practitioner_id=doctor.practitioner_id).exists()
    assert AuditEvent.objects.filter(patient_id=p.pk, action="patient.register").count() == 1


def test_mismatch_between_number_and_stated_sex_or_birth_is_a_clear_error(world):
    with pytest.raises(ValidationFailed) as err:
        actions.register_patient(acting=world.actor("village_doctor_b"),
                                 data=PatientInput(name="杨树林", id_number=_number(), sex="female",
                                                   birth_date=dt.date(1971, 8, 3)))
    assert set(err.value.errors) == {"sex", "birth_date"}
    assert not Patient.objects.filter(name="杨树林").exists()


def test_without_an_id_number_sex_and_birth_are_required_and_can_be_linked_later(world):
    doctor = world.actor("village_doctor_b")
    with pytest.raises(ValidationFailed) as err:
        actions.register_patient(acting=doctor, data=PatientInput(name="小明"))
    assert set(err.value.errors) == {"sex", "birth_date"}
    child = actions.register_patient(acting=doctor, data=PatientInput(name="小明", sex="male",
                                                                     birth_date=dt.date(2024, 2, 1)))
    number = make_resident_id("610424", dt.date(2024, 2, 1), 7, True)
    linked = actions.update_patient(acting=doctor, patient_id=child.pk,
                                    data=PatientInput(name="小明", id_number=number))
    assert linked.id_number == number and linked.id_number_last4 == number[-4:]


def test_same_id_twice_points_to_the_existing_record_only_if_visible(world):
    number = world.patients["patient_a_id_number"]
    with pytest.raises(Duplicate) as err:
        actions.register_patient(acting=world.actor("village_doctor_a"), data=PatientInput(name="x", id_number=number))
    assert err.value.details["existing_patient"] == str(world.patients["patient_a"].pk)
    with pytest.raises(Duplicate) as err:
        actions.register_patient(acting=world.actor("village_doctor_b"), data=PatientInput(name="x", id_number=number))
    assert "existing_patient" not in err.value.details  # not visible: no pointer, a hint instead
    assert "break-the-glass" in str(err.value.message)


def test_only_clinicians_register_and_only_where_they_practise(world):
    with pytest.raises(NotFound):  # registering is not a coordinator's area at all
        actions.register_patient(acting=world.actor("coordinator"), data=PatientInput(name="x", id_number=_number()))
    with pytest.raises(ValidationFailed):
        actions.register_patient(acting=world.actor("village_doctor_b"), data=PatientInput(name="x", id_number=_number()),
                                 organisation_id=world.orgs["clinic_a"].pk)


def test_search_by_id_phone_name_only_within_visibility_and_audited(world):
    number = world.patients["patient_a_id_number"]
    pid = world.patients["patient_a"].pk
    doctor = world.actor("village_doctor_a")
    for q in (number, "13800000001", "陈桂", number.lower()):
        before = AuditEvent.objects.filter(patient_id=pid, action="patient.search").count()
        assert [p.pk for p in search_patients(doctor, q)] == [pid], q
        assert AuditEvent.objects.filter(patient_id=pid, action="patient.search").count() == before + 1
    assert search_patients(world.actor("outsider"), number) == []
    assert search_patients(doctor, "") == []
    assert search_patients(doctor, "61042419620314002") == []  # 17 digits: a name search finding nobody


def test_qr_token_reveals_nothing_and_can_be_revoked(world):
    pid = world.patients["patient_a"].pk
    doctor = world.actor("village_doctor_a")
    token = actions.issue_qr_token(acting=doctor, patient_id=pid)
    raw = token.token
    assert len(raw) >= 20 and world.patients["patient_a_id_number"][-6:] not in raw
    assert actions.find_by_qr(acting=doctor, token=raw).pk == pid
    with pytest.raises(NotFound):
        actions.find_by_qr(acting=world.actor("outsider"), token=raw)  # the code alone opens nothing
    second = actions.issue_qr_token(acting=world.actor("patient_a"), patient_id=pid)
    with pytest.raises(NotFound):
        actions.find_by_qr(acting=doctor, token=raw)  # replaced
    actions.revoke_qr_token(acting=doctor, patient_id=pid)
    with pytest.raises(NotFound):
        actions.find_by_qr(acting=doctor, token=second.token)
    with pytest.raises(Conflict):
        actions.revoke_qr_token(acting=doctor, patient_id=pid)


def test_consent_record_and_revoke(world):
    pid = world.patients["patient_a"].pk
    doctor = world.actor("village_doctor_a")
    c = actions.record_consent(acting=doctor, patient_id=pid, scope="share_records",
                               consortium_id=world.consortium.pk, valid_until=dt.date(2030, 1, 1))
    with pytest.raises(ValidationFailed):
        actions.record_consent(acting=doctor, patient_id=pid, scope="everything")
    with pytest.raises(NotFound):
        actions.record_consent(acting=world.actor("outsider"), patient_id=pid, scope="share_records")
    actions.revoke_consent(acting=doctor, patient_id=pid, consent_id=c.pk)
    with pytest.raises(Conflict):
        actions.revoke_consent(acting=doctor, patient_id=pid, consent_id=c.pk)


@pytest.mark.django_db(transaction=True)
def test_two_clinicians_registering_the_same_id_at_once_get_one_patient():
    """Real parallel connections; on SQLite the IMMEDIATE transactions serialise them."""
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections are exercised on PostgreSQL")
    from tests.world import build_world

    world = build_world()
    number = _number(seq=41)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def register(persona: str) -> None:
        try:
            actor = world.actor(persona)
            barrier.wait()
            actions.register_patient(acting=actor, data=PatientInput(name="并发", id_number=number))
            outcomes.append("created")
        except Duplicate:
            outcomes.append("duplicate")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register, args=(p,)) for p in ("village_doctor_a", "village_doctor_b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "duplicate"]
    assert Patient.objects.filter(name="并发").count() == 1
