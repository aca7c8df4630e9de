"""Practitioners, their practice sites and credentials (trainings, exams, licences) in the back
office. Credentials are recorded, never edited: a licence is revoked, not changed or deleted."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from medunion.access.actor import Actor
from medunion.access.policy import visible_consortia, visible_organisations, visible_practitioners
from medunion.core import clock
from medunion.web.admin_site import ActionForm, admin_actor, adopt, read_only_inline, site

from . import actions as net
from .admin import ConsortiumFilter, NetworkAdmin, NetworkInline, changes_of, manages, sees_network
from .codes import Specialty
from .models import ExamResult, Licence, Organisation, PracticeSite, Practitioner, TeamMember, Training


def _in_view(actor: Actor, qs: QuerySet[Any]) -> QuerySet[Any]:
    """Credentials of practitioners the actor sees, in consortia the actor sees."""
    return qs.filter(practitioner__in=visible_practitioners(actor).values("pk"),
                     consortium__in=visible_consortia(actor).values("pk"))


# --- practitioners ---------------------------------------------------------------------------

class PractitionerAddForm(ActionForm):
    organisation = forms.ModelChoiceField(queryset=Organisation.objects.none(), label=_("Organisation"),
                                          help_text=_("The practitioner's primary practice site."))
    specialties = forms.MultipleChoiceField(label=_("Specialties"), choices=Specialty.choices, required=False,
                                            widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Practitioner
        fields = ("name", "gender", "title", "licence_number", "years_independent", "phone")

    def scope(self, actor: Actor) -> None:
        field = cast(forms.ModelChoiceField, self.fields["organisation"])
        field.queryset = visible_organisations(actor).filter(active=True).order_by("code")


class PractitionerForm(ActionForm):
    specialties = forms.MultipleChoiceField(label=_("Specialties"), choices=Specialty.choices, required=False,
                                            widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Practitioner
        fields = tuple(f for f in net.PRACTITIONER_CHANGES if f != "specialties")

    def scope(self, actor: Actor) -> None:
        if self.existing:
            self.fields["specialties"].initial = list(self.instance.specialties.values_list("specialty", flat=True))


class PracticeSiteForm(ActionForm):
    class Meta:
        model = PracticeSite
        fields = ("organisation", "primary")


class PracticeSiteInline(NetworkInline):
    """Sites are added here (add_practice_site); existing ones are shown as they are."""

    model = PracticeSite
    form = PracticeSiteForm
    fields = ("organisation", "department", "primary", "active")
    readonly_fields = ("department", "active")
    autocomplete_fields = ("organisation",)
    verbose_name_plural = _("practice sites")

    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return sees_network(actor)

    def allow_add(self, actor: Actor, obj: Any) -> bool:
        return obj is not None and manages(actor, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("organisation", "department")

    def save_row(self, actor: Actor, parent: Any, form: Any, adding: bool) -> Any:
        return net.add_practice_site(acting=actor, practitioner_id=parent.pk,
                                     organisation_id=form.cleaned_data["organisation"].pk,
                                     primary=bool(form.cleaned_data.get("primary")))


def _credential_rule(actor: Actor, obj: Any) -> bool:
    return sees_network(actor)


PRACTITIONER_INLINES = (
    PracticeSiteInline,
    read_only_inline(TeamMember, ("team", "role"), _credential_rule, fk="practitioner", label=_("teams"),
                     related=("team",)),
    read_only_inline(Training, ("consortium", "course", "completed_on", "valid_until"), _credential_rule,
                     label=_("trainings"), link=True, related=("consortium",)),
    read_only_inline(ExamResult, ("consortium", "course", "taken_on", "score", "pass_mark", "valid_until"),
                     _credential_rule, label=_("exam results"), link=True, related=("consortium",)),
    read_only_inline(Licence, ("number", "scope", "valid_from", "valid_until", "revoked_on"), _credential_rule,
                     label=_("licences"), link=True),
)


@admin.register(Practitioner, site=site)
class PractitionerAdmin(NetworkAdmin):
    form = PractitionerForm
    add_form = PractitionerAddForm
    inlines = PRACTITIONER_INLINES
    list_display = ("name", "title", "licence_number", "primary_organisation", "active")
    list_filter = ("title", "active", "specialties__specialty")
    search_fields = ("name", "=licence_number")
    ordering = ("name", "licence_number")

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        primary = (PracticeSite.objects.filter(practitioner=OuterRef("pk"), active=True)
                   .order_by("-primary", "created_at").values("organisation__name")[:1])
        return visible_practitioners(actor).annotate(primary_organisation=Subquery(primary))

    @admin.display(description=_("primary organisation"))
    def primary_organisation(self, obj: Any) -> str:
        return getattr(obj, "primary_organisation", None) or "—"

    @admin.display(description=_("specialties"))
    def specialty_list(self, obj: Any) -> str:
        return ", ".join(str(Specialty(s).label) if s in Specialty.values else s
                         for s in obj.specialties.values_list("specialty", flat=True)) or "—"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("organisation", *PractitionerAddForm.Meta.fields, "specialties")
        # Read-only (the security administrator), the specialties are shown, not offered.
        specialties = "specialties" if self.has_change_permission(request, obj) else "specialty_list"
        return ("licence_number", *PractitionerForm.Meta.fields, specialties, "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("licence_number", "created_at")

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else ()

    def perform_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor, data = admin_actor(request), form.cleaned_data
        if change:
            net.update_practitioner(acting=actor, practitioner_id=obj.pk,
                                    changes=changes_of(form, net.PRACTITIONER_CHANGES))
            obj.refresh_from_db()
            return
        p = net.create_practitioner(
            acting=actor, name=data["name"], title=data["title"], licence_number=data["licence_number"].strip(),
            organisation_id=data["organisation"].pk, specialties=list(data.get("specialties") or []),
            years_independent=data["years_independent"], gender=data.get("gender") or "",
            phone=data.get("phone") or "")
        adopt(obj, p)


# --- credentials -----------------------------------------------------------------------------

class CredentialAdmin(NetworkAdmin):
    """Recorded through the record_* actions; shown, never edited or deleted."""

    autocomplete_fields = ("practitioner",)
    list_select_related: ClassVar[tuple[str, ...]] = ("practitioner", "consortium")
    search_fields: ClassVar[tuple[str, ...]] = ("practitioner__name", "=practitioner__licence_number")

    def allow_change(self, actor: Actor, obj: Any) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("created_at",)


@admin.register(Training, site=site)
class TrainingAdmin(CredentialAdmin):
    list_display = ("practitioner", "consortium", "course", "completed_on", "valid_until")
    list_filter = (ConsortiumFilter, "course")
    fields = ("practitioner", "consortium", "course", "completed_on", "valid_until")
    ordering = ("-completed_on",)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return _in_view(actor, Training.objects.all())

    def perform_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        adopt(obj, net.record_training(
            acting=admin_actor(request), practitioner_id=data["practitioner"].pk, consortium_id=data["consortium"].pk,
            completed_on=data["completed_on"], course=data["course"], valid_until=data.get("valid_until")))


@admin.register(ExamResult, site=site)
class ExamResultAdmin(CredentialAdmin):
    list_display = ("practitioner", "consortium", "course", "taken_on", "score", "pass_mark", "passed",
                    "valid_until")
    list_filter = (ConsortiumFilter, "course")
    fields = ("practitioner", "consortium", "course", "taken_on", "score", "pass_mark", "valid_until")
    ordering = ("-taken_on",)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return _in_view(actor, ExamResult.objects.all())

    @admin.display(description=_("passed"), boolean=True)
    def passed(self, obj: Any) -> bool:
        return bool(obj.passed)

    def perform_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        adopt(obj, net.record_exam(
            acting=admin_actor(request), practitioner_id=data["practitioner"].pk, consortium_id=data["consortium"].pk,
            taken_on=data["taken_on"], score=data["score"], course=data["course"], pass_mark=data["pass_mark"],
            valid_until=data.get("valid_until")))


class LicenceRevokeForm(ActionForm):
    class Meta:
        model = Licence
        fields = ("revoked_on",)

    def scope(self, actor: Actor) -> None:
        if "revoked_on" in self.fields:
            self.fields["revoked_on"].required = True
            self.fields["revoked_on"].help_text = _("Revoking cannot be undone.")


@admin.register(Licence, site=site)
class LicenceAdmin(CredentialAdmin):
    form = LicenceRevokeForm
    add_form = ActionForm
    list_display = ("practitioner", "number", "scope", "valid_from", "valid_until", "revoked_on")
    list_filter = ("revoked_on",)
    list_select_related = ("practitioner",)
    search_fields = ("=number", "practitioner__name", "=practitioner__licence_number")
    ordering = ("-valid_from",)
    actions = ("revoke_today",)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return Licence.objects.filter(practitioner__in=visible_practitioners(actor).values("pk"))

    def allow_change(self, actor: Actor, obj: Any) -> bool:
        if obj is None:
            return manages(actor)
        return obj.revoked_on is None and manages(actor, obj.practitioner)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return manages(admin_actor(request))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        base = ("practitioner", "number", "scope", "valid_from", "valid_until")
        return base if obj is None else (*base, "revoked_on", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("practitioner", "number", "scope", "valid_from", "valid_until", "created_at")

    def perform_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor, data = admin_actor(request), form.cleaned_data
        if change:
            net.revoke_licence(acting=actor, licence_id=obj.pk, on=data["revoked_on"])
            obj.refresh_from_db()
            return
        adopt(obj, net.record_licence(
            acting=actor, practitioner_id=data["practitioner"].pk, number=(data["number"] or "").strip(),
            valid_from=data["valid_from"], valid_until=data.get("valid_until"), scope=data.get("scope") or ""))

    @admin.action(description=_("Revoke the selected licences as of today"), permissions=["revoke"])
    def revoke_today(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        today = timezone.localdate(clock.now())
        self.each(request, queryset.filter(revoked_on__isnull=True),
                  lambda actor, lic: net.revoke_licence(acting=actor, licence_id=lic.pk, on=today),
                  lambda n: ngettext("%(n)d licence revoked.", "%(n)d licences revoked.", n) % {"n": n})
