"""Accounts administration, self-service tokens and platform settings: the separation of the
three administrators' duties, validation as problem+json, lockout and role changes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyotp
import pytest
from django.test import Client

from medunion.access.actions import break_glass
from medunion.access.actor import system_actor
from medunion.accounts import actions
from medunion.accounts.models import ApiToken, PlatformSetting, User
from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.network import actions as net
from medunion.network.models import CoordinatorAssignment
from tests.world import COUNTY, PASSWORD, World

API = "/api/v1"
PERSONAS = ("village_doctor_a", "coordinator", "commission_viewer", "patient_a", "sysadmin", "secadmin",
            "auditadmin")


class Api:
    def __init__(self, token: str | None):
        headers = {"accept-language": "en"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.token = token
        self.client = Client(headers=headers)

    def get(self, path: str, **params: Any):
        return self.client.get(API + path, params)

    def send(self, method: str, path: str, body: Any = None, **headers: str):
        return getattr(self.client, method)(API + path, json.dumps(body) if body is not None else None,
                                            content_type="application/json", headers=headers)

    def post(self, path: str, body: Any = None, **headers: str):
        return self.send("post", path, body, **headers)

    def put(self, path: str, body: Any = None):
        return self.send("put", path, body)

    def delete(self, path: str):
        return self.send("delete", path)


def _login(username: str, password: str = PASSWORD, **extra: str):
    return Client(headers={"accept-language": "en"}).post(
        API + "/auth/token", {"username": username, "password": password, **extra}, content_type="application/json")


def _token(username: str) -> str:
    response = _login(username)
    assert response.status_code == 201, response.content
    return response.json()["access_token"]


@pytest.fixture(autouse=True)
def _no_second_factor(settings):
    settings.MEDUNION_REQUIRE_MFA = False


@pytest.fixture
def api(world: World):
    def make(persona: str) -> Api:
        return Api(_token(persona))

    return make


@pytest.fixture
def sec(api) -> Api:
    return api("secadmin")


@pytest.fixture
def sysadm(api) -> Api:
    return api("sysadmin")


def _problem(response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    if code:
        assert body["code"] == code, body
    return body


def _uid(world: World, persona: str) -> str:
    return str(world.users[persona].pk)


# --- separation of duties ------------------------------------------------------------------------

@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "secadmin"])
def test_only_the_security_administrator_sees_the_accounts(world, api, persona):
    client = api(persona)
    target = _uid(world, "village_doctor_b")
    for response in (client.get("/accounts"), client.get(f"/accounts/{target}"),
                     client.post("/accounts", {"username": "x", "password": PASSWORD, "role": "sysadmin"}),
                     client.put(f"/accounts/{target}/role", {"role": "sysadmin"}),
                     client.post(f"/accounts/{target}/deactivate"), client.post(f"/accounts/{target}/unlock"),
                     client.post(f"/accounts/{target}/reset-mfa")):
        _problem(response, 404, "not_found")
    assert User.objects.get(pk=target).is_active and User.objects.get(pk=target).role == "practitioner"
    assert not User.objects.filter(username="x").exists()


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "sysadmin"])
def test_only_the_system_administrator_sees_the_settings(world, api, persona):
    client = api(persona)
    _problem(client.get("/settings"), 404, "not_found")
    _problem(client.get("/settings/break_glass_minutes"), 404, "not_found")
    _problem(client.put("/settings/break_glass_minutes", {"value": 30}), 404, "not_found")
    _problem(client.delete("/settings/break_glass_minutes"), 404, "not_found")
    assert not PlatformSetting.objects.exists()


def test_the_administrators_see_their_own_area(world, sec, sysadm, api):
    assert sec.get("/accounts").status_code == 200
    assert sysadm.get("/settings").status_code == 200
    assert api("auditadmin").get("/accounts/me/tokens").status_code == 200  # self-service is for everyone


# --- listing accounts ---------------------------------------------------------------------------

def test_account_list_filters_and_never_shows_secrets(world, sec):
    secret, _uri = actions.begin_totp(User.objects.get(username="coordinator"))
    response = sec.get("/accounts", page_size=100)
    assert response.status_code == 200
    text = response.content.decode()
    assert "password" not in text and "totp" not in text and secret not in text
    for user in User.objects.all():
        assert user.password not in text
    body = response.json()
    assert body["count"] == User.objects.count()
    coordinator = next(a for a in body["items"] if a["username"] == "coordinator")
    assert coordinator["consortium_ids"] == [str(world.consortium.pk)] and coordinator["mfa_enabled"] is False
    assert [a["username"] for a in sec.get("/accounts", role="commission").json()["items"]] == ["commission_viewer"]
    assert [a["username"] for a in sec.get("/accounts", q="village").json()["items"]] == [
        "village_doctor_a", "village_doctor_b"]
    assert "role" in _problem(sec.get("/accounts", role="king"), 422, "validation_failed")["errors"]
    _problem(sec.get("/accounts/not-a-uuid"), 404, "not_found")


def test_account_list_query_count_is_pinned(world, sec, django_assert_max_num_queries):
    system = system_actor("tests")
    for i in range(15):
        actions.create_account(acting=system, username=f"coord{i}", password=PASSWORD, role="coordinator",
                               consortium_ids=[world.consortium.pk, world.other_consortium.pk])
    sec.get("/accounts")  # the token's last-used stamp
    # token + count + page (with the lockout subquery) + coordinator assignments
    with django_assert_max_num_queries(4):
        response = sec.get("/accounts", page_size=50)
    assert response.json()["count"] == User.objects.count()


# --- creating accounts ------------------------------------------------------------------------------

def test_create_a_coordinator_account(world, sec):
    body = {"username": "coord_new", "password": "Another-Pass-2026!", "role": "coordinator",
            "display_name": "新协调员", "consortium_ids": [str(world.consortium.pk)]}
    response = sec.post("/accounts", body, **{"Idempotency-Key": "acct-1"})
    assert response.status_code == 201, response.content
    account = response.json()
    assert account["role"] == "coordinator" and account["consortium_ids"] == [str(world.consortium.pk)]
    assert "password" not in account
    again = sec.post("/accounts", body, **{"Idempotency-Key": "acct-1"})
    assert again.status_code == 201 and again.json()["id"] == account["id"]
    assert User.objects.filter(username="coord_new").count() == 1
    assert AuditEvent.objects.filter(action="account.create", object_id=account["id"]).count() == 1
    _problem(sec.post("/accounts", body), 409, "duplicate")
    assert _login("coord_new", "Another-Pass-2026!").status_code == 201


def test_account_validation_is_problem_json(world, sec):
    problem = _problem(sec.post("/accounts", {"username": "d1", "password": "123", "role": "practitioner"}), 422,
                       "validation_failed")
    assert {"password", "practitioner"} <= set(problem["errors"])
    problem = _problem(sec.post("/accounts", {"username": "d2", "password": PASSWORD, "role": "sysadmin",
                                              "practitioner_id": str(world.users["village_doctor_a"].practitioner_id),
                                              "region_code": COUNTY,
                                              "consortium_ids": [str(world.consortium.pk)]}), 422)
    assert {"practitioner", "region", "consortia"} <= set(problem["errors"])
    problem = _problem(sec.post("/accounts", {"username": "d3", "password": PASSWORD, "role": "coordinator"}), 422)
    assert "consortia" in problem["errors"]
    problem = _problem(sec.post("/accounts", {"username": "d4", "password": PASSWORD, "role": "practitioner",
                                              "practitioner_id": str(world.users["village_doctor_a"].practitioner_id)}),
                       422)
    assert problem["errors"]["practitioner"] == ["This practitioner has an account already."]
    problem = _problem(sec.post("/accounts", {"username": "d5", "password": PASSWORD, "role": "commission",
                                              "region_code": "999999999999"}), 422)
    assert "region" in problem["errors"]
    problem = _problem(sec.post("/accounts", {"username": "d6", "password": PASSWORD, "role": "coordinator",
                                              "consortium_ids": ["not-a-uuid"]}), 422)
    assert any(k.startswith("consortium_ids") for k in problem["errors"])
    assert not User.objects.filter(username__in=["d1", "d2", "d3", "d4", "d5", "d6"]).exists()


def test_a_patient_account_is_linked_by_the_id_it_is_given(world, sec):
    from medunion.patients.actions import PatientInput, register_patient
    from medunion.patients.identity import make_resident_id

    patient = register_patient(acting=world.actor("village_doctor_a"), data=PatientInput(
        name="王小红", id_number=make_resident_id("610424", dt.date(1990, 5, 1), 33, male=False),
        phone="13800000002", region_code="610424100201"))
    response = sec.post("/accounts", {"username": "patient_b", "password": PASSWORD, "role": "patient",
                                      "patient_id": str(patient.pk)})
    assert response.status_code == 201, response.content
    assert response.json()["patient_id"] == str(patient.pk)
    problem = _problem(sec.post("/accounts", {"username": "patient_c", "password": PASSWORD, "role": "patient",
                                              "patient_id": str(patient.pk)}), 422)
    assert "patient" in problem["errors"]


# --- activation, second factor, lockout ---------------------------------------------------------

def test_deactivation_ends_the_accounts_tokens_and_activation_restores_sign_in(world, sec, api):
    doctor = api("village_doctor_b")
    assert doctor.get("/network/organisations").status_code == 200
    response = sec.post(f"/accounts/{_uid(world, 'village_doctor_b')}/deactivate")
    assert response.status_code == 200 and response.json()["is_active"] is False
    _problem(doctor.get("/network/organisations"), 401, "not_authenticated")
    assert _login("village_doctor_b").status_code == 401
    assert sec.post(f"/accounts/{_uid(world, 'village_doctor_b')}/activate").json()["is_active"] is True
    assert _login("village_doctor_b").status_code == 201
    _problem(sec.post(f"/accounts/{_uid(world, 'secadmin')}/deactivate"), 409, "conflict")
    actions_seen = list(AuditEvent.objects.filter(object_id=_uid(world, "village_doctor_b"),
                                                  action__in=["account.deactivate", "account.activate"])
                        .values_list("action", flat=True))
    assert actions_seen == ["account.deactivate", "account.activate"]


def test_reset_of_the_second_factor(world, sec):
    user = User.objects.get(username="coordinator")
    secret, _uri = actions.begin_totp(user)
    now = clock.now()
    with clock.frozen(now):
        actions.confirm_totp(user, pyotp.TOTP(secret).at(now))
    assert sec.get(f"/accounts/{user.pk}").json()["mfa_enabled"] is True
    response = sec.post(f"/accounts/{user.pk}/reset-mfa")
    assert response.status_code == 200 and response.json()["mfa_enabled"] is False
    user.refresh_from_db()
    assert not user.has_mfa and user.totp_secret == ""
    assert AuditEvent.objects.filter(action="account.mfa.reset", object_id=str(user.pk)).exists()
    _problem(sec.post("/accounts/01912345-6789-7abc-8def-0123456789ab/reset-mfa"), 404)


def test_unlock_after_lockout(world, sec, settings):
    failures = [_login("village_doctor_b", "wrong-password").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert failures == [401] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = _login("village_doctor_b")  # even the right password is refused now
    assert locked.status_code == 429 and locked.json()["code"] == "locked_out"
    account = sec.get(f"/accounts/{_uid(world, 'village_doctor_b')}").json()
    assert account["locked"] is True
    assert [a["username"] for a in sec.get("/accounts", page_size=100).json()["items"] if a["locked"]] == [
        "village_doctor_b"]
    response = sec.post(f"/accounts/{_uid(world, 'village_doctor_b')}/unlock")
    assert response.status_code == 200 and response.json()["locked"] is False
    assert _login("village_doctor_b").status_code == 201
    event = AuditEvent.objects.get(action="account.unlock")
    assert event.object_id == _uid(world, "village_doctor_b") and event.detail["attempts_cleared"] >= 1


# --- role changes ----------------------------------------------------------------------------------

def test_a_role_change_applies_on_the_next_request_with_the_same_token(world, sec, api):
    other_team = net.create_team(acting=system_actor("tests"), consortium_id=world.other_consortium.pk,
                                 name="外县MDT", kind="mdt")
    coordinator = api("coordinator")
    _problem(coordinator.get(f"/network/teams/{other_team.pk}"), 404)
    response = sec.put(f"/accounts/{_uid(world, 'coordinator')}/role",
                       {"role": "coordinator", "consortium_ids": [str(world.other_consortium.pk)]})
    assert response.status_code == 200 and response.json()["consortium_ids"] == [str(world.other_consortium.pk)]
    # the same token, the next request: the other consortium now, and no longer the first
    assert coordinator.get(f"/network/teams/{other_team.pk}").status_code == 200
    _problem(coordinator.get(f"/network/organisations/{world.orgs['county'].pk}"), 404)
    event = AuditEvent.objects.filter(action="account.role.change").last()
    assert event.detail["from"]["consortia"] == [str(world.consortium.pk)]
    assert event.detail["to"] == {"role": "coordinator", "consortia": [str(world.other_consortium.pk)],
                                  "region": None}

    doctor = api("village_doctor_b")
    assert doctor.get("/network/organisations").json()["count"] == 6
    response = sec.put(f"/accounts/{_uid(world, 'village_doctor_b')}/role", {"role": "commission",
                                                                              "region_code": COUNTY})
    assert response.status_code == 200 and response.json()["region_code"] == COUNTY
    assert doctor.get("/network/organisations").json()["count"] == 5  # the county's, as a commission viewer
    # and back: the practitioner link was kept
    assert sec.put(f"/accounts/{_uid(world, 'village_doctor_b')}/role", {"role": "practitioner"}).status_code == 200
    assert doctor.get("/network/organisations").json()["count"] == 6
    user = User.objects.get(username="village_doctor_b")
    assert user.region_id is None and not CoordinatorAssignment.objects.filter(user=user).exists()


def test_role_change_validation(world, sec):
    coordinator = _uid(world, "coordinator")
    problem = _problem(sec.put(f"/accounts/{coordinator}/role", {"role": "coordinator"}), 422)
    assert "consortia" in problem["errors"]
    assert "role" in _problem(sec.put(f"/accounts/{coordinator}/role", {"role": "emperor"}), 422)["errors"]
    assert "role" in _problem(sec.put(f"/accounts/{coordinator}/role", {"role": "patient"}), 422)["errors"]
    assert "role" in _problem(sec.put(f"/accounts/{_uid(world, 'patient_a')}/role", {"role": "sysadmin"}),
                              422)["errors"]
    assert "practitioner" in _problem(sec.put(f"/accounts/{coordinator}/role", {"role": "practitioner"}),
                                      422)["errors"]
    _problem(sec.put(f"/accounts/{_uid(world, 'secadmin')}/role", {"role": "sysadmin"}), 409, "conflict")
    _problem(sec.put("/accounts/01912345-6789-7abc-8def-0123456789ab/role", {"role": "sysadmin"}), 404)
    assert User.objects.get(pk=coordinator).role == "coordinator"
    assert CoordinatorAssignment.objects.filter(user_id=coordinator).count() == 1


# --- my tokens -------------------------------------------------------------------------------------

def test_my_tokens_list_and_revoke(world, api):
    first, second = api("village_doctor_a"), api("village_doctor_a")
    body = first.get("/accounts/me/tokens").json()
    assert body["count"] == 2
    text = json.dumps(body)
    assert first.token not in text and second.token not in text and "digest" not in text
    current = [t for t in body["items"] if t["current"]]
    assert len(current) == 1
    mine = ApiToken.objects.get(digest=ApiToken.digest_of(first.token))
    assert current[0]["id"] == str(mine.pk) and current[0]["live"] is True
    other = ApiToken.objects.get(digest=ApiToken.digest_of(second.token))
    assert first.delete(f"/accounts/me/tokens/{other.pk}").status_code == 204
    _problem(second.get("/network/organisations"), 401)
    _problem(first.delete(f"/accounts/me/tokens/{other.pk}"), 409, "conflict")
    # someone else's token is not there at all
    theirs = api("village_doctor_b")
    their_token = ApiToken.objects.get(digest=ApiToken.digest_of(theirs.token))
    _problem(first.delete(f"/accounts/me/tokens/{their_token.pk}"), 404, "not_found")
    _problem(first.delete("/accounts/me/tokens/nope"), 404, "not_found")
    assert theirs.get("/network/organisations").status_code == 200
    assert AuditEvent.objects.filter(action="account.token.revoke").count() == 1


# --- platform settings -------------------------------------------------------------------------------

def test_settings_are_listed_with_their_defaults(world, sysadm, settings):
    rows = {s["key"]: s for s in sysadm.get("/settings").json()}
    assert set(rows) == {"break_glass_minutes", "api_token_hours", "support_phone"}
    assert rows["break_glass_minutes"]["value"] == settings.MEDUNION_BREAK_GLASS_MINUTES
    assert rows["break_glass_minutes"] | {"stored": False, "minimum": 5, "maximum": 1440, "type": "integer"} \
        == rows["break_glass_minutes"]
    _problem(sysadm.get("/settings/colour"), 404, "not_found")


def test_break_glass_duration_is_read_from_the_setting(world, sysadm):
    response = sysadm.put("/settings/break_glass_minutes", {"value": 30})
    assert response.status_code == 200 and response.json()["value"] == 30 and response.json()["stored"] is True
    event = AuditEvent.objects.get(action="settings.update")
    assert event.object_id == "break_glass_minutes" and event.detail == {"from": None, "to": "30"}
    now = clock.now()
    with clock.frozen(now):
        grant = break_glass(acting=world.actor("village_doctor_b"), patient_id=world.patients["patient_a"].pk,
                            reason="Unconscious at the clinic, needs history")
    assert grant.expires_at == now + dt.timedelta(minutes=30)
    reset = sysadm.delete("/settings/break_glass_minutes")
    assert reset.status_code == 200 and reset.json()["stored"] is False
    assert AuditEvent.objects.filter(action="settings.reset", object_id="break_glass_minutes").count() == 1


def test_a_token_asked_for_in_a_language_makes_it_the_accounts_notice_language(world):
    user = world.users["village_doctor_a"]
    assert user.language == "" and _login("village_doctor_a").status_code == 201  # Accept-Language: en
    user.refresh_from_db()
    assert user.language == "en"
    body = {"username": "village_doctor_a", "password": PASSWORD}
    assert Client().post(API + "/auth/token", body, content_type="application/json").status_code == 201
    user.refresh_from_db()
    assert user.language == "en"  # a client that names no language changes nothing
    chinese = Client(headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert chinese.post(API + "/auth/token", body, content_type="application/json").status_code == 201
    user.refresh_from_db()
    assert user.language == "zh-hans"


def test_token_lifetime_is_read_from_the_setting(world, sysadm):
    assert sysadm.put("/settings/api_token_hours", {"value": "2"}).json()["value"] == 2
    now = clock.now()
    with clock.frozen(now):
        assert _login("village_doctor_a").json()["expires_at"].startswith(
            (now + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))


@pytest.mark.parametrize(("key", "value"), [
    ("break_glass_minutes", 4), ("break_glass_minutes", 1441), ("break_glass_minutes", "soon"),
    ("break_glass_minutes", True), ("break_glass_minutes", 12.5), ("api_token_hours", 0),
    ("support_phone", "call me"), ("support_phone", "1" * 40), ("support_phone", 110),
])
def test_setting_values_are_validated(world, sysadm, key, value):
    problem = _problem(sysadm.put(f"/settings/{key}", {"value": value}), 422, "validation_failed")
    assert "value" in problem["errors"]
    assert not PlatformSetting.objects.exists() and not AuditEvent.objects.filter(action="settings.update").exists()


def test_unknown_setting_is_404(world, sysadm):
    _problem(sysadm.put("/settings/theme", {"value": "dark"}), 404, "not_found")


def test_support_phone_reaches_the_locked_out_user(world, sysadm, settings):
    assert sysadm.put("/settings/support_phone", {"value": "029-8888 1234"}).status_code == 200
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login("village_doctor_b", "wrong-password")
    locked = _login("village_doctor_b")
    assert locked.status_code == 429 and "029-8888 1234" in locked.json()["title"]


def test_a_session_without_the_required_second_factor_is_not_signed_in_on_the_api(world, settings):
    """Pages send such an account to /account/mfa and tokens are refused; the API's session
    authentication must not be the way around it."""
    from django.test import Client

    settings.MEDUNION_REQUIRE_MFA = True
    c = Client()
    c.force_login(world.users["coordinator"])
    assert c.get("/api/v1/network/practitioners").status_code == 401
    assert c.get("/api/v1/auth/me").status_code == 401
    settings.MEDUNION_REQUIRE_MFA = False
    assert c.get("/api/v1/auth/me").status_code == 200


def test_patient_account_names_are_not_listed_in_full(world, api_as):
    """The security administrator manages accounts, not patients: a list of account holders must
    not be a list of patients' names."""
    accounts = api_as("secadmin").get("/accounts", {"role": "patient"}).json()["items"]
    [patient] = [a for a in accounts if a["username"] == "patient_a"]
    assert patient["display_name"] == "陈＊＊"
    doctor = api_as("secadmin").get("/accounts", {"q": "village_doctor_a"}).json()["items"][0]
    assert doctor["display_name"] == "张卫国"
