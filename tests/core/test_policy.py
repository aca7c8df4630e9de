import datetime as dt

import pytest

from medunion.access.actions import break_glass, pending_reviews, review_break_glass
from medunion.access.loaders import access_patient
from medunion.access.policy import (
    Action,
    can,
    region_prefix,
    relationship_to,
    visible_audit,
    visible_patients,
)
from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, ValidationFailed
from medunion.network import actions as net
from medunion.network.models import TeamMember
from medunion.network.queries import privilege_status
from medunion.patients.actions import add_to_care_team


def test_relationships(world):
    p = world.patients["patient_a"]
    assert relationship_to(world.actor("village_doctor_a"), p.pk) == "care_team"
    assert relationship_to(world.actor("village_doctor_b"), p.pk) is None
    assert relationship_to(world.actor("patient_a"), p.pk) == "self"
    for persona in ("cardiologist_tertiary", "outsider", "coordinator", "commission_viewer", "sysadmin",
                    "secadmin", "auditadmin"):
        assert relationship_to(world.actor(persona), p.pk) is None, persona
        assert not visible_patients(world.actor(persona)).exists(), persona


def test_not_visible_is_404_and_audited_as_denied(world):
    p = world.patients["patient_a"]
    before = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        access_patient(world.actor("outsider"), p.pk)
    denied = AuditEvent.objects.order_by("-seq").first()
    assert AuditEvent.objects.count() == before + 1
    assert denied.outcome == "denied" and denied.patient_id == p.pk
    with pytest.raises(NotFound):  # a malformed id is simply not found
        access_patient(world.actor("outsider"), "not-a-uuid")


def test_one_audit_row_per_read(world):
    p = world.patients["patient_a"]
    before = AuditEvent.objects.filter(patient_id=p.pk).count()
    access_patient(world.actor("village_doctor_a"), p.pk)
    assert AuditEvent.objects.filter(patient_id=p.pk).count() == before + 1


def test_team_membership_gives_access_on_the_next_request(world):
    p = world.patients["patient_a"]
    system = __import__("medunion.access.actor", fromlist=["system_actor"]).system_actor("t")
    team = net.create_team(acting=system, consortium_id=world.consortium.pk, name="城关家庭医生团队",
                           kind="family_doctor")
    add_to_care_team(acting=world.actor("village_doctor_a"), patient_id=p.pk, role="family_doctor",
                     team_id=team.pk)
    assert relationship_to(world.actor("village_doctor_b"), p.pk) is None
    net.set_team_member(acting=world.actor("coordinator"), team_id=team.pk,
                        practitioner_id=world.users["village_doctor_b"].practitioner_id)
    assert relationship_to(world.actor("village_doctor_b"), p.pk) == "care_team"  # a fresh actor sees it
    TeamMember.objects.filter(team=team).delete()
    assert relationship_to(world.actor("village_doctor_b"), p.pk) is None


def test_break_glass_is_time_limited_reasoned_and_reviewed(world, settings):
    p = world.patients["patient_a"]
    doctor = world.actor("cardiologist_tertiary")
    with pytest.raises(ValidationFailed):
        break_glass(acting=doctor, patient_id=p.pk, reason="short")
    with pytest.raises(NotFound):  # not a coordinator's tool at all
        break_glass(acting=world.actor("coordinator"), patient_id=p.pk, reason="I would like to look, please")
    start = clock.now()
    with clock.frozen(start):
        grant = break_glass(acting=doctor, patient_id=p.pk, reason="Unconscious patient in the emergency room")
        read = access_patient(world.actor("cardiologist_tertiary"), p.pk)
        assert read.pk == p.pk
        row = AuditEvent.objects.order_by("-seq").first()
        assert row.purpose == "break_glass" and row.detail["relationship"] == "break_glass"
    with clock.frozen(start + dt.timedelta(minutes=settings.MEDUNION_BREAK_GLASS_MINUTES + 1)):
        with pytest.raises(NotFound):
            access_patient(world.actor("cardiologist_tertiary"), p.pk)
    coordinator = world.actor("coordinator")
    assert [g.pk for g in pending_reviews(coordinator)] == [grant.pk]
    with pytest.raises(NotFound):  # the other consortium's clinicians are not this coordinator's to review
        review_break_glass(acting=world.actor("outsider"), grant_id=grant.pk)
    review_break_glass(acting=coordinator, grant_id=grant.pk, note="justified")
    assert pending_reviews(coordinator) == []
    with pytest.raises(Conflict):
        review_break_glass(acting=coordinator, grant_id=grant.pk)


def test_privilege_needs_training_exam_and_licence_and_lapses(world):
    coordinator = world.actor("coordinator")
    pid = world.users["village_doctor_a"].practitioner_id
    cid = world.consortium.pk
    today = clock.today()
    assert privilege_status(pid, cid, "transfer_patients").missing == ["training", "exam", "licence"]
    net.record_training(acting=coordinator, practitioner_id=pid, consortium_id=cid, completed_on=today,
                        valid_until=today + dt.timedelta(days=365))
    net.record_exam(acting=coordinator, practitioner_id=pid, consortium_id=cid, taken_on=today, score=55)
    assert privilege_status(pid, cid, "transfer_patients").missing == ["exam", "licence"]
    net.record_exam(acting=coordinator, practitioner_id=pid, consortium_id=cid, taken_on=today, score=82)
    lic = net.record_licence(acting=coordinator, practitioner_id=pid, number="V610424000001",
                             valid_from=today - dt.timedelta(days=30))
    status = privilege_status(pid, cid, "transfer_patients")
    assert status.granted and status.missing == []
    assert can(world.actor("village_doctor_a"), Action.TRANSFER_PATIENTS, world.consortium)
    assert not can(world.actor("village_doctor_a"), Action.TRANSFER_PATIENTS, world.other_consortium)
    # the training lapses in a year
    assert privilege_status(pid, cid, "transfer_patients", on=today + dt.timedelta(days=366)).missing == ["training"]
    net.revoke_licence(acting=coordinator, licence_id=lic.pk, on=today)
    status = privilege_status(pid, cid, "transfer_patients")
    assert not status.granted and status.missing == ["licence"]
    assert any("licence" in m for m in status.explain())


def test_coordinator_manages_only_their_consortium(world):
    coordinator = world.actor("coordinator")
    with pytest.raises(NotFound):
        net.create_team(acting=coordinator, consortium_id=world.other_consortium.pk, name="x", kind="mdt")
    with pytest.raises(NotFound):
        net.save_department(acting=coordinator, organisation_id=world.orgs["other"].pk, code="A", name="A")
    assert can(coordinator, Action.MANAGE_NETWORK, world.orgs["county"])
    assert not can(coordinator, Action.MANAGE_NETWORK, world.orgs["other"])
    assert not can(world.actor("village_doctor_a"), Action.MANAGE_NETWORK, world.orgs["county"])


def test_separation_of_administrative_duties(world):
    sysadmin, secadmin, auditadmin = (world.actor(r) for r in ("sysadmin", "secadmin", "auditadmin"))
    assert can(sysadmin, Action.MANAGE_SETTINGS) and not can(sysadmin, Action.MANAGE_ACCOUNTS)
    assert not can(sysadmin, Action.SEARCH_AUDIT)
    assert can(secadmin, Action.MANAGE_ACCOUNTS) and not can(secadmin, Action.MANAGE_SETTINGS)
    assert not can(secadmin, Action.SEARCH_AUDIT) and not visible_audit(secadmin).exists()
    assert can(auditadmin, Action.EXPORT_AUDIT) and not can(auditadmin, Action.MANAGE_ACCOUNTS)
    assert not can(auditadmin, Action.MANAGE_SETTINGS)
    assert visible_audit(auditadmin).count() == AuditEvent.objects.count()
    for actor in (sysadmin, secadmin, auditadmin):
        assert not visible_patients(actor).exists()


def test_patient_sees_audit_about_themselves_only(world):
    me = world.actor("patient_a")
    rows = visible_audit(me)
    assert rows.exists()
    assert set(rows.values_list("patient_id", flat=True)) == {world.patients["patient_a"].pk}


@pytest.mark.parametrize("code, prefix", [("610000000000", "61"), ("610400000000", "6104"),
                                          ("610424000000", "610424"), ("610424100000", "610424100"),
                                          ("610424100201", "610424100201")])
def test_region_prefix(code, prefix):
    assert region_prefix(code) == prefix


def test_the_specialties_are_asked_once_per_actor_and_afresh_for_the_next(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from medunion.access.diagnostics import holds_senior_title, reader_modalities
    from medunion.access.policy import consult_pool_scope, practitioner_specialties
    from medunion.network.models import Practitioner, PractitionerSpecialty

    reader = world.actor("hub_radiologist")
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(3):
            assert practitioner_specialties(reader) == {"radiology"}
            assert "CT" in reader_modalities(reader)
            consult_pool_scope(reader)
            assert holds_senior_title(reader) is False
    asked = [q["sql"] for q in ctx.captured_queries]
    assert sum("network_practitionerspecialty" in sql for sql in asked) == 1, asked
    assert sum('FROM "network_practitioner"' in sql for sql in asked) == 1, asked
    assert reader_modalities(reader.via("api")) == reader_modalities(reader)  # a copy shares what was asked

    # A change counts from the next actor on (the next request): the policy's own rule.
    PractitionerSpecialty.objects.filter(practitioner_id=reader.practitioner_id).delete()
    Practitioner.objects.filter(pk=reader.practitioner_id).update(title="chief")
    assert "CT" in reader_modalities(reader) and holds_senior_title(reader) is False
    fresh = world.actor("hub_radiologist")
    assert reader_modalities(fresh) == frozenset() and practitioner_specialties(fresh) == frozenset()
    assert holds_senior_title(fresh) is True
    # Not part of who the actor is: the two compare equal and hash alike.
    assert fresh == reader and hash(fresh) == hash(reader)
