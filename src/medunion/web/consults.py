"""Consultation pages for clinicians: the queues (refreshing themselves) and asking a specialist.

The case page and its steps are in ``consults_case`` and ``consults_steps``; the patient's own
pages in ``consults_patient``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from medunion.access.loaders import access_patient, parse_uuid
from medunion.access.policy import visible_consortia, visible_organisations, visible_patients, visible_teams
from medunion.consults import routing
from medunion.consults.actions import ConsultInput, create_consult
from medunion.consults.machine import case_url
from medunion.consults.queries import QUEUES, queue, record_listed
from medunion.consults.targets import is_overdue
from medunion.core import clock
from medunion.core.errors import DomainError, NotFound
from medunion.core.planner import rows_by_key
from medunion.network.codes import TIER_RANK, TeamKind
from medunion.patients import queries as pq

from .common import ListWindow, clinician_page, list_window
from .consults_common import (
    age,
    put_error,
    reraise_if_not_for_form,
    title_label,
    upload_names,
    uploads,
    with_files,
)
from .consults_forms import ACCEPT, AskForm, FindPatientForm, QueueFilterForm
from .forms import fresh_once
from .once import run_once

TABS = (
    ("mine", gettext_lazy("My cases")),
    ("team", gettext_lazy("My teams")),
    ("pool", gettext_lazy("Pool")),
    ("overdue", gettext_lazy("Overdue")),
    ("waiting", gettext_lazy("Waiting on me")),
    ("asked", gettext_lazy("Asked by me")),
)
ASKER_TIERS_MAX = 2  # village clinics, township and community centres mostly ask
SPECIALISTS_SHOWN = 200


# --- the queues -----------------------------------------------------------------------------

def _default_tab(actor: Any) -> str:
    """Where a clinician starts: the cases they ask about at a village clinic or a township
    centre, the cases they work on elsewhere."""
    tiers = visible_organisations(actor).filter(pk__in=list(actor.org_ids)).values_list("tier", flat=True)
    ranks = [TIER_RANK.get(t, 0) for t in tiers]  # type: ignore[call-overload]
    return "mine" if ranks and max(ranks) > ASKER_TIERS_MAX else "asked"


def _filters(request: HttpRequest) -> QueueFilterForm:
    data = request.POST if request.method == "POST" else request.GET
    form = QueueFilterForm(data)
    form.is_valid()  # unknown values are left out (and shown as errors)
    return form


def _queue(request: HttpRequest) -> tuple[str, Any, QueueFilterForm, ListWindow]:
    actor = request.actor  # type: ignore[attr-defined]
    name = request.GET.get("queue") or _default_tab(actor)
    if name not in QUEUES:
        raise NotFound()
    form = _filters(request)
    data = form.cleaned_data
    qs = queue(actor, name, specialty=data.get("specialty") or "", urgency=data.get("urgency") or "",
               state=data.get("state") or "", patient=data.get("patient") or "")
    return name, qs, form, list_window(request)


def _signature(rows: list[tuple[Any, ...]]) -> str:
    """What the rows shown look like (id, version, last message, state, overdue): the list is
    sent again only when this changes."""
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:32]


def _rows_context(request: HttpRequest, name: str, qs: Any, window: ListWindow,
                  form: QueueFilterForm) -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    fetched = rows_by_key(qs, window.offset, window.fetch_stop)
    shown = record_listed(actor, fetched[:window.size], listing=name)
    now = clock.now()
    rows: list[dict[str, Any]] = [{"c": c, "overdue": is_overdue(c, now), "age": age(c.patient.birth_date) if c.patient else None,
             "asker_title": title_label(c.asker.title), "waiting": now - c.created_at} for c in shown]
    sig = _signature([(str(r["c"].pk), r["c"].version, r["c"].last_seq, r["c"].state, r["overdue"]) for r in rows])
    # The pages of a filtered list keep the filters (the filter form posts: not in the address).
    kept = urlencode({k: v for k, v in getattr(form, "cleaned_data", {}).items() if v})
    return {"rows": rows, "tab": name, "page": window.page, "has_next": len(fetched) > window.size, "sig": sig,
            "now": now, "kept": f"&{kept}" if kept else ""}


@clinician_page
def queue_page(request: HttpRequest) -> HttpResponse:
    name, qs, form, window = _queue(request)
    return render(request, "web/consults/queue.html", {
        **_rows_context(request, name, qs, window, form), "tabs": TABS, "filters": form, "nav": "consults",
        "filtering": bool(form.errors) or any(form.cleaned_data.values())})


@clinician_page
def queue_rows(request: HttpRequest) -> HttpResponse:
    """The list the queue page polls every few seconds: 204 when nothing changed (no patient
    data read, nothing audited), else the new rows."""
    name, qs, form, window = _queue(request)
    now = clock.now()
    current = [(str(pk), version, seq, state, is_overdue(_Due(state, due), now))
               for pk, version, seq, state, due in qs.values_list("pk", "version", "last_seq", "state", "due_at")
               [window.offset:window.offset + window.size]]
    sent = request.POST.get("sig") or request.GET.get("sig") or ""
    if sent and sent == _signature(current):
        return HttpResponse(status=204)
    return render(request, "web/consults/_rows.html", {**_rows_context(request, name, qs, window, form), "oob": True})


class _Due:
    def __init__(self, state: str, due_at: Any):
        self.state, self.due_at = state, due_at


# --- asking ---------------------------------------------------------------------------------

def _place(actor: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The asker's organisations and consortia, and the ones this case is asked from."""
    orgs = list(visible_organisations(actor).filter(pk__in=list(actor.org_ids)).order_by("name"))
    consortia = list(visible_consortia(actor).filter(pk__in=list(actor.consortium_ids)).order_by("name"))
    org = next((o for o in orgs if str(o.pk) == str(data.get("organisation") or "")), orgs[0] if orgs else None)
    consortium = next((c for c in consortia if str(c.pk) == str(data.get("consortium") or "")),
                      consortia[0] if consortia else None)
    return {"orgs": orgs, "consortia": consortia, "org": org, "consortium": consortium}


def _targets(actor: Any, place: dict[str, Any], specialty: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The teams and named specialists a case of this specialty may go to (routing decides)."""
    consortium, org = place["consortium"], place["org"]
    if consortium is None or org is None:
        return [], []
    teams = visible_teams(actor).filter(consortium_id=consortium.pk, active=True) \
        .exclude(kind=TeamKind.FAMILY_DOCTOR).order_by("name")
    if specialty:
        teams = teams.filter(Q(specialty=specialty) | Q(kind=TeamKind.MDT))
    team_choices = [(str(t.pk), t.name) for t in teams[:100]]
    if not specialty:
        return team_choices, []
    rank = TIER_RANK.get(org.tier, 0)  # type: ignore[call-overload]
    specialists = routing.eligible_specialists(consortium_id=consortium.pk, specialty=specialty, asker_rank=rank,
                                               exclude=[actor.practitioner_id]).order_by("name")
    return team_choices, [(str(p.pk), f"{p.name} · {title_label(p.title)}")
                          for p in specialists.only("name", "title")[:SPECIALISTS_SHOWN]]


def _ask_form(actor: Any, data: Any = None, *, initial: dict[str, Any] | None = None) -> tuple[AskForm, dict[str, Any]]:
    values = data if data is not None else (initial or {})
    place = _place(actor, values)
    teams, specialists = _targets(actor, place, str(values.get("specialty") or ""))
    kwargs = {"teams": teams, "specialists": specialists,
              "organisations": [(str(o.pk), o.name) for o in place["orgs"]],
              "consortia": [(str(c.pk), c.name) for c in place["consortia"]]}
    form = AskForm(data, initial=initial, **kwargs) if data is not None else AskForm(initial=initial, **kwargs)
    # Choosing the specialty refreshes the teams and specialists offered (htmx; without it the
    # pool is the default and the action checks any other choice).
    form.fields["specialty"].widget.attrs.update({
        "hx-get": reverse("web:consult_new"), "hx-trigger": "change", "hx-target": "#ask-targets",
        "hx-swap": "outerHTML", "hx-vals": '{"part": "targets"}',
        "hx-include": "[name=organisation],[name=consortium],[name=target_kind]:checked"})
    return form, {"place": place, "n_specialists": len(specialists), "n_teams": len(teams)}


def _input(data: dict[str, Any], form: AskForm) -> ConsultInput:
    return ConsultInput(
        specialty=data.get("specialty") or "", question=data.get("question") or "",
        urgency=data.get("urgency") or "routine", patient_id=data.get("patient"), history=data.get("history") or "",
        medication=data.get("medication") or "", vitals=form.vitals(), target_kind=data.get("target_kind") or "pool",
        target_team_id=data.get("target_team") or None, target_practitioner_id=data.get("target_practitioner") or None,
        organisation_id=data.get("organisation") or None, consortium_id=data.get("consortium") or None)


def _create(actor: Any, form: AskForm, files: list[Any]) -> dict[str, Any]:
    data = form.cleaned_data
    patient_id = data.get("patient")
    # Files go with the patient only if this clinician may see them; else the action says so.
    visible = patient_id is None or visible_patients(actor).filter(pk=patient_id).exists()
    consult = with_files(actor, files if visible else [], patient_id,
                         lambda stored: create_consult(acting=actor, data=_input(data, form), attachments=stored))
    return {"id": str(consult.pk)}


@clinician_page
def ask(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if request.htmx and request.GET.get("part") == "targets":  # type: ignore[attr-defined]
        form, extra = _ask_form(actor, initial=request.GET.dict())
        return render(request, "web/consults/_targets.html", {"form": form, **extra})
    status, file_errors, found = 200, [], None
    finder = FindPatientForm()
    if request.method == "POST" and "find" in request.POST:
        finder = FindPatientForm(request.POST)
        found = pq.search_patients(actor, finder.data.get("find", "")) if finder.is_valid() else []
        form, extra = _ask_form(actor, initial={"once": fresh_once()})
    elif request.method == "POST":
        form, extra = _ask_form(actor, request.POST)
        if form.is_valid():
            files = uploads(request)
            fingerprint = {**form.cleaned_data, "files": upload_names(files)}
            try:
                result, replayed = run_once(request, actor, "consults.create", form.cleaned_data["once"], fingerprint,
                                            lambda: _create(actor, form, files))
            except DomainError as exc:
                reraise_if_not_for_form(exc)
                file_errors = put_error(form, exc)
            else:
                if not replayed:
                    messages.success(request, _("Your case is sent. You will be told when a specialist takes it."))
                return redirect(case_url(result["id"]))
        status = 422
    else:
        form, extra = _ask_form(actor, initial={"once": fresh_once(), "specialty": request.GET.get("specialty", "")})
    patient, chosen = None, form["patient"].value() if request.method == "POST" else request.GET.get("patient")
    if chosen and not found:
        try:
            patient = access_patient(actor, parse_uuid(chosen))  # shown on the form: one audited read
        except NotFound:
            if request.method != "POST":
                raise
        if patient is not None and request.method != "POST":
            form.initial["patient"] = str(patient.pk)
    recent = pq.my_patients(actor, limit=6) if patient is None and found is None and request.method != "POST" else []
    return render(request, "web/consults/new.html", {
        "form": form, "finder": finder, "found": found, "patient": patient,
        "patient_age": age(patient.birth_date) if patient else None, "recent": recent, "file_errors": file_errors,
        "accept": ACCEPT, "nav": "ask", **extra}, status=status)
