"""The report editor at the hub (``/examinations/{id}/report``) and the steps on a report: save the
draft, sign it (after confirming that a signed report cannot be changed), release the examination
back to the worklist; on a signed report, an addendum or an amended version (hub readers) and the
second read (a senior reader who is not the author).

Each step is a form with a ``once`` token (a double tap does it once). A step lost to someone
quicker shows the page again with what happened (409); bad input the form with its errors, field
by field (422); a step the caller may not take is the error page (403, or 404 when they may not
see the examination). The requesting side reads the examination on its own page
(``/examinations/{id}``), where this page sends them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from medunion.access.diagnostics import examination_roles
from medunion.access.loaders import parse_uuid
from medunion.core import clock
from medunion.core.errors import Conflict, DomainError, ValidationFailed
from medunion.diagnostics import actions_reading as dr
from medunion.diagnostics import machine
from medunion.diagnostics import queries as dq
from medunion.diagnostics.models import Examination, Report
from medunion.diagnostics.states import Role, State
from medunion.diagnostics.validation import ReportInput, clean_report

from .common import clinician_page
from .consults_common import age, reraise_if_not_for_form
from .consults_forms import StepForm
from .diagnostics_common import annotate_report
from .forms import fresh_once
from .once import run_once
from .reading import duration_text, minutes_since, report_url
from .reading_forms import (
    AddendumForm,
    AmendForm,
    ClaimForm,
    SecondReadForm,
    SignForm,
    claim_prefix,
    report_initial,
    rows_for,
)

HUB_ROLES = frozenset({Role.HUB_READER, Role.READER, Role.SENIOR_READER})


def exam_url(examination_id: Any) -> str:
    return f"/examinations/{examination_id}"


def report_item(r: Report) -> dict[str, Any]:
    """A signed report (or addendum) as shown: its codes and measurements in the reader's language
    (labelled by ``diagnostics_common.annotate_report``, as on the examination's page)."""
    annotate_report(r)
    return {"r": r, "codes": r.code_rows,  # type: ignore[attr-defined]
            "measures": [{"label": label, "value": value, "unit": unit}
                         for label, value, unit in r.measure_rows]}  # type: ignore[attr-defined]


def _forms(actor: Any, view: dq.ExaminationView, bound: dict[str, Any]) -> dict[str, Any]:
    exam, roles = view.exam, view.roles
    base = {"version": exam.version}
    forms: dict[str, Any] = {}

    def make(key: str, cls: Any, initial: dict[str, Any] | None = None, **kw: Any) -> None:
        kw.setdefault("auto_id", f"id_{key}_%s")
        forms[key] = bound.get(key) or cls(initial={**base, **(initial or {}), "once": fresh_once()}, **kw)

    if exam.state == State.IN_READING and Role.READER in roles:
        make("report", SignForm, report_initial(view.draft), rows=rows_for(view.draft))
        make("release", StepForm)
    elif exam.state == State.AWAITING and Role.HUB_READER in roles:
        make("claim", ClaimForm, prefix=claim_prefix(exam.pk))
    elif exam.state == State.REPORTED and view.current is not None:
        current = view.current
        if "addendum" in view.acts:
            make("addendum", AddendumForm)
        if "amend" in view.acts:
            make("amend", AmendForm, {**report_initial(current), "second_read": False, "critical": False,
                                      "critical_note": ""}, rows=rows_for(current))
        done = any(sr.report_id == current.pk for sr in view.second_reads)
        if "second_read" in view.acts and current.author_id != actor.practitioner_id and not done:
            make("second_read", SecondReadForm)
    return forms


def editor_context(request: HttpRequest, exam: Examination, *, bound: dict[str, Any] | None = None,
                   conflict: str = "") -> dict[str, Any]:
    """The editor's context for an examination ``machine.load_visible`` gave this request."""
    actor = request.actor  # type: ignore[attr-defined]
    view = dq.view_of(actor, exam)
    forms = _forms(actor, view, bound or {})
    series = [{"s": s.series, "n": len(s.instances), "key": s.key_instance} for s in view.series]
    current = view.current
    return {
        "view": view, "e": exam, "age": age(exam.patient.birth_date), "forms": forms, "conflict": conflict,
        "series": series, "exam_url": exam_url(exam.pk), "report_url": report_url(exam.pk),
        "waiting": duration_text(minutes_since(exam.submitted_at, exam.signed_at or clock.now())),
        "current": report_item(current) if current else None,
        "addenda": [report_item(r) for r in view.addenda],
        "superseded": [report_item(r) for r in view.superseded],
        "second_reads": list(view.second_reads),
        "critical": view.critical,
        "draft_saved": view.draft.created_at if view.draft else None,
        "nav": "reading",
    }


@clinician_page
def report_page(request: HttpRequest, examination_id: Any) -> HttpResponse:
    """The report editor for the hub's readers; anyone else who may see the examination is sent to
    its own page (404 for everyone else)."""
    actor = request.actor  # type: ignore[attr-defined]
    exam = machine.load_visible(actor, examination_id)
    if not examination_roles(actor, exam) & HUB_ROLES:
        return redirect(exam_url(exam.pk))
    return render(request, "web/diagnostics/report_editor.html", editor_context(request, exam))


def show_again(request: HttpRequest, eid: Any, *, bound: dict[str, Any] | None = None, conflict: str = "",
               status: int = 422) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    exam = machine.load_visible(actor, eid)
    if not examination_roles(actor, exam) & HUB_ROLES:
        return render(request, "web/diagnostics/report_editor_conflict.html", {
            "conflict": conflict or _("This step is not yours to take."), "exam_url": exam_url(eid),
            "nav": "reading"}, status=status)
    return render(request, "web/diagnostics/report_editor.html",
                  editor_context(request, exam, bound=bound, conflict=conflict), status=status)


STEP_FORMS: dict[str, Any] = {"report": SignForm, "release": StepForm, "addendum": AddendumForm, "amend": AmendForm,
                              "second_read": SecondReadForm}


def posted(request: HttpRequest, key: str) -> Any:
    """The step's form bound to what was sent (ids unique on the page: several forms share fields)."""
    return STEP_FORMS[key](request.POST, auto_id=f"id_{key}_%s")


# Action error keys that a form names differently.
FIELD_OF = {"addendum": {"findings": "text"}}


def put_errors(key: str, form: Any, exc: DomainError) -> None:
    """The action's errors on the form's fields (measurements above the measurement rows; what no
    field shows, above the form)."""
    if isinstance(exc, ValidationFailed) and exc.errors:
        errors = {k: [str(m) for m in v] for k, v in exc.errors.items()}
    elif exc.field:
        errors = {exc.field: [str(exc.message)]}
    else:
        errors = {"__all__": [str(exc.message)]}
    for field, texts in errors.items():
        field = FIELD_OF.get(key, {}).get(field, field)
        for text in texts:
            if field == "measurements" and hasattr(form, "measurement_errors"):
                form.measurement_errors.append(text)
            else:
                form.add_error(field if field in form.fields else None, text)


def run(request: HttpRequest, examination_id: Any, key: str, form: Any,
        perform: Callable[[Any, dict[str, Any]], Any], done: str, *,
        back: Callable[[Any], HttpResponse] | None = None, scope: str = "") -> HttpResponse:
    """Run one step once per form token and answer (see the module's docstring). ``key`` names
    the form on the page; ``scope`` the step (saving and signing share the editor's form)."""
    actor = request.actor  # type: ignore[attr-defined]
    eid = parse_uuid(examination_id)
    if not form.is_valid():
        machine.load_visible(actor, eid)  # 404 first for an examination one may not see
        return show_again(request, eid, bound={key: form})
    data = form.cleaned_data
    fingerprint = {**data, "examination": str(eid)}
    try:
        _result, replayed = run_once(request, actor, f"reading.{scope or key}", data.get("once") or "", fingerprint,
                                     lambda: {"id": str(getattr(perform(eid, data), "pk", eid))})
    except Conflict as exc:
        return show_again(request, eid, conflict=str(exc.message), status=409)
    except DomainError as exc:
        reraise_if_not_for_form(exc)
        put_errors(key, form, exc)
        return show_again(request, eid, bound={key: form})
    if not replayed:
        messages.success(request, done)
    return back(eid) if back else redirect(report_url(eid))


def _report_input(form: Any) -> ReportInput:
    d = form.cleaned_data
    return ReportInput(findings=d.get("findings") or "", impression=d.get("impression") or "",
                       recommendation=d.get("recommendation") or "", codes=list(d.get("codes") or []),
                       measurements=form.measurements(), critical=bool(d.get("critical")),
                       critical_note=d.get("critical_note") or "", second_read=bool(d.get("second_read")))


@clinician_page
@require_POST
def save_draft(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = posted(request, "report")
    return run(request, examination_id, "report", form, lambda eid, _d: dr.save_draft(
        acting=actor, examination_id=eid, data=_report_input(form)), _("Draft saved."), scope="draft")


@clinician_page
@require_POST
def sign(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = posted(request, "report")
    if form.is_valid() and not form.cleaned_data.get("confirm"):
        incomplete = None
        try:  # what signing would refuse too, shown at once with the missing confirmation
            clean_report(_report_input(form), final=True)
        except ValidationFailed as exc:
            incomplete = exc
        form.add_error("confirm", _("Confirm that the report is ready: a signed report cannot be changed."))
        if incomplete is not None:
            put_errors("report", form, incomplete)
    return run(request, examination_id, "report", form, lambda eid, d: dr.sign(
        acting=actor, examination_id=eid, data=_report_input(form), expected_version=d.get("version")),
        _("Report signed. The requesting clinician has been told."), scope="sign")


@clinician_page
@require_POST
def release(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run(request, examination_id, "release", posted(request, "release"), lambda eid, d: dr.release(
        acting=actor, examination_id=eid, expected_version=d.get("version")),
        _("The examination is back in the worklist."), back=lambda _eid: redirect("web:reading"))


@clinician_page
@require_POST
def addendum(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run(request, examination_id, "addendum", posted(request, "addendum"), lambda eid, d: dr.add_addendum(
        acting=actor, examination_id=eid, text=d.get("text") or "", critical=bool(d.get("critical")),
        critical_note=d.get("critical_note") or ""), _("Addendum signed and added to the report."))


@clinician_page
@require_POST
def amend(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = posted(request, "amend")
    return run(request, examination_id, "amend", form, lambda eid, d: dr.amend(
        acting=actor, examination_id=eid, data=_report_input(form), reason=d.get("reason") or ""),
        _("Amended report signed. The earlier version stays readable."))


@clinician_page
@require_POST
def second_read(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run(request, examination_id, "second_read", posted(request, "second_read"), lambda eid, d: dr.second_read(
        acting=actor, examination_id=eid, verdict=d.get("verdict") or "", comment=d.get("comment") or ""),
        _("Second read recorded."))
