"""The network API: readers by role, coordinators' writes within their consortia, problem+json."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from medunion.access.actor import system_actor
from medunion.accounts.actions import create_account
from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.network import actions as net
from medunion.network.models import Department, Organisation, Practitioner, Team, TeamMember
from tests.world import PASSWORD, World

BASE = "/api/v1/network"


# --- clients: a bearer token per persona, English messages ---------------------------------


class Api:
    def __init__(self, token: str | None):
        headers = {"accept-language": "en"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.client = Client(headers=headers)

    def get(self, path: str, **params: Any):
        return self.client.get(BASE + path, params)

    def send(self, method: str, path: str, body: Any = None, **headers: str):
        return getattr(self.client, method)(BASE + path, json.dumps(body) if body is not None else None,
                                            content_type="application/json", headers=headers)

    def post(self, path: str, body: Any = None, **headers: str):
        return self.send("post", path, body, **headers)

    def put(self, path: str, body: Any = None):
        return self.send("put", path, body)

    def delete(self, path: str):
        return self.send("delete", path)


def _token(username: str) -> str:
    response = Client().post("/api/v1/auth/token", {"username": username, "password": PASSWORD},
                             content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["access_token"]


@pytest.fixture(autouse=True)
def _no_second_factor(settings):
    settings.MEDUNION_REQUIRE_MFA = False


@pytest.fixture
def api(world: World):
    def make(persona: str) -> Api:
        return Api(_token(world.users[persona].username if persona in world.users else persona))

    return make


@pytest.fixture
def coord(api) -> Api:
    return api("coordinator")


def _other_coordinator(world: World) -> str:
    create_account(acting=system_actor("tests"), username="coordinator_other", password=PASSWORD, role="coordinator",
                   display_name="外县协调员", consortium_ids=[world.other_consortium.pk])
    return "coordinator_other"


def _problem(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def _codes(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["code"] for row in response.json()["items"]}


def _pid(world: World, persona: str):
    return world.users[persona].practitioner_id


CONSORTIUM_ORGS = {"T001", "C001", "W001", "V001", "V002", "H001"}


# --- who reads what ---------------------------------------------------------------------------

@pytest.mark.parametrize(("persona", "expected"), [
    ("village_doctor_a", CONSORTIUM_ORGS),
    ("coordinator", CONSORTIUM_ORGS),
    ("outsider", {"X001"}),
    ("commission_viewer", {"C001", "W001", "V001", "V002", "H001"}),  # the county and below
    ("secadmin", CONSORTIUM_ORGS | {"X001"}),
])
def test_organisations_by_reader(world, api, persona, expected):
    assert _codes(api(persona).get("/organisations")) == expected


@pytest.mark.parametrize("persona", ["patient_a", "sysadmin", "auditadmin"])
def test_the_network_does_not_exist_for_other_roles(world, api, persona):
    client = api(persona)
    for path in ("/organisations", "/practitioners", "/teams", "/consortia", "/regions",
                 f"/organisations/{world.orgs['county'].pk}"):
        assert _problem(client.get(path), 404)["code"] == "not_found"
    body = {"consortium_id": str(world.consortium.pk), "name": "x", "kind": "mdt"}
    assert _problem(client.post("/teams", body), 404)["code"] == "not_found"


def test_anonymous_gets_401(world):
    response = Api(None).get("/organisations")
    assert _problem(response, 401)["code"] == "not_authenticated"


def test_organisation_filters_and_pages(world, coord):
    assert _codes(coord.get("/organisations", tier="village_clinic")) == {"V001", "V002"}
    assert _codes(coord.get("/organisations", q="卫生室")) == {"V001", "V002"}
    assert _codes(coord.get("/organisations", region="610424100000")) == {"W001", "V001", "V002"}
    assert _codes(coord.get("/organisations", consortium=str(world.other_consortium.pk))) == set()
    page = coord.get("/organisations", page=2, page_size=4).json()
    assert page["count"] == 6 and len(page["items"]) == 2
    problem = _problem(coord.get("/organisations", tier="hospital"), 422)
    assert problem["code"] == "validation_failed" and "tier" in problem["errors"]
    problem = _problem(coord.get("/organisations", consortium="not-a-uuid"), 422)
    assert "consortium" in problem["errors"]


def test_organisation_detail_with_departments_and_capacity(world, api):
    tertiary = world.orgs["tertiary"]
    body = api("cardiologist_tertiary").get(f"/organisations/{tertiary.pk}").json()
    assert body["code"] == "T001" and body["region"]["code"] == "610100000000"
    assert [d["code"] for d in body["departments"]] == ["CARD"]
    assert body["capacity"] == {"beds": 40, "daily_slots": 60, "green_channel_beds": 4, "green_channel_slots": 6}
    assert [c["code"] for c in body["consortia"]] == ["QX-YGT"]
    assert body["n_practitioners"] == 1
    coord = api("coordinator")
    assert _problem(coord.get(f"/organisations/{world.orgs['other'].pk}"), 404)["code"] == "not_found"
    assert _problem(coord.get("/organisations/12345"), 404)["code"] == "not_found"


def test_consortia_by_reader(world, api):
    def codes(persona: str) -> set[str]:
        return _codes(api(persona).get("/consortia"))

    assert codes("village_doctor_a") == {"QX-YGT"}
    assert codes("outsider") == {"OTHER"}
    assert codes("coordinator") == {"QX-YGT"}
    assert codes("commission_viewer") == {"QX-YGT"}  # its lead hospital is in the county
    assert codes("secadmin") == {"QX-YGT", "OTHER"}
    detail = api("commission_viewer").get(f"/consortia/{world.consortium.pk}").json()
    assert detail["lead"]["code"] == "C001"
    # members outside the viewer's region are not shown
    assert {m["code"] for m in detail["members"]} == CONSORTIUM_ORGS - {"T001"}
    assert _problem(api("outsider").get(f"/consortia/{world.consortium.pk}"), 404)["code"] == "not_found"


def test_regions(world, coord):
    rows = coord.get("/regions", parent="610424100000").json()["items"]
    assert [r["code"] for r in rows] == ["610424100201", "610424100202"]
    assert rows[0]["parent_code"] == "610424100000" and rows[0]["level"] == 5
    assert {r["code"] for r in coord.get("/regions", level=2).json()["items"]} == {"610400000000", "610100000000"}
    assert "level" in _problem(coord.get("/regions", level=9), 422)["errors"]


# --- organisations and departments: writes ------------------------------------------------------

def _new_org(world: World, **overrides: Any) -> dict[str, Any]:
    body = {"consortium_id": str(world.consortium.pk), "code": "V003", "name": "南村卫生室",
            "tier": "village_clinic", "region_code": "610424100201", "parent_id": str(world.orgs["township"].pk)}
    body.update(overrides)
    return body


def test_coordinator_adds_an_organisation(world, coord):
    before = AuditEvent.objects.filter(action="network.organisation.create").count()
    response = coord.post("/organisations", _new_org(world))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "V003" and body["parent_id"] == str(world.orgs["township"].pk)
    assert [c["code"] for c in body["consortia"]] == ["QX-YGT"] and body["departments"] == []
    assert Organisation.objects.filter(code="V003", memberships__consortium=world.consortium).exists()
    assert AuditEvent.objects.filter(action="network.organisation.create").count() == before + 1
    problem = _problem(coord.post("/organisations", _new_org(world)), 409)
    assert problem["code"] == "duplicate" and problem["field"] == "code"


def test_organisation_validation_is_problem_json_with_field_errors(world, coord):
    problem = _problem(coord.post("/organisations", _new_org(world, code=" ", tier="castle", region_code="999")),
                       422)
    assert problem["code"] == "validation_failed"
    assert {"code", "tier", "region"} <= set(problem["errors"])
    problem = _problem(coord.post("/organisations", {"name": "x"}), 422)
    assert {"consortium_id", "code", "tier", "region_code"} <= set(problem["errors"])
    problem = _problem(coord.post("/organisations", _new_org(world, code="X" * 40)), 422)
    assert "code" in problem["errors"]
    assert not Organisation.objects.filter(name="南村卫生室").exists()


def test_organisation_writes_are_refused_outside_the_coordinators_consortia(world, api, coord):
    assert _problem(coord.post("/organisations", _new_org(world, consortium_id=str(world.other_consortium.pk))),
                    404)["code"] == "not_found"
    for persona in ("village_doctor_a", "commission_viewer", "secadmin"):  # they see the consortium
        assert _problem(api(persona).post("/organisations", _new_org(world)), 403)["code"] == "forbidden"
    assert not Organisation.objects.filter(code="V003").exists()


def test_departments_are_saved_and_validated(world, api, coord):
    county = world.orgs["county"]
    body = {"name": "急诊科", "specialty": "emergency", "beds": 20, "daily_slots": 100,
            "green_channel_beds": 5, "green_channel_slots": 10}
    response = coord.put(f"/organisations/{county.pk}/departments/EMER", body)
    assert response.status_code == 200, response.content
    assert response.json()["code"] == "EMER" and response.json()["green_channel_beds"] == 5
    response = coord.put(f"/organisations/{county.pk}/departments/EMER", {**body, "beds": 30})
    assert response.json()["beds"] == 30 and Department.objects.filter(organisation=county).count() == 1
    detail = coord.get(f"/organisations/{county.pk}").json()
    assert detail["capacity"]["beds"] == 30
    problem = _problem(coord.put(f"/organisations/{county.pk}/departments/EMER", {**body, "green_channel_beds": 99}),
                       422)
    assert "green_channel_beds" in problem["errors"]
    problem = _problem(coord.put(f"/organisations/{county.pk}/departments/EMER", {**body, "beds": -1}), 422)
    assert "beds" in problem["errors"]
    assert "specialty" in _problem(coord.put(f"/organisations/{county.pk}/departments/EMER",
                                             {**body, "specialty": "magic"}), 422)["errors"]
    assert _problem(api("cardiologist_tertiary").put(f"/organisations/{county.pk}/departments/EMER", body),
                    403)["code"] == "forbidden"
    assert _problem(coord.put(f"/organisations/{world.orgs['other'].pk}/departments/EMER", body), 404)
    assert Department.objects.get(organisation=county, code="EMER").beds == 30


# --- practitioners --------------------------------------------------------------------------------

def test_practitioner_search(world, coord):
    def names(**params: Any) -> list[str]:
        response = coord.get("/practitioners", **params)
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["items"]]

    assert set(names()) == {"张卫国", "李秀兰", "王建生", "赵明"}  # not the other consortium's 孙立
    assert names(q="V610424000002") == ["李秀兰"]
    assert names(specialty="cardiology") == ["王建生"]
    assert set(names(title="village_doctor")) == {"张卫国", "李秀兰"}
    assert names(organisation=str(world.orgs["imaging_hub"].pk)) == ["赵明"]
    row = coord.get("/practitioners", q="赵明").json()["items"][0]
    assert row["specialties"] == ["radiology"] and row["sites"][0]["organisation"]["code"] == "H001"
    assert "title" in _problem(coord.get("/practitioners", title="wizard"), 422)["errors"]


def _grant_referral_credentials(coord: Api, world: World, pid) -> str:
    today = clock.today()
    cid = str(world.consortium.pk)
    assert coord.post(f"/practitioners/{pid}/trainings",
                      {"consortium_id": cid, "completed_on": str(today)}).status_code == 201
    exam = coord.post(f"/practitioners/{pid}/exams", {"consortium_id": cid, "taken_on": str(today), "score": 85})
    assert exam.status_code == 201 and exam.json()["passed"] is True
    licence = coord.post(f"/practitioners/{pid}/licences",
                         {"number": "V610424000001", "valid_from": str(today - dt.timedelta(days=10))})
    assert licence.status_code == 201, licence.content
    return licence.json()["id"]


@pytest.mark.usefixtures("one_day")
def test_privileges_are_derived_and_explained(world, api, coord):
    pid = _pid(world, "village_doctor_a")
    before = coord.get(f"/practitioners/{pid}/privileges").json()
    assert [(p["privilege"], p["granted"]) for p in before] == [("transfer_patients", False)]
    assert [m["key"] for m in before[0]["missing"]] == ["training", "exam", "licence"]
    assert all(m["help"] for m in before[0]["missing"])
    licence_id = _grant_referral_credentials(coord, world, pid)
    after = coord.get(f"/practitioners/{pid}").json()
    assert after["privileges"][0]["granted"] is True and after["privileges"][0]["missing"] == []
    assert len(after["credentials"]["trainings"]) == 1 and after["credentials"]["exams"][0]["passed"]
    revoked = coord.post(f"/licences/{licence_id}/revoke", {"on": str(clock.today())})
    assert revoked.status_code == 200 and revoked.json()["revoked_on"] == str(clock.today())
    lapsed = api("village_doctor_a").get(f"/practitioners/{pid}/privileges").json()
    assert lapsed[0]["granted"] is False and [m["key"] for m in lapsed[0]["missing"]] == ["licence"]
    assert "licence" in lapsed[0]["missing"][0]["help"]


def test_credentials_are_shown_to_the_practitioner_and_their_coordinator_only(world, api, coord):
    pid = _pid(world, "village_doctor_a")
    _grant_referral_credentials(coord, world, pid)
    mine = api("village_doctor_a").get(f"/practitioners/{pid}").json()
    assert mine["credentials"]["exams"][0]["score"] in ("85.0", 85.0, "85")
    colleague = api("village_doctor_b").get(f"/practitioners/{pid}").json()
    assert colleague["credentials"] is None
    assert colleague["privileges"][0]["granted"] is True and colleague["privileges"][0]["missing"] is None
    assert colleague["sites"][0]["organisation"]["code"] == "V001"
    assert _problem(api("outsider").get(f"/practitioners/{pid}"), 404)["code"] == "not_found"


def test_practitioner_detail_lists_team_memberships(world, api, coord):
    team = net.create_team(acting=system_actor("tests"), consortium_id=world.consortium.pk, name="东村家庭医生团队",
                           kind="family_doctor")
    net.set_team_member(acting=system_actor("tests"), team_id=team.pk, practitioner_id=_pid(world, "village_doctor_a"),
                        role="lead")
    body = api("village_doctor_b").get(f"/practitioners/{_pid(world, 'village_doctor_a')}").json()
    assert [(t["team_name"], t["role"], t["consortium"]["code"]) for t in body["teams"]] == [
        ("东村家庭医生团队", "lead", "QX-YGT")]


def _new_practitioner(world: World, **overrides: Any) -> dict[str, Any]:
    body = {"organisation_id": str(world.orgs["township"].pk), "name": "周红", "title": "resident",
            "licence_number": "110610424000777", "specialties": ["general_practice"], "years_independent": 3,
            "gender": "female"}
    body.update(overrides)
    return body


def test_coordinator_adds_a_practitioner(world, api, coord):
    response = coord.post("/practitioners", _new_practitioner(world))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["specialties"] == ["general_practice"] and body["sites"][0]["organisation"]["code"] == "W001"
    assert body["sites"][0]["primary"] is True and body["credentials"] == {"trainings": [], "exams": [],
                                                                           "licences": []}
    assert AuditEvent.objects.filter(action="network.practitioner.create", object_id=body["id"]).count() == 1
    assert _problem(coord.post("/practitioners", _new_practitioner(world)), 409)["field"] == "licence_number"
    problem = _problem(coord.post("/practitioners", _new_practitioner(
        world, licence_number="12", title="wizard", specialties=["alchemy"], gender="x")), 422)
    assert {"licence_number", "title", "specialties", "gender"} <= set(problem["errors"])
    problem = _problem(coord.post("/practitioners", _new_practitioner(world, years_independent=99)), 422)
    assert "years_independent" in problem["errors"]
    card = Department.objects.get(code="CARD")
    problem = _problem(coord.post("/practitioners", _new_practitioner(world, licence_number="110610424000778",
                                                                      department_id=str(card.pk))), 422)
    assert "department" in problem["errors"]  # the department is at another organisation
    assert _problem(api("village_doctor_a").post("/practitioners", _new_practitioner(
        world, licence_number="110610424000779")), 403)["code"] == "forbidden"
    assert _problem(coord.post("/practitioners", _new_practitioner(
        world, licence_number="110610424000780", organisation_id=str(world.orgs["other"].pk))), 404)
    assert Practitioner.objects.filter(name="周红").count() == 1


def test_sites_and_credential_writes_are_scoped(world, api, coord):
    pid = _pid(world, "village_doctor_a")
    response = coord.post(f"/practitioners/{pid}/sites", {"organisation_id": str(world.orgs["township"].pk)})
    assert response.status_code == 201 and response.json()["organisation"]["code"] == "W001"
    assert response.json()["primary"] is False
    assert _problem(coord.post(f"/practitioners/{pid}/sites", {"organisation_id": str(world.orgs["other"].pk)}),
                    404)
    outsider = _pid(world, "outsider")
    for path, body in ((f"/practitioners/{outsider}/trainings",
                        {"consortium_id": str(world.consortium.pk), "completed_on": "2026-01-05"}),
                       (f"/practitioners/{outsider}/licences", {"number": "110610100000009", "valid_from": "2020-01-01"})):
        assert _problem(coord.post(path, body), 404)["code"] == "not_found"
    problem = _problem(coord.post(f"/practitioners/{pid}/exams", {"consortium_id": str(world.consortium.pk),
                                                                   "taken_on": "2026-01-05", "score": 101}), 422)
    assert "score" in problem["errors"]
    problem = _problem(coord.post(f"/practitioners/{pid}/licences", {
        "number": "V610424000001", "valid_from": "2026-01-05", "valid_until": "2025-01-05"}), 422)
    assert "valid_until" in problem["errors"]
    problem = _problem(coord.post(f"/practitioners/{pid}/trainings", {
        "consortium_id": str(world.consortium.pk), "completed_on": "05/01/2026"}), 422)
    assert "completed_on" in problem["errors"]
    assert _problem(api("village_doctor_b").post(f"/practitioners/{pid}/trainings", {
        "consortium_id": str(world.consortium.pk), "completed_on": "2026-01-05"}), 403)["code"] == "forbidden"


def test_revoking_another_consortiums_licence_is_404(world, api):
    other = _other_coordinator(world)
    lic = net.record_licence(acting=system_actor("tests"), practitioner_id=_pid(world, "village_doctor_a"),
                             number="V610424000001", valid_from=dt.date(2020, 1, 1))
    assert _problem(api(other).post(f"/licences/{lic.pk}/revoke", {"on": "2026-01-01"}), 404)
    assert _problem(api("coordinator").post("/licences/nope/revoke", {"on": "2026-01-01"}), 404)
    lic.refresh_from_db()
    assert lic.revoked_on is None


# --- teams --------------------------------------------------------------------------------------

def test_teams_create_members_roles_and_removal(world, api, coord):
    response = coord.post("/teams", {"consortium_id": str(world.consortium.pk), "name": "胸痛中心MDT",
                                     "kind": "mdt", "organisation_id": str(world.orgs["tertiary"].pk)})
    assert response.status_code == 201, response.content
    team = response.json()
    assert team["members"] == [] and team["organisation"]["code"] == "T001"
    cardiologist, radiologist = _pid(world, "cardiologist_tertiary"), _pid(world, "hub_radiologist")
    put = coord.put(f"/teams/{team['id']}/members/{cardiologist}", {"role": "lead"})
    assert put.status_code == 200 and put.json() == {
        "practitioner": {"id": str(cardiologist), "name": "王建生", "title": "chief"}, "role": "lead"}
    assert coord.put(f"/teams/{team['id']}/members/{radiologist}", {}).json()["role"] == "member"
    detail = api("hub_radiologist").get(f"/teams/{team['id']}").json()
    assert [(m["practitioner"]["name"], m["role"]) for m in detail["members"]] == [("王建生", "lead"),
                                                                                   ("赵明", "member")]
    assert detail["n_members"] == 2 and [p["name"] for p in detail["leads"]] == ["王建生"]
    assert "role" in _problem(coord.put(f"/teams/{team['id']}/members/{radiologist}", {"role": "boss"}),
                              422)["errors"]
    assert coord.delete(f"/teams/{team['id']}/members/{radiologist}").status_code == 204
    assert _problem(coord.delete(f"/teams/{team['id']}/members/{radiologist}"), 409)["code"] == "conflict"
    assert list(TeamMember.objects.filter(team_id=team["id"]).values_list("role", flat=True)) == ["lead"]
    assert AuditEvent.objects.filter(action__startswith="network.team_member.").count() == 3


def test_team_list_filters(world, coord):
    for name, kind in (("心内科专科组", "specialty"), ("胸痛MDT", "mdt")):
        net.create_team(acting=system_actor("tests"), consortium_id=world.consortium.pk, name=name, kind=kind)
    net.create_team(acting=system_actor("tests"), consortium_id=world.other_consortium.pk, name="外县MDT", kind="mdt")
    names = [t["name"] for t in coord.get("/teams").json()["items"]]
    assert sorted(names) == sorted(["心内科专科组", "胸痛MDT"])
    assert [t["name"] for t in coord.get("/teams", kind="mdt").json()["items"]] == ["胸痛MDT"]
    assert [t["name"] for t in coord.get("/teams", q="心内").json()["items"]] == ["心内科专科组"]
    assert "kind" in _problem(coord.get("/teams", kind="club"), 422)["errors"]


def test_team_writes_refused_for_readers_and_other_consortia(world, api, coord):
    team = net.create_team(acting=system_actor("tests"), consortium_id=world.consortium.pk, name="专科组",
                           kind="specialty")
    pid = _pid(world, "village_doctor_b")
    # a clinician of the consortium sees the team, but may not change it
    assert _problem(api("village_doctor_a").put(f"/teams/{team.pk}/members/{pid}", {"role": "member"}),
                    403)["code"] == "forbidden"
    assert _problem(api("village_doctor_a").delete(f"/teams/{team.pk}/members/{pid}"), 403)
    other = api(_other_coordinator(world))
    assert _problem(other.get(f"/teams/{team.pk}"), 404)
    assert _problem(other.put(f"/teams/{team.pk}/members/{pid}", {"role": "member"}), 404)
    # the other consortium's practitioner cannot be added here
    assert _problem(coord.put(f"/teams/{team.pk}/members/{_pid(world, 'outsider')}", {"role": "member"}), 404)
    assert _problem(coord.post("/teams", {"consortium_id": str(world.other_consortium.pk), "name": "x",
                                          "kind": "mdt"}), 404)
    problem = _problem(coord.post("/teams", {"consortium_id": str(world.consortium.pk), "name": " ", "kind": "x"}),
                       422)
    assert {"name", "kind"} <= set(problem["errors"])
    assert not TeamMember.objects.filter(team=team).exists()
    assert Team.objects.count() == 1


# --- query counts: lists do not grow with their rows --------------------------------------------

def _more_network(world: World, n: int) -> None:
    system = system_actor("tests")
    for i in range(n):
        org = net.create_organisation(acting=system, consortium_id=world.consortium.pk, code=f"N{i:03d}",
                                      name=f"新村卫生室{i}", tier="village_clinic", region_code="610424100201")
        p = net.create_practitioner(acting=system, name=f"医生{i}", title="village_doctor",
                                    licence_number=f"V6104249{i:05d}", organisation_id=org.pk,
                                    specialties=["general_practice", "tcm"])
        net.add_practice_site(acting=system, practitioner_id=p.pk, organisation_id=world.orgs["township"].pk)
        team = net.create_team(acting=system, consortium_id=world.consortium.pk, name=f"团队{i}", kind="family_doctor")
        net.set_team_member(acting=system, team_id=team.pk, practitioner_id=p.pk, role="lead")


@pytest.mark.parametrize(("path", "persona", "limit"), [
    # token + actor (1 for a coordinator, 3 for a clinician) + count + page + prefetches
    ("/organisations", "coordinator", 4),
    ("/organisations", "village_doctor_a", 6),
    ("/practitioners", "coordinator", 6),
    ("/practitioners", "commission_viewer", 5),
    ("/teams", "coordinator", 5),
    ("/consortia", "secadmin", 3),
    ("/regions", "coordinator", 4),
])
def test_list_query_counts_are_pinned(world, api, django_assert_max_num_queries, path, persona, limit):
    client = api(persona)
    _more_network(world, 12)
    client.get(path)  # the token's last-used stamp is written on the first request
    with django_assert_max_num_queries(limit):
        response = client.get(path, page_size=20)
    assert response.status_code == 200 and response.json()["count"] >= 1


# --- idempotent creates -----------------------------------------------------------------------

def test_a_retried_create_with_the_same_key_is_not_duplicated(world, coord):
    body = {"consortium_id": str(world.consortium.pk), "name": "卒中MDT", "kind": "mdt"}
    first = coord.post("/teams", body, **{"Idempotency-Key": "team-create-0001"})
    again = coord.post("/teams", body, **{"Idempotency-Key": "team-create-0001"})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert Team.objects.filter(name="卒中MDT").count() == 1
    problem = _problem(coord.post("/teams", {**body, "name": "别的"}, **{"Idempotency-Key": "team-create-0001"}),
                       422)
    assert problem["code"] == "idempotency_key_reused"
    pid = _pid(world, "village_doctor_a")
    exam = {"consortium_id": str(world.consortium.pk), "taken_on": "2026-01-05", "score": 70}
    ids = {coord.post(f"/practitioners/{pid}/exams", exam, **{"Idempotency-Key": "exam-1"}).json()["id"]
           for _ in range(2)}
    assert len(ids) == 1
    # the same key on another practitioner's path is a different request
    other = coord.post(f"/practitioners/{_pid(world, 'village_doctor_b')}/exams", exam,
                       **{"Idempotency-Key": "exam-1"})
    assert _problem(other, 422)["code"] == "idempotency_key_reused"


def test_control_characters_and_absurd_pages_are_refused_not_500(world, coord):
    assert "q" in _problem(coord.get("/organisations", q="卫生\x00室"), 422)["errors"]
    problem = _problem(coord.post("/organisations", _new_org(world, code="V\x00003")), 422)
    assert "code" in problem["errors"]
    assert "page" in _problem(coord.get("/practitioners", page=10**12), 422)["errors"]
    assert "page_size" in _problem(coord.get("/practitioners", page_size=1000), 422)["errors"]
    assert _problem(coord.put(f"/organisations/{world.orgs['county'].pk}/departments/A%01B", {"name": "x"}),
                    422)["errors"]["code"]


def test_a_licence_is_revoked_once(world, api_as):
    from medunion.access.actor import system_actor
    from medunion.network import actions as net

    vdb = world.users["village_doctor_b"].practitioner_id
    lic = net.record_licence(acting=system_actor("tests"), practitioner_id=vdb, number="V610424000002",
                             valid_from="2020-01-01")
    coordinator = api_as("coordinator")
    assert coordinator.post(f"/network/licences/{lic.pk}/revoke", {"on": "2026-06-01"}).status_code == 200
    response = coordinator.post(f"/network/licences/{lic.pk}/revoke", {"on": "2099-01-01"})
    assert response.status_code == 409
    lic.refresh_from_db()
    assert str(lic.revoked_on) == "2026-06-01"
