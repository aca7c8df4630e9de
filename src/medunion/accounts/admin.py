"""Accounts in the back office: the security administrator's work (accounts, roles, second factor,
lockouts, API tokens) and the system administrator's (platform settings). Neither sees the
other's pages, nor the audit log, nor patient data: a patient account is linked by the id of
the patient record, never by browsing patients. Password hashes, second-factor secrets and
token digests are never shown."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from medunion.access.actor import Actor
from medunion.access.policy import Action, can, visible_consortia
from medunion.core import clock
from medunion.core.errors import Conflict
from medunion.network.models import Consortium, CoordinatorAssignment
from medunion.web.admin_site import ActionForm, PolicyAdmin, admin_actor, adopt, site

from . import actions
from .models import ApiToken, PlatformSetting, User
from .settings_registry import SETTINGS, spec_of


def _manages_accounts(actor: Actor) -> bool:
    return can(actor, Action.MANAGE_ACCOUNTS)


def _recent_failures() -> Any:
    """Failed sign-ins within the lockout's cool-off, per account (one subquery for the page)."""
    cool_off = get_cool_off() or dt.timedelta(days=36500)
    failures = (AccessAttempt.objects.filter(username=OuterRef("username"), attempt_time__gte=clock.now() - cool_off)
                .order_by().values("username").annotate(n=Sum("failures_since_start")).values("n"))
    return Coalesce(Subquery(failures[:1]), Value(0))


# --- accounts --------------------------------------------------------------------------------

class _LinksMixin(forms.Form):
    consortia = forms.ModelMultipleChoiceField(
        queryset=Consortium.objects.none(), required=False, label=_("Consortia managed"),
        widget=forms.CheckboxSelectMultiple, help_text=_("Coordinators only: the consortia this account manages."))

    def scope_consortia(self, actor: Actor) -> None:
        cast(forms.ModelMultipleChoiceField, self.fields["consortia"]).queryset = visible_consortia(actor).order_by("code")


class AccountAddForm(_LinksMixin, ActionForm):
    patient_id = forms.UUIDField(
        label=_("Patient ID"), required=False,
        help_text=_("Patient accounts only: the id of the patient's record, as given by their clinic."))
    password1 = forms.CharField(label=_("Password"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label=_("Password again"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    aliases = {"password": "password1", "patient": "patient_id"}

    class Meta:
        model = User
        fields = ("username", "display_name", "role", "practitioner", "region")

    def scope(self, actor: Actor) -> None:
        self.scope_consortia(actor)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("The two passwords differ."))
        return data


class AccountForm(_LinksMixin, ActionForm):
    class Meta:
        model = User
        fields = ("display_name", "role", "practitioner", "region", "is_active")

    def scope(self, actor: Actor) -> None:
        self.scope_consortia(actor)
        if self.existing:
            self.fields["consortia"].initial = list(
                CoordinatorAssignment.objects.filter(user=self.instance).values_list("consortium_id", flat=True))


ROLE_FIELDS = ("role", "practitioner", "region", "consortia")


@admin.register(User, site=site)
class AccountAdmin(PolicyAdmin):
    form = AccountForm
    add_form = AccountAddForm
    list_display = ("username", "name", "role", "is_active", "second_factor", "locked")
    list_filter = ("role", "is_active")
    search_fields = ("username", "display_name")
    autocomplete_fields = ("practitioner", "region")
    ordering = ("username",)
    actions = ("deactivate", "activate", "reset_second_factor", "unlock")

    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return _manages_accounts(actor)

    allow_add = allow_change = allow_view

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return _manages_accounts(admin_actor(request))

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        mfa = ExpressionWrapper(Q(totp_confirmed_at__isnull=False), output_field=BooleanField())
        return (User.objects.defer("password", "totp_secret")
                .annotate(mfa_on=mfa, recent_failures=_recent_failures()))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("username", "display_name", "role", "practitioner", "patient_id", "region", "consortia",
                    "password1", "password2")
        return ("username", "display_name", "role", "practitioner", "patient_link", "region", "consortia",
                "is_active", "second_factor", "locked", "last_login", "date_joined")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("username", "patient_link", "second_factor", "locked", "last_login",
                                       "date_joined")

    @admin.display(description=_("display name"), ordering="display_name")
    def name(self, obj: Any) -> str:
        from .queries import account_name

        return account_name(obj)

    @admin.display(description=_("second factor"), boolean=True)
    def second_factor(self, obj: Any) -> bool:
        return bool(getattr(obj, "mfa_on", obj.totp_confirmed_at is not None))

    @admin.display(description=_("locked out"), boolean=True)
    def locked(self, obj: Any) -> bool:
        return int(getattr(obj, "recent_failures", 0) or 0) >= settings.AXES_FAILURE_LIMIT

    @admin.display(description=_("patient ID"))
    def patient_link(self, obj: Any) -> str:
        return str(obj.patient_id) if obj.patient_id else "—"

    def perform_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor, data = admin_actor(request), form.cleaned_data
        consortia = [c.pk for c in data.get("consortia") or []]
        practitioner = data.get("practitioner")
        region = data.get("region")
        if not change:
            adopt(obj, actions.create_account(
                acting=actor, username=data["username"], password=data["password1"], role=data["role"],
                display_name=data.get("display_name") or "", practitioner_id=practitioner.pk if practitioner else None,
                patient_id=data.get("patient_id"), region_code=region.pk if region else None,
                consortium_ids=consortia))
            return
        changed = set(form.changed_data)
        if "display_name" in changed:
            actions.rename_account(acting=actor, user_id=obj.pk, display_name=data.get("display_name") or "")
        if changed & set(ROLE_FIELDS):
            actions.change_role(acting=actor, user_id=obj.pk, role=data["role"], consortium_ids=consortia,
                                region_code=region.pk if region else None,
                                practitioner_id=practitioner.pk if practitioner else None)
        if "is_active" in changed:
            if obj.pk == actor.user_id and not data["is_active"]:
                raise Conflict(_("You cannot deactivate your own account."), field="is_active")
            actions.set_active(acting=actor, user_id=obj.pk, active=bool(data["is_active"]))
        obj.refresh_from_db()

    # bulk actions
    @admin.action(description=_("Deactivate the selected accounts"), permissions=["manage"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        def perform(actor: Actor, user: Any) -> None:
            if user.pk == actor.user_id:
                raise Conflict(_("You cannot deactivate your own account."))
            actions.set_active(acting=actor, user_id=user.pk, active=False)

        self.each(request, queryset.filter(is_active=True), perform,
                  lambda n: ngettext("%(n)d account deactivated.", "%(n)d accounts deactivated.", n) % {"n": n})

    @admin.action(description=_("Activate the selected accounts"), permissions=["manage"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.each(request, queryset.filter(is_active=False),
                  lambda actor, user: actions.set_active(acting=actor, user_id=user.pk, active=True),
                  lambda n: ngettext("%(n)d account activated.", "%(n)d accounts activated.", n) % {"n": n})

    @admin.action(description=_("Reset the second factor (the account enrols again at its next sign-in)"),
                  permissions=["manage"])
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.each(request, queryset,
                  lambda actor, user: actions.reset_totp(acting=actor, user_id=user.pk),
                  lambda n: ngettext("Second factor reset for %(n)d account.",
                                     "Second factor reset for %(n)d accounts.", n) % {"n": n})

    @admin.action(description=_("Unlock the selected accounts (clear failed sign-ins)"), permissions=["manage"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.each(request, queryset,
                  lambda actor, user: actions.unlock_account(acting=actor, user_id=user.pk),
                  lambda n: ngettext("%(n)d account unlocked.", "%(n)d accounts unlocked.", n) % {"n": n})


# --- API tokens ------------------------------------------------------------------------------

class TokenStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("live", _("live")), ("revoked", _("revoked")), ("expired", _("expired"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = clock.now()
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.register(ApiToken, site=site)
class ApiTokenAdmin(PolicyAdmin):
    list_display = ("prefix", "user", "label", "created_at", "expires_at", "last_used_at", "revoked_at", "live")
    list_filter = (TokenStatusFilter,)
    list_select_related = ("user",)
    search_fields = ("=prefix", "user__username", "label")
    fields = ("user", "prefix", "label", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    ordering = ("-created_at",)
    actions = ("revoke",)

    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return _manages_accounts(actor)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return _manages_accounts(admin_actor(request))

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return ApiToken.objects.defer("digest")

    @admin.display(description=_("live"), boolean=True)
    def live(self, obj: Any) -> bool:
        return bool(obj.live)

    @admin.action(description=_("Revoke the selected tokens"), permissions=["manage"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.each(request, queryset.filter(revoked_at__isnull=True),
                  lambda actor, token: actions.revoke_account_token(acting=actor, token_id=token.pk),
                  lambda n: ngettext("%(n)d token revoked.", "%(n)d tokens revoked.", n) % {"n": n})


# --- platform settings (system administrator) ----------------------------------------------------

class SettingAddForm(ActionForm):
    key = forms.ChoiceField(label=_("Setting"))

    class Meta:
        model = PlatformSetting
        fields = ("value",)

    def scope(self, actor: Actor) -> None:
        cast(forms.ChoiceField, self.fields["key"]).choices = [(k, f"{spec.label} ({k})") for k, spec in SETTINGS.items()]


class SettingForm(ActionForm):
    class Meta:
        model = PlatformSetting
        fields = ("value",)

    def scope(self, actor: Actor) -> None:
        spec = SETTINGS.get(self.instance.key)
        if spec is not None and "value" in self.fields:
            self.fields["value"].help_text = str(spec.help)


@admin.register(PlatformSetting, site=site)
class PlatformSettingAdmin(PolicyAdmin):
    """Known settings only (accounts.settings_registry), validated there; every change audited."""

    form = SettingForm
    add_form = SettingAddForm
    list_display = ("key", "label", "value", "updated_at")
    ordering = ("key",)
    actions = ("reset_to_default",)

    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return can(actor, Action.MANAGE_SETTINGS)

    allow_add = allow_change = allow_view

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return can(admin_actor(request), Action.MANAGE_SETTINGS)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return PlatformSetting.objects.all()

    @admin.display(description=_("setting"))
    def label(self, obj: Any) -> str:
        spec = SETTINGS.get(obj.key)
        return str(spec.label) if spec is not None else "—"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("key", "value") if obj is None else ("key", "label", "value", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("key", "label", "updated_at")

    def perform_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        key = obj.key if change else form.cleaned_data["key"]
        spec_of(key)
        actions.set_platform_setting(acting=admin_actor(request), key=key, value=form.cleaned_data["value"])
        adopt(obj, PlatformSetting.objects.get(pk=key))

    @admin.action(description=_("Reset the selected settings to their defaults"), permissions=["manage"])
    def reset_to_default(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.each(request, queryset,
                  lambda actor, row: actions.reset_platform_setting(acting=actor, key=row.key),
                  lambda n: ngettext("%(n)d setting reset.", "%(n)d settings reset.", n) % {"n": n})
