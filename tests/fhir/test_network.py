"""The network over FHIR: Organization (and consortia), Location, Practitioner, PractitionerRole,
network CareTeams. Scoped by the policy; what is not visible is a 404."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.access.actor import system_actor
from medunion.network import actions as net
from tests.fhir.conftest import get, ids, validate

ORG_TYPE = "https://medunion.invalid/fhir/CodeSystem/organization-type"
SPECIALTY = "https://medunion.invalid/fhir/CodeSystem/specialty"


def _search(client, path, **params):
    status, body, _r = get(client, path, **params)
    assert status == 200, body
    validate(body)
    return body


def test_organization_read_maps_tier_parent_and_address(world, client_for):
    system = system_actor("tests")
    child = net.create_organisation(acting=system, consortium_id=world.consortium.pk, code="W002",
                                    name="城关镇卫生院分院", tier="township_centre", region_code="610424100000",
                                    parent_id=world.orgs["township"].pk, name_en="Chengguan branch")
    status, body, _r = get(client_for("cardiologist_tertiary"), f"Organization/{child.pk}")
    assert status == 200
    validate(body)
    assert body["identifier"] == [{"system": "urn:medunion:organisation-code", "value": "W002"}]
    assert body["type"][0]["coding"][0] == {"system": ORG_TYPE, "code": "township_centre",
                                            "display": "township health centre"}
    assert body["alias"] == ["Chengguan branch"]
    assert body["partOf"]["reference"] == f"Organization/{world.orgs['township'].pk}"
    assert body["address"][0]["text"] == "陕西省咸阳市乾县城关街道" and body["active"] is True


def test_consortium_is_an_organization_of_type_consortium(world, client_for):
    c = client_for("village_doctor_a")
    status, body, _r = get(c, f"Organization/{world.consortium.pk}")
    assert status == 200
    validate(body)
    assert body["type"][0]["coding"][0]["code"] == "consortium"
    assert body["identifier"][0] == {"system": "urn:medunion:consortium-code", "value": "QX-YGT"}
    assert body["extension"][0]["valueReference"]["reference"] == f"Organization/{world.orgs['county'].pk}"
    bundle = _search(c, "Organization", type="consortium")
    assert ids(bundle) == [str(world.consortium.pk)]


def test_organization_search_is_scoped_and_filters(world, client_for):
    c = client_for("village_doctor_a")
    everything = _search(c, "Organization")
    mine = {str(o.pk) for k, o in world.orgs.items() if k != "other"} | {str(world.consortium.pk)}
    assert set(ids(everything)) == mine and everything["total"] == len(mine)
    assert str(world.orgs["other"].pk) not in ids(everything)
    assert ids(_search(c, "Organization", identifier="urn:medunion:organisation-code|V001")) == [
        str(world.orgs["clinic_a"].pk)]
    assert ids(_search(c, "Organization", identifier="urn:medunion:consortium-code|QX-YGT")) == [
        str(world.consortium.pk)]
    assert set(ids(_search(c, "Organization", type=f"{ORG_TYPE}|village_clinic"))) == {
        str(world.orgs["clinic_a"].pk), str(world.orgs["clinic_b"].pk)}
    assert ids(_search(c, "Organization", **{"name:contains": "影像"})) == [str(world.orgs["imaging_hub"].pk)]
    assert _search(c, "Organization", active="false")["total"] == 0
    assert _search(c, "Organization", partof=f"Organization/{world.orgs['county'].pk}")["total"] == 0


def test_organizations_of_another_consortium_are_404(world, client_for):
    outsider = client_for("outsider")
    for path in (f"Organization/{world.orgs['tertiary'].pk}", f"Organization/{world.consortium.pk}"):
        status, body, _r = get(outsider, path)
        assert status == 404 and body["issue"][0]["code"] == "not-found"
    assert ids(_search(outsider, "Organization")) and str(world.orgs["tertiary"].pk) not in ids(
        _search(outsider, "Organization"))


def test_organization_paging_crosses_from_organisations_to_consortia(world, client_for):
    c = client_for("village_doctor_a")
    seen = []
    for offset in range(0, 8, 3):
        bundle = _search(c, "Organization", _count="3", _offset=str(offset))
        assert bundle["total"] == 7
        seen += ids(bundle)
    assert len(seen) == len(set(seen)) == 7
    assert seen[-1] == str(world.consortium.pk)


def test_location_is_a_department_with_its_capacity(world, client_for):
    c = client_for("hub_radiologist")
    bundle = _search(c, "Location")
    assert bundle["total"] == 1
    loc = bundle["entry"][0]["resource"]
    capacity = {e["url"]: e["valueUnsignedInt"] for e in loc["extension"][0]["extension"]}
    assert capacity == {"beds": 40, "dailySlots": 60, "greenChannelBeds": 4, "greenChannelSlots": 6}
    assert loc["managingOrganization"]["reference"] == f"Organization/{world.orgs['tertiary'].pk}"
    assert "40 beds" in loc["description"]
    status, body, _r = get(c, f"Location/{loc['id']}")
    assert status == 200 and body == loc
    assert ids(_search(c, "Location", type=f"{SPECIALTY}|cardiology")) == [loc["id"]]
    assert _search(c, "Location", organization=str(world.orgs["county"].pk))["total"] == 0
    assert get(client_for("outsider"), f"Location/{loc['id']}")[0] == 404


def test_practitioner_read_with_licence_and_name_split(world, extra, client_for):
    pid = world.users["cardiologist_tertiary"].practitioner_id
    status, body, _r = get(client_for("village_doctor_a"), f"Practitioner/{pid}")
    assert status == 200
    validate(body)
    assert body["name"][0] == {"use": "official", "text": "王建生", "family": "王", "given": ["建生"]}
    assert body["identifier"] == [{"system": "urn:medunion:practitioner-licence", "value": "110610000000001"}]
    title, licence = body["qualification"]
    assert title["code"]["coding"][0]["code"] == "chief"
    assert licence["period"] == {"start": "2010-01-01", "end": "2030-12-31"}
    assert licence["identifier"][0]["value"] == "110610000000001"
    assert get(client_for("outsider"), f"Practitioner/{pid}")[0] == 404


def test_practitioner_search(world, extra, client_for):
    c = client_for("village_doctor_a")
    everyone = _search(c, "Practitioner")
    assert everyone["total"] == 4  # the outsider practises in the other consortium
    pid = str(world.users["cardiologist_tertiary"].practitioner_id)
    assert ids(_search(c, "Practitioner", identifier="110610000000001")) == [pid]
    assert ids(_search(c, "Practitioner", name="王")) == [pid]
    assert _search(c, "Practitioner", active="true")["total"] == 4


def test_practitioner_role_per_practice_site(world, extra, client_for):
    c = client_for("village_doctor_a")
    pid = world.users["cardiologist_tertiary"].practitioner_id
    bundle = _search(c, "PractitionerRole", practitioner=f"Practitioner/{pid}")
    orgs = {e["resource"]["organization"]["reference"] for e in bundle["entry"]}
    assert orgs == {f"Organization/{world.orgs['tertiary'].pk}", f"Organization/{world.orgs['county'].pk}"}
    role = bundle["entry"][0]["resource"]
    assert role["specialty"][0]["coding"][0] == {"system": SPECIALTY, "code": "cardiology", "display": "cardiology"}
    assert role["code"][0]["coding"][0]["code"] == "chief"
    assert ids(_search(c, "PractitionerRole", specialty="radiology")) == [
        str(world.users["hub_radiologist"].practitioner.sites.get().pk)]
    at_county = _search(c, "PractitionerRole", organization=str(world.orgs["county"].pk))
    assert ids(at_county) == [str(extra.second_site.pk)]
    status, body, _r = get(c, f"PractitionerRole/{extra.second_site.pk}")
    assert status == 200 and body["id"] == str(extra.second_site.pk)
    assert get(client_for("outsider"), f"PractitionerRole/{extra.second_site.pk}")[0] == 404


def test_network_care_team_with_participants(world, extra, client_for):
    c = client_for("cardiologist_tertiary")
    status, body, _r = get(c, f"CareTeam/{extra.team.pk}")
    assert status == 200
    validate(body)
    assert body["category"][0]["coding"][0]["code"] == "mdt"
    assert [(p["role"][0]["coding"][0]["code"], p["member"]["display"]) for p in body["participant"]] == [
        ("lead", "王建生"), ("member", "张卫国")]
    assert body["managingOrganization"][0]["reference"] == f"Organization/{world.consortium.pk}"
    village_a = world.users["village_doctor_a"].practitioner_id
    assert ids(_search(c, "CareTeam", participant=f"Practitioner/{village_a}")) == [str(extra.team.pk)]
    assert ids(_search(c, "CareTeam", category="mdt")) == [str(extra.team.pk)]
    assert _search(c, "CareTeam", category="family_doctor")["total"] == 0
    assert _search(c, "CareTeam", status="inactive")["total"] == 0
    assert ids(_search(c, "CareTeam", _id=str(extra.team.pk))) == [str(extra.team.pk)]
    assert get(client_for("outsider"), f"CareTeam/{extra.team.pk}")[0] == 404
    assert _search(client_for("outsider"), "CareTeam")["total"] == 0


@pytest.mark.parametrize("resource", ["Organization", "Location", "Practitioner", "PractitionerRole", "CareTeam"])
def test_network_reads_of_unknown_or_malformed_ids_are_404(world, client_for, resource):
    c = client_for("coordinator")
    for rid in (str(uuid.uuid4()), "nope"):
        status, body, _r = get(c, f"{resource}/{rid}")
        assert status == 404
        validate(body)


def _grow_network(world, n, start=0):
    system = system_actor("tests")
    for i in range(start, start + n):
        org = net.create_organisation(acting=system, consortium_id=world.consortium.pk, code=f"G{i:03d}",
                                      name=f"新卫生室{i}", tier="village_clinic", region_code="610424100201",
                                      parent_id=world.orgs["township"].pk)
        net.save_department(acting=system, organisation_id=org.pk, code="GP", name="全科", specialty="general_practice",
                            beds=2, daily_slots=10)
        p = net.create_practitioner(acting=system, name=f"周{i}", title="village_doctor", licence_number=f"VX{i:08d}",
                                    organisation_id=org.pk, specialties=["general_practice", "tcm"])
        net.record_licence(acting=system, practitioner_id=p.pk, number=f"VX{i:08d}", valid_from="2020-01-01")
        team = net.create_team(acting=system, consortium_id=world.consortium.pk, name=f"家医团队{i}",
                               kind="family_doctor", organisation_id=org.pk)
        net.set_team_member(acting=system, team_id=team.pk, practitioner_id=p.pk, role="lead")


@pytest.mark.parametrize("resource", ["Organization", "Location", "Practitioner", "PractitionerRole", "CareTeam"])
def test_network_search_query_count_does_not_grow(world, client_for, resource):
    c = client_for("coordinator")
    _grow_network(world, 1)  # at least one of each, so that every prefetch runs in both rounds
    _search(c, resource)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            body = _search(c, resource, _count="100")
        return len(ctx.captured_queries), body["total"]

    few, small = queries()
    _grow_network(world, 8, start=1)
    many, large = queries()
    assert large >= small + 8
    assert many == few, resource
