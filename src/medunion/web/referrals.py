"""Referral pages for clinicians: the lists (the receiving department's inbox among them),
referring (phone-first, pre-filled from a consultation), live green-channel availability, the
follow-up tasks of patients referred down, and the desk's check-in by the slip's code.

The referral page and its steps are in ``referrals_page``; the patient's pages in
``referrals_patient``; capacity and figures for coordinators in ``coordinator/referrals``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from medunion.access.loaders import access_consult, access_patient
from medunion.access.policy import visible_organisations, visible_practitioners
from medunion.consults.models import ConsultAnswer, Recommendation
from medunion.core import clock
from medunion.core.errors import Conflict, DomainError, NotFound
from medunion.patients import queries as pq
from medunion.referrals import queries as rq
from medunion.referrals.actions import ReferralInput, check_in, complete_task, create_referral
from medunion.referrals.machine import referral_url
from medunion.referrals.models import Direction, Urgency

from .common import clinician_page, list_window
from .consults_common import age, put_error, reraise_if_not_for_form, upload_names, uploads, with_files
from .consults_forms import ACCEPT
from .forms import fresh_once
from .once import run_once
from .referrals_common import destination_choices, privilege_refusal, split_destination
from .referrals_forms import CheckinForm, ReferForm, TaskForm, plan_items

TABS = (
    ("incoming", gettext_lazy("Incoming")),
    ("accepted", gettext_lazy("Accepted")),
    ("sent", gettext_lazy("Sent by me")),
    ("closed", gettext_lazy("Closed")),
)
DIRECTIONS = (("up", gettext_lazy("Up")), ("down", gettext_lazy("Down")), ("across", gettext_lazy("Across")))
DOCTORS_SHOWN = 200


# --- the lists --------------------------------------------------------------------------------

@clinician_page
def referrals_page(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    counts = rq.counts(actor)
    name = request.GET.get("list") or ("incoming" if counts.get("incoming") else "sent")
    if name not in rq.LISTS:
        raise NotFound()
    direction = request.GET.get("direction", "")
    window = list_window(request)
    qs = rq.listing(actor, name, direction=direction)
    fetched = list(qs[window.offset:window.fetch_stop])
    shown = rq.record_listed(actor, fetched[:window.size], name=name)
    rows = [{"r": r, "age": age(r.patient.birth_date), "overdue": rq.is_overdue(r),
             "outcome_missing": rq.outcome_missing(r)} for r in shown]
    return render(request, "web/referrals/list.html", {
        "rows": rows, "tab": name, "tabs": TABS, "counts": counts, "page": window.page,
        "has_next": len(fetched) > window.size, "direction": direction, "directions": DIRECTIONS,
        "nav": "referrals"})


# --- referring --------------------------------------------------------------------------------

def _prefill(request: HttpRequest, actor: Any) -> tuple[dict[str, Any], Any, Any]:
    """Initial values: from a consultation whose answer recommends referral (the patient, the
    reason, a summary of the question and answer, the specialty), or a patient chosen before."""
    initial: dict[str, Any] = {"once": fresh_once(), "urgency": Urgency.ROUTINE}
    consult = None
    specialty = ""
    if request.GET.get("consult"):
        consult = access_consult(actor, request.GET["consult"])
        answer = ConsultAnswer.objects.filter(consult=consult).order_by("-seq").first()
        initial.update(consult=consult.pk, patient=consult.patient_id, urgency=consult.urgency)
        summary = [_("Question: %(q)s") % {"q": consult.question}]
        if answer is not None:
            summary.append(_("Specialist's assessment (%(name)s): %(a)s") % {"name": answer.author_name,
                                                                             "a": answer.assessment})
            if answer.plan:
                summary.append(_("Plan: %(p)s") % {"p": answer.plan})
            if answer.recommendation == Recommendation.REFERRAL:
                specialty = answer.referral_specialty
                initial["reason"] = (answer.referral_notes or answer.assessment)[:500]
        initial["clinical_summary"] = "\n".join(summary)[:8000]
    patient_id = initial.get("patient") or request.GET.get("patient")
    patient = access_patient(actor, patient_id) if patient_id else None
    if patient is not None:
        initial["patient"] = patient.pk
    return initial, patient, specialty or request.GET.get("specialty", "")


def _doctors(actor: Any, dests: list[rq.Destination], specialty: str) -> list[tuple[str, Any]]:
    orgs = [d.organisation.pk for d in dests if d.departments or not specialty]
    qs = visible_practitioners(actor).filter(active=True, sites__active=True, sites__organisation_id__in=orgs)
    if specialty:
        qs = qs.filter(specialties__specialty=specialty)
    rows = qs.values_list("pk", "name", "sites__organisation__name").distinct().order_by(
        "sites__organisation__name", "name")[:DOCTORS_SHOWN]
    return [(str(pk), f"{name} · {org}") for pk, name, org in rows]


def _form_context(request: HttpRequest, actor: Any, direction: str, specialty: str,
                  data: Any = None, initial: dict[str, Any] | None = None) -> tuple[ReferForm, dict[str, Any]]:
    dests = rq.destinations(actor, direction=direction, specialty=specialty)
    orgs = visible_organisations(actor).filter(pk__in=list(actor.org_ids)).order_by("name")
    form = ReferForm(data, initial=initial, destinations=destination_choices(dests), direction=direction,
                     doctors=_doctors(actor, dests, specialty), organisations=[(str(o.pk), o.name) for o in orgs])
    return form, {"destinations": dests}


@clinician_page
def refer(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    refusal = privilege_refusal(actor)
    if refusal is not None:
        return render(request, "web/referrals/refused.html", {**refusal, "nav": "refer"}, status=403)
    if request.method == "POST":
        return _send(request, actor)
    direction = request.GET.get("direction") or Direction.UP
    if direction not in Direction.values:
        raise NotFound()
    initial, patient, specialty = _prefill(request, actor)
    initial["direction"] = direction
    live = rq.live_for(actor, patient.pk, direction) if patient is not None else None
    form, extra = _form_context(request, actor, direction, specialty, initial=initial)
    find = request.GET.get("find", "").strip()[:100]
    found = pq.search_patients(actor, find) if find and patient is None else None
    recent = pq.my_patients(actor, limit=8) if patient is None and found is None else []
    return render(request, "web/referrals/new.html", {
        "found": found, "recent": recent, "find": find, "form": form, "patient": patient, "age": age(patient.birth_date) if patient else None, "live": live,
        "direction": direction, "directions": DIRECTIONS, "specialty": specialty, "nav": "refer", "accept": ACCEPT,
        "consult_id": initial.get("consult"), **extra})


def _send(request: HttpRequest, actor: Any) -> HttpResponse:
    direction = request.POST.get("direction") or Direction.UP
    if direction not in Direction.values:
        direction = Direction.UP
    specialty = request.POST.get("specialty", "")
    form, extra = _form_context(request, actor, direction, specialty, data=request.POST)
    patient = None
    if request.POST.get("patient"):
        try:
            patient = access_patient(actor, request.POST["patient"])  # shown again on the form: a read
        except NotFound:
            patient = None
    files = uploads(request)
    file_errors: list[str] = []
    live = None
    if form.is_valid():
        d = form.cleaned_data
        org_id, dept_id = split_destination(d.get("destination") or "")
        data = ReferralInput(
            patient_id=d.get("patient"), direction=direction, target_organisation_id=org_id or None,
            target_department_id=dept_id or None, target_practitioner_id=d.get("doctor") or None,
            urgency=d.get("urgency") or Urgency.ROUTINE, reason=d.get("reason") or "",
            clinical_summary=d.get("clinical_summary") or "", requested_by=d.get("requested_by"),
            consult_id=d.get("consult"), green_channel=bool(d.get("green_channel")),
            green_place=d.get("green_place") or "", organisation_id=d.get("organisation") or None,
            discharge_summary=d.get("discharge_summary") or "", plan=plan_items(d))
        fingerprint = {**{k: v for k, v in d.items() if k != "once"}, "files": upload_names(files)}
        try:
            result, _replayed = run_once(request, actor, "referrals.create", d.get("once") or "", fingerprint, lambda: {
                "id": str(with_files(actor, files, d.get("patient"),
                                     lambda stored: create_referral(acting=actor, data=data, attachments=stored)).pk)})
            messages.success(request, _("Referral sent."))
            return redirect(referral_url(result["id"]))
        except DomainError as exc:
            reraise_if_not_for_form(exc)
            if exc.code == "referral_live" and patient is not None:
                live = rq.live_for(actor, patient.pk, direction)
            file_errors = put_error(form, exc)
    return render(request, "web/referrals/new.html", {
        "form": form, "patient": patient, "age": age(patient.birth_date) if patient else None, "live": live,
        "direction": direction, "directions": DIRECTIONS, "specialty": specialty, "nav": "refer", "accept": ACCEPT,
        "file_errors": file_errors, "consult_id": request.POST.get("consult"), **extra}, status=422)


@clinician_page
def availability(request: HttpRequest) -> HttpResponse:
    """The live green-channel availability of the chosen department (polled by the refer form)."""
    actor = request.actor  # type: ignore[attr-defined]
    _org, dept_id = split_destination(request.GET.get("destination", ""))
    if not dept_id:
        return render(request, "web/referrals/_availability.html", {})
    dept = rq.department_of(actor, dept_id)
    a = rq.capacity.availability([dept.pk]).get(dept.pk)
    return render(request, "web/referrals/_availability.html", {"dept": dept, "a": a})


# --- follow-up tasks ------------------------------------------------------------------------------

@clinician_page
def tasks(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    rows = rq.task_page(actor, rq.my_tasks(actor))
    done = rq.task_page(actor, rq.my_tasks(actor, include_done=True).exclude(state="scheduled")
                        .order_by("-completed_at"), limit=20)
    forms_ = {t.pk: TaskForm(initial={"once": fresh_once(), "version": t.version}, prefix=f"t{t.pk.hex[:8]}")
              for t in rows}
    return render(request, "web/referrals/tasks.html", {"rows": [(t, forms_[t.pk]) for t in rows], "done": done,
                                                        "today": clock.today(),
                                                        "nav": "tasks"})


@clinician_page
@require_POST
def task_complete(request: HttpRequest, task_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    tid = rq.access_task(actor, task_id).pk  # 404 before anything else for a task not one's own
    form = TaskForm(request.POST, prefix=f"t{tid.hex[:8]}")
    if form.is_valid():
        d = form.cleaned_data
        try:
            run_once(request, actor, "referrals.task", d.get("once") or "", {**d, "task": str(tid)}, lambda: {
                "id": str(complete_task(acting=actor, task_id=tid, result=d.get("result") or "",
                                        problem=bool(d.get("problem")), expected_version=d.get("version")).pk)})
            messages.success(request, _("Follow-up recorded.") if not d.get("problem")
                             else _("Follow-up recorded; the hospital has been told about the problem."))
        except Conflict as exc:
            messages.error(request, str(exc.message))
        except DomainError as exc:
            reraise_if_not_for_form(exc)
            messages.error(request, "; ".join(m for ms in getattr(exc, "errors", {}).values() for m in ms)
                           or str(exc.message))
    else:
        messages.error(request, _("Record what you found."))
    return redirect("web:referral_tasks")


# --- the desk: check-in by the slip's code ------------------------------------------------------

@clinician_page
def checkin_form(request: HttpRequest) -> HttpResponse:
    form = CheckinForm(request.GET or None)
    if request.GET and form.is_valid():
        return redirect("web:referral_checkin", code=form.cleaned_data["code"].replace(" ", "").upper())
    return render(request, "web/referrals/checkin_form.html", {"form": form, "nav": "referrals"})


@clinician_page
def checkin(request: HttpRequest, code: str) -> HttpResponse:
    """What the QR code opens: the referral of this slip, and the button that checks the patient
    in (404 for a code that is unknown or not this clinician's to see)."""
    actor = request.actor  # type: ignore[attr-defined]
    if request.method == "POST":
        try:
            referral = check_in(acting=actor, code=code)
        except Conflict as exc:
            messages.error(request, str(exc.message))
            return redirect("web:referral_checkin", code=code)
        messages.success(request, _("%(name)s is checked in.") % {"name": referral.patient.name})
        return redirect(referral_url(referral.pk))
    referral = rq.access_by_code(actor, code)
    return render(request, "web/referrals/checkin.html", {
        "r": referral, "code": code, "age": age(referral.patient.birth_date), "nav": "referrals",
        "can_check_in": referral.state == "accepted"})
