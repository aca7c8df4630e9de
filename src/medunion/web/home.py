"""The home page of each role, and the patient's own pages (my record, who accessed it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from medunion.access.loaders import access_patient, access_practitioner
from medunion.access.policy import Action, can, region_prefix
from medunion.core.errors import NotFound
from medunion.network.queries import network_figures, practitioner_profile, region_names
from medunion.patients import queries as pq

from .common import patient_page, signed_in
from .forms import SearchForm
from .patients import _qr_svg


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if actor.is_practitioner:
        return _clinician_home(request, actor)
    if actor.is_patient:
        return _patient_home(request, actor)
    if actor.is_coordinator and actor.coordinated_ids:
        return redirect("web:coord:network")
    if can(actor, Action.SEARCH_AUDIT):
        return redirect("web:coord:audit")
    if actor.role == "commission":
        return _commission_home(request, actor)
    return render(request, "web/home_admin.html", {"nav": "home"})


def _clinician_home(request: HttpRequest, actor: Any) -> HttpResponse:
    try:
        profile = practitioner_profile(actor, access_practitioner(actor, actor.practitioner_id))
    except NotFound:
        profile = None  # no active practice site in a consortium (yet, or any more)
    from medunion.referrals.queries import counts as referral_counts

    from .reading import home_context as diagnosis_home

    return render(request, "web/home_clinician.html", {
        "profile": profile, "patients": pq.my_patients(actor, limit=20), "search": SearchForm(), "nav": "home",
        "referrals": referral_counts(actor), **diagnosis_home(actor)})


def _patient_home(request: HttpRequest, actor: Any) -> HttpResponse:
    patient = access_patient(actor, actor.patient_id)
    qr = pq.live_qr(patient)
    return render(request, "web/home_patient.html", {
        "patient": patient, "care_team": pq.care_team_of(patient), "consents": pq.consents_of(patient),
        "qr": qr, "qr_svg": _qr_svg(request, qr.token) if qr else "", "nav": "home"})


def _commission_home(request: HttpRequest, actor: Any) -> HttpResponse:
    """Figures for the viewer's region: counts only, no patient data."""
    rows = pq.registrations_by_region(region_prefix(actor.region_code or ""))
    names = region_names([f"{r['township']}000" for r in rows])
    townships = [{"name": names.get(f"{r['township']}000", r["township"]), "n": r["n"]} for r in rows]
    return render(request, "web/home_commission.html", {
        **network_figures(actor), "townships": townships, "n_patients": sum(r["n"] for r in rows), "nav": "home"})


@patient_page
def access_log(request: HttpRequest) -> HttpResponse:
    """Who else opened, found or changed my record: newest first, 50 at a time (older pages by
    the ``before`` link). Reading it is itself recorded."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = access_patient(actor, actor.patient_id, audit_action="patient.access_log.read")
    before = request.GET.get("before", "")
    rows = pq.readable_access_log(patient, viewer_user_id=actor.user_id, limit=PAGE + 1,
                                  before=int(before) if before.isdigit() else None, others_only=True)
    older = rows[PAGE - 1].seq if len(rows) > PAGE else None  # where the next page starts
    return render(request, "web/access_log.html", {"rows": rows[:PAGE], "older": older, "nav": "access_log"})


PAGE = 50
