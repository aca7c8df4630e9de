"""Remote-diagnosis pages of the requesting side: the examinations I or my organisation asked
for (open and reported), and requesting a new one — phone-first, with the region-wide
recognition prompt: when a signed report of the same examination exists from the last days, it
is shown first, and the clinician either uses it (an avoided repeat) or says why a new
examination is needed.

The examination's page, its steps and uploads are in ``diagnostics_exam``; the viewer in
``diagnostics_viewer``; the patient's own reports in ``diagnostics_patient``. The reading side
(worklist, report editor) is ``reading``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from medunion.access.diagnostics import visible_examinations
from medunion.access.loaders import access_patient, parse_uuid
from medunion.access.policy import visible_consortia, visible_organisations
from medunion.consults.models import Urgency
from medunion.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from medunion.core.planner import rows_by_key
from medunion.diagnostics import actions as da
from medunion.diagnostics import queries as dq
from medunion.diagnostics.actions_reading import current_report
from medunion.diagnostics.notices import examination_url
from medunion.diagnostics.validation import ExaminationInput, RecentReportExists
from medunion.patients import queries as pq

from .common import apply_error, clinician_page, list_window
from .consults_common import age, reraise_if_not_for_form
from .diagnostics_common import annotate_report
from .diagnostics_forms import ExaminationForm, UseReportForm
from .forms import fresh_once
from .once import run_once

TABS = (("requested", gettext_lazy("Open")), ("reported", gettext_lazy("Reported")))
# The action's field names and the form's.
# What the "a new examination is needed" form sends again, with its reason.
REPEAT_FIELDS = ("modality", "body_site", "body_site_text", "urgency", "question", "organisation", "consortium")
FORM_FIELD = {"organisation_id": "organisation", "consortium_id": "consortium", "patient_id": "__all__"}


# --- the list ---------------------------------------------------------------------------------------

@clinician_page
def examinations_page(request: HttpRequest) -> HttpResponse:
    """Examinations requested by me or my organisation: open ones (being uploaded, waiting, being
    read) and reported ones; one audit row per examination shown."""
    actor = request.actor  # type: ignore[attr-defined]
    name = request.GET.get("list") or "requested"
    if name not in ("requested", "reported"):
        raise NotFound()
    window = list_window(request)
    fetched = rows_by_key(dq.listing(actor, name), window.offset, window.fetch_stop)
    shown = dq.record_listed(actor, fetched[:window.size], name=name)
    critical = list(dq.open_critical(actor)[:20])
    return render(request, "web/diagnostics/list.html", {
        "rows": [{"e": e, "age": age(e.patient.birth_date)} for e in shown], "tab": name, "tabs": TABS,
        "page": window.page, "has_next": len(fetched) > window.size, "critical": critical, "nav": "examinations"})


# --- requesting an examination -------------------------------------------------------------------------

def _routed(actor: Any) -> frozenset[str]:
    """The modalities some hub reads for the clinician's consortia (one query)."""
    from medunion.diagnostics.models import ReadingRoute

    return frozenset(ReadingRoute.objects.filter(consortium_id__in=list(actor.consortium_ids))
                     .values_list("modality", flat=True))


def _form(actor: Any, data: Any = None, initial: dict[str, Any] | None = None) -> ExaminationForm:
    orgs = visible_organisations(actor).filter(pk__in=list(actor.org_ids)).order_by("name")
    consortia = visible_consortia(actor).filter(pk__in=list(actor.consortium_ids)).order_by("name")
    return ExaminationForm(data, initial=initial,
                           organisations=[(str(o.pk), o.name) for o in orgs],
                           consortia=[(str(c.pk), c.name) for c in consortia])


@clinician_page
def new_examination(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if request.method == "POST":
        return _create(request, actor)
    patient = access_patient(actor, request.GET["patient"]) if request.GET.get("patient") else None
    find = request.GET.get("find", "").strip()[:100]
    found = pq.search_patients(actor, find) if find and patient is None else None
    recent = pq.my_patients(actor, limit=8) if patient is None and found is None else []
    initial = {"once": fresh_once(), "urgency": Urgency.ROUTINE, "patient": patient.pk if patient else None}
    if request.GET.get("modality"):
        initial["modality"] = request.GET["modality"]
    return render(request, "web/diagnostics/new.html", {
        "form": _form(actor, initial=initial), "patient": patient, "age": age(patient.birth_date) if patient else None,
        "found": found, "recent": recent, "find": find, "routed": _routed(actor), "nav": "examinations"})


def _input(d: dict[str, Any]) -> ExaminationInput:
    return ExaminationInput(
        patient_id=d.get("patient"), modality=d.get("modality") or "", body_site=d.get("body_site") or "",
        question=d.get("question") or "", urgency=d.get("urgency") or Urgency.ROUTINE,
        body_site_text=d.get("body_site_text") or "", organisation_id=d.get("organisation") or None,
        consortium_id=d.get("consortium") or None, repeat_reason=(d.get("repeat_reason") or "").strip())


def _put(form: ExaminationForm, exc: DomainError) -> None:
    if isinstance(exc, ValidationFailed) and exc.errors:
        errors = {FORM_FIELD.get(k, k): v for k, v in exc.errors.items()}
        exc = ValidationFailed(exc.message, errors=errors)
    elif exc.field in FORM_FIELD:
        exc.field = FORM_FIELD[exc.field]
    apply_error(form, exc)


def recognition(actor: Any, ids: list[str]) -> list[dict[str, Any]]:
    """The recent signed examinations offered instead of a new one, each with its report in
    force; showing them is a read of each (one audit row per examination, one batch)."""
    qs = (visible_examinations(actor).filter(pk__in=[parse_uuid(i) for i in ids])
          .select_related("hub", "requesting_organisation", "requester").order_by("-signed_at"))
    rows = dq.list_page(actor, qs, name="recognition", limit=10)
    return [{"e": e, "report": annotate_report(current_report(e))} for e in rows]


def _create(request: HttpRequest, actor: Any) -> HttpResponse:
    form = _form(actor, data=request.POST)
    recent: list[dict[str, Any]] = []
    status = 422
    if form.is_valid():
        d = form.cleaned_data
        fingerprint = {k: v for k, v in d.items() if k != "once"}
        try:
            result, _replayed = run_once(request, actor, "diagnostics.create", d.get("once") or "", fingerprint,
                                         lambda: {"id": str(da.create_examination(acting=actor, data=_input(d)).pk)})
        except RecentReportExists as exc:
            recent = recognition(actor, list(exc.details.get("examinations") or []))
            status = 409
            if d.get("repeat") and not (d.get("repeat_reason") or "").strip():
                form.add_error("repeat_reason", _("Say why a new examination is needed."))
        except DomainError as exc:
            reraise_if_not_for_form(exc)
            _put(form, exc)
        else:
            messages.success(request, _("Examination recorded. Now upload its images, then send it for reading."))
            return redirect(examination_url(result["id"]))
    patient = None
    if form.data.get("patient"):
        try:
            patient = access_patient(actor, form.data["patient"])  # shown again on the form: a read
        except NotFound:
            patient = None
    organisation = form.cleaned_data.get("organisation") if recent else None
    for row in recent:
        row["use"] = UseReportForm(initial={"once": fresh_once(), "organisation": organisation})
    return render(request, "web/diagnostics/new.html", {
        "form": form, "patient": patient, "age": age(patient.birth_date) if patient else None, "recent": recent,
        "recognition": bool(recent), "days": da.recognition_window().days, "routed": _routed(actor),
        "nav": "examinations",
        "repeat_fields": [(k, form.data.get(k)) for k in REPEAT_FIELDS if form.data.get(k)]}, status=status)


@clinician_page
@require_POST
def use_report(request: HttpRequest, examination_id: Any) -> HttpResponse:
    """"Use this report": the recent signed report stands instead of a new examination."""
    actor = request.actor  # type: ignore[attr-defined]
    eid = parse_uuid(examination_id)
    form = UseReportForm(request.POST)
    d = form.cleaned_data if form.is_valid() else {}
    try:
        run_once(request, actor, "diagnostics.recognise", d.get("once") or "",
                 {"examination": str(eid), "organisation": str(d.get("organisation") or "")},
                 lambda: {"id": str(da.use_recent_report(acting=actor, examination_id=eid,
                                                         organisation_id=d.get("organisation")).pk)})
    except Conflict as exc:
        messages.error(request, str(exc.message))
        return redirect(examination_url(eid))
    except DomainError as exc:
        reraise_if_not_for_form(exc)
        messages.error(request, str(exc.message))
        return redirect(examination_url(eid))
    messages.success(request, _("Repeat avoided: this signed report is used, and no new examination was "
                                "requested."))
    return redirect(examination_url(eid))
