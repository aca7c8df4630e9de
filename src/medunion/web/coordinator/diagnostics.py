"""Remote diagnosis seen from the coordinator's desk (and the health commission's): turnaround
from sending for reading to the signature by hub, modality and urgency, critical findings and
avoided repeat examinations — figures, no patient data; and, for coordinators, the reading routes
(which hub reads each modality for their consortia)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can, visible_consortia
from medunion.consults.models import Urgency
from medunion.core.errors import DomainError, NotFound
from medunion.diagnostics.actions_routes import reading_organisations, routes_of, set_reading_route
from medunion.diagnostics.codes import Modality
from medunion.diagnostics.figures import turnaround
from medunion.web.consults_forms import AnyChoiceField
from medunion.web.reading import duration_text

from .common import apply_error, guarded, my_consortia

figures_page = guarded(lambda a: can(a, Action.VIEW_DIAGNOSTIC_FIGURES))
routes_page = guarded(lambda a: can(a, Action.MANAGE_READING_ROUTES))


class TurnaroundForm(forms.Form):
    consortium = AnyChoiceField(label=gettext_lazy("Consortium"), required=False)
    since = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class RouteForm(forms.Form):
    modality = forms.CharField(max_length=8)
    hub = forms.CharField(max_length=64, required=False)


def _label(choices: Any, value: str) -> Any:
    return choices(value).label if value in choices.values else value


def _times(row: dict[str, Any]) -> dict[str, Any]:
    row["median_text"] = duration_text(row.get("median_minutes"))
    row["p90_text"] = duration_text(row.get("p90_minutes"))
    return row


@figures_page
def figures(request: HttpRequest) -> HttpResponse:
    """Turnaround by hub, modality and urgency over a period (the last 90 days unless chosen)."""
    actor = request.actor  # type: ignore[attr-defined]
    consortia = list(visible_consortia(actor).filter(pk__in=list(actor.coordinated_ids))
                     if actor.is_coordinator else visible_consortia(actor).order_by("code"))
    form = TurnaroundForm(request.GET or None)
    form.fields["consortium"].choices = [("", _("all my consortia"))] + [  # type: ignore[attr-defined]
        (str(c.pk), c.name) for c in consortia]
    data = form.cleaned_data if form.is_valid() else {}
    result: dict[str, Any] = {}
    try:
        result = turnaround(actor, consortium_id=data.get("consortium") or None, since=data.get("since"),
                            until=data.get("until"))
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        apply_error(form, exc)
    rows = [_times({**r, "modality_label": _label(Modality, r["modality"]),
                    "urgency_label": _label(Urgency, r["urgency"])}) for r in result.get("rows", [])]
    total = _times(dict(result["total"])) if result else {}
    critical = dict(result.get("critical") or {})
    if critical:
        critical["median_ack_text"] = duration_text(critical.get("median_ack_minutes"))
    return render(request, "web/coordinator/diagnostics_figures.html", {
        "form": form, "result": result, "rows": rows, "total": total, "critical": critical,
        "repeats": result.get("repeats") or {}, "nav": "diagnostic_figures"})


@routes_page
def routes(request: HttpRequest) -> HttpResponse:
    """Per consortium, the hub that reads each modality (or none: such examinations cannot be
    sent), with the diagnostic hubs and hospitals that may read."""
    actor = request.actor  # type: ignore[attr-defined]
    consortia = list(my_consortia(actor))
    current = routes_of([c.pk for c in consortia])
    sections = []
    for c in consortia:
        hubs = reading_organisations(c.pk)
        sections.append({"c": c, "hubs": hubs, "rows": [
            {"modality": m, "label": label, "route": current.get((c.pk, m))} for m, label in Modality.choices]})
    return render(request, "web/coordinator/diagnostics_routes.html", {"sections": sections, "nav": "reading_routes"})


@routes_page
@require_POST
def route_save(request: HttpRequest, consortium_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    cid = parse_uuid(consortium_id)
    form = RouteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a modality and a reading hub."))
        return redirect("web:coord:reading_routes")
    d = form.cleaned_data
    try:
        route = set_reading_route(acting=actor, consortium_id=cid, modality=d["modality"], hub_id=d["hub"] or None)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        errors = getattr(exc, "errors", None) or {}
        messages.error(request, "; ".join(str(m) for ms in errors.values() for m in ms) or str(exc.message))
        return redirect("web:coord:reading_routes")
    label = _label(Modality, d["modality"])
    if route is None:
        messages.success(request, _("%(modality)s: no reading hub now.") % {"modality": label})
    else:
        messages.success(request, _("%(modality)s is read at %(hub)s.") % {"modality": label, "hub": route.hub.name})
    return redirect("web:coord:reading_routes")
