"""The home page of each role, and the patient's own pages (my record, who accessed it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from medunion.access.loaders import access_patient, access_practitioner
from medunion.access.policy import Action, can, region_prefix, visible_audit
from medunion.accounts.queries import who_is
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.network.queries import network_figures, practitioner_profile, region_names
from medunion.patients import queries as pq

from .common import paginate, patient_page, signed_in
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
    me = access_practitioner(actor, actor.practitioner_id)
    return render(request, "web/home_clinician.html", {
        "profile": practitioner_profile(actor, me), "patients": pq.my_patients(actor, limit=20),
        "search": SearchForm(), "nav": "home"})


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


# What a patient reads in their access log, by audit action.
ACTION_LABELS: dict[str, str | Promise] = {
    "patient.register": _("registered you"),
    "patient.read": _("opened your record"),
    "patient.read_id_number": _("opened your record and viewed your full ID number"),
    "patient.read_by_qr": _("opened your record with your check-in code"),
    "patient.search": _("found you in a search"),
    "patient.list": _("saw you in their patient list"),
    "patient.update": _("changed your details"),
    "patient.break_glass": _("opened your record in an emergency (break-the-glass)"),
    "patient.qr.issue": _("issued a new check-in code"),
    "patient.qr.revoke": _("revoked your check-in code"),
    "patient.consent.record": _("recorded your consent"),
    "patient.consent.revoke": _("recorded that you withdrew a consent"),
    "patient.care_team.add": _("added someone to your care team"),
    "access.break_glass.review": _("reviewed an emergency access to your record"),
    "access.break_glass.review_list": _("saw an emergency access to your record for review"),
    "account.create": _("created your account"),
    "account.login": _("signed in to your account"),
}
SURFACE_LABELS: dict[str, str | Promise] = {
    "page": _("web page"), "api": _("app or system (API)"), "fhir": _("hospital system (FHIR)"),
    "cli": _("platform command"), "admin": _("back office"),
}


def describe(events: list[Any]) -> list[dict[str, Any]]:
    people = who_is(e.actor_id for e in events)
    rows = []
    for e in events:
        who = people.get(e.actor_id) if e.actor_id else None
        system = e.actor_id is None and e.actor_display.startswith("system:")
        rows.append({
            "at": e.at, "who": who.name if who else (_("the MedUnion platform") if system else e.actor_display or "—"),
            "role": who.role if who else "", "title": who.title if who else "",
            "organisation": who.organisation if who else "",
            "what": ACTION_LABELS.get(e.action, e.action), "surface": SURFACE_LABELS.get(e.surface, e.surface),
            "denied": e.outcome != "success", "emergency": e.purpose == "break_glass",
        })
    return rows


@patient_page
def access_log(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    # Your own visits are recorded too, but this page answers "who else".
    events = visible_audit(actor).filter(patient_id=actor.patient_id).exclude(actor_id=actor.user_id)
    page = paginate(request, events.order_by("-seq"))
    rows = describe(list(page.object_list))
    record(actor, "patient.access_log.read", Verb.READ, object_type="patients.patient",
           object_id=str(actor.patient_id), patient_id=actor.patient_id, detail={"page": page.number})
    return render(request, "web/access_log.html", {"page": page, "rows": rows, "nav": "access_log"})
