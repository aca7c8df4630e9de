"""The network overview, organisations and their departments."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from medunion.access.loaders import access_organisation
from medunion.access.policy import Action, visible_organisations, visible_teams
from medunion.core.errors import DomainError
from medunion.network import actions as net
from medunion.network.codes import TIER_RANK, Tier

from .common import apply_error, coordinator_page, my_consortia
from .forms import DepartmentForm, OrganisationForm


def _with_counts(qs: Any) -> Any:
    active = Q(practice_sites__active=True, practice_sites__practitioner__active=True)
    return qs.annotate(n_practitioners=Count("practice_sites", filter=active, distinct=True))


def _tier_groups(orgs: list[Any]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for org in orgs:
        g = groups.setdefault(org.tier, {"tier": org.tier, "label": Tier(org.tier).label if org.tier in Tier.values
                                         else org.tier, "orgs": [], "practitioners": 0})
        g["orgs"].append(org)
        g["practitioners"] += org.n_practitioners
    return sorted(groups.values(), key=lambda g: (-TIER_RANK.get(g["tier"], 0), str(g["label"])))


@coordinator_page
def network(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    consortia = list(my_consortia(actor))
    team_counts = dict(visible_teams(actor).filter(active=True).values("consortium_id")
                       .annotate(n=Count("pk")).values_list("consortium_id", "n"))
    overview = []
    for c in consortia:
        orgs = list(_with_counts(visible_organisations(actor).filter(memberships__consortium=c))
                    .select_related("region").order_by("code"))
        overview.append({
            "consortium": c,
            "groups": _tier_groups(orgs),
            "n_orgs": len(orgs),
            "n_practitioners": sum(o.n_practitioners for o in orgs),
            "n_teams": team_counts.get(c.pk, 0),
        })
    return render(request, "web/coordinator/network.html", {"overview": overview, "nav": "network"})


@coordinator_page
def organisation(request: HttpRequest, org_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    org = access_organisation(actor, org_id, Action.MANAGE_NETWORK)
    departments = list(org.departments.order_by("code"))
    status = 200
    if request.method == "POST":
        form = DepartmentForm(request.POST)
        if form.is_valid():
            try:
                dept = net.save_department(acting=actor, organisation_id=org.pk, **form.cleaned_data)
            except DomainError as exc:
                apply_error(form, exc)
            else:
                messages.success(request, _("Department %(name)s saved.") % {"name": dept.name})
                return redirect("web:coord:organisation", org_id=org.pk)
        status = 422
    else:
        editing = next((d for d in departments if d.code == request.GET.get("edit")), None)
        initial = {}
        if editing is not None:
            initial = {k: getattr(editing, k) for k in ("code", "name", "specialty", "beds", "daily_slots",
                                                        "green_channel_beds", "green_channel_slots")}
        form = DepartmentForm(initial=initial)
    mine = set(actor.coordinated_ids)
    consortia = [c for c in my_consortia(actor).filter(memberships__organisation=org) if c.pk in mine]
    children = list(visible_organisations(actor).filter(parent=org).order_by("code"))
    counted = _with_counts(visible_organisations(actor).filter(pk=org.pk)).values_list("n_practitioners", flat=True)
    totals = {k: sum(getattr(d, k) for d in departments)
              for k in ("beds", "daily_slots", "green_channel_beds", "green_channel_slots")}
    return render(request, "web/coordinator/organisation.html", {
        "org": org, "departments": departments, "form": form, "consortia": consortia, "children": children,
        "n_practitioners": counted.first() or 0, "totals": totals, "editing": form["code"].value() or "",
        "nav": "network",
    }, status=status)


@coordinator_page
def organisation_new(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    status = 200
    if request.method == "POST":
        form = OrganisationForm(actor, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                org = net.create_organisation(acting=actor, consortium_id=data["consortium"], code=data["code"],
                                              name=data["name"], name_en=data["name_en"], tier=data["tier"],
                                              region_code=data["region"], parent_id=data["parent"] or None)
            except DomainError as exc:
                apply_error(form, exc)
            else:
                messages.success(request, _("Organisation %(name)s added.") % {"name": org.name})
                return redirect("web:coord:organisation", org_id=org.pk)
        status = 422
    else:
        form = OrganisationForm(actor, initial={"consortium": request.GET.get("consortium", "")})
    return render(request, "web/coordinator/organisation_new.html", {"form": form, "nav": "network"},
                  status=status)
