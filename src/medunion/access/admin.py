"""Break-the-glass accesses in the back office: a coordinator reviews those of their consortia's
clinicians. Patient names (and the clinicians' reasons) are patient data, so showing them is
recorded: one read row per access shown, as on the coordinator's review page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from medunion.audit.actions import Entry, record_many
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.web.admin_site import PolicyAdmin, admin_actor, site

from .actions import review_break_glass
from .actor import Actor
from .models import BreakGlassGrant
from .policy import Action, can


class ReviewFilter(admin.SimpleListFilter):
    title = _("review")
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("pending", _("waiting for review")), ("done", _("reviewed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "pending":
            return queryset.filter(reviewed_at__isnull=True)
        if self.value() == "done":
            return queryset.filter(reviewed_at__isnull=False)
        return queryset


def _shown(actor: Actor, grants: Any, action: str) -> None:
    record_many(actor, [Entry(action=action, verb=Verb.READ, object_type="access.breakglassgrant",
                              object_id=str(g.pk), patient_id=g.patient_id, purpose="audit") for g in grants])


@admin.register(BreakGlassGrant, site=site)
class BreakGlassGrantAdmin(PolicyAdmin):
    list_display = ("created_at", "clinician", "patient_name", "short_reason", "expires_at", "open_now",
                    "reviewed_at", "reviewer")
    list_filter = (ReviewFilter,)
    list_select_related = ("user", "patient", "reviewed_by")
    fields = ("clinician", "patient_name", "reason", "created_at", "expires_at", "reviewed_at", "reviewer",
              "review_note")
    readonly_fields = fields
    ordering = ("-created_at",)
    actions = ("mark_reviewed",)

    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return can(actor, Action.REVIEW_BREAK_GLASS, obj)

    def has_review_permission(self, request: HttpRequest) -> bool:
        return can(admin_actor(request), Action.REVIEW_BREAK_GLASS)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        from medunion.accounts.models import User

        if not actor.is_coordinator:
            return BreakGlassGrant.objects.none()
        clinicians = User.objects.filter(
            practitioner__sites__organisation__memberships__consortium_id__in=list(actor.coordinated_ids)).values("pk")
        return BreakGlassGrant.objects.filter(user_id__in=clinicians)

    @admin.display(description=_("clinician"), ordering="user__display_name")
    def clinician(self, obj: Any) -> str:
        return str(obj.user)

    @admin.display(description=_("patient"))
    def patient_name(self, obj: Any) -> str:
        return str(obj.patient.name)

    @admin.display(description=_("reason"))
    def short_reason(self, obj: Any) -> str:
        return Truncator(obj.reason).chars(80)

    @admin.display(description=_("open now"), boolean=True)
    def open_now(self, obj: Any) -> bool:
        return bool(obj.expires_at > clock.now())

    @admin.display(description=_("reviewed by"))
    def reviewer(self, obj: Any) -> str:
        return str(obj.reviewed_by) if obj.reviewed_by_id else "—"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None:
            _shown(admin_actor(request), cl.result_list, "access.break_glass.review_list")
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> Any:
        response = super().change_view(request, object_id, form_url, extra_context)
        original = (getattr(response, "context_data", None) or {}).get("original")
        if original is not None:
            _shown(admin_actor(request), [original], "access.break_glass.read")
        return response

    @admin.action(description=_("Mark the selected accesses as reviewed"), permissions=["review"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.each(request, queryset,
                  lambda actor, grant: review_break_glass(acting=actor, grant_id=grant.pk),
                  lambda n: ngettext("%(n)d access reviewed.", "%(n)d accesses reviewed.", n) % {"n": n})
