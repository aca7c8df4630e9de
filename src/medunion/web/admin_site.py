"""The back office at /admin/: Django's admin, policy-checked like every other surface.

- Who may enter: coordinators (with a consortium), and the system, security and audit
  administrators; each sees only the models of their duty (the ModelAdmins ask ``can()``).
  Anyone else signed in gets 404; anyone signed out goes to the platform's sign-in page (the
  admin never authenticates by itself: that would bypass the second factor and the lockout).
- Querysets come from ``access.policy``; an object outside them answers 404.
- Writes go through the domain actions (``perform_save`` / ``save_row`` / ``delete_row``), which
  check the policy again, validate, and write the audit row with the surface ``admin``. A refused
  action rolls everything back and shows its message on the form that caused it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import update_wrapper
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from medunion.access.actor import ANONYMOUS, Actor, actor_for
from medunion.core.errors import DomainError, NotFound
from medunion.web.common import field_errors

ADMIN_ROLES = frozenset({"sysadmin", "secadmin", "auditadmin"})
_ACTOR = "_medunion_admin_actor"
_REFUSAL = "_medunion_admin_refusal"


def admin_actor(request: HttpRequest) -> Actor:
    """The actor of this request on the ``admin`` surface, built once per request."""
    actor = getattr(request, _ACTOR, None)
    if actor is None:
        actor = actor_for(getattr(request, "user", None), "admin")
        setattr(request, _ACTOR, actor)
    return actor


def is_back_office(actor: Actor) -> bool:
    return actor.role in ADMIN_ROLES or (actor.is_coordinator and bool(actor.coordinated_ids))


class MedUnionAdminSite(admin.AdminSite):
    site_header = _("MedUnion back office")
    site_title = _("MedUnion back office")
    index_title = _("Back office")
    site_url = "/"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_authenticated and user.is_active) and is_back_office(admin_actor(request))

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        def guard(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))
            if not self.has_permission(request):
                raise Http404()  # signed in, but the back office is not for this account
            try:
                return inner(request, *args, **kwargs)
            except DjangoPermissionDenied as exc:
                # A model of another duty (the audit log for the security administrator, say)
                # answers like a missing page, as on every other surface; a record one may see
                # but not change (an audit event) keeps its 403.
                if self._may_view_model(request):
                    raise
                raise Http404() from exc

        return update_wrapper(guard, inner)

    def _may_view_model(self, request: HttpRequest) -> bool:
        """Whether the model of this admin URL (/admin/<app>/<model>/…) is one the user may view."""
        from django.apps import apps

        root = reverse("admin:index", current_app=self.name)
        parts = request.path[len(root):].split("/") if request.path.startswith(root) else []
        if len(parts) < 2:
            return False
        try:
            model = apps.get_model(parts[0], parts[1])
        except (LookupError, ValueError):
            return False
        model_admin = self._registry.get(model)
        return bool(model_admin and model_admin.has_view_or_change_permission(request))

    @method_decorator(never_cache)
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The platform's sign-in page does it (password, second factor, lockout)."""
        target = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect_to_login(target, resolve_url(settings.LOGIN_URL))

    def logout(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        from .auth_views import logout_view

        return logout_view(request)  # POST only, like the admin's own sign-out form

    def password_change(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return redirect("web:account")  # the account page changes passwords (and records it)

    def password_change_done(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return redirect("web:account")


site = MedUnionAdminSite(name="admin")
site.disable_action("delete_selected")  # nothing is hard-deleted in bulk


# --- refusals: an action said no -----------------------------------------------------------

class Refused(Exception):
    """A domain action refused a write; ``prefix`` names the form it belongs to (None: the main one)."""

    def __init__(self, error: DomainError, prefix: str | None):
        super().__init__(str(error))
        self.error, self.prefix = error, prefix


@contextmanager
def refusals(prefix: str | None) -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise Http404() from exc
    except DomainError as exc:  # a refusal (403 included) shows its message on the form
        raise Refused(exc, prefix) from exc


class ActionForm(forms.ModelForm):
    """A model form that only parses: the action validates (its messages are what people see) and
    writes. ``scope`` limits choices to what the actor may use."""

    actor: Actor = ANONYMOUS
    refusal: Refused | None = None
    aliases: dict[str, str] = {}  # the action's field name -> this form's, where they differ

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.scope(self.actor)

    def scope(self, actor: Actor) -> None:
        """Set querysets and choices for this actor."""

    @property
    def existing(self) -> bool:
        return not self.instance._state.adding

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.refusal is not None and self.refusal.prefix == self.prefix:
            self._show(self.refusal.error)
        return data

    def _show(self, exc: DomainError) -> None:
        errors = field_errors(exc)
        if not errors:
            self.add_error(None, str(exc.message))
        for name, messages_ in errors.items():
            name = self.aliases.get(name, name)
            for message in messages_:
                self.add_error(name if name in self.fields else None, message)

    def _post_clean(self) -> None:
        pass  # no model validation: the action does it, and its messages are the ones to show


def bind_form(form: type[forms.ModelForm], actor: Actor, refusal: Refused | None) -> type[forms.ModelForm]:
    return type(form.__name__, (form,), {"actor": actor, "refusal": refusal})


def adopt(obj: Model, created: Model) -> None:
    """Make the admin's unsaved instance the one the action created (its id, its values)."""
    for f in obj._meta.concrete_fields:
        setattr(obj, f.attname, getattr(created, f.attname))
    obj._state.adding, obj._state.db = False, created._state.db


# --- permissions from the policy -------------------------------------------------------------

class PolicyRules:
    """What the actor may do; ``obj`` is the object (ModelAdmin) or the parent (inline)."""

    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return False

    def allow_add(self, actor: Actor, obj: Any) -> bool:
        return False

    def allow_change(self, actor: Actor, obj: Any) -> bool:
        return False

    def allow_delete(self, actor: Actor, obj: Any) -> bool:
        return False


class PolicyAdmin(PolicyRules, admin.ModelAdmin):
    form = ActionForm
    list_per_page = 50
    show_full_result_count = False  # one count per page, not two
    add_form: type[forms.ModelForm] | None = None

    # permissions
    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_view(admin_actor(request), obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.allow_add(admin_actor(request), None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_change(admin_actor(request), obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_delete(admin_actor(request), obj)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        """What this actor may see (from access.policy)."""
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = self.scoped(admin_actor(request))
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404()  # missing and not visible answer alike
        return obj

    # forms
    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None and self.add_form is not None:
            kwargs["form"] = self.add_form
        form = super().get_form(request, obj, change, **kwargs)
        return bind_form(form, admin_actor(request), getattr(request, _REFUSAL, None))

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> Any:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Refused as refused:
            # Everything was rolled back; show the form again with the action's message on it.
            setattr(request, _REFUSAL, refused)
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            except Refused as again:
                raise again.error from again

    # writes
    def perform_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        raise DjangoPermissionDenied

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with refusals(None):
            self.perform_save(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        raise DjangoPermissionDenied  # no hard deletes; deactivate instead

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        raise DjangoPermissionDenied

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # No form.save_m2m(): the action wrote everything; each inline row goes through its own.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        inline = getattr(formset, "policy_inline", None)
        if inline is None:
            return
        actor = admin_actor(request)
        for row in formset.forms:
            if row.instance._state.adding and not row.has_changed():
                continue
            if formset.can_delete and formset._should_delete_form(row):
                if not row.instance._state.adding:
                    with refusals(row.prefix):
                        inline.delete_row(actor, form.instance, row.instance)
                    formset.deleted_objects.append(row.instance)
            elif row.has_changed():
                adding = row.instance._state.adding
                with refusals(row.prefix):
                    saved = inline.save_row(actor, form.instance, row, adding)
                if adding:
                    formset.new_objects.append(saved)
                else:
                    formset.changed_objects.append((saved, row.changed_data))

    # bulk actions
    def each(self, request: HttpRequest, queryset: Any, perform: Callable[[Actor, Any], Any],
             done: Callable[[int], str]) -> None:
        """Run one action per selected object; refusals are reported, the others still done."""
        actor, n = admin_actor(request), 0
        for obj in queryset:
            try:
                perform(actor, obj)
            except DomainError as exc:
                self.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
            else:
                n += 1
        if n:
            self.message_user(request, done(n), messages.SUCCESS)


class PolicyInline(PolicyRules, admin.TabularInline):
    form = ActionForm
    extra = 0
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_view(admin_actor(request), obj)

    def has_add_permission(self, request: HttpRequest, obj: Any) -> bool:  # type: ignore[override]
        return self.allow_add(admin_actor(request), obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_change(admin_actor(request), obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_delete(admin_actor(request), obj)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs["form"] = bind_form(self.form, admin_actor(request), getattr(request, _REFUSAL, None))
        formset = super().get_formset(request, obj, **kwargs)
        formset.policy_inline = self  # type: ignore[attr-defined]
        return formset

    def save_row(self, actor: Actor, parent: Any, form: Any, adding: bool) -> Any:
        raise DjangoPermissionDenied

    def delete_row(self, actor: Actor, parent: Any, obj: Any) -> None:
        raise DjangoPermissionDenied


def read_only_inline(model_: type[Model], field_names: tuple[str, ...], rule: Callable[[Actor, Any], bool], *,
                     fk: str | None = None, label: Any = None, link: bool = False,
                     related: tuple[str, ...] = ()) -> type[PolicyInline]:
    """An inline that only shows rows (credentials, memberships), optionally linking to each."""

    class ReadOnly(PolicyInline):
        model = model_
        fields = field_names
        readonly_fields = field_names
        fk_name = fk
        show_change_link = link
        verbose_name_plural = label or model_._meta.verbose_name_plural

        def allow_view(self, actor: Actor, obj: Any) -> bool:
            return rule(actor, obj)

        def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
            return super().get_queryset(request).select_related(*related)

    ReadOnly.__name__ = f"{model_.__name__}ReadOnlyInline"
    return ReadOnly
