"""Signing in (password, then the second factor when enrolled), signing out, enrolling the second
factor, and the account page (password, second factor, API tokens)."""

from __future__ import annotations

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from medunion.access.actor import actor_for
from medunion.access.loaders import parse_uuid
from medunion.accounts import actions as accounts
from medunion.accounts.models import User
from medunion.accounts.queries import live_tokens
from medunion.core import clock
from medunion.core.errors import DomainError

from .common import apply_error, signed_in

_PENDING = "medunion.mfa_pending"
PENDING_SECONDS = 300


class LoginForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("User name"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none",
                                                             "autofocus": True}))
    password = forms.CharField(label=gettext_lazy("Password"), max_length=256,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Six-digit code from your authenticator app"), max_length=8,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "pattern": "[0-9 ]*", "class": "otp", "autofocus": True}))


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return "/"


def _finish_login(request: HttpRequest, user: User, target: str) -> HttpResponse:
    request.session.pop(_PENDING, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    accounts.record_login(user, "page")
    accounts.keep_request_language(user, "page")  # their notices come in it, until they switch
    return redirect(target)


@sensitive_post_parameters("password")
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            user = authenticate(request, username=form.cleaned_data["username"],
                                password=form.cleaned_data["password"])
            if isinstance(user, User):
                if not user.has_mfa:
                    return _finish_login(request, user, _next_url(request))
                request.session[_PENDING] = {"user": str(user.pk), "at": clock.now().timestamp(), "next": _next_url(request)}
                return redirect("web:login_code")
            form.add_error(None, _("The user name or password is wrong."))
            status = 401
        else:
            status = 422
    return render(request, "web/login.html", {"form": form, "next": _next_url(request)}, status=status)


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(_PENDING)
    if not pending or clock.now().timestamp() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=pending["user"], is_active=True).first()


def login_code(request: HttpRequest) -> HttpResponse:
    """The second step: the TOTP code. Wrong codes count towards the lockout like wrong passwords."""
    user = _pending_user(request)
    if user is None:
        request.session.pop(_PENDING, None)
        messages.warning(request, _("Please sign in again."))
        return redirect("web:login")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if accounts.verify_totp(user, form.cleaned_data["code"]):
            return _finish_login(request, user, request.session[_PENDING].get("next", "/"))
        user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)
        if getattr(request, "axes_locked_out", False):
            request.session.pop(_PENDING, None)
            return redirect("web:login")  # the lockout page
        form.add_error("code", _("That code is not right. Check the time on your phone and try again."))
    if request.method == "POST":
        status = 422
    return render(request, "web/login_code.html", {"form": form}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, _("You have signed out."))
    return redirect("web:login")


def _qr_svg(data: str) -> str:
    return segno.make(data, error="m").svg_inline(scale=4, dark="#1b2430", light="#ffffff")


@signed_in
def mfa_setup(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if user.has_mfa:
        return render(request, "web/mfa_setup.html", {"enrolled": True, "nav": "account"})
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            accounts.confirm_totp(user, form.cleaned_data["code"])
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("The second factor is set up. You will be asked for a code when you sign in."))
            return redirect("web:account")
    if request.method == "POST":
        status = 422
    if not user.totp_secret:
        accounts.begin_totp(user)
    secret = user.totp_secret
    import pyotp

    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=accounts.ISSUER)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render(request, "web/mfa_setup.html", {
        "enrolled": False, "form": form, "qr": _qr_svg(uri), "secret": grouped,
        "required": user.mfa_required, "nav": "account"}, status=status)


@signed_in
def account(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    status = 200
    password_form = PasswordChangeForm(user, request.POST if request.POST.get("form") == "password" else None)
    if request.method == "POST":
        actor = request.actor  # type: ignore[attr-defined]
        if request.POST.get("form") == "password":
            if password_form.is_valid():
                try:
                    changed = accounts.set_own_password(acting=actor,
                                                        new_password=password_form.cleaned_data["new_password1"])
                except DomainError as exc:
                    apply_error(password_form, exc)
                else:
                    update_session_auth_hash(request, changed)
                    messages.success(request, _("Your password has been changed."))
                    return redirect("web:account")
            status = 422
        elif request.POST.get("form") == "revoke":
            try:
                accounts.revoke_token(acting=actor, token_id=parse_uuid(request.POST.get("token")))
            except DomainError as exc:
                messages.warning(request, str(exc.message))
            else:
                messages.success(request, _("The token has been revoked."))
            return redirect("web:account")
    tokens = live_tokens(user)
    return render(request, "web/account.html", {"password_form": password_form, "tokens": tokens,
                                                "nav": "account"}, status=status)


def set_language(request: HttpRequest) -> HttpResponse:
    """The language switch on every page: Django's (a cookie, then back to the page), and for a
    signed-in account also its stored language, the one its notices are written in."""
    response = django_set_language(request)
    language = request.POST.get("language", "") if request.method == "POST" else ""
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        accounts.set_own_language(acting=actor_for(request.user, "page"), language=language)
    return response  # type: ignore[no-any-return]
