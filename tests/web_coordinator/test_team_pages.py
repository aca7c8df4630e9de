"""Teams: the list, creating one, adding members, changing roles, removing members."""

from __future__ import annotations

from medunion.network.models import Team, TeamMember

from .helpers import make_team, practitioner_id, url


def test_create_a_team_and_see_it_listed(world, coord):
    response = coord.post(url("teams"), {"consortium": str(world.consortium.pk), "name": "东村家庭医生团队",
                                         "kind": "family_doctor", "specialty": "general_practice",
                                         "organisation": str(world.orgs["clinic_a"].pk)})
    assert response.status_code == 302
    team = Team.objects.get(name="东村家庭医生团队")
    assert response["Location"] == url("team", team.pk)
    assert (team.kind, team.organisation, team.consortium) == ("family_doctor", world.orgs["clinic_a"],
                                                              world.consortium)
    make_team(world, "胸痛 MDT", "mdt")
    listing = coord.get(url("teams")).content.decode()
    assert "东村家庭医生团队" in listing and "family-doctor team" in listing and "胸痛 MDT" in listing
    only_mdt = coord.get(url("teams"), {"kind": "mdt"}).content.decode()
    assert "胸痛 MDT" in only_mdt and "东村家庭医生团队" not in only_mdt


def test_create_team_form_errors(world, coord):
    response = coord.post(url("teams"), {"consortium": str(world.consortium.pk), "name": " ", "kind": "gang"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "This field is required" in html and "Select a valid choice" in html
    response = coord.post(url("teams"), {"consortium": str(world.other_consortium.pk), "name": "x",
                                         "kind": "mdt"})
    assert response.status_code == 422
    assert not Team.objects.exists()


def test_members_add_search_role_and_remove(world, coord):
    team = make_team(world)
    page = url("team", team.pk)
    found = coord.get(page, {"q": "王建"}).content.decode()
    assert "王建生" in found and "Add 王建生" in found
    assert "孙立" not in coord.get(page, {"q": "孙"}).content.decode()  # another consortium's practitioner
    cardiologist, radiologist = practitioner_id(world, "cardiologist_tertiary"), practitioner_id(world,
                                                                                                "hub_radiologist")
    assert coord.post(page, {"op": "add", "practitioner": str(cardiologist), "role": "lead"}).status_code == 302
    assert coord.post(page, {"op": "add", "practitioner": str(radiologist), "role": "member"}).status_code == 302
    html = coord.get(page).content.decode()
    assert html.index("王建生") < html.index("赵明")  # the lead first
    assert "Add 王建生" not in coord.get(page, {"q": "王建"}).content.decode()  # already a member
    assert coord.post(page, {"op": "role", "practitioner": str(radiologist), "role": "lead"}).status_code == 302
    assert TeamMember.objects.get(team=team, practitioner_id=radiologist).role == "lead"
    assert coord.post(page, {"op": "remove", "practitioner": str(cardiologist)}).status_code == 302
    assert list(TeamMember.objects.filter(team=team).values_list("practitioner_id", flat=True)) == [radiologist]
    listing = coord.get(url("teams")).content.decode()
    assert "赵明" in listing  # shown as the lead


def test_the_search_answers_htmx_with_a_fragment(world, coord):
    team = make_team(world)
    response = coord.get(url("team", team.pk), {"q": "赵"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<div id="team-search"') and "赵明" in html
    assert "<html" not in html


def test_member_errors(world, coord):
    team = make_team(world)
    page = url("team", team.pk)
    vd = practitioner_id(world, "village_doctor_a")
    response = coord.post(page, {"op": "remove", "practitioner": str(vd)})
    assert response.status_code == 422 and "not a member of the team" in response.content.decode()
    response = coord.post(page, {"op": "add", "practitioner": str(vd), "role": "boss"})
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    response = coord.post(page, {"op": "add", "practitioner": "nope", "role": "member"})
    assert response.status_code == 422
    # Someone the coordinator cannot see is not found, and nothing is written.
    outsider = practitioner_id(world, "outsider")
    assert coord.post(page, {"op": "add", "practitioner": str(outsider), "role": "member"}).status_code == 404
    assert not TeamMember.objects.filter(team=team).exists()
