"""Bulk import of practitioners from CSV or XLSX: upload, a progress view polled with htmx, the report.

The work is done by :mod:`medunion.network.importer`; these views only start a job and show it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy

from medunion.core.errors import DomainError
from medunion.network import importer

from .common import ConsortiumChoices, apply_error, consortium_choices, coordinator_page

EXTENSIONS = (".csv", ".xlsx")
RECENT_JOBS = 10
FINISHED = {"done", "failed"}
STATUS_LABELS = {
    "queued": gettext_lazy("queued"),
    "running": gettext_lazy("running"),
    "done": gettext_lazy("done"),
    "failed": gettext_lazy("failed"),
    "imported": gettext_lazy("imported"),
    "updated": gettext_lazy("updated"),
    "unchanged": gettext_lazy("unchanged"),
    "error": gettext_lazy("error"),
}
ROW_STATUSES = ("imported", "updated", "unchanged", "error")


class ImportForm(forms.Form):
    consortium = forms.ChoiceField(label=gettext_lazy("Consortium"))
    file = forms.FileField(label=gettext_lazy("File (CSV or XLSX)"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}))

    def __init__(self, choices: ConsortiumChoices, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["consortium"].choices = choices  # type: ignore[attr-defined]

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if not f.name.lower().endswith(EXTENSIONS):
            raise forms.ValidationError(gettext_lazy("Upload a .csv or .xlsx file."))
        if f.size > importer.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(gettext_lazy("The file is larger than 10 MB; split it into parts."))
        if not f.size:
            raise forms.ValidationError(gettext_lazy("The file is empty."))
        return f


@coordinator_page
def import_upload(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    choices = consortium_choices(actor)
    status = 200
    if request.method == "POST":
        form = ImportForm(choices, request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = importer.start_import(acting=actor, consortium_id=form.cleaned_data["consortium"],
                                   filename=upload.name, content=upload.read())
            except DomainError as exc:
                if exc.status == 404:
                    raise
                apply_error(form, exc)
            else:
                return redirect("web:coord:import_job", job_id=job.pk)
        status = 422
    else:
        form = ImportForm(choices)
    recent = importer.import_jobs(actor).order_by("-created_at")[:RECENT_JOBS]
    return render(request, "web/coordinator/import.html", {"form": form, "nav": "import", "recent": recent,
                                                            "import_columns": importer.format_columns()},
                  status=status)


def _job_context(job: Any, show_all: bool = False) -> dict[str, Any]:
    total = job.total or 0
    finished = job.status in FINISHED
    rows = importer.report_rows(job) if finished else []
    counts = Counter(r.get("status", "") for r in rows)
    summary = job.summary or {}
    tallies = [{"key": s, "label": STATUS_LABELS[s], "n": summary.get(s, counts.get(s, 0))} for s in ROW_STATUSES]
    for r in rows:
        r["status_label"] = STATUS_LABELS.get(r.get("status", ""), r.get("status", ""))
    # Errors (and changes) are what a coordinator acts on; the full list is one click away.
    shown = rows if show_all else [r for r in rows if r.get("status") in ("error", "updated")]
    percent = int(job.processed * 100 / total) if total else 0
    return {"job": job, "finished": finished, "percent": min(max(percent, 0), 100),
            "status_label": STATUS_LABELS.get(job.status, job.status), "tallies": tallies, "rows": shown,
            "row_count": len(rows), "show_all": show_all, "error_text": importer.job_error(job),
            "errors_only": [r for r in rows if r.get("status") == "error"]}


def _job(request: HttpRequest, job_id: Any) -> Any:
    return importer.access_import_job(request.actor, job_id)  # type: ignore[attr-defined]


@coordinator_page
def import_job(request: HttpRequest, job_id: Any) -> HttpResponse:
    job = _job(request, job_id)
    context = _job_context(job, show_all=request.GET.get("rows") == "all")
    return render(request, "web/coordinator/import_job.html", {**context, "nav": "import"})


@coordinator_page
def import_status(request: HttpRequest, job_id: Any) -> HttpResponse:
    """The fragment the job page polls every second until the job has finished."""
    job = _job(request, job_id)
    return render(request, "web/coordinator/_import_progress.html", _job_context(job))
