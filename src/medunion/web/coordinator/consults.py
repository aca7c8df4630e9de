"""Consultations seen from the coordinator's desk: overdue cases and the figures — without any
patient data (coordinators do not open cases) — and the consortium's response targets."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from medunion.consults.actions import set_response_targets
from medunion.consults.models import EscalationLevel, TargetKind, Urgency
from medunion.consults.queries import consult_figures, overdue_consults_for_coordinator
from medunion.consults.states import State
from medunion.consults.targets import targets_for
from medunion.core import clock
from medunion.core.errors import DomainError
from medunion.network.codes import Specialty
from medunion.web.consults_forms import TargetsForm

from .common import apply_error, coordinator_page, my_consortia


def _label(choices: Any, value: Any) -> str:
    return str(choices(value).label) if value in choices.values else str(value or "")


def _chosen(request: HttpRequest, consortia: list[Any]) -> Any:
    wanted = request.GET.get("consortium", "")
    return next((c for c in consortia if str(c.pk) == wanted), None)


@coordinator_page
def overdue(request: HttpRequest) -> HttpResponse:
    """Overdue cases of the consortia one coordinates (specialty, urgency, times, escalation,
    asking organisation, target, specialist), and how the consortium is doing."""
    actor = request.actor  # type: ignore[attr-defined]
    consortia = list(my_consortia(actor))
    chosen = _chosen(request, consortia)
    cid = chosen.pk if chosen else None
    now = clock.now()
    rows = [{**r, "specialty_label": _label(Specialty, r["specialty"]), "urgency_label": _label(Urgency, r["urgency"]),
             "state_label": _label(State, r["state"]), "level_label": _label(EscalationLevel, r["escalation_level"]),
             "target_label": r["target_team__name"] or _label(TargetKind, r["target_kind"]),
             "late": timesince(r["due_at"], now)} for r in overdue_consults_for_coordinator(actor, cid)]
    figures = consult_figures(actor, cid)
    answered = figures["answered"]
    by_state = [(_label(State, s), figures["by_state"].get(s, 0)) for s in State.values]
    by_urgency = [(_label(Urgency, u), figures["by_urgency"].get(u, 0)) for u in Urgency.values]
    return render(request, "web/coordinator/consults_overdue.html", {
        "rows": rows, "figures": figures, "by_state": by_state, "by_urgency": by_urgency,
        "on_time_percent": round(figures["on_time"] * 100 / answered) if answered else None,
        "consortia": consortia, "chosen": chosen, "nav": "consults"})


def _form_for(consortium: Any) -> TargetsForm:
    minutes = targets_for(consortium.pk)
    return TargetsForm(initial={"emergency": minutes[Urgency.EMERGENCY],
                                "urgent": minutes[Urgency.URGENT], "routine": minutes[Urgency.ROUTINE]},
                       prefix=f"c{consortium.code}")


@coordinator_page
def targets(request: HttpRequest) -> HttpResponse:
    """Response targets per consortium (minutes per urgency). Cases already sent keep theirs."""
    actor = request.actor  # type: ignore[attr-defined]
    consortia = list(my_consortia(actor))
    forms = {c.pk: _form_for(c) for c in consortia}
    status = 200
    if request.method == "POST":
        consortium = next((c for c in consortia if request.POST.get("which") == str(c.pk)), None)
        if consortium is not None:
            form = TargetsForm(request.POST, prefix=f"c{consortium.code}")
            forms[consortium.pk] = form
            if form.is_valid():
                data = form.cleaned_data
                try:
                    set_response_targets(acting=actor, consortium_id=consortium.pk, emergency=data["emergency"],
                                         urgent=data["urgent"], routine=data["routine"])
                except DomainError as exc:
                    if exc.status == 404:
                        raise
                    apply_error(form, exc)
                else:
                    messages.success(request, _("The response targets of %(name)s are saved. Cases sent from now "
                                                "on use them.") % {"name": consortium.name})
                    return redirect("web:coord:consult_targets")
        status = 422
    return render(request, "web/coordinator/consults_targets.html", {
        "items": [(c, forms[c.pk]) for c in consortia], "nav": "consults"}, status=status)
