"""Audit search for coordinators and audit administrators; export and chain verification for the latter.

Every search and every export is itself recorded in the audit log (purpose ``audit``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from medunion.access.policy import Action, can, require
from medunion.audit.actions import record
from medunion.audit.export import csv_download, verify_recorded
from medunion.audit.models import Verb
from medunion.audit.queries import filters_detail, search_events

from .common import audit_page, guarded, paginate, query_without_page
from .forms import DateInput

export_page = guarded(lambda a: can(a, Action.EXPORT_AUDIT))
_SESSION_KEY = "medunion.audit_verify"


class AuditSearchForm(forms.Form):
    who = forms.CharField(label=gettext_lazy("Actor (username or name)"), required=False, max_length=150)
    patient = forms.UUIDField(label=gettext_lazy("Patient ID"), required=False)
    action = forms.CharField(label=gettext_lazy("Action"), required=False, max_length=64,
                             help_text=gettext_lazy("A prefix matches: “patient.” finds every patient action."))
    date_from = forms.DateField(label=gettext_lazy("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=DateInput())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", gettext_lazy("The end date is before the start date."))
        return data


def _verify_message(result: dict[str, Any]) -> str:
    if result["ok"]:
        return _("The audit chain is intact: %(n)d events checked.") % {"n": result["checked"]}
    reason = result["reason"]
    if reason.startswith("the link"):
        why = _("the link to the previous event is broken (an event was removed or inserted before it)")
    elif reason.startswith("the row"):
        why = _("the event's content does not match its hash (the event was changed)")
    else:
        why = reason
    return _("The audit chain is broken at event %(seq)s: %(why)s. %(n)d events before it are intact.") % {
        "seq": result["broken_seq"], "why": why, "n": result["checked"]}


@audit_page
def audit(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    require(actor, Action.SEARCH_AUDIT)
    form = AuditSearchForm(request.GET or None)
    verify = request.session.pop(_SESSION_KEY, None)
    page = None
    if not form.is_bound or form.is_valid():
        data = form.cleaned_data if form.is_bound else {}
        page = paginate(request, search_events(actor, data))
        record(actor, "audit.search", Verb.SEARCH, object_type="audit.auditevent", purpose="audit",
               detail={"filters": filters_detail(data), "page": page.number, "results": page.paginator.count})
    return render(request, "web/coordinator/audit.html", {
        "form": form, "page": page, "query": query_without_page(request.GET),
        "can_export": can(actor, Action.EXPORT_AUDIT),
        "verify": verify, "verify_message": _verify_message(verify) if verify else "",
        "nav": "audit",
    }, status=200 if page is not None else 422)


@export_page
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    require(actor, Action.EXPORT_AUDIT)
    form = AuditSearchForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return redirect(f"{reverse('web:coord:audit')}?{request.GET.urlencode()}")
    data = form.cleaned_data if form.is_bound else {}
    return csv_download(actor, search_events(actor, data), filters_detail(data))


@export_page
@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    result = verify_recorded(actor)
    request.session[_SESSION_KEY] = {"ok": result.ok, "checked": result.checked, "broken_seq": result.broken_seq,
                                     "reason": result.reason}
    return redirect("web:coord:audit")
