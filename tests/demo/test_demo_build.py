"""The demo consortium: sizes, valid identities, personas and their relationships, privileges,
the audit chain, logins, and the refusal to build twice."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.db.models import Count, Sum
from django.test import RequestFactory

from medunion.access.actions import pending_reviews
from medunion.access.actor import actor_for
from medunion.access.loaders import access_patient
from medunion.access.policy import Action, can, relationship_to
from medunion.accounts.models import User
from medunion.audit.models import AuditEvent
from medunion.audit.verify import verify_chain
from medunion.cli import main
from medunion.core.errors import Conflict, NotFound
from medunion.demo.build import build_demo, database_is_empty
from medunion.demo.personas import LOGINS, PASSWORD, print_logins
from medunion.network.actions import LICENCE_RE
from medunion.network.codes import ConsortiumKind, RegionLevel, Tier, Title
from medunion.network.models import (
    Consortium,
    ConsortiumMembership,
    Department,
    Organisation,
    PracticeSite,
    Practitioner,
    Region,
    Team,
    TeamMember,
)
from medunion.network.queries import MISSING_HELP, privilege_status
from medunion.patients.actions import id_hash, phone_hash
from medunion.patients.identity import parse_resident_id
from medunion.patients.models import CareRole, CareTeamMember, Patient
from medunion.patients.queries import search_patients

from .conftest import HASHERS

pytestmark = pytest.mark.django_db

COUNTY = "610528000000"


def actor(username: str):
    return actor_for(User.objects.get(username=username))


def practitioner_of(username: str) -> Practitioner:
    return User.objects.get(username=username).practitioner


def test_regions_and_organisations(demo):
    county = Region.objects.get(pk=COUNTY)
    assert county.name == "富平县" and county.population == 810_000
    townships = Region.objects.filter(parent=county, level=RegionLevel.TOWNSHIP)
    assert townships.count() == 21
    assert townships.aggregate(n=Sum("population"))["n"] == 810_000
    for t in townships:
        assert len(t.code) == 12 and t.code.endswith("000") and t.code.startswith("610528")
        assert t.name.endswith(("镇", "乡", "街道")) and t.name_en
    villages = Region.objects.filter(level=RegionLevel.VILLAGE, code__startswith="610528")
    assert 300 <= villages.count() <= 400
    assert all(v.name.endswith("村") and v.parent_id[:9] == v.code[:9] for v in villages)
    assert len({v.name for v in villages}) == villages.count()

    tiers = Counter(Organisation.objects.values_list("tier", flat=True))
    assert tiers[Tier.VILLAGE_CLINIC] == villages.count()
    assert tiers[Tier.TOWNSHIP_CENTRE] == 21
    assert tiers[Tier.TERTIARY_HOSPITAL] == 1
    assert tiers[Tier.IMAGING_HUB] == tiers[Tier.PATHOLOGY_HUB] == tiers[Tier.ECG_HUB] == 1
    assert not Organisation.objects.filter(name_en="").exists()
    assert set(Organisation.objects.filter(tier=Tier.VILLAGE_CLINIC).values_list("region__level", flat=True)) \
        == {RegionLevel.VILLAGE}

    beds = Department.objects.filter(organisation__tier__in=[Tier.TERTIARY_HOSPITAL, Tier.COUNTY_HOSPITAL],
                                     beds__gt=0)
    assert beds.count() >= 20
    assert all(0 < d.green_channel_beds <= d.beds and d.green_channel_slots <= d.daily_slots for d in beds)


def test_consortia_and_memberships(demo):
    kinds = dict(Consortium.objects.values_list("kind", "lead__tier"))
    assert kinds == {ConsortiumKind.COUNTY_COMMUNITY: Tier.COUNTY_HOSPITAL,
                     ConsortiumKind.SPECIALIST_ALLIANCE: Tier.TERTIARY_HOSPITAL,
                     ConsortiumKind.TELEMEDICINE: Tier.TERTIARY_HOSPITAL}
    community = Consortium.objects.get(kind=ConsortiumKind.COUNTY_COMMUNITY)
    members = set(ConsortiumMembership.objects.filter(consortium=community).values_list("organisation_id", flat=True))
    county_orgs = set(Organisation.objects.filter(region__code__startswith="610528").values_list("pk", flat=True))
    assert county_orgs <= members
    assert Organisation.objects.get(tier=Tier.TERTIARY_HOSPITAL).pk in members
    several = Organisation.objects.annotate(n=Count("memberships")).filter(n__gte=2)
    assert several.filter(tier=Tier.TERTIARY_HOSPITAL).exists()
    assert several.filter(tier=Tier.IMAGING_HUB).exists()
    assert several.filter(tier=Tier.TOWNSHIP_CENTRE).count() == 21


def test_practitioners(demo):
    village_doctors = Practitioner.objects.filter(title=Title.VILLAGE_DOCTOR)
    assert 1200 <= village_doctors.count() <= 1400
    assert not village_doctors.exclude(specialties__specialty="general_practice").exists()
    per_clinic = Counter(PracticeSite.objects.filter(organisation__tier=Tier.VILLAGE_CLINIC)
                         .values_list("organisation_id", flat=True))
    assert min(per_clinic.values()) >= 3 and max(per_clinic.values()) <= 5

    specialists = Practitioner.objects.filter(sites__primary=True).exclude(
        sites__organisation__tier__in=[Tier.VILLAGE_CLINIC, Tier.TOWNSHIP_CENTRE])
    assert 230 <= specialists.count() <= 270
    titles = Counter(specialists.values_list("title", flat=True))
    assert all(titles[t] >= 10 for t in (Title.CHIEF, Title.ASSOCIATE_CHIEF, Title.ATTENDING, Title.RESIDENT))
    specialties = set(specialists.values_list("specialties__specialty", flat=True))
    assert {"oncology", "breast_surgery", "cardiology", "general_surgery", "obstetrics_gynaecology",
            "paediatrics", "nephrology", "radiology", "pathology", "electrocardiology"} <= specialties
    assert Practitioner.objects.filter(sites__organisation__tier=Tier.TOWNSHIP_CENTRE).count() >= 21

    licences = list(Practitioner.objects.values_list("licence_number", flat=True))
    assert len(set(licences)) == len(licences)
    assert all(LICENCE_RE.match(n) for n in licences)
    two_sites = Practitioner.objects.annotate(n=Count("sites")).filter(n__gte=2)
    assert two_sites.count() >= 10


def test_teams(demo):
    family = Team.objects.filter(kind="family_doctor")
    assert family.count() >= 21
    assert set(family.values_list("organisation__tier", flat=True)) == {Tier.TOWNSHIP_CENTRE}
    leads = TeamMember.objects.filter(team__in=family, role="lead")
    assert leads.count() == family.count()
    assert set(leads.values_list("practitioner__sites__organisation__tier", flat=True)) == {Tier.TOWNSHIP_CENTRE}
    # every village doctor is in exactly one family-doctor team
    counts = Counter(TeamMember.objects.filter(team__in=family, practitioner__title=Title.VILLAGE_DOCTOR)
                     .values_list("practitioner_id", flat=True))
    assert len(counts) == Practitioner.objects.filter(title=Title.VILLAGE_DOCTOR).count()
    assert set(counts.values()) == {1}

    breast_mdt = Team.objects.get(kind="mdt", specialty="breast_surgery")
    specialties = set(breast_mdt.members.values_list("practitioner__specialties__specialty", flat=True))
    assert {"breast_surgery", "oncology", "radiology", "pathology"} <= specialties
    assert breast_mdt.members.filter(practitioner=practitioner_of("breast")).exists()
    assert breast_mdt.consortium.kind == ConsortiumKind.SPECIALIST_ALLIANCE
    assert Team.objects.filter(kind="specialty").count() >= 10


def test_every_patient_has_a_valid_identity_and_care_team(demo):
    patients = list(Patient.objects.select_related("registered_at", "region"))
    assert len(patients) == 3000
    teams_of = {}
    for patient_id, role, practitioner_id, team_id in CareTeamMember.objects.values_list(
            "patient_id", "role", "practitioner_id", "team_id"):
        teams_of.setdefault(patient_id, {})[role] = practitioner_id or team_id
    team_members = set(TeamMember.objects.filter(team__kind="family_doctor").values_list("team_id", "practitioner_id"))
    for p in patients:
        rid = parse_resident_id(p.id_number)
        assert rid.number == p.id_number and p.id_number.startswith("610528")
        assert (rid.sex, rid.birth_date) == (p.sex, p.birth_date)
        assert p.id_number_hash == id_hash(p.id_number) and p.id_number_last4 == p.id_number[-4:]
        assert not p.phone or p.phone_hash == phone_hash(p.phone)
        assert p.region.level == RegionLevel.VILLAGE and p.registered_at.region_id == p.region_id
        assert p.registered_at.tier == Tier.VILLAGE_CLINIC
        care = teams_of[p.pk]
        assert care[CareRole.REGISTERING] == p.registered_by_id
        assert (care[CareRole.FAMILY_DOCTOR], p.registered_by_id) in team_members
    assert len({p.id_number for p in patients}) == 3000
    assert sum(1 for p in patients if p.phone) > 2500
    assert len({p.name for p in patients}) > 2000


def test_search_by_id_number_and_phone_as_the_village_doctor(demo):
    village = actor("village")
    patient = Patient.objects.get(pk=demo.demo_patient_id)
    assert patient.registered_by == practitioner_of("village")
    assert [p.pk for p in search_patients(village, patient.id_number)] == [patient.pk]
    assert patient.pk in [p.pk for p in search_patients(village, patient.phone)]
    elsewhere = Patient.objects.exclude(registered_at__in=village.org_ids).exclude(
        care_team__team_id__in=village.team_ids).first()
    assert search_patients(village, elsewhere.id_number) == []
    assert search_patients(actor("cardio"), elsewhere.id_number) == []
    # the cardiologist answers the demo patient's consultation, which puts them in the care team
    assert [p.pk for p in search_patients(actor("cardio"), patient.id_number)] == [patient.pk]


def test_persona_relationships(demo):
    patient = Patient.objects.get(pk=demo.demo_patient_id)
    assert relationship_to(actor("village"), patient.pk) == "care_team"
    assert relationship_to(actor("township"), patient.pk) == "care_team"  # through the family-doctor team
    assert relationship_to(actor("patient"), patient.pk) == "self"
    assert User.objects.get(username="patient").patient_id == patient.pk
    cardio = actor("cardio")
    assert relationship_to(cardio, patient.pk) == "care_team"  # through the consultation they answer
    stranger = Patient.objects.exclude(consults__isnull=False).exclude(registered_by=practitioner_of("cardio")).first()
    assert relationship_to(cardio, stranger.pk) is None and not can(cardio, Action.VIEW_PATIENT, stranger)
    with pytest.raises(NotFound):
        access_patient(cardio, stranger.pk)
    for persona in ("commission", "coordinator", "sysadmin", "secadmin", "auditadmin"):
        assert relationship_to(actor(persona), patient.pk) is None

    coordinator = actor("coordinator")
    assert set(coordinator.coordinated_ids) == {demo.consortia["community"], demo.consortia["alliance"]}
    assert User.objects.get(username="commission").region_id == COUNTY
    assert actor("breast").consortium_ids >= {demo.consortia["alliance"]}
    radiology = practitioner_of("radiology")
    assert radiology.sites.get(primary=True).organisation.tier == Tier.IMAGING_HUB
    assert practitioner_of("cardio").sites.get(primary=True).organisation.tier == Tier.TERTIARY_HOSPITAL


def test_privileges(demo):
    community, alliance = demo.consortia["community"], demo.consortia["alliance"]
    for persona in ("village", "township", "cardio", "breast", "radiology"):
        assert privilege_status(practitioner_of(persona).pk, community, "transfer_patients").granted, persona
    assert privilege_status(practitioner_of("breast").pk, alliance, "transfer_patients").granted
    assert can(actor("village"), Action.TRANSFER_PATIENTS, community)

    lacking = privilege_status(demo.missing_exam_practitioner_id, community, "transfer_patients")
    assert not lacking.granted and lacking.missing == ["exam"]
    assert lacking.explain() == [str(MISSING_HELP["exam"])]
    colleague = Practitioner.objects.get(pk=demo.missing_exam_practitioner_id)
    assert colleague.title == Title.VILLAGE_DOCTOR
    assert colleague.sites.get().organisation == practitioner_of("village").sites.get().organisation

    # Across the county, most village doctors hold the privilege and some lack a credential.
    sample = Practitioner.objects.filter(title=Title.VILLAGE_DOCTOR).order_by("licence_number")[:200]
    granted = Counter(privilege_status(p.pk, community, "transfer_patients").granted for p in sample)
    assert granted[True] > 100 and granted[False] > 10


def test_audit_chain_and_break_glass(demo):
    assert verify_chain().ok
    registrations = AuditEvent.objects.filter(action="patient.register")
    assert registrations.count() == 3000
    assert registrations.values("patient_id").distinct().count() == 3000
    assert AuditEvent.objects.filter(action="account.create").count() == len(LOGINS) + demo.counts["clinician accounts"]
    grants = pending_reviews(actor("coordinator"))
    assert len(grants) == 2
    assert {g.user.username for g in grants} == {"breast", "township"}
    assert all(len(g.reason) >= 10 for g in grants)


def test_persona_accounts_log_in_with_the_demo_password(demo, settings):
    settings.PASSWORD_HASHERS = HASHERS
    factory = RequestFactory()
    for username, _who, _try in LOGINS:
        user = authenticate(factory.post("/login"), username=username, password=PASSWORD)
        assert user is not None and user.username == username
        # the quick demo hash was replaced by the configured hasher's at this first login
        assert User.objects.get(username=username).password.startswith("md5$")
    assert authenticate(factory.post("/login"), username="village", password="wrong-password") is None


def test_print_logins(demo, settings):
    settings.MEDUNION_DEMO = True
    out = io.StringIO()
    print_logins(out)
    text = out.getvalue()
    for username, _who, _try in LOGINS:
        assert f"\n{username} " in text
    assert PASSWORD in text and "http://127.0.0.1:8000" in text and "second factor" in text
    assert Practitioner.objects.get(pk=demo.missing_exam_practitioner_id).name in text


def test_the_demo_needs_a_demo_deployment(demo, capsys, settings):
    """Its accounts share a published password: never on a deployment that did not ask for it."""
    settings.MEDUNION_DEMO = settings.DEBUG = False
    assert main(["demo", "--quiet"]) == 2
    assert "MEDUNION_DEMO=1" in capsys.readouterr().err


def test_building_twice_refuses(demo, capsys, settings):
    settings.MEDUNION_DEMO = True
    before = (Organisation.objects.count(), Patient.objects.count(), User.objects.count())
    assert not database_is_empty()
    assert main(["demo", "--quiet"]) == 0
    assert "holds data already" in capsys.readouterr().out
    with pytest.raises(Conflict):
        build_demo(seed=1)
    assert (Organisation.objects.count(), Patient.objects.count(), User.objects.count()) == before


def test_consultations_to_look_at(demo):
    """The demo's cases were made through the actions: the cardiologist's queues hold a fresh
    pool case, an overdue one and the demo patient's answered case; the patient sees only the
    patient conversation of theirs; the coordinator's figures count the closed month."""
    from medunion.access.loaders import access_consult
    from medunion.consults.models import Audience, Consult
    from medunion.consults.queries import case_view, consult_figures, overdue_consults_for_coordinator, queue

    users = {u.username: u for u in User.objects.filter(username__in=["village", "cardio", "patient", "coordinator"])}
    states = Counter(Consult.objects.values_list("state", flat=True))
    assert states["completed"] >= 20 and states["requested"] >= 2
    assert states["answered"] >= 1 and states["on_hold"] >= 1 and states["in_progress"] >= 1

    cardio = actor_for(users["cardio"])
    assert queue(cardio, "pool").filter(state="requested").count() >= 2
    assert queue(cardio, "overdue").exists()
    assert queue(cardio, "mine").filter(state="in_progress").exists()
    village = actor_for(users["village"])
    assert queue(village, "waiting").filter(state__in=["answered", "on_hold"]).count() >= 2

    patient = actor_for(users["patient"])
    mine = Consult.objects.get(patient_id=demo.demo_patient_id, state="answered")
    view = case_view(patient, access_consult(patient, mine.pk))
    assert view.consult is None and not view.answers
    assert view.messages and {m.audience for m in view.messages} == {Audience.PATIENT}

    coordinator = actor_for(users["coordinator"])
    figures = consult_figures(coordinator)
    assert figures["by_state"]["completed"] == states["completed"]
    assert figures["answered"] >= 25 and figures["on_time"] >= 20 and figures["overdue"] >= 1
    assert overdue_consults_for_coordinator(coordinator)
    assert verify_chain().ok
