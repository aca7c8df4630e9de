"""The network overview, organisation pages, departments, adding organisations."""

from __future__ import annotations

from medunion.audit.models import AuditEvent
from medunion.network.models import ConsortiumMembership, Department, Organisation

from .helpers import url


def test_overview_groups_members_by_tier_with_practitioner_counts(world, coord):
    html = coord.get(url("network")).content.decode()
    assert world.consortium.name in html and "county medical community" in html
    assert world.orgs["county"].name in html  # the lead
    # Tiers appear from the top of the referral pyramid down; the other consortium never.
    tertiary, county, clinic = html.index("tertiary hospital"), html.index(">county hospital"), \
        html.index("village clinic")
    assert tertiary < county < clinic
    assert "2 organisations" in html  # the two village clinics
    assert world.orgs["other"].name not in html
    clinic_a = world.orgs["clinic_a"]
    row = html[html.index(url("organisation", clinic_a.pk)):]
    assert f'?organisation={clinic_a.pk}">1</a>' in row[:600]  # 张卫国 practises there


def test_organisation_page_lists_departments_with_capacity(world, coord):
    html = coord.get(url("organisation", world.orgs["tertiary"].pk)).content.decode()
    assert "心内科" in html and "cardiology" in html
    for number in (">40<", ">60<", ">4<", ">6<"):
        assert number in html


def _dept(**overrides):
    data = {"code": "RESP", "name": "呼吸内科", "specialty": "respiratory", "beds": 30, "daily_slots": 50,
            "green_channel_beds": 3, "green_channel_slots": 5}
    data.update(overrides)
    return data


def test_add_then_edit_a_department(world, coord):
    org = world.orgs["tertiary"]
    response = coord.post(url("organisation", org.pk), _dept())
    assert response.status_code == 302
    dept = Department.objects.get(organisation=org, code="RESP")
    assert (dept.beds, dept.green_channel_slots) == (30, 5)
    assert AuditEvent.objects.filter(action="network.department.create", object_id=str(dept.pk)).exists()
    page = coord.get(url("organisation", org.pk) + "?edit=RESP").content.decode()
    assert "Edit department RESP" in page and 'value="30"' in page
    assert coord.post(url("organisation", org.pk), _dept(beds=35, green_channel_beds=5)).status_code == 302
    dept.refresh_from_db()
    assert (dept.beds, dept.green_channel_beds) == (35, 5)
    assert Department.objects.filter(organisation=org, code="RESP").count() == 1


def test_department_form_errors(world, coord):
    org = world.orgs["tertiary"]
    response = coord.post(url("organisation", org.pk), _dept(green_channel_beds=31))
    assert response.status_code == 422
    assert "Reserved beds cannot exceed" in response.content.decode()
    response = coord.post(url("organisation", org.pk), _dept(beds=-1, name=""))
    assert response.status_code == 422
    html = response.content.decode()
    assert "greater than or equal to 0" in html and "This field is required" in html
    assert not Department.objects.filter(code="RESP").exists()


def _org(world, **overrides):
    data = {"consortium": str(world.consortium.pk), "code": "V003", "name": "南村卫生室", "name_en": "",
            "tier": "village_clinic", "region": "610424100202", "parent": str(world.orgs["township"].pk)}
    data.update(overrides)
    return data


def test_add_an_organisation(world, coord):
    form = coord.get(url("organisation_new")).content.decode()
    assert "西村" in form and world.orgs["township"].name in form  # regions and parents to choose from
    response = coord.post(url("organisation_new"), _org(world))
    assert response.status_code == 302
    org = Organisation.objects.get(code="V003")
    assert response["Location"] == url("organisation", org.pk)
    assert org.parent == world.orgs["township"] and org.region_id == "610424100202"
    assert ConsortiumMembership.objects.filter(consortium=world.consortium, organisation=org).exists()
    assert org.name in coord.get(url("network")).content.decode()


def test_add_organisation_form_errors(world, coord):
    response = coord.post(url("organisation_new"), _org(world, code="V001"))  # taken
    assert response.status_code == 422
    assert "An organisation with this code exists already" in response.content.decode()
    response = coord.post(url("organisation_new"), _org(world, tier="castle", region="999999999999", name=""))
    assert response.status_code == 422
    html = response.content.decode()
    assert html.count("Select a valid choice") == 2 and "This field is required" in html
    response = coord.post(url("organisation_new"), _org(world, parent=str(world.orgs["other"].pk)))
    assert response.status_code == 422  # another consortium's organisation is not a choice
    assert not Organisation.objects.filter(code="V003").exists()
