"""The network in the back office: coordinators manage their own consortia (organisations and
their departments, teams and their members; practitioners and credentials in admin_people);
the security administrator may look at the network read-only (to link accounts).

Every write goes through network.actions, so the policy, the validation and the audit row are
the same as on the coordinator pages and the API.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.policy import (
    Action,
    can,
    visible_consortia,
    visible_organisations,
    visible_practitioners,
    visible_teams,
)
from medunion.web.admin_site import (
    ActionForm,
    PolicyAdmin,
    PolicyInline,
    admin_actor,
    adopt,
    read_only_inline,
    site,
)

from . import actions as net
from .models import (
    Consortium,
    ConsortiumMembership,
    Department,
    Organisation,
    Practitioner,
    Region,
    Team,
    TeamMember,
)

NETWORK_ROLES_HERE = frozenset({"coordinator", "secadmin"})


def sees_network(actor: Actor, obj: Any = None) -> bool:
    return actor.role in NETWORK_ROLES_HERE and can(actor, Action.VIEW_NETWORK)


def manages(actor: Actor, obj: Any = None) -> bool:
    return can(actor, Action.MANAGE_NETWORK, obj)


def changes_of(form: Any, names: tuple[str, ...], convert: dict[str, Any] | None = None) -> dict[str, Any]:
    """The changed fields of a form, as an action's ``changes`` (related objects as their keys)."""
    out = {}
    for name in names:
        if name in form.changed_data:
            value = form.cleaned_data.get(name)
            out[name] = (convert or {}).get(name, lambda v: getattr(v, "pk", v))(value)
    return out


class ConsortiumFilter(admin.SimpleListFilter):
    """Filter by one of the consortia the actor sees (``path``: the lookup to the consortium id)."""

    title = _("consortium")
    parameter_name = "consortium"
    path = "consortium_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in visible_consortia(admin_actor(request)).order_by("code")
                .values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        try:
            return queryset.filter(**{self.path: uuid.UUID(str(self.value()))})
        except ValueError:
            return queryset.none()


class MemberOfFilter(ConsortiumFilter):
    path = "memberships__consortium_id"


def my_consortia(actor: Actor) -> QuerySet[Any]:
    return visible_consortia(actor).filter(pk__in=list(actor.coordinated_ids)).order_by("code")


class ScopedChoices:
    """Foreign-key choices limited to what the actor may use (autocomplete asks the same querysets)."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        actor, model = admin_actor(request), db_field.related_model
        if model is Consortium:
            kwargs["queryset"] = my_consortia(actor)
        elif model is Organisation:
            kwargs["queryset"] = visible_organisations(actor)
        elif model is Practitioner:
            kwargs["queryset"] = visible_practitioners(actor)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class NetworkAdmin(ScopedChoices, PolicyAdmin):
    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return sees_network(actor, obj)

    def allow_add(self, actor: Actor, obj: Any) -> bool:
        return manages(actor)

    def allow_change(self, actor: Actor, obj: Any) -> bool:
        return manages(actor, obj)


class NetworkInline(ScopedChoices, PolicyInline):
    pass


# --- regions (reference data) -------------------------------------------------------------------

@admin.register(Region, site=site)
class RegionAdmin(NetworkAdmin):
    list_display = ("code", "name", "level", "parent", "population")
    list_filter = ("level",)
    search_fields = ("^code", "name", "name_en")
    list_select_related = ("parent",)
    ordering = ("code",)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return Region.objects.all()

    def allow_add(self, actor: Actor, obj: Any) -> bool:
        return False

    def allow_change(self, actor: Actor, obj: Any) -> bool:
        return False


# --- organisations and their departments --------------------------------------------------------

class DepartmentForm(ActionForm):
    class Meta:
        model = Department
        fields = ("code", "name", "specialty", "beds", "daily_slots", "green_channel_beds", "green_channel_slots")

    def scope(self, actor: Actor) -> None:
        if self.existing:
            self.fields["code"].disabled = True  # the code names the department; save_department keys on it


class DepartmentInline(NetworkInline):
    model = Department
    form = DepartmentForm
    fields = DepartmentForm.Meta.fields
    verbose_name_plural = _("departments and capacity")

    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return sees_network(actor)

    def allow_add(self, actor: Actor, obj: Any) -> bool:
        return manages(actor, obj)

    def allow_change(self, actor: Actor, obj: Any) -> bool:
        return manages(actor, obj)

    def save_row(self, actor: Actor, parent: Any, form: Any, adding: bool) -> Any:
        data = form.cleaned_data
        return net.save_department(
            acting=actor, organisation_id=parent.pk, code=data["code"], name=data["name"],
            specialty=data.get("specialty") or "", beds=data["beds"], daily_slots=data["daily_slots"],
            green_channel_beds=data["green_channel_beds"], green_channel_slots=data["green_channel_slots"])


class OrganisationAddForm(ActionForm):
    consortium = forms.ModelChoiceField(queryset=Consortium.objects.none(), label=_("Consortium"),
                                        help_text=_("The organisation joins this consortium."))

    class Meta:
        model = Organisation
        fields = ("code", "name", "name_en", "tier", "region", "parent")

    def scope(self, actor: Actor) -> None:
        cast(forms.ModelChoiceField, self.fields["consortium"]).queryset = my_consortia(actor)


class OrganisationForm(ActionForm):
    class Meta:
        model = Organisation
        fields = net.ORGANISATION_CHANGES


ConsortiumMembershipInline = read_only_inline(
    ConsortiumMembership, ("consortium", "joined_on"), sees_network, label=_("member of"),
    related=("consortium",))


@admin.register(Organisation, site=site)
class OrganisationAdmin(NetworkAdmin):
    form = OrganisationForm
    add_form = OrganisationAddForm
    inlines = (DepartmentInline, ConsortiumMembershipInline)
    list_display = ("code", "name", "tier", "region", "active")
    list_filter = (MemberOfFilter, "tier", "active")
    search_fields = ("code", "name", "name_en")
    list_select_related = ("region",)
    autocomplete_fields = ("region", "parent")
    ordering = ("code",)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return visible_organisations(actor)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("consortium", *OrganisationAddForm.Meta.fields)
        return ("code", *net.ORGANISATION_CHANGES, "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("code", "created_at")

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else (DepartmentInline,)

    def perform_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor, data = admin_actor(request), form.cleaned_data
        if change:
            net.update_organisation(acting=actor, organisation_id=obj.pk,
                                    changes=changes_of(form, net.ORGANISATION_CHANGES))
            obj.refresh_from_db()
            return
        org = net.create_organisation(
            acting=actor, consortium_id=data["consortium"].pk, code=data["code"], name=data["name"],
            name_en=data.get("name_en") or "", tier=data["tier"], region_code=data["region"].pk,
            parent_id=data["parent"].pk if data.get("parent") else None)
        adopt(obj, org)


# --- consortia (view; memberships) --------------------------------------------------------------

MembershipInline = read_only_inline(ConsortiumMembership, ("organisation", "joined_on"), sees_network,
                                    label=_("member organisations"), related=("organisation",))


@admin.register(Consortium, site=site)
class ConsortiumAdmin(NetworkAdmin):
    inlines = (MembershipInline,)
    list_display = ("code", "name", "kind", "lead", "n_members")
    list_filter = ("kind",)
    search_fields = ("code", "name", "name_en")
    list_select_related = ("lead",)
    fields = ("code", "name", "name_en", "kind", "lead", "created_at")
    ordering = ("code",)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return visible_consortia(actor).annotate(n_members=Count("memberships"))

    def allow_add(self, actor: Actor, obj: Any) -> bool:
        return False

    def allow_change(self, actor: Actor, obj: Any) -> bool:
        return False

    @admin.display(description=_("member organisations"), ordering="n_members")
    def n_members(self, obj: Any) -> int:
        return int(obj.n_members)


# --- teams and their members --------------------------------------------------------------------

class TeamMemberForm(ActionForm):
    class Meta:
        model = TeamMember
        fields = ("practitioner", "role")

    def scope(self, actor: Actor) -> None:
        if self.existing:
            self.fields["practitioner"].disabled = True


class TeamMemberInline(NetworkInline):
    model = TeamMember
    form = TeamMemberForm
    fields = ("practitioner", "role")
    autocomplete_fields = ("practitioner",)
    verbose_name_plural = _("members")

    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return sees_network(actor)

    def allow_add(self, actor: Actor, obj: Any) -> bool:
        return obj is not None and manages(actor, obj)

    def allow_change(self, actor: Actor, obj: Any) -> bool:
        return obj is not None and manages(actor, obj)

    def allow_delete(self, actor: Actor, obj: Any) -> bool:
        return obj is not None and manages(actor, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("practitioner")

    def save_row(self, actor: Actor, parent: Any, form: Any, adding: bool) -> Any:
        practitioner = form.cleaned_data["practitioner"]
        return net.set_team_member(acting=actor, team_id=parent.pk, practitioner_id=practitioner.pk,
                                   role=form.cleaned_data["role"])

    def delete_row(self, actor: Actor, parent: Any, obj: Any) -> None:
        net.remove_team_member(acting=actor, team_id=parent.pk, practitioner_id=obj.practitioner_id)


class TeamAddForm(ActionForm):
    class Meta:
        model = Team
        fields = ("consortium", "name", "kind", "specialty", "organisation")


class TeamForm(ActionForm):
    class Meta:
        model = Team
        fields = net.TEAM_CHANGES


@admin.register(Team, site=site)
class TeamAdmin(NetworkAdmin):
    form = TeamForm
    add_form = TeamAddForm
    inlines = (TeamMemberInline,)
    list_display = ("name", "kind", "consortium", "organisation", "specialty", "active")
    list_filter = (ConsortiumFilter, "kind", "active")
    search_fields = ("name",)
    list_select_related = ("consortium", "organisation")
    autocomplete_fields = ("organisation",)
    ordering = ("name",)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return visible_teams(actor)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return TeamAddForm.Meta.fields if obj is None else ("consortium", *net.TEAM_CHANGES, "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("consortium", "created_at")

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else ()

    def perform_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor, data = admin_actor(request), form.cleaned_data
        if change:
            net.update_team(acting=actor, team_id=obj.pk, changes=changes_of(form, net.TEAM_CHANGES))
            obj.refresh_from_db()
            return
        team = net.create_team(acting=actor, consortium_id=data["consortium"].pk, name=data["name"],
                               kind=data["kind"], specialty=data.get("specialty") or "",
                               organisation_id=data["organisation"].pk if data.get("organisation") else None)
        adopt(obj, team)


from . import admin_people  # noqa: E402,F401  (practitioners and credentials register themselves)
