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

from .common import ConsortiumChoices, apply_error, consortium_choices, coordinator_page

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
EXTENSIONS = (".csv", ".xlsx")
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
        if f.size > MAX_UPLOAD_BYTES:
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
            from medunion.network.importer import start_import

            upload = form.cleaned_data["file"]
            try:
                job = start_import(acting=actor, consortium_id=form.cleaned_data["consortium"],
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
    return render(request, "web/coordinator/import.html", {"form": form, "nav": "import"}, status=status)


def _job_context(job: Any) -> dict[str, Any]:
    report = job.report or []
    total = job.total or 0
    percent = int(job.processed * 100 / total) if total else 0
    counts = Counter(r.get("status", "") for r in report)
    summary = job.summary or {}
    tallies = [{"key": s, "label": STATUS_LABELS[s], "n": summary.get(s, counts.get(s, 0))} for s in ROW_STATUSES]
    rows = [{**r, "status_label": STATUS_LABELS.get(r.get("status", ""), r.get("status", ""))} for r in report]
    return {"job": job, "finished": job.status in FINISHED, "percent": min(max(percent, 0), 100),
            "status_label": STATUS_LABELS.get(job.status, job.status), "tallies": tallies, "rows": rows,
            "errors_only": [r for r in rows if r.get("status") == "error"]}


def _job(request: HttpRequest, job_id: Any) -> Any:
    from medunion.network.importer import access_import_job

    return access_import_job(request.actor, job_id)  # type: ignore[attr-defined]


@coordinator_page
def import_job(request: HttpRequest, job_id: Any) -> HttpResponse:
    job = _job(request, job_id)
    return render(request, "web/coordinator/import_job.html", {**_job_context(job), "nav": "import"})


@coordinator_page
def import_status(request: HttpRequest, job_id: Any) -> HttpResponse:
    """The fragment the job page polls every second until the job has finished."""
    job = _job(request, job_id)
    return render(request, "web/coordinator/_import_progress.html", _job_context(job))
