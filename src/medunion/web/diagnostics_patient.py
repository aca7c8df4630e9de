"""The patient's own examination reports: signed reports only, in plain text. The content comes
from ``diagnostics.queries.patient_reports`` / ``patient_report``, which give a patient signed
reports and nothing else — no drafts, no worklist, no second reads, no critical-finding workflow.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from medunion.diagnostics import queries as dq

from .common import patient_page
from .diagnostics_common import annotate_report


@patient_page
def my_reports(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return render(request, "web/diagnostics/patient_list.html", {"rows": dq.patient_reports(actor),
                                                                  "nav": "my_reports"})


def my_report_response(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    view = dq.patient_report(actor, examination_id)
    if any(r.status != "signed" for r in view.reports):  # pragma: no cover - the query's promise
        raise AssertionError("a patient is shown signed reports only")
    for r in view.reports:
        annotate_report(r)
    return render(request, "web/diagnostics/patient_report.html", {
        "e": view.exam, "current": view.current, "addenda": view.addenda, "nav": "my_reports"})


@patient_page
def my_report(request: HttpRequest, examination_id: Any) -> HttpResponse:
    return my_report_response(request, examination_id)
