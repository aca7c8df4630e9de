"""The audit log in the back office: read-only for everyone. The audit administrator reads it all,
a coordinator the events of their consortia's clinicians (access.policy.visible_audit). Looking
is itself recorded: one ``audit.search`` row per list page, one ``audit.read`` row per event
opened (purpose ``audit``). Events are addressed by their UUID, not their sequence number."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.policy import Action, can, visible_audit
from medunion.web.admin_site import PolicyAdmin, admin_actor, site

from .actions import record
from .models import AuditEvent, Verb

SURFACES = [("page", _("pages")), ("api", _("API")), ("fhir", _("FHIR")), ("admin", _("back office")),
            ("cli", _("commands"))]
ACTION_FAMILIES = [("patient.", _("patients")), ("network.", _("network")), ("account.", _("accounts")),
                   ("access.", _("access and break-the-glass")), ("audit.", _("audit")),
                   ("settings.", _("platform settings"))]
READ_ONLY = ("seq", "uid", "at", "actor_display", "actor_role", "actor_id", "on_behalf_of", "action", "verb",
             "object_type", "object_id", "patient_id", "purpose", "surface", "request_id", "outcome", "detail",
             "prev_hash", "hash")


class ActionFamilyFilter(admin.SimpleListFilter):
    """By family of actions (a fixed list: no DISTINCT over the whole log)."""

    title = _("action")
    parameter_name = "family"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return ACTION_FAMILIES

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(action__startswith=value) if value in dict(ACTION_FAMILIES) else queryset


class SurfaceFilter(admin.SimpleListFilter):
    title = _("surface")
    parameter_name = "surface"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return SURFACES

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(surface=self.value()) if self.value() in dict(SURFACES) else queryset


class EventChangeList(ChangeList):
    def url_for_result(self, result: Any) -> str:
        return reverse("admin:audit_auditevent_change", args=(result.uid,), current_app=self.model_admin.admin_site.name)


@admin.register(AuditEvent, site=site)
class AuditEventAdmin(PolicyAdmin):
    list_display = ("at", "actor_display", "actor_role", "action", "verb", "object_type", "object_id", "patient_id",
                    "outcome", "surface")
    list_display_links = ("at",)
    list_filter = (ActionFamilyFilter, "verb", "outcome", SurfaceFilter, ("at", admin.DateFieldListFilter))
    search_fields = ("actor_display",)
    search_help_text = _("An actor's name, or the UUID of an object, a patient or an account.")
    fields = READ_ONLY
    readonly_fields = READ_ONLY
    ordering = ("-seq",)
    actions = None

    def allow_view(self, actor: Actor, obj: Any) -> bool:
        return can(actor, Action.SEARCH_AUDIT)

    def scoped(self, actor: Actor) -> QuerySet[Any]:
        return visible_audit(actor)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return EventChangeList

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any],
                           search_term: str) -> tuple[QuerySet[Any], bool]:
        term = (search_term or "").strip()
        if not term:
            return queryset, False
        try:
            key = uuid.UUID(term)
        except ValueError:
            return queryset.filter(Q(actor_display__icontains=term) | Q(object_id=term)), False
        return queryset.filter(Q(patient_id=key) | Q(actor_id=key) | Q(object_id=str(key)) | Q(uid=key)), False

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        try:
            key = uuid.UUID(str(object_id))
        except ValueError as exc:
            raise Http404() from exc
        obj = self.get_queryset(request).filter(uid=key).first()
        if obj is None:
            raise Http404()
        request._audit_event = obj  # type: ignore[attr-defined]
        return obj

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        raise Http404()  # the log is its own history

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None:
            filters = {k: v for k, v in request.GET.items() if k not in ("p", "o") and v}
            record(admin_actor(request), "audit.search", Verb.SEARCH, object_type="audit.auditevent", purpose="audit",
                   detail={"filters": filters, "page": cl.page_num, "results": cl.result_count})
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> Any:
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            event = request._audit_event  # type: ignore[attr-defined]
            record(admin_actor(request), "audit.read", Verb.READ, object_type="audit.auditevent",
                   object_id=str(event.uid), patient_id=event.patient_id, purpose="audit")
        return response
