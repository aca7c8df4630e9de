"""Clinician pages of the master patient index: search, register, the patient's page with care
team, consent and check-in code, and break-the-glass."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from medunion.access import actions as access_actions
from medunion.access.loaders import access_patient, parse_uuid
from medunion.access.policy import (
    Action,
    can,
    relationship_to,
    visible_consortia,
    visible_organisations,
    visible_teams,
)
from medunion.core import clock
from medunion.core.errors import DomainError
from medunion.network.codes import TeamKind
from medunion.network.queries import home_regions
from medunion.patients import actions as pa
from medunion.patients import queries as pq

from .common import apply_error, clinician_page, signed_in
from .forms import (
    BreakGlassForm,
    CareTeamForm,
    ConsentForm,
    PatientEditForm,
    PatientForm,
    SearchForm,
    fresh_once,
)
from .once import run_once

# secrets.token_urlsafe(18): the check-in code printed under the QR code.
QR_TOKEN = re.compile(r"^[A-Za-z0-9_-]{24}$")


def _organisations(actor: Any) -> list[Any]:
    return list(visible_organisations(actor).filter(pk__in=list(actor.org_ids)).order_by("name"))


@clinician_page
def search(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    # The forms post: ID and phone numbers stay out of the address bar, the history of a shared
    # phone and the server's logs. A plain link with ?q= still works.
    form = SearchForm(request.POST if request.method == "POST" else (request.GET or None))
    results: list[Any] = []
    query = kind = ""
    glass = None
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        if QR_TOKEN.match(query):
            return redirect("web:check_in", token=query)
        results = pq.search_patients(actor, query)
        kind = pq.classify_query(query) if query else ""
        if kind == "id_number" and not results:
            glass = BreakGlassForm(initial={"id_number": query, "once": fresh_once()})
    return render(request, "web/patients/search.html", {
        "form": form, "results": results, "query": query, "kind": kind, "glass": glass, "nav": "patients",
    })


@clinician_page
def check_in(request: HttpRequest, token: str) -> HttpResponse:
    """Where the check-in QR code leads: the patient's page, if this clinician may see them (one
    read, recorded as a check-in)."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = pa.find_by_qr(acting=actor, token=token)
    return render(request, "web/patients/patient.html", {**_context(request, patient), "checked_in": True})


@clinician_page
def register(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    orgs = _organisations(actor)
    regions = home_regions(actor.org_ids)
    status = 200
    existing = None
    if request.method == "POST":
        form = PatientForm(request.POST, regions=regions, organisations=orgs)
        if form.is_valid():
            data = form.cleaned_data
            org_id = data.get("organisation") or (orgs[0].pk if len(orgs) == 1 else None)
            try:
                result, replayed = run_once(request, actor, "patients.register", data["once"], data, lambda: {
                    "id": str(pa.register_patient(acting=actor, organisation_id=parse_uuid(org_id) if org_id else None,
                                                  data=_patient_input(data)).pk)})
            except DomainError as exc:
                if exc.status == 404:
                    raise
                apply_error(form, exc)
                existing = exc.details.get("existing_patient")
            else:
                if not replayed:
                    messages.success(request, _("The patient is registered."))
                return redirect("web:patient", patient_id=result["id"])
        status = 422
    else:
        default_region = orgs[0].region_id if len(orgs) == 1 else ""
        form = PatientForm(initial={"once": fresh_once(), "region": default_region}, regions=regions,
                           organisations=orgs)
    return render(request, "web/patients/register.html", {
        "form": form, "existing": existing, "nav": "register"}, status=status)


def _patient_input(data: dict[str, Any]) -> pa.PatientInput:
    return pa.PatientInput(name=data["name"], id_number=data["id_number"], sex=data.get("sex") or "",
                           birth_date=data.get("birth_date"), phone=data.get("phone") or "",
                           region_code=data.get("region") or "", address=data.get("address") or "")


def _context(request: HttpRequest, patient: Any, **forms: Any) -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    relation = relationship_to(actor, patient.pk)
    grant = None
    if relation == "break_glass":
        grant = access_actions.live_grant(actor, patient.pk)
    qr = pq.live_qr(patient)
    teams = list(visible_teams(actor).filter(kind=TeamKind.FAMILY_DOCTOR, active=True).order_by("name")[:200])
    consortia = list(visible_consortia(actor).order_by("name"))
    return {
        "patient": patient, "relation": relation, "grant": grant,
        "age": _age(patient.birth_date),
        "care_team": pq.care_team_of(patient), "consents": pq.consents_of(patient),
        "qr": qr, "qr_svg": _qr_svg(request, qr.token) if qr else "",
        "can_edit": can(actor, Action.UPDATE_PATIENT, patient),
        "can_manage_care": can(actor, Action.MANAGE_CARE_TEAM, patient),
        "consent_form": forms.get("consent_form") or ConsentForm(consortia=consortia, initial={"once": fresh_once()}),
        "care_form": forms.get("care_form") or (CareTeamForm(teams=teams) if teams else None),
        "today": clock.today(), "nav": "patients",
    }


def _age(born: Any) -> int:
    today = clock.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _qr_svg(request: HttpRequest, token: str) -> str:
    import segno

    url = request.build_absolute_uri(reverse("web:check_in", kwargs={"token": token}))
    return segno.make(url, error="m").svg_inline(scale=4)


@clinician_page
def patient(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    reveal = request.GET.get("show") == "id"
    p = access_patient(actor, patient_id, audit_action="patient.read_id_number" if reveal else "patient.read")
    return render(request, "web/patients/patient.html", {**_context(request, p), "reveal": reveal})


@clinician_page
def edit(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    # A save is audited by the update itself; only showing the form is a read of its own.
    p = access_patient(actor, patient_id, Action.UPDATE_PATIENT, audit=request.method != "POST")
    regions = home_regions(actor.org_ids | {p.registered_at_id})
    status = 200
    if request.method == "POST":
        form = PatientEditForm(request.POST, regions=regions)
        if form.is_valid():
            data = dict(form.cleaned_data)
            if not data["id_number"] and p.id_number:
                data["id_number"] = p.id_number  # left empty: keep the number on record
            try:
                pa.update_patient(acting=actor, patient_id=p.pk, data=_patient_input(data))
            except DomainError as exc:
                if exc.status == 404:
                    raise
                apply_error(form, exc)
            else:
                messages.success(request, _("The changes are saved."))
                return redirect("web:patient", patient_id=p.pk)
        status = 422
    else:
        form = PatientEditForm(regions=regions, initial={
            "name": p.name, "sex": p.sex, "birth_date": p.birth_date, "phone": p.phone,
            "region": p.region_id or "", "address": p.address})
    return render(request, "web/patients/edit.html", {"form": form, "patient": p, "nav": "patients"}, status=status)


def _post_action(request: HttpRequest, patient_id: Any, work: Any, done: str) -> HttpResponse:
    try:
        work()
    except DomainError as exc:
        if exc.status in (403, 404):
            raise  # not this clinician's to do: the error page, not a message
        messages.warning(request, str(exc.message))
    else:
        messages.success(request, done)
    return redirect("web:patient", patient_id=parse_uuid(patient_id))


@clinician_page
@require_POST
def consent(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = ConsentForm(request.POST, consortia=list(visible_consortia(actor)))
    if not form.is_valid():
        p = access_patient(actor, patient_id)
        return render(request, "web/patients/patient.html", _context(request, p, consent_form=form), status=422)
    data = form.cleaned_data
    return _post_action(request, patient_id, lambda: run_once(
        request, actor, "patients.consent", data["once"], {**data, "patient": str(patient_id)},
        lambda: {"id": str(pa.record_consent(
            acting=actor, patient_id=patient_id, scope=data["scope"], permit=data["permit"],
            consortium_id=data["consortium"] or None, valid_until=data["valid_until"]).pk)}),
        _("The consent is recorded."))


@clinician_page
@require_POST
def consent_revoke(request: HttpRequest, patient_id: Any, consent_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return _post_action(request, patient_id, lambda: pa.revoke_consent(
        acting=actor, patient_id=patient_id, consent_id=consent_id), _("The consent is revoked."))


@clinician_page
@require_POST
def care_team_add(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    teams = list(visible_teams(actor).filter(kind=TeamKind.FAMILY_DOCTOR, active=True))
    form = CareTeamForm(request.POST, teams=teams)
    if not form.is_valid():
        p = access_patient(actor, patient_id)
        return render(request, "web/patients/patient.html", _context(request, p, care_form=form), status=422)
    return _post_action(request, patient_id, lambda: pa.add_to_care_team(
        acting=actor, patient_id=patient_id, role="family_doctor", team_id=form.cleaned_data["team"],
        source_type="page"), _("The team now looks after this patient."))


def _qr_change(request: HttpRequest, patient_id: Any, work: Any, done: str) -> HttpResponse:
    """Issue or revoke a check-in code; clinicians go back to the patient's page, a patient to
    their own home."""
    actor = request.actor  # type: ignore[attr-defined]
    try:
        work(actor)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        messages.warning(request, str(exc.message))
    else:
        messages.success(request, done)
    if actor.is_practitioner:
        return redirect("web:patient", patient_id=parse_uuid(patient_id))
    return redirect("web:home")


@signed_in
@require_POST
def qr_issue(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _qr_change(request, patient_id, lambda actor: pa.issue_qr_token(acting=actor, patient_id=patient_id),
                      _("A new check-in code is issued; the previous one no longer works."))


@signed_in
@require_POST
def qr_revoke(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _qr_change(request, patient_id, lambda actor: pa.revoke_qr_token(acting=actor, patient_id=patient_id),
                      _("The check-in code is revoked."))


@clinician_page
@require_POST
def break_glass(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = BreakGlassForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            result, _replayed = run_once(request, actor, "access.break_glass", data["once"], data, lambda: {
                "patient": str(access_actions.break_glass_by_id_number(
                    acting=actor, id_number=data["id_number"], reason=data["reason"]).patient_id)})
        except DomainError as exc:
            apply_error(form, exc)
        else:
            # The patient's page says until when the access is open, and that it will be reviewed.
            return redirect("web:patient", patient_id=result["patient"])
    query = form.data.get("id_number", "")
    return render(request, "web/patients/search.html", {
        "form": SearchForm(initial={"q": query}), "results": [], "query": query, "kind": "id_number",
        "glass": form, "nav": "patients"}, status=422)
