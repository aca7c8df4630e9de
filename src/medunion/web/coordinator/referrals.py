"""Referrals seen from the coordinator's desk (and the health commission's): the figures —
without patient data — and, for coordinators, green-channel capacity and the referral clock."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can, visible_consortia
from medunion.core.errors import DomainError, NotFound
from medunion.network.actions import save_department
from medunion.network.models import Department
from medunion.referrals.figures import referral_figures
from medunion.referrals.timing import clock_for, set_referral_clock
from medunion.web.referrals_forms import CapacityForm, ClockForm, FiguresForm

from .common import apply_error, coordinator_page, guarded, my_consortia

figures_page = guarded(lambda a: can(a, Action.VIEW_REFERRAL_FIGURES))


def _percent(value: Any) -> Any:
    return None if value is None else round(value * 100)


@figures_page
def figures(request: HttpRequest) -> HttpResponse:
    """Up and down counts, acceptance times, loops closed, kept within the county: by month,
    referring organisation or consortium."""
    actor = request.actor  # type: ignore[attr-defined]
    consortia = list(visible_consortia(actor).filter(pk__in=list(actor.coordinated_ids))
                     if actor.is_coordinator else visible_consortia(actor))
    form = FiguresForm(request.GET or None)
    form.fields["consortium"].choices = [("", _("all my consortia"))] + [  # type: ignore[attr-defined]
        (str(c.pk), c.name) for c in consortia]
    data = form.cleaned_data if form.is_valid() else {}
    result: dict[str, Any] = {"rows": [], "totals": {}}
    try:
        result = referral_figures(actor, by=data.get("by") or "month", consortium_id=data.get("consortium") or None,
                                  since=data.get("since"), until=data.get("until"))
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        apply_error(form, exc)
    rows = result["rows"]
    peak = max([r["up"] + r["down"] + r["across"] for r in rows] or [1])
    for r in rows:
        r["closed_percent"], r["within_percent"] = _percent(r["closed_share"]), _percent(r["within_county_share"])
        r["up_width"], r["down_width"] = round(r["up"] * 100 / peak), round(r["down"] * 100 / peak)
    totals = result["totals"]
    if totals:
        totals["closed_percent"] = _percent(totals["closed_share"])
        totals["within_percent"] = _percent(totals["within_county_share"])
    return render(request, "web/coordinator/referrals_figures.html", {
        "form": form, "rows": rows, "totals": totals, "nav": "referral_figures"})


def _departments(actor: Any) -> list[Department]:
    consortia = [c.pk for c in my_consortia(actor)]
    return list(Department.objects.filter(organisation__memberships__consortium_id__in=consortia)
                .exclude(beds=0, daily_slots=0).select_related("organisation").distinct()
                .order_by("organisation__name", "name"))


@coordinator_page
def capacity(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    rows = [(d, CapacityForm(initial={"green_channel_beds": d.green_channel_beds,
                                      "green_channel_slots": d.green_channel_slots}, prefix=d.pk.hex[:8]))
            for d in _departments(actor)]
    clocks = [(c, ClockForm(initial=clock_for(c.pk).as_dict(), prefix=c.pk.hex[:8])) for c in my_consortia(actor)]
    return render(request, "web/coordinator/referrals_capacity.html", {"rows": rows, "clocks": clocks,
                                                                       "nav": "referral_capacity"})


@coordinator_page
@require_POST
def capacity_save(request: HttpRequest, department_id: Any) -> HttpResponse:
    """Reserve green-channel beds and slots of a department (within its beds and slots, and not
    fewer than the live referrals hold)."""
    actor = request.actor  # type: ignore[attr-defined]
    dept = Department.objects.select_related("organisation").filter(pk=parse_uuid(department_id)).first()
    if dept is None or not can(actor, Action.MANAGE_NETWORK, dept):
        raise NotFound()
    form = CapacityForm(request.POST, prefix=dept.pk.hex[:8])
    if form.is_valid():
        try:
            save_department(acting=actor, organisation_id=dept.organisation_id, code=dept.code, name=dept.name,
                            specialty=dept.specialty, beds=dept.beds, daily_slots=dept.daily_slots,
                            **form.cleaned_data)
            messages.success(request, _("Green-channel capacity of %(department)s saved.") % {"department": dept})
            return redirect("web:coord:referral_capacity")
        except DomainError as exc:
            apply_error(form, exc)
    errors = "; ".join(str(m) for ms in form.errors.values() for m in ms)
    messages.error(request, f"{dept}: {errors}")
    return redirect("web:coord:referral_capacity")


@coordinator_page
@require_POST
def clock_save(request: HttpRequest, consortium_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    cid = parse_uuid(consortium_id)
    form = ClockForm(request.POST, prefix=cid.hex[:8])
    if form.is_valid():
        try:
            set_referral_clock(acting=actor, consortium_id=cid, values=form.cleaned_data)
            messages.success(request, _("Referral clock saved."))
            return redirect("web:coord:referral_capacity")
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            apply_error(form, exc)
    errors = "; ".join(str(m) for ms in form.errors.values() for m in ms)
    messages.error(request, errors)
    return redirect("web:coord:referral_capacity")
