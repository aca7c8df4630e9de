"""The security administrator's accounts and tokens; the system administrator's settings."""

from __future__ import annotations

import pyotp
from django.contrib.auth import authenticate
from django.test import RequestFactory

from medunion.accounts import actions
from medunion.accounts.models import ApiToken, PlatformSetting, User
from medunion.accounts.settings_registry import platform_setting
from medunion.network.models import CoordinatorAssignment
from tests.admin.helpers import admin_url, events_since, form_data, last_seq
from tests.world import PASSWORD

NEW_PASSWORD = "Another-Strong-Pass-77"


def _enrol(user: User) -> None:
    secret, _ = actions.begin_totp(user)
    actions.confirm_totp(user, pyotp.TOTP(secret).now())


def test_the_security_administrator_creates_a_coordinator_account(world, client_for):
    c = client_for("secadmin")
    before = last_seq()
    r = c.post(admin_url("accounts.user", "add"), {
        "username": "coordinator2", "display_name": "王协调", "role": "coordinator",
        "consortia": [str(world.consortium.pk)], "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status_code == 302, r.context["adminform"].form.errors
    user = User.objects.get(username="coordinator2")
    assert user.check_password(NEW_PASSWORD) and user.role == "coordinator" and user.is_staff
    assert list(CoordinatorAssignment.objects.filter(user=user).values_list("consortium_id", flat=True)) == [
        world.consortium.pk]
    [event] = events_since(before)
    assert (event.action, event.surface, event.object_id) == ("account.create", "admin", str(user.pk))


def test_a_clinician_account_links_a_practitioner_and_a_patient_account_a_patient_id(world, client_for):
    from medunion.access.actor import system_actor
    from medunion.network import actions as net

    p = net.create_practitioner(acting=system_actor("tests"), name="周敏", title="resident",
                                licence_number="110610424000077", organisation_id=world.orgs["township"].pk)
    c = client_for("secadmin")
    r = c.post(admin_url("accounts.user", "add"), {
        "username": "zhoumin", "role": "practitioner", "practitioner": str(p.pk),
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status_code == 302
    assert User.objects.get(username="zhoumin").practitioner_id == p.pk
    # A patient id that names no patient is refused by the action, not a server error.
    r = c.post(admin_url("accounts.user", "add"), {
        "username": "nobody", "role": "patient", "patient_id": "01900000-0000-7000-8000-000000000000",
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status_code == 200 and not User.objects.filter(username="nobody").exists()
    assert r.context["adminform"].form.errors["patient_id"] == ["Unknown patient."]


def test_account_creation_refusals_show_on_the_form(world, client_for):
    c = client_for("secadmin")
    before = last_seq()
    r = c.post(admin_url("accounts.user", "add"), {
        "username": "x1", "role": "practitioner", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "!"})
    assert r.context["adminform"].form.errors["password2"] == ["The two passwords differ."]
    r = c.post(admin_url("accounts.user", "add"), {
        "username": "x1", "role": "practitioner", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.context["adminform"].form.errors["practitioner"] == [
        "A clinician account must be linked to a practitioner."]
    r = c.post(admin_url("accounts.user", "add"), {
        "username": "x1", "role": "sysadmin", "password1": "123", "password2": "123"})
    assert "This password is too short. It must contain at least 10 characters." in r.context[
        "adminform"].form.errors["password1"]
    r = c.post(admin_url("accounts.user", "add"), {
        "username": "coordinator", "role": "auditadmin", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.context["adminform"].form.errors["username"] == ["This user name or linked record is taken already."]
    assert not User.objects.filter(username="x1").exists() and not events_since(before)


def test_the_account_pages_never_show_secrets(world, client_for):
    user = world.users["coordinator"]
    _enrol(user)
    user.refresh_from_db()
    raw, _token = actions.issue_token(RequestFactory().post("/"), username="village_doctor_a", password=PASSWORD)
    c = client_for("secadmin")
    pages = [c.get(admin_url("accounts.user")), c.get(admin_url("accounts.user", "change", user.pk)),
             c.get(admin_url("accounts.apitoken")), c.get(admin_url("accounts.apitoken", "change", _token.pk))]
    for page in pages:
        body = page.content.decode()
        assert page.status_code == 200
        assert user.password not in body and user.totp_secret not in body
        assert raw not in body and _token.digest not in body
    assert "icon-yes" in pages[1].content.decode()  # the second factor shows as on


def test_reset_second_factor_and_unlock_are_admin_actions(world, client_for, settings):
    target = world.users["coordinator"]
    _enrol(target)
    factory = RequestFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        authenticate(factory.post("/login"), username="coordinator", password="wrong")
    assert authenticate(factory.post("/login"), username="coordinator", password=PASSWORD) is None
    c = client_for("secadmin")
    listing = c.get(admin_url("accounts.user"), {"q": "coordinator"})
    row = next(u for u in listing.context["cl"].result_list if u.pk == target.pk)
    assert row.recent_failures >= settings.AXES_FAILURE_LIMIT and row.mfa_on
    before = last_seq()
    for action in ("reset_second_factor", "unlock"):
        r = c.post(admin_url("accounts.user"), {"action": action, "_selected_action": [str(target.pk)]})
        assert r.status_code == 302
    target.refresh_from_db()
    assert not target.has_mfa and target.totp_secret == ""
    assert authenticate(factory.post("/login"), username="coordinator", password=PASSWORD) is not None
    assert [(e.action, e.surface) for e in events_since(before)] == [
        ("account.mfa.reset", "admin"), ("account.unlock", "admin")]


def test_deactivate_and_activate_but_never_oneself(world, client_for):
    c = client_for("secadmin")
    doctor, me = world.users["village_doctor_b"], world.users["secadmin"]
    before = last_seq()
    r = c.post(admin_url("accounts.user"), {"action": "deactivate",
                                            "_selected_action": [str(doctor.pk), str(me.pk)]}, follow=True)
    assert "You cannot deactivate your own account." in r.content.decode()
    assert not User.objects.get(pk=doctor.pk).is_active and User.objects.get(pk=me.pk).is_active
    c.post(admin_url("accounts.user"), {"action": "activate", "_selected_action": [str(doctor.pk)]})
    assert User.objects.get(pk=doctor.pk).is_active
    assert [e.action for e in events_since(before)] == ["account.deactivate", "account.activate"]


def test_changing_role_name_and_consortia_through_the_actions(world, client_for):
    from tests.web_coordinator.helpers import other_coordinator

    other_coordinator(world)
    c = client_for("secadmin")
    target = world.users["coordinator_other"]
    url = admin_url("accounts.user", "change", target.pk)
    data = form_data(c.get(url))
    before = last_seq()
    r = c.post(url, data | {"display_name": "外县协调员（兼）",
                            "consortia": [str(world.other_consortium.pk), str(world.consortium.pk)]})
    assert r.status_code == 302
    target.refresh_from_db()
    assert target.display_name == "外县协调员（兼）"
    assert set(CoordinatorAssignment.objects.filter(user=target).values_list("consortium_id", flat=True)) == {
        world.consortium.pk, world.other_consortium.pk}
    assert [(e.action, e.surface) for e in events_since(before)] == [
        ("account.update", "admin"), ("account.role.change", "admin")]
    # A coordinator with no consortium is refused, and nothing of the save is kept.
    data = form_data(c.get(url))
    r = c.post(url, data | {"display_name": "改名", "consortia": []})
    assert r.status_code == 200
    assert r.context["adminform"].form.errors["consortia"] == [
        "A coordinator account needs the consortia it manages."]
    assert User.objects.get(pk=target.pk).display_name == "外县协调员（兼）"


def test_an_administrator_cannot_change_their_own_role(world, client_for):
    c = client_for("secadmin")
    me = world.users["secadmin"]
    url = admin_url("accounts.user", "change", me.pk)
    r = c.post(url, form_data(c.get(url)) | {"role": "auditadmin"})
    assert r.status_code == 200
    assert "You cannot change your own role" in r.content.decode()
    assert User.objects.get(pk=me.pk).role == "secadmin"


def test_api_tokens_are_listed_and_revoked(world, client_for):
    raw, token = actions.issue_token(RequestFactory().post("/"), username="village_doctor_a", password=PASSWORD)
    c = client_for("secadmin")
    assert token.prefix in c.get(admin_url("accounts.apitoken")).content.decode()
    before = last_seq()
    r = c.post(admin_url("accounts.apitoken"), {"action": "revoke", "_selected_action": [str(token.pk)]})
    assert r.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None and actions.user_for_token(raw) is None
    [event] = events_since(before)
    assert (event.action, event.surface, event.object_id) == ("account.token.revoke", "admin", str(token.pk))
    assert c.post(admin_url("accounts.apitoken", "change", token.pk), {"label": "x"}).status_code == 403


def test_platform_settings_are_validated_by_the_registry(world, client_for):
    c = client_for("sysadmin")
    before = last_seq()
    r = c.post(admin_url("accounts.platformsetting", "add"), {"key": "break_glass_minutes", "value": "3"})
    assert r.status_code == 200
    assert r.context["adminform"].form.errors["value"] == ["Enter a number from 5 to 1440."]
    assert not events_since(before)
    r = c.post(admin_url("accounts.platformsetting", "add"), {"key": "break_glass_minutes", "value": "30"})
    assert r.status_code == 302
    assert platform_setting("break_glass_minutes") == 30
    url = admin_url("accounts.platformsetting", "change", "break_glass_minutes")
    assert c.post(url, {"value": "45", "key": "support_phone"}).status_code == 302
    assert PlatformSetting.objects.get(key="break_glass_minutes").value == "45"
    r = c.post(admin_url("accounts.platformsetting"), {"action": "reset_to_default",
                                                       "_selected_action": ["break_glass_minutes"]})
    assert r.status_code == 302 and not PlatformSetting.objects.exists()
    assert [(e.action, e.surface) for e in events_since(before)] == [
        ("settings.update", "admin"), ("settings.update", "admin"), ("settings.reset", "admin")]
    r = c.post(admin_url("accounts.platformsetting", "add"), {"key": "no_such_setting", "value": "1"})
    assert r.status_code == 200 and "key" in r.context["adminform"].form.errors


def test_renaming_only_renames(world, client_for):
    c = client_for("secadmin")
    target = world.users["coordinator"]
    url = admin_url("accounts.user", "change", target.pk)
    before = last_seq()
    assert c.post(url, form_data(c.get(url)) | {"display_name": "刘协调员"}).status_code == 302
    assert User.objects.get(pk=target.pk).display_name == "刘协调员"
    [event] = events_since(before)
    assert event.action == "account.update"
    assert event.detail == {"changed": {"display_name": {"from": "刘协调", "to": "刘协调员"}}}
