"""Coordinators manage their own consortium's network in the back office, through the actions."""

from __future__ import annotations

from html import unescape

from medunion.network.models import ConsortiumMembership, Department, Organisation, Team, TeamMember
from tests.admin.helpers import admin_url, events_since, form_data, inline_management, last_seq
from tests.web_coordinator.helpers import other_coordinator


def _names(response) -> set[str]:
    return {str(o) for o in response.context["cl"].result_list}


def test_a_coordinator_sees_only_their_consortium_s_organisations_and_practitioners(world, client_for):
    c = client_for("coordinator")
    orgs = _names(c.get(admin_url("network.organisation")))
    assert "乾县人民医院" in orgs and "东村卫生室" in orgs
    assert "外县人民医院" not in orgs
    people = _names(c.get(admin_url("network.practitioner")))
    assert "张卫国" in people and "王建生" in people
    assert "孙立" not in people  # the outsider practises in the other consortium
    # Another consortium's records answer like records that do not exist.
    other = world.orgs["other"]
    assert c.get(admin_url("network.organisation", "change", other.pk)).status_code == 404
    assert c.post(admin_url("network.organisation", "change", other.pk), {"name": "x"}).status_code == 404
    outsider = world.users["outsider"].practitioner_id
    assert c.get(admin_url("network.practitioner", "change", outsider)).status_code == 404
    assert c.get(admin_url("network.organisation", "change", "not-a-uuid")).status_code == 404


def test_the_other_consortium_s_coordinator_sees_the_mirror_image(world, client_for):
    other_coordinator(world)
    c = client_for("coordinator_other")
    assert _names(c.get(admin_url("network.organisation"))) == {"外县人民医院"}
    assert _names(c.get(admin_url("network.practitioner"))) == {"孙立"}
    assert c.get(admin_url("network.organisation", "change", world.orgs["county"].pk)).status_code == 404


def test_the_security_administrator_views_the_network_but_cannot_change_it(world, client_for):
    c = client_for("secadmin")
    county = world.orgs["county"]
    assert c.get(admin_url("network.organisation", "change", county.pk)).status_code == 200
    assert c.post(admin_url("network.organisation", "change", county.pk), {"name": "x"}).status_code == 403
    assert Organisation.objects.get(pk=county.pk).name == "乾县人民医院"


def test_adding_an_organisation_goes_through_the_action(world, client_for):
    c = client_for("coordinator")
    before = last_seq()
    r = c.post(admin_url("network.organisation", "add"), {
        "consortium": str(world.consortium.pk), "code": "V003", "name": "南村卫生室", "tier": "village_clinic",
        "region": "610424100202", "parent": str(world.orgs["township"].pk), **inline_management("departments", 0, 0)})
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
    org = Organisation.objects.get(code="V003")
    assert org.parent_id == world.orgs["township"].pk
    assert ConsortiumMembership.objects.filter(consortium=world.consortium, organisation=org).exists()
    assert r["Location"] == admin_url("network.organisation")
    [event] = events_since(before)
    assert (event.action, event.surface, event.object_id, event.actor_display) == (
        "network.organisation.create", "admin", str(org.pk), "刘协调")


def test_a_coordinator_cannot_add_an_organisation_to_another_consortium(world, client_for):
    before = last_seq()
    r = client_for("coordinator").post(admin_url("network.organisation", "add"), {
        "consortium": str(world.other_consortium.pk), "code": "V009", "name": "别处卫生室", "tier": "village_clinic",
        "region": "610424100202", **inline_management("departments", 0, 0)})
    assert r.status_code == 200 and "consortium" in r.context["adminform"].form.errors
    assert not Organisation.objects.filter(code="V009").exists() and not events_since(before)


def test_a_duplicate_code_is_refused_with_the_action_s_message_and_nothing_written(world, client_for):
    before = last_seq()
    r = client_for("coordinator").post(admin_url("network.organisation", "add"), {
        "consortium": str(world.consortium.pk), "code": "V001", "name": "重复", "tier": "village_clinic",
        "region": "610424100202", **inline_management("departments", 0, 0)})
    assert r.status_code == 200
    assert r.context["adminform"].form.errors["code"] == ["An organisation with this code exists already."]
    assert Organisation.objects.filter(code="V001").count() == 1 and not events_since(before)


def test_creating_an_organisation_with_departments_writes_all_or_nothing(world, client_for):
    c = client_for("coordinator")
    base = {"consortium": str(world.consortium.pk), "code": "W002", "name": "新城镇卫生院", "tier": "township_centre",
            "region": "610424100000", **inline_management("departments", 1, 0),
            "departments-0-code": "IM", "departments-0-name": "内科", "departments-0-beds": "10",
            "departments-0-daily_slots": "20", "departments-0-green_channel_beds": "12",
            "departments-0-green_channel_slots": "0"}
    before = last_seq()
    r = c.post(admin_url("network.organisation", "add"), base)
    assert r.status_code == 200
    formset = r.context["inline_admin_formsets"][0].formset
    assert formset.forms[0].errors["green_channel_beds"] == ["Reserved beds cannot exceed the department's beds."]
    # The organisation the action had created is rolled back with the refused department.
    assert not Organisation.objects.filter(code="W002").exists() and not events_since(before)
    r = c.post(admin_url("network.organisation", "add"), base | {"departments-0-green_channel_beds": "2"})
    assert r.status_code == 302
    dept = Department.objects.get(organisation__code="W002", code="IM")
    assert (dept.beds, dept.green_channel_beds) == (10, 2)
    assert [e.action for e in events_since(before)] == ["network.organisation.create", "network.department.create"]


def test_department_capacity_is_edited_through_save_department(world, client_for):
    c = client_for("coordinator")
    tertiary = world.orgs["tertiary"]
    url = admin_url("network.organisation", "change", tertiary.pk)
    data = form_data(c.get(url))
    assert data["departments-0-beds"] == "40"
    before = last_seq()
    r = c.post(url, data | {"departments-0-green_channel_beds": "41"})
    assert r.status_code == 200
    form = r.context["inline_admin_formsets"][0].formset.forms[0]
    assert form.errors["green_channel_beds"] == ["Reserved beds cannot exceed the department's beds."]
    assert "Reserved beds cannot exceed the department's beds." in unescape(r.content.decode())
    assert Department.objects.get(organisation=tertiary, code="CARD").green_channel_beds == 4
    assert not events_since(before)

    r = c.post(url, data | {"departments-0-green_channel_beds": "8", "departments-0-beds": "50"})
    assert r.status_code == 302
    dept = Department.objects.get(organisation=tertiary, code="CARD")
    assert (dept.beds, dept.green_channel_beds) == (50, 8)
    [event] = events_since(before)
    assert (event.action, event.surface, event.object_id) == ("network.department.update", "admin", str(dept.pk))
    assert event.detail["beds"] == 50 and event.detail["green_channel_beds"] == 8


def test_a_department_s_code_cannot_be_changed_in_place(world, client_for):
    c = client_for("coordinator")
    url = admin_url("network.organisation", "change", world.orgs["tertiary"].pk)
    data = form_data(c.get(url))
    r = c.post(url, data | {"departments-0-code": "NEW", "departments-0-name": "心血管内科"})
    assert r.status_code == 302
    assert list(Department.objects.filter(organisation=world.orgs["tertiary"]).values_list("code", "name")) == [
        ("CARD", "心血管内科")]


def test_renaming_and_deactivating_an_organisation_is_one_audited_update(world, client_for):
    c = client_for("coordinator")
    clinic = world.orgs["clinic_b"]
    url = admin_url("network.organisation", "change", clinic.pk)
    data = form_data(c.get(url))
    before = last_seq()
    data.pop("active")
    r = c.post(url, data | {"name": "西村卫生所", "phone": "029-3550001"})
    assert r.status_code == 302
    clinic.refresh_from_db()
    assert (clinic.name, clinic.phone, clinic.active, clinic.code) == ("西村卫生所", "029-3550001", False, "V002")
    [event] = events_since(before)
    assert (event.action, event.surface) == ("network.organisation.update", "admin")
    assert event.detail == {"changed": {"name": "西村卫生所", "phone": "029-3550001", "active": False}}
    # Unchanged, nothing is written.
    r = c.post(url, form_data(c.get(url)))
    assert r.status_code == 302 and len(events_since(before)) == 1


def test_an_organisation_cannot_sit_under_its_own_unit(world, client_for):
    c = client_for("coordinator")
    township, clinic = world.orgs["township"], world.orgs["clinic_a"]
    Organisation.objects.filter(pk=clinic.pk).update(parent=township)
    url = admin_url("network.organisation", "change", township.pk)
    r = c.post(url, form_data(c.get(url)) | {"parent": str(clinic.pk)})
    assert r.status_code == 200
    assert r.context["adminform"].form.errors["parent"] == [
        "An organisation cannot sit under itself or one of its own units."]


def test_nothing_in_the_network_is_hard_deleted(world, client_for):
    c = client_for("coordinator")
    county = world.orgs["county"]
    assert c.get(admin_url("network.organisation", "delete", county.pk)).status_code == 403
    assert c.post(admin_url("network.organisation", "delete", county.pk), {"post": "yes"}).status_code == 403
    r = c.post(admin_url("network.organisation"), {"action": "delete_selected", "_selected_action": [str(county.pk)]})
    assert Organisation.objects.filter(pk=county.pk).exists()
    assert r.status_code in (200, 302)


def test_teams_and_their_members_through_the_actions(world, client_for):
    c = client_for("coordinator")
    before = last_seq()
    r = c.post(admin_url("network.team", "add"), {"consortium": str(world.consortium.pk), "name": "胸痛中心",
                                                    "kind": "mdt", "specialty": "cardiology"})
    assert r.status_code == 302
    team = Team.objects.get(name="胸痛中心")
    url = admin_url("network.team", "change", team.pk)
    data = form_data(c.get(url))
    doctor, cardiologist = (world.users[p].practitioner_id for p in ("village_doctor_a", "cardiologist_tertiary"))
    data |= inline_management("members", 2, 0) | {
        "members-0-practitioner": str(cardiologist), "members-0-role": "lead",
        "members-1-practitioner": str(doctor), "members-1-role": "member"}
    assert c.post(url, data).status_code == 302
    assert dict(TeamMember.objects.filter(team=team).values_list("practitioner_id", "role")) == {
        cardiologist: "lead", doctor: "member"}
    # Remove one member (remove_team_member) and rename the team (update_team) in one save.
    data = form_data(c.get(url))
    index = next(i for i in range(2) if data[f"members-{i}-id"] and
                 TeamMember.objects.get(pk=data[f"members-{i}-id"]).practitioner_id == doctor)
    r = c.post(url, data | {f"members-{index}-DELETE": "on", "name": "胸痛中心（县域）"})
    assert r.status_code == 302
    assert list(TeamMember.objects.filter(team=team).values_list("practitioner_id", flat=True)) == [cardiologist]
    assert Team.objects.get(pk=team.pk).name == "胸痛中心（县域）"
    assert [(e.action, e.surface) for e in events_since(before)] == [
        ("network.team.create", "admin"), ("network.team_member.set", "admin"), ("network.team_member.set", "admin"),
        ("network.team.update", "admin"), ("network.team_member.remove", "admin")]


def test_a_team_member_from_another_consortium_is_refused(world, client_for):
    c = client_for("coordinator")
    c.post(admin_url("network.team", "add"), {"consortium": str(world.consortium.pk), "name": "专科组", "kind": "specialty"})
    team = Team.objects.get(name="专科组")
    url = admin_url("network.team", "change", team.pk)
    data = form_data(c.get(url)) | inline_management("members", 1, 0) | {
        "members-0-practitioner": str(world.users["outsider"].practitioner_id), "members-0-role": "member"}
    r = c.post(url, data)
    assert r.status_code == 200 and not TeamMember.objects.filter(team=team).exists()


def test_autocomplete_offers_only_what_the_coordinator_may_use(world, client_for):
    c = client_for("coordinator")

    def names(model: str, field: str, term: str) -> set[str]:
        r = c.get("/admin/autocomplete/", {"app_label": "network", "model_name": model, "field_name": field,
                                           "term": term})
        assert r.status_code == 200
        return {row["text"] for row in r.json()["results"]}

    assert names("teammember", "practitioner", "孙") == set()
    assert names("teammember", "practitioner", "张") == {"张卫国"}
    assert names("team", "organisation", "外县") == set()
    assert "乾县人民医院" in names("team", "organisation", "乾县")
    assert "乾县" in names("organisation", "region", "乾")
    # Someone without the back office gets nothing at all.
    r = client_for("village_doctor_a").get("/admin/autocomplete/", {
        "app_label": "network", "model_name": "teammember", "field_name": "practitioner", "term": "张"})
    assert r.status_code == 404


def test_the_change_history_of_an_organisation_opens(world, client_for):
    c = client_for("coordinator")
    clinic = world.orgs["clinic_b"]
    url = admin_url("network.organisation", "change", clinic.pk)
    c.post(url, form_data(c.get(url)) | {"name": "西村卫生所"})
    r = c.get(admin_url("network.organisation", "history", clinic.pk))
    assert r.status_code == 200 and "Changed Name." in r.content.decode()
