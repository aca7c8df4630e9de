"""Account actions: creating accounts (security administrator), API tokens, the TOTP factor."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

import pyotp
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor, actor_for
from medunion.access.policy import Action, require
from medunion.audit.actions import record
from medunion.audit.models import Outcome, Verb
from medunion.core import clock
from medunion.core.errors import Conflict, Duplicate, NotAuthenticated, NotFound, ValidationFailed

from .models import ApiToken, Role, User

ISSUER = "MedUnion"


def create_account(*, acting: Actor, username: str, password: str, role: str, display_name: str = "",
                   practitioner_id: uuid.UUID | None = None, patient_id: uuid.UUID | None = None,
                   region_code: str | None = None, consortium_ids: list[uuid.UUID] | None = None) -> User:
    require(acting, Action.MANAGE_ACCOUNTS)
    errors: dict[str, list[str]] = {}
    username = (username or "").strip()
    if not username or len(username) > 150:
        errors["username"] = [str(_("Choose a user name."))]
    if role not in Role.values:
        errors["role"] = [str(_("Unknown role."))]
    if role == Role.PRACTITIONER and not practitioner_id:
        errors["practitioner"] = [str(_("A clinician account must be linked to a practitioner."))]
    if role == Role.PATIENT and not patient_id:
        errors["patient"] = [str(_("A patient account must be linked to a patient."))]
    if role == Role.COMMISSION and not region_code:
        errors["region"] = [str(_("A health-commission account needs its region."))]
    try:
        validate_password(password, User(username=username, display_name=display_name))
    except ValidationError as exc:
        errors["password"] = [str(m) for m in exc.messages]
    if errors:
        raise ValidationFailed(errors=errors)
    try:
        with transaction.atomic():
            user = User(username=username, role=role, display_name=display_name or username,
                        practitioner_id=practitioner_id, patient_id=patient_id, region_id=region_code,
                        is_staff=role in (Role.COORDINATOR, Role.SECADMIN, Role.SYSADMIN, Role.AUDITADMIN))
            user.set_password(password)
            user.save()
            if role == Role.COORDINATOR:
                from medunion.network.models import CoordinatorAssignment

                for cid in consortium_ids or []:
                    CoordinatorAssignment.objects.create(user=user, consortium_id=cid)
            record(acting, "account.create", Verb.CREATE, obj=user, detail={"role": role})
    except IntegrityError as exc:
        raise Duplicate(_("This user name or linked record is taken already."), field="username") from exc
    return user


def set_active(*, acting: Actor, user_id: uuid.UUID, active: bool) -> User:
    require(acting, Action.MANAGE_ACCOUNTS)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound()
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=clock.now())
        record(acting, "account.activate" if active else "account.deactivate", Verb.UPDATE, obj=user)
    return user


# --- second factor (TOTP, RFC 6238) --------------------------------------------------------

def begin_totp(user: User) -> tuple[str, str]:
    """A fresh secret (not yet active) and its otpauth:// URI for the authenticator app."""
    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.totp_confirmed_at = None
    user.save(update_fields=["totp_secret", "totp_confirmed_at"])
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return secret, uri


def _check_code(user: User, code: str) -> bool:
    code = (code or "").strip().replace(" ", "")
    if not user.totp_secret or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = clock.now()
    for offset in (0, -1, 1):
        at = now + dt.timedelta(seconds=30 * offset)
        if totp.verify(code, for_time=at, valid_window=0):
            step = totp.timecode(at)
            with transaction.atomic():
                # One code, one use: a code cannot be replayed within its window.
                updated = User.objects.filter(pk=user.pk, totp_last_step__lt=step).update(totp_last_step=step)
            return bool(updated)
    return False


def confirm_totp(user: User, code: str) -> None:
    if not _check_code(user, code):
        raise ValidationFailed(_("That code is not right. Check the time on your phone and try again."),
                               field="code")
    user.totp_confirmed_at = clock.now()
    user.save(update_fields=["totp_confirmed_at"])
    record(actor_for(user), "account.mfa.enable", Verb.UPDATE, obj=user)


def verify_totp(user: User, code: str) -> bool:
    return user.has_mfa and _check_code(user, code)


def reset_totp(*, acting: Actor, user_id: uuid.UUID) -> None:
    require(acting, Action.MANAGE_ACCOUNTS)
    with transaction.atomic():
        n = User.objects.filter(pk=user_id).update(totp_secret="", totp_confirmed_at=None)
        if not n:
            raise NotFound()
        record(acting, "account.mfa.reset", Verb.UPDATE, object_type="accounts.user", object_id=str(user_id))


# --- API tokens -----------------------------------------------------------------------------

def issue_token(request: HttpRequest | None, *, username: str, password: str, otp: str = "",
                label: str = "") -> tuple[str, ApiToken]:
    user = authenticate(request, username=username, password=password)
    if user is None or not isinstance(user, User):
        raise NotAuthenticated(_("The user name or password is wrong, or the account is locked."))
    if user.has_mfa and not verify_totp(user, otp):
        raise NotAuthenticated(_("This account needs its second-factor code (otp)."), field="otp")
    from django.conf import settings

    if user.mfa_required and not user.has_mfa and settings.MEDUNION_REQUIRE_MFA:
        raise NotAuthenticated(_("Set up the second factor on the web page before using the API."))
    raw = "mu_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, digest=ApiToken.digest_of(raw), prefix=raw[3:9], label=label[:100],
            expires_at=clock.now() + dt.timedelta(hours=settings.MEDUNION_API_TOKEN_HOURS))
        record(actor_for(user, "api"), "account.token.issue", Verb.LOGIN, obj=token)
    return raw, token


def user_for_token(raw: str) -> User | None:
    if not raw or not raw.startswith("mu_"):
        return None
    token = ApiToken.objects.select_related("user").filter(digest=ApiToken.digest_of(raw)).first()
    if token is None or not token.live or not token.user.is_active:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_token(*, acting: Actor, raw: str | None = None, token_id: Any = None) -> None:
    qs = ApiToken.objects.filter(user_id=acting.user_id, revoked_at__isnull=True)
    if raw:
        qs = qs.filter(digest=ApiToken.digest_of(raw))
    elif token_id:
        qs = qs.filter(pk=token_id)
    else:
        raise ValidationFailed(_("Name the token to revoke."))
    with transaction.atomic():
        n = qs.update(revoked_at=clock.now())
        if not n:
            raise Conflict(_("This token is unknown or revoked already."))
        record(acting, "account.token.revoke", Verb.UPDATE, object_type="accounts.apitoken")


def record_login(user: User, surface: str, outcome: str = Outcome.SUCCESS) -> None:
    record(actor_for(user, surface), "account.login", Verb.LOGIN, obj=user, outcome=outcome)
