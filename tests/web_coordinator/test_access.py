"""Who may open the coordinator's pages: everyone else gets 404, like a page that does not exist."""

from __future__ import annotations

import pytest

from medunion.network.models import Department, Organisation, TeamMember, Training

from .helpers import make_team, other_coordinator, practitioner_id, url

NETWORK_PAGES = ["network", "organisation_new", "practitioners", "practitioner_new", "teams", "import",
                 "break_glass"]
OTHER_ROLES = ["village_doctor_a", "cardiologist_tertiary", "patient_a", "commission_viewer", "sysadmin",
               "secadmin"]


def _object_pages(world):
    team = make_team(world)
    return [url("organisation", world.orgs["tertiary"].pk),
            url("practitioner", practitioner_id(world, "village_doctor_a")),
            url("team", team.pk)]


@pytest.mark.parametrize("persona", OTHER_ROLES)
def test_other_roles_get_404_everywhere(world, client_for, persona):
    client = client_for(persona)
    for page in [url(name) for name in NETWORK_PAGES] + _object_pages(world) + [url("audit"), url("audit_export")]:
        assert client.get(page).status_code == 404, page
    assert client.post(url("audit_verify")).status_code == 404


def test_the_audit_administrator_opens_the_audit_pages_only(world, auditor):
    assert auditor.get(url("audit")).status_code == 200
    assert auditor.get(url("audit_export")).status_code == 200
    for page in [url(name) for name in NETWORK_PAGES] + _object_pages(world):
        assert auditor.get(page).status_code == 404, page


def test_a_coordinator_cannot_export_or_verify(world, coord):
    assert coord.get(url("audit_export")).status_code == 404
    assert coord.post(url("audit_verify")).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(world, client):
    for page in [url("network"), url("audit"), url("organisation", world.orgs["tertiary"].pk)]:
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response["Location"]


def test_another_consortiums_coordinator_sees_nothing_of_this_one(world, client_for):
    other_coordinator(world)
    client = client_for("coordinator_other")
    overview = client.get(url("network")).content.decode()
    assert world.other_consortium.name in overview and world.consortium.name not in overview
    for page in _object_pages(world):
        assert client.get(page).status_code == 404, page
    practitioners = client.get(url("practitioners")).content.decode()
    assert "孙立" in practitioners and "张卫国" not in practitioners


def test_another_consortiums_coordinator_cannot_write_here(world, client_for):
    other_coordinator(world)
    client = client_for("coordinator_other")
    tertiary = world.orgs["tertiary"]
    response = client.post(url("organisation", tertiary.pk), {
        "code": "NEW", "name": "新科室", "beds": 1, "daily_slots": 1, "green_channel_beds": 0,
        "green_channel_slots": 0})
    assert response.status_code == 404
    assert not Department.objects.filter(code="NEW").exists()
    vd = practitioner_id(world, "village_doctor_a")
    response = client.post(url("practitioner", vd), {
        "form": "training", "consortium": str(world.other_consortium.pk), "course": "referral",
        "completed_on": "2026-01-05"})
    assert response.status_code == 404
    assert not Training.objects.exists()
    team = make_team(world)
    response = client.post(url("team", team.pk), {"op": "add", "practitioner": str(vd), "role": "member"})
    assert response.status_code == 404
    assert not TeamMember.objects.filter(team=team).exists()
    # Nor add an organisation to a consortium they do not coordinate (the choice is refused).
    response = client.post(url("organisation_new"), {
        "consortium": str(world.consortium.pk), "code": "Z9", "name": "某卫生室", "tier": "village_clinic",
        "region": "610100000000"})
    assert response.status_code == 422
    assert not Organisation.objects.filter(code="Z9").exists()


def test_malformed_ids_are_404(world, coord):
    assert coord.get("/network/organisations/not-a-uuid").status_code == 404
    assert coord.get(url("organisation", "01a206f8-4501-7193-808b-000000000000")).status_code == 404
