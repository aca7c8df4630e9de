"""Account actions: creating accounts (security administrator), API tokens, the TOTP factor."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import MEMBERSHIP_FIELDS, MEMBERSHIPS_LOADED, Actor, actor_for, memberships
from medunion.access.policy import Action, require
from medunion.audit.actions import record
from medunion.audit.models import Outcome, Verb
from medunion.core import clock
from medunion.core.errors import Conflict, Duplicate, NotAuthenticated, NotFound, ValidationFailed
from medunion.core.statements import Statement

from .models import ApiToken, PlatformSetting, Role, User
from .settings_registry import platform_setting, spec_of

ISSUER = "MedUnion"
STAFF_ROLES = {Role.COORDINATOR, Role.SECADMIN, Role.SYSADMIN, Role.AUDITADMIN}


def _check_links(errors: dict[str, list[str]], role: str, *, practitioner_id: uuid.UUID | None = None,
                 patient_id: uuid.UUID | None = None, region_code: str | None = None,
                 consortium_ids: list[uuid.UUID] | None = None, user: User | None = None) -> None:
    """An account links to exactly the records its role needs, and they exist: a clinician to
    their practitioner, a patient to their patient record, a health-commission viewer to a
    region, a coordinator to the consortia they manage. ``user``: the account being changed
    (its own links do not count as taken)."""
    from medunion.network.models import Consortium, Practitioner, Region
    from medunion.patients.models import Patient

    others = User.objects.exclude(pk=user.pk) if user is not None else User.objects.all()
    if role == Role.PRACTITIONER:
        if not practitioner_id:
            errors["practitioner"] = [str(_("A clinician account must be linked to a practitioner."))]
        elif not Practitioner.objects.filter(pk=practitioner_id).exists():
            errors["practitioner"] = [str(_("Unknown practitioner."))]
        elif others.filter(practitioner_id=practitioner_id).exists():
            errors["practitioner"] = [str(_("This practitioner has an account already."))]
    elif practitioner_id:
        errors["practitioner"] = [str(_("Only clinician accounts are linked to a practitioner."))]
    if role == Role.PATIENT:
        if not patient_id:
            errors["patient"] = [str(_("A patient account must be linked to a patient."))]
        elif not Patient.objects.filter(pk=patient_id).exists():
            errors["patient"] = [str(_("Unknown patient."))]
        elif others.filter(patient_id=patient_id).exists():
            errors["patient"] = [str(_("This patient has an account already."))]
    elif patient_id:
        errors["patient"] = [str(_("Only patient accounts are linked to a patient."))]
    if role == Role.COMMISSION:
        if not region_code:
            errors["region"] = [str(_("A health-commission account needs its region."))]
        elif not Region.objects.filter(pk=region_code).exists():
            errors["region"] = [str(_("Unknown region code."))]
    elif region_code:
        errors["region"] = [str(_("Only health-commission accounts have a region."))]
    wanted = set(consortium_ids or [])
    if role == Role.COORDINATOR:
        if not wanted:
            errors["consortia"] = [str(_("A coordinator account needs the consortia it manages."))]
        elif Consortium.objects.filter(pk__in=wanted).count() != len(wanted):
            errors["consortia"] = [str(_("Unknown consortium."))]
    elif wanted:
        errors["consortia"] = [str(_("Only coordinator accounts manage consortia."))]


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
    _check_links(errors, role, practitioner_id=practitioner_id, patient_id=patient_id, region_code=region_code,
                 consortium_ids=consortium_ids)
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
                        is_staff=role in STAFF_ROLES)
            user.set_password(password)
            user.save()
            if role == Role.COORDINATOR:
                from medunion.network.models import CoordinatorAssignment

                for cid in dict.fromkeys(consortium_ids or []):  # each consortium once
                    CoordinatorAssignment.objects.create(user=user, consortium_id=cid)
            record(acting, "account.create", Verb.CREATE, obj=user, detail={"role": role})
    except IntegrityError as exc:
        raise Duplicate(_("This user name or linked record is taken already."), field="username") from exc
    return user


def set_active(*, acting: Actor, user_id: uuid.UUID, active: bool) -> User:
    require(acting, Action.MANAGE_ACCOUNTS)
    if not active and user_id == acting.user_id:
        raise Conflict(_("You cannot deactivate your own account."))
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
    if user.mfa_required and not user.has_mfa and settings.MEDUNION_REQUIRE_MFA:
        raise NotAuthenticated(_("Set up the second factor on the web page before using the API."))
    raw = "mu_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, digest=ApiToken.digest_of(raw), prefix=raw[3:9], label=label[:100],
            expires_at=clock.now() + dt.timedelta(hours=platform_setting("api_token_hours")))
        record(actor_for(user, "api"), "account.token.issue", Verb.LOGIN, obj=token)
    return raw, token


# Every API and FHIR request (core.statements); no ORDER BY: the digest is unique. The account
# without its password hash and second-factor secret: no request with a token needs them (has_mfa
# reads the confirmation time), and the secret would be decrypted on every one. With it, for a
# clinician, their places and teams (access.actor.memberships), which actor_for then asks no more:
# a token's request learns who is acting in one statement.
_TOKEN = Statement(lambda digest: ApiToken.objects.select_related("user")
                   .defer("user__password", "user__totp_secret").filter(digest=digest)
                   .annotate(**memberships(OuterRef("user__practitioner_id"))))


def user_for_token(raw: str) -> User | None:
    if not raw or not raw.startswith("mu_"):
        return None
    token = _TOKEN.first(ApiToken.digest_of(raw))
    if token is None or not token.live or not token.user.is_active:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user = token.user
    user.__dict__[MEMBERSHIPS_LOADED] = tuple(getattr(token, f) for f in MEMBERSHIP_FIELDS)
    return user


def revoke_token(*, acting: Actor, raw: str | None = None, token_id: Any = None) -> None:
    qs = ApiToken.objects.filter(user_id=acting.user_id, revoked_at__isnull=True)  # type: ignore[misc]
    if raw:
        qs = qs.filter(digest=ApiToken.digest_of(raw))
    elif token_id:
        qs = qs.filter(pk=token_id)
        if ApiToken.objects.filter(pk=token_id).values_list("user_id", flat=True).first() != acting.user_id:
            raise NotFound()  # another account's token answers like one that does not exist
    else:
        raise ValidationFailed(_("Name the token to revoke."))
    with transaction.atomic():
        n = qs.update(revoked_at=clock.now())
        if not n:
            raise Conflict(_("This token is unknown or revoked already."))
        record(acting, "account.token.revoke", Verb.UPDATE, object_type="accounts.apitoken")


def record_login(user: User, surface: str, outcome: str = Outcome.SUCCESS) -> None:
    record(actor_for(user, surface), "account.login", Verb.LOGIN, obj=user, outcome=outcome)


# --- the security administrator's work on accounts ------------------------------------------

def _account(user_id: Any, *, for_update: bool = False) -> User:
    qs = User.objects.select_for_update() if for_update else User.objects.all()
    user = qs.filter(pk=user_id).first()
    if user is None:
        raise NotFound()
    return user


def change_role(*, acting: Actor, user_id: uuid.UUID, role: str, consortium_ids: list[uuid.UUID] | None = None,
                region_code: str | None = None, practitioner_id: uuid.UUID | None = None) -> User:
    """Give an account another role (and, for a coordinator, the consortia it manages — the
    whole set). Actors are built per request, so the change applies on the account's next
    request, with the tokens it already holds."""
    require(acting, Action.MANAGE_ACCOUNTS)
    if user_id == acting.user_id:
        raise Conflict(_("You cannot change your own role; ask another security administrator."))
    from medunion.network.models import CoordinatorAssignment

    with transaction.atomic():
        user = _account(user_id, for_update=True)
        errors: dict[str, list[str]] = {}
        if role not in Role.values:
            errors["role"] = [str(_("Unknown role."))]
        elif Role.PATIENT in (role, user.role) and role != user.role:
            errors["role"] = [str(_("Patient accounts keep their role; create a separate account instead."))]
        _check_links(errors, role, user=user, consortium_ids=consortium_ids,
                     region_code=region_code or (user.region_id if role == Role.COMMISSION else None),
                     practitioner_id=practitioner_id or (user.practitioner_id if role == Role.PRACTITIONER else None),
                     patient_id=user.patient_id if role == Role.PATIENT else None)
        if errors:
            raise ValidationFailed(errors=errors)
        before = {"role": user.role, "consortia": sorted(str(c) for c in CoordinatorAssignment.objects.filter(
            user=user).values_list("consortium_id", flat=True)), "region": user.region_id}
        user.role = role
        user.is_staff = role in STAFF_ROLES
        user.region_id = (region_code or user.region_id) if role == Role.COMMISSION else None
        if practitioner_id:
            user.practitioner_id = practitioner_id
        user.save(update_fields=["role", "is_staff", "region", "practitioner"])
        CoordinatorAssignment.objects.filter(user=user).delete()
        wanted = sorted(set(consortium_ids or [])) if role == Role.COORDINATOR else []
        CoordinatorAssignment.objects.bulk_create([CoordinatorAssignment(user=user, consortium_id=c) for c in wanted])
        after = {"role": role, "consortia": [str(c) for c in wanted], "region": user.region_id}
        record(acting, "account.role.change", Verb.UPDATE, obj=user, detail={"from": before, "to": after})
    return user


def unlock_account(*, acting: Actor, user_id: uuid.UUID) -> int:
    """Lift a sign-in lockout (django-axes) before its cool-off ends; returns the failed-attempt
    records cleared (0 when the account was not locked)."""
    require(acting, Action.MANAGE_ACCOUNTS)
    from axes.utils import reset

    user = _account(user_id)
    with transaction.atomic():
        cleared = reset(username=user.username)
        record(acting, "account.unlock", Verb.UPDATE, obj=user, detail={"attempts_cleared": cleared})
    return cleared


# --- platform settings (system administrator) -----------------------------------------------

def set_platform_setting(*, acting: Actor, key: str, value: Any) -> Any:
    require(acting, Action.MANAGE_SETTINGS)
    spec = spec_of(key)
    parsed = spec.parse(value)
    with transaction.atomic():
        row = PlatformSetting.objects.select_for_update().filter(key=key).first()
        before = row.value if row is not None else None
        PlatformSetting.objects.update_or_create(key=key, defaults={"value": spec.to_text(parsed),
                                                                     "updated_at": clock.now()})
        record(acting, "settings.update", Verb.UPDATE, object_type="accounts.platformsetting", object_id=key,
               detail={"from": before, "to": spec.to_text(parsed)})
    return parsed


def reset_platform_setting(*, acting: Actor, key: str) -> None:
    """Forget the stored value: the setting falls back to its default (the environment's)."""
    require(acting, Action.MANAGE_SETTINGS)
    spec_of(key)
    with transaction.atomic():
        row = PlatformSetting.objects.select_for_update().filter(key=key).first()
        if row is None:
            return
        row.delete()
        record(acting, "settings.reset", Verb.DELETE, object_type="accounts.platformsetting", object_id=key,
               detail={"from": row.value})


# --- the back office's other edits of accounts (security administrator) ----------------------

def rename_account(*, acting: Actor, user_id: uuid.UUID, display_name: str) -> User:
    """Change the name an account is shown by."""
    require(acting, Action.MANAGE_ACCOUNTS)
    name = (display_name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(_("Enter a display name of at most 100 characters."), field="display_name")
    with transaction.atomic():
        user = _account(user_id, for_update=True)
        _change(acting, user, "display_name", name)
    return user


def _change(acting: Actor, user: User, field: str, value: str) -> None:
    """One field of an account set and recorded (``account.update``, from and to); nothing is
    written when it is unchanged. In the caller's transaction, on a row it has locked."""
    before = getattr(user, field)
    if before != value:
        setattr(user, field, value)
        user.save(update_fields=[field])
        record(acting, "account.update", Verb.UPDATE, obj=user,
               detail={"changed": {field: {"from": before, "to": value}}})


def revoke_account_token(*, acting: Actor, token_id: Any) -> ApiToken:
    """The security administrator revokes any account's API token (a lost phone, a leaked key)."""
    require(acting, Action.MANAGE_ACCOUNTS)
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
        if token is None:
            raise NotFound()
        if token.revoked_at is not None:
            raise Conflict(_("This token is revoked already."))
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
        record(acting, "account.token.revoke", Verb.UPDATE, obj=token, detail={"account": str(token.user_id)})
    return token


def set_own_language(*, acting: Actor, language: str) -> User:
    """The language a signed-in account's notices (inbox, SMS, e-mail) are written in: the one it
    signed in with or last chose in the language switch. One of ``settings.LANGUAGES``."""
    if acting.user_id is None:
        raise NotFound()
    if language not in dict(settings.LANGUAGES):
        raise ValidationFailed(_("Choose one of the platform's languages."), field="language")
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=acting.user_id, is_active=True).first()
        if user is None:
            raise NotFound()
        _change(acting, user, "language", language)
    return user


def keep_request_language(user: User, surface: str) -> None:
    """On signing in (a page, or a token for an app that says which language it reads): the
    language the request is answered in becomes the account's, for its notices. Asked first on the
    account just signed in: most sign-ins change nothing, and need no write transaction."""
    language = translation.get_language()
    if language != user.language and language in dict(settings.LANGUAGES):
        set_own_language(acting=actor_for(user, surface), language=language)


def set_own_password(*, acting: Actor, new_password: str) -> User:
    """A signed-in user's new password (the page has checked the old one and the validators),
    saved together with its audit row."""
    if acting.user_id is None:
        raise NotFound()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=acting.user_id, is_active=True).first()
        if user is None:
            raise NotFound()
        try:
            validate_password(new_password, user)
        except ValidationError as exc:
            raise ValidationFailed(errors={"new_password1": [str(m) for m in exc.messages]}) from exc
        user.set_password(new_password)
        user.save(update_fields=["password"])
        record(acting, "account.password.change", Verb.UPDATE, obj=user)
    return user
