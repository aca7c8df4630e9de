"""Who may enter the back office, and which pages each duty opens (separation of duties)."""

from __future__ import annotations

import pytest

from tests.admin.helpers import admin_url

NETWORK = ["network.organisation", "network.practitioner", "network.team", "network.consortium", "network.region",
           "network.training", "network.examresult", "network.licence"]
ACCOUNTS = ["accounts.user", "accounts.apitoken"]
SETTINGS = ["accounts.platformsetting"]
AUDIT = ["audit.auditevent"]
REVIEWS = ["access.breakglassgrant"]
EVERY = NETWORK + ACCOUNTS + SETTINGS + AUDIT + REVIEWS

OPENS = {
    "coordinator": NETWORK + AUDIT + REVIEWS,
    "secadmin": NETWORK + ACCOUNTS,  # the network read-only: to link clinicians' accounts
    "sysadmin": SETTINGS,
    "auditadmin": AUDIT,
}
ADDS = {
    "coordinator": ["network.organisation", "network.practitioner", "network.team", "network.training",
                    "network.examresult", "network.licence"],
    "secadmin": ["accounts.user"],
    "sysadmin": ["accounts.platformsetting"],
    "auditadmin": [],
}


@pytest.mark.parametrize("persona", sorted(OPENS))
def test_each_duty_opens_its_own_pages_only(world, client_for, persona):
    c = client_for(persona)
    assert c.get("/admin/").status_code == 200
    for model in EVERY:
        # another duty's model answers like a missing page; one's own model that one may view
        # but not add to answers 403
        expected = 200 if model in OPENS[persona] else 404
        assert c.get(admin_url(model)).status_code == expected, (persona, model)
        expected_add = 200 if model in ADDS[persona] else (403 if model in OPENS[persona] else 404)
        assert c.get(admin_url(model, "add")).status_code == expected_add, (persona, model, "add")


@pytest.mark.parametrize("persona", sorted(OPENS))
def test_the_index_lists_only_the_duty_s_models(world, client_for, persona):
    body = client_for(persona).get("/admin/").content.decode()
    for model in EVERY:
        link = admin_url(model)
        assert (link in body) == (model in OPENS[persona]), (persona, model)


@pytest.mark.parametrize("persona", ["village_doctor_a", "cardiologist_tertiary", "patient_a", "commission_viewer"])
def test_everyone_else_signed_in_finds_no_back_office(world, client_for, persona):
    c = client_for(persona)
    for path in ["/admin/", admin_url("network.organisation"), admin_url("audit.auditevent"),
                 admin_url("accounts.user"), "/admin/network/", "/admin/no/such/page/"]:
        assert c.get(path).status_code == 404, (persona, path)
    assert c.post(admin_url("network.organisation", "add"), {"name": "x"}).status_code == 404


def test_a_coordinator_without_a_consortium_finds_no_back_office(world, client_for):
    from medunion.network.models import CoordinatorAssignment

    CoordinatorAssignment.objects.filter(user=world.users["coordinator"]).delete()
    assert client_for("coordinator").get("/admin/").status_code == 404


def test_a_deactivated_account_is_signed_out(world, client_for):
    c = client_for("secadmin")
    world.users["secadmin"].is_active = False
    world.users["secadmin"].save(update_fields=["is_active"])
    r = c.get("/admin/")
    assert r.status_code == 302 and r["Location"].startswith("/login")


def test_anonymous_visitors_are_sent_to_the_platform_sign_in(world, client):
    r = client.get(admin_url("network.organisation"))
    assert r.status_code == 302
    assert r["Location"] == "/login?next=/admin/network/organisation/"


def test_the_admin_sign_in_page_is_the_platform_s(world, client):
    r = client.get("/admin/login/")
    assert r.status_code == 302 and r["Location"] == "/login?next=/admin/"
    r = client.get("/admin/login/?next=/admin/audit/auditevent/")
    assert r["Location"] == "/login?next=/admin/audit/auditevent/"
    # Posting credentials to it signs nobody in: the second factor and the lockout live on /login.
    r = client.post("/admin/login/", {"username": "coordinator", "password": "Medunion-Test-2026!"})
    assert r.status_code == 302 and r["Location"].startswith("/login")
    assert client.get("/admin/").status_code == 302


def test_the_admin_signs_out_through_the_platform(world, client_for):
    c = client_for("coordinator")
    assert c.get("/admin/logout/").status_code == 405
    r = c.post("/admin/logout/")
    assert r.status_code == 302 and r["Location"] == "/login"
    assert c.get("/admin/").status_code == 302


def test_password_changes_happen_on_the_account_page(world, client_for):
    r = client_for("coordinator").get("/admin/password_change/")
    assert r.status_code == 302 and r["Location"] == "/account"


def test_the_back_office_names_itself(world, client_for):
    assert "MedUnion back office" in client_for("auditadmin").get("/admin/").content.decode()


def test_second_factor_is_required_first_when_the_platform_asks(world, client_for, settings):
    settings.MEDUNION_REQUIRE_MFA = True
    r = client_for("secadmin").get("/admin/")
    assert r.status_code == 302 and r["Location"] == "/account/mfa"


def test_every_detail_page_opens_for_those_it_is_for(world, client_for):
    import datetime as dt

    from django.test import RequestFactory

    from medunion.access.actions import break_glass
    from medunion.access.actor import system_actor
    from medunion.accounts.actions import issue_token, set_platform_setting
    from medunion.audit.models import AuditEvent
    from medunion.network import actions as net

    system = system_actor("tests")
    pid = world.users["village_doctor_a"].practitioner_id
    team = net.create_team(acting=system, consortium_id=world.consortium.pk, name="家医团队", kind="family_doctor")
    net.set_team_member(acting=system, team_id=team.pk, practitioner_id=pid, role="lead")
    training = net.record_training(acting=system, practitioner_id=pid, consortium_id=world.consortium.pk,
                                   completed_on=dt.date(2026, 1, 1))
    exam = net.record_exam(acting=system, practitioner_id=pid, consortium_id=world.consortium.pk,
                           taken_on=dt.date(2026, 1, 2), score=75)
    licence = net.record_licence(acting=system, practitioner_id=pid, number="LIC12345678", valid_from="2025-01-01")
    grant = break_glass(acting=world.actor("village_doctor_b"), patient_id=world.patients["patient_a"].pk,
                        reason="Emergency at the clinic, patient unconscious")
    _raw, token = issue_token(RequestFactory().post("/"), username="village_doctor_a", password="Medunion-Test-2026!")
    set_platform_setting(acting=world.actor("sysadmin"), key="support_phone", value="029-12345678")
    event = AuditEvent.objects.filter(actor_display="张卫国").first()
    network = [("network.organisation", world.orgs["tertiary"].pk), ("network.practitioner", pid),
               ("network.team", team.pk), ("network.consortium", world.consortium.pk), ("network.region", "610424000000"),
               ("network.training", training.pk), ("network.examresult", exam.pk), ("network.licence", licence.pk)]
    pages = {
        "coordinator": network + [("audit.auditevent", event.uid), ("access.breakglassgrant", grant.pk)],
        "secadmin": network + [("accounts.user", world.users["coordinator"].pk), ("accounts.apitoken", token.pk)],
        "sysadmin": [("accounts.platformsetting", "support_phone")],
        "auditadmin": [("audit.auditevent", event.uid)],
    }
    for persona, objects in pages.items():
        c = client_for(persona)
        for model, pk in objects:
            assert c.get(admin_url(model, "change", pk)).status_code == 200, (persona, model)
