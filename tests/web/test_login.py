"""Signing in with a password and, when enrolled, the second factor; lockout; sign-out; MFA set-up."""

from __future__ import annotations

import pyotp
import pytest
from django.urls import reverse
from django.utils.translation import gettext_lazy

from medunion.accounts.models import User
from medunion.audit.models import AuditEvent
from medunion.core import clock
from tests.world import PASSWORD

LOGIN = reverse("web:login")


def _login(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def test_password_sign_in_lands_on_home_and_is_audited(world, anon):
    response = _login(anon, "village_doctor_a")
    assert response.status_code == 302 and response["Location"] == "/"
    home = anon.get("/")
    assert home.status_code == 200 and "张卫国" in home.content.decode()
    assert AuditEvent.objects.filter(action="account.login", actor_id=world.users["village_doctor_a"].pk).count() == 1


def test_wrong_password_is_a_clear_error_not_a_hint(world, anon):
    response = _login(anon, "village_doctor_a", "wrong-password")
    assert response.status_code == 401
    assert "The user name or password is wrong." in response.content.decode()
    response = _login(anon, "nobody-at-all", "wrong-password")
    assert response.status_code == 401
    assert "The user name or password is wrong." in response.content.decode()


def test_next_is_followed_only_on_this_site(world, anon):
    response = anon.post(LOGIN + "?next=/patients", {"username": "village_doctor_a", "password": PASSWORD,
                                                      "next": "/patients"})
    assert response["Location"] == "/patients"
    anon.post(reverse("web:logout"))
    response = anon.post(LOGIN, {"username": "village_doctor_a", "password": PASSWORD,
                                 "next": "https://evil.example/steal"})
    assert response["Location"] == "/"


def test_anonymous_visitors_are_sent_to_sign_in(anon):
    response = anon.get("/patients")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_lockout_after_repeated_failures(world, anon, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(anon, "village_doctor_b", "wrong-password")
    response = _login(anon, "village_doctor_b")  # right password, but locked
    assert response.status_code == 429
    assert "locked" in response.content.decode()


def _enrol(user: User) -> str:
    from medunion.accounts.actions import begin_totp, confirm_totp

    secret, _uri = begin_totp(user)
    confirm_totp(user, pyotp.TOTP(secret).now())
    return secret


def test_second_factor_is_asked_and_checked(world, anon):
    user = world.users["village_doctor_a"]
    with clock.frozen(clock.now()):
        secret = _enrol(user)
    response = _login(anon, "village_doctor_a")
    assert response.status_code == 302 and response["Location"] == reverse("web:login_code")
    assert anon.get("/").status_code == 302  # not signed in yet
    response = anon.post(reverse("web:login_code"), {"code": "000000"})
    assert response.status_code == 422 and "That code is not right" in response.content.decode()
    # a later time step than the one used at enrolment (codes are single-use)
    code = pyotp.TOTP(secret).at(clock.now().timestamp() + 30)
    with clock.frozen(clock.now() + __import__("datetime").timedelta(seconds=30)):
        response = anon.post(reverse("web:login_code"), {"code": code})
    assert response.status_code == 302
    assert anon.get("/").status_code == 200


def test_wrong_codes_count_towards_the_lockout(world, anon, settings):
    _enrol(world.users["village_doctor_a"])
    _login(anon, "village_doctor_a")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = anon.post(reverse("web:login_code"), {"code": "123456"})
    assert response.status_code in (302, 429)
    response = _login(anon, "village_doctor_a")
    assert response.status_code == 429


def test_the_code_step_needs_a_fresh_password_step(world, anon):
    response = anon.post(reverse("web:login_code"), {"code": "123456"})
    assert response.status_code == 302 and response["Location"] == LOGIN


@pytest.mark.parametrize("persona", ["coordinator", "auditadmin"])
def test_roles_that_need_a_second_factor_must_enrol_first(world, anon, persona, settings):
    settings.MEDUNION_REQUIRE_MFA = True
    _login(anon, persona)
    response = anon.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("web:mfa_setup")
    page = anon.get(reverse("web:mfa_setup"))
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "Your role needs a second factor" in html
    user = User.objects.get(username=persona)
    response = anon.post(reverse("web:mfa_setup"), {"code": "000000"})
    assert response.status_code == 422
    with clock.frozen(clock.now()):
        response = anon.post(reverse("web:mfa_setup"), {"code": pyotp.TOTP(user.totp_secret).now()})
    assert response.status_code == 302
    assert User.objects.get(username=persona).has_mfa
    assert anon.get("/").status_code in (200, 302)
    assert anon.get("/").get("Location") != reverse("web:mfa_setup")


def test_the_secret_shown_stays_the_same_until_confirmed(world, client_for):
    c = client_for("village_doctor_a")
    first = User.objects.get(username="village_doctor_a")
    c.get(reverse("web:mfa_setup"))
    secret = User.objects.get(pk=first.pk).totp_secret
    c.get(reverse("web:mfa_setup"))
    assert User.objects.get(pk=first.pk).totp_secret == secret


def test_sign_out_is_a_post(world, client_for):
    c = client_for("village_doctor_a")
    assert c.get(reverse("web:logout")).status_code == 405
    assert c.post(reverse("web:logout")).status_code == 302
    assert c.get("/").status_code == 302


def test_change_password_and_revoke_token(world, client_for):
    from django.test import RequestFactory

    from medunion.accounts.actions import issue_token, user_for_token

    c = client_for("village_doctor_a")
    raw, token = issue_token(RequestFactory().post("/api/v1/auth/token"), username="village_doctor_a",
                             password=PASSWORD)
    page = c.get(reverse("web:account")).content.decode()
    assert f"mu_{token.prefix}" in page and raw not in page
    c.post(reverse("web:account"), {"form": "revoke", "token": str(token.pk)})
    assert user_for_token(raw) is None
    response = c.post(reverse("web:account"), {"form": "revoke", "token": "not-a-uuid"}, follow=True)
    assert response.status_code == 200 and "Not found." in response.content.decode()
    response = c.post(reverse("web:account"), {"form": "password", "old_password": "nope",
                                               "new_password1": "x", "new_password2": "y"})
    assert response.status_code == 422
    new = "Another-Strong-Pass-2026"
    response = c.post(reverse("web:account"), {"form": "password", "old_password": PASSWORD,
                                               "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert c.get("/").status_code == 200  # still signed in
    assert User.objects.get(username="village_doctor_a").check_password(new)


def test_language_switch_and_chinese_default(world):
    from django.test import Client

    c = Client()
    c.force_login(world.users["village_doctor_a"])
    assert "我的患者" in c.get("/").content.decode() or "My patients" in c.get("/").content.decode()
    c.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "My patients" in c.get("/").content.decode()


def test_the_language_switch_is_the_language_of_the_accounts_notices(world):
    from django.test import Client

    from medunion.notifications.actions import notify
    from medunion.notifications.models import Notification

    doctor = world.users["village_doctor_a"]
    c = Client()
    c.force_login(doctor)
    response = c.post(reverse("set_language"), {"language": "en", "next": "/patients"})
    assert response.status_code == 302 and response["Location"] == "/patients"
    doctor.refresh_from_db()
    assert doctor.language == "en"
    notify([doctor], kind="t", title=gettext_lazy("New message about your consultation"))
    assert Notification.objects.get(kind="t").title == "New message about your consultation"
    # Choosing it again writes nothing; an unknown language changes nothing; back to Chinese is one change.
    c.post(reverse("set_language"), {"language": "en", "next": "/"})
    c.post(reverse("set_language"), {"language": "fr", "next": "/"})
    doctor.refresh_from_db()
    assert doctor.language == "en"
    c.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    doctor.refresh_from_db()
    assert doctor.language == "zh-hans"
    changes = AuditEvent.objects.filter(action="account.update", actor_id=doctor.pk).order_by("seq")
    assert [e.detail["changed"]["language"]["to"] for e in changes] == ["en", "zh-hans"]


def test_signing_in_keeps_the_language_of_the_sign_in_page(world, anon):
    anon.post(reverse("set_language"), {"language": "en", "next": "/login"})
    assert _login(anon, "village_doctor_a").status_code == 302
    doctor = User.objects.get(username="village_doctor_a")
    assert doctor.language == "en"
    # Switching before signing in stores nothing for anyone; signing in again in the same
    # language writes nothing.
    assert not AuditEvent.objects.filter(action="account.update", actor_id=None).exists()
    anon.post(reverse("web:logout"))
    assert _login(anon, "village_doctor_a").status_code == 302
    assert AuditEvent.objects.filter(action="account.update", actor_id=doctor.pk).count() == 1


def test_a_sign_in_in_the_accounts_own_language_writes_nothing(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import translation

    from medunion.accounts.actions import keep_request_language

    doctor = User.objects.get(username="village_doctor_a")
    with translation.override("en"):
        keep_request_language(doctor, "page")
        doctor.refresh_from_db()
        assert doctor.language == "en"
        with CaptureQueriesContext(connection) as ctx:
            keep_request_language(doctor, "page")
    assert ctx.captured_queries == []  # no transaction, no lock, no audit row


def test_an_account_language_is_one_of_the_platforms(world):
    from medunion.access.actor import system_actor
    from medunion.accounts.actions import set_own_language
    from medunion.core.errors import NotFound, ValidationFailed

    with pytest.raises(ValidationFailed):
        set_own_language(acting=world.actor("village_doctor_a"), language="fr")
    with pytest.raises(NotFound):
        set_own_language(acting=system_actor("tests"), language="en")  # a system actor has no account


def test_the_idle_timeout_is_renewed_once_a_minute(world, anon):
    """A page view renews the session's expiry, but not within a minute of the last renewal: the
    session row is not written again (a page is one write transaction, its audit row)."""
    import datetime as dt

    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from medunion.core import clock
    from medunion.web.live import RENEW_SECONDS

    _login(anon, "village_doctor_a")
    start = clock.now()
    with clock.frozen(start):
        assert anon.get("/").status_code == 200
    first = Session.objects.get(session_key=anon.session.session_key).expire_date
    for seconds in (1, RENEW_SECONDS - 1):
        with clock.frozen(start + dt.timedelta(seconds=seconds)), CaptureQueriesContext(connection) as ctx:
            assert anon.get("/").status_code == 200
        assert not [q for q in ctx.captured_queries if "django_session" in q["sql"] and
                    q["sql"].startswith(("UPDATE", "INSERT"))], seconds
    assert Session.objects.get(session_key=anon.session.session_key).expire_date == first
    with clock.frozen(start + dt.timedelta(seconds=RENEW_SECONDS + 1)):
        assert anon.get("/").status_code == 200
    assert Session.objects.get(session_key=anon.session.session_key).expire_date > first


def test_an_idle_session_ends(world, anon):
    """Sessions are renewed on every request and end after MEDUNION_IDLE_TIMEOUT_SECONDS idle."""
    import datetime as dt

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    _login(anon, "village_doctor_a")
    assert anon.get("/").status_code == 200
    session = Session.objects.get(session_key=anon.session.session_key)
    assert session.expire_date <= timezone.now() + dt.timedelta(seconds=30 * 60 + 5)
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    response = anon.get("/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
