"""Teams: specialty groups, MDTs and family-doctor teams, and their members."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from medunion.access.loaders import access_team
from medunion.access.policy import Action, visible_practitioners
from medunion.core.errors import DomainError
from medunion.network import actions as net
from medunion.network.codes import TeamKind, TeamRole
from medunion.network.queries import search_teams

from .common import apply_error, consortium_choices, coordinator_page, paginate, query_without_page
from .forms import BLANK, RemoveMemberForm, TeamForm, TeamMemberForm

SEARCH_LIMIT = 20


class TeamFilterForm(forms.Form):
    q = forms.CharField(label=pgettext_lazy("of a thing, not a person", "Name"), required=False, max_length=100)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=BLANK + list(TeamKind.choices), required=False)
    consortium = forms.ChoiceField(label=gettext_lazy("Consortium"), required=False)


@coordinator_page
def teams(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    status = 200
    if request.method == "POST":
        form = TeamForm(actor, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                team = net.create_team(acting=actor, consortium_id=data["consortium"], name=data["name"],
                                       kind=data["kind"], specialty=data["specialty"],
                                       organisation_id=data["organisation"] or None)
            except DomainError as exc:
                apply_error(form, exc)
            else:
                messages.success(request, _("Team %(name)s created.") % {"name": team.name})
                return redirect("web:coord:team", team_id=team.pk)
        status = 422
    else:
        form = TeamForm(actor)
    filters = TeamFilterForm(request.GET or None, auto_id="id_filter_%s")
    filters.fields["consortium"].choices = BLANK + consortium_choices(actor)  # type: ignore[attr-defined]
    data = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    qs = search_teams(actor, consortium_id=data.get("consortium") or None, kind=data.get("kind") or "",
                      q=data.get("q") or "").filter(consortium_id__in=list(actor.coordinated_ids))
    return render(request, "web/coordinator/teams.html", {
        "form": form, "filters": filters, "page": paginate(request, qs), "query": query_without_page(request.GET),
        "nav": "teams",
    }, status=status)


def _search(actor: Any, team: Any, q: str) -> list[Any]:
    q = q.strip()
    if not q:
        return []
    return list(visible_practitioners(actor).filter(active=True)
                .filter(Q(name__icontains=q) | Q(licence_number__icontains=q))
                .exclude(team_memberships__team=team).order_by("name")[:SEARCH_LIMIT])


@coordinator_page
def team(request: HttpRequest, team_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    t = access_team(actor, team_id, Action.MANAGE_NETWORK)
    q = request.GET.get("q", "")[:100]
    if request.htmx and request.method == "GET" and "q" in request.GET:  # type: ignore[attr-defined]
        return render(request, "web/coordinator/_team_search.html",
                      {"team": t, "results": _search(actor, t, q), "q": q, "roles": TeamRole.choices})
    error_form = None
    status = 200
    if request.method == "POST":
        op = request.POST.get("op", "")
        form: forms.Form = RemoveMemberForm(request.POST) if op == "remove" else TeamMemberForm(request.POST)
        if form.is_valid():
            pid = form.cleaned_data["practitioner"]
            try:
                if op == "remove":
                    net.remove_team_member(acting=actor, team_id=t.pk, practitioner_id=pid)
                    message = _("Member removed.")
                else:
                    net.set_team_member(acting=actor, team_id=t.pk, practitioner_id=pid,
                                        role=form.cleaned_data["role"])
                    message = _("Member added.") if op == "add" else _("Role changed.")
            except DomainError as exc:
                if exc.status == 404:
                    raise
                apply_error(form, exc)
            else:
                messages.success(request, message)
                return redirect("web:coord:team", team_id=t.pk)
        error_form = form
        status = 422
    lead_first = Case(When(role=TeamRole.LEAD, then=Value(0)), default=Value(1), output_field=IntegerField())
    members = list(t.members.select_related("practitioner").order_by(lead_first, "practitioner__name"))
    return render(request, "web/coordinator/team.html", {
        "team": t, "members": members, "results": _search(actor, t, q), "q": q, "roles": TeamRole.choices,
        "error_form": error_form, "nav": "teams",
    }, status=status)
