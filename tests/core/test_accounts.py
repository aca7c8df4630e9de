import base64
import datetime as dt
import logging

import pyotp
import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory

from medunion.accounts import actions
from medunion.accounts.models import ApiToken, User
from medunion.core import clock
from medunion.core.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from tests.world import PASSWORD


def test_argon2_is_the_production_hasher(db, settings):
    from medunion import settings as production

    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    from medunion.access.actor import system_actor

    user = actions.create_account(acting=system_actor("t"), username="sec2", password=PASSWORD, role="secadmin")
    assert user.password.startswith("argon2$")


def test_only_the_security_administrator_creates_accounts(world):
    for persona in ("sysadmin", "auditadmin", "coordinator", "village_doctor_a"):
        with pytest.raises(PermissionDenied):
            actions.create_account(acting=world.actor(persona), username="x1", password=PASSWORD, role="sysadmin")
    with pytest.raises(ValidationFailed) as err:
        actions.create_account(acting=world.actor("secadmin"), username="x2", password="123", role="practitioner")
    assert {"password", "practitioner"} <= set(err.value.errors)


def test_totp_enrol_verify_and_no_replay(world):
    user = User.objects.get(username="coordinator")
    secret, uri = actions.begin_totp(user)
    assert uri.startswith("otpauth://totp/MedUnion:coordinator")
    with pytest.raises(ValidationFailed):
        actions.confirm_totp(user, "000000")
    at = clock.now()
    with clock.frozen(at):
        actions.confirm_totp(user, pyotp.TOTP(secret).at(at))
    user.refresh_from_db()
    assert user.has_mfa
    later = at + dt.timedelta(seconds=90)
    with clock.frozen(later):
        code = pyotp.TOTP(secret).at(later)
        assert actions.verify_totp(user, code)
        assert not actions.verify_totp(user, code)  # the same code twice: refused


def test_token_lifecycle(world, settings):
    request = RequestFactory().post("/api/v1/auth/token")
    raw, token = actions.issue_token(request, username="village_doctor_a", password=PASSWORD)
    assert raw.startswith("mu_") and raw not in token.digest
    assert ApiToken.objects.get(pk=token.pk).digest == ApiToken.digest_of(raw)
    assert actions.user_for_token(raw).username == "village_doctor_a"
    with clock.frozen(clock.now() + dt.timedelta(hours=settings.MEDUNION_API_TOKEN_HOURS, minutes=1)):
        assert actions.user_for_token(raw) is None  # expired
    actions.revoke_token(acting=world.actor("village_doctor_a", "api"), raw=raw)
    assert actions.user_for_token(raw) is None
    assert actions.user_for_token("mu_forged") is None


def test_token_needs_the_second_factor_when_enrolled(world):
    user = User.objects.get(username="village_doctor_a")
    secret, _ = actions.begin_totp(user)
    now = clock.now()
    with clock.frozen(now):
        actions.confirm_totp(user, pyotp.TOTP(secret).at(now))
    request = RequestFactory().post("/api/v1/auth/token")
    with pytest.raises(NotAuthenticated) as err:
        actions.issue_token(request, username="village_doctor_a", password=PASSWORD)
    assert err.value.field == "otp"
    later = now + dt.timedelta(seconds=60)
    with clock.frozen(later):
        raw, _t = actions.issue_token(request, username="village_doctor_a", password=PASSWORD,
                                      otp=pyotp.TOTP(secret).at(later))
    assert raw



def test_a_confirmed_second_factor_has_its_secret(world):
    """has_mfa reads the confirmation time alone; the database holds it to the secret."""
    from django.db import IntegrityError, transaction

    user = User.objects.get(username="coordinator")
    assert user.totp_secret == "" and not user.has_mfa
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(totp_confirmed_at=clock.now())
    actions.begin_totp(user)
    assert not User.objects.get(pk=user.pk).has_mfa  # enrolled, not yet confirmed
    User.objects.filter(pk=user.pk).update(totp_confirmed_at=clock.now())
    assert User.objects.get(pk=user.pk).has_mfa


def test_a_token_request_neither_loads_nor_decrypts_the_second_factor_secret(world, settings, monkeypatch,
                                                                              django_assert_num_queries):
    """Every API and FHIR request of an account that must have a second factor asks whether it
    has one; the answer needs neither the secret nor the password hash."""
    from django.test import Client

    from medunion.core.crypto import KeyRing

    settings.MEDUNION_REQUIRE_MFA = True
    user = User.objects.get(username="coordinator")
    assert user.mfa_required
    secret, _ = actions.begin_totp(user)
    now = clock.now()
    with clock.frozen(now):
        actions.confirm_totp(user, pyotp.TOTP(secret).at(now))
    later = now + dt.timedelta(seconds=60)
    with clock.frozen(later):
        raw, _token = actions.issue_token(RequestFactory().post("/api/v1/auth/token"), username="coordinator",
                                          password=PASSWORD, otp=pyotp.TOTP(secret).at(later))

    account = actions.user_for_token(raw)
    assert account is not None and {"password", "totp_secret"} <= account.get_deferred_fields()
    with django_assert_num_queries(0):
        assert account.has_mfa

    decrypted: list[str] = []
    real = KeyRing.decrypt

    def spy(self, token, context):
        decrypted.append(context)
        return real(self, token, context)

    monkeypatch.setattr(KeyRing, "decrypt", spy)
    me = Client().get("/api/v1/auth/me", headers={"authorization": f"Bearer {raw}"})
    assert me.status_code == 200 and me.json()["mfa_enabled"] is True
    assert "accounts.user.totp_secret" not in decrypted
    assert User.objects.get(pk=user.pk).totp_secret == secret  # the model still decrypts it where asked

def test_lockout_after_repeated_failures(world, settings):
    factory = RequestFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert authenticate(factory.post("/login"), username="village_doctor_b", password="wrong") is None
    # even the right password is refused now
    assert authenticate(factory.post("/login"), username="village_doctor_b", password=PASSWORD) is None
    from axes.utils import reset

    reset(username="village_doctor_b")
    assert authenticate(factory.post("/login"), username="village_doctor_b", password=PASSWORD) is not None


def test_deactivated_account_loses_its_tokens(world):
    request = RequestFactory().post("/api/v1/auth/token")
    raw, _ = actions.issue_token(request, username="village_doctor_a", password=PASSWORD)
    actions.set_active(acting=world.actor("secadmin"), user_id=world.users["village_doctor_a"].pk, active=False)
    assert actions.user_for_token(raw) is None


def test_logs_never_carry_identity_numbers_or_tokens(caplog):
    log = logging.getLogger("medunion.test")
    from medunion.core.logging import RedactFilter

    handler_filter = RedactFilter()
    with caplog.at_level(logging.INFO):
        log.addFilter(handler_filter)
        try:
            log.info("lookup %s phone %s auth %s", "61042419620314002X", "13800000001", "Bearer mu_abcdef123")
        finally:
            log.removeFilter(handler_filter)
    text = caplog.text
    assert "61042419620314002X" not in text and "13800000001" not in text and "mu_abcdef123" not in text
    assert "[ID]" in text and "[PHONE]" in text


def test_server_refuses_development_keys_outside_debug(settings):
    from django.core.exceptions import ImproperlyConfigured

    from medunion.core.checks import assert_safe_to_serve

    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured) as err:
        assert_safe_to_serve()
    assert "MEDUNION_SECRET_KEY" in str(err.value)
    settings.SECRET_KEY = "x" * 60
    settings.MEDUNION_ENCRYPTION_KEYS = "k1:" + base64.b64encode(b"A" * 32).decode()
    settings.MEDUNION_LOOKUP_KEY = base64.b64encode(b"B" * 32).decode()
    assert_safe_to_serve()
    settings.MEDUNION_ENCRYPTION_KEYS = "k1:" + base64.b64encode(b"A" * 16).decode()
    with pytest.raises(ImproperlyConfigured) as err:
        assert_safe_to_serve()
    assert "32 bytes" in str(err.value)
