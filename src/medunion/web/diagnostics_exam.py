"""The examination's page and what is done from it on the requesting side: uploading its images
(one file per request from the page's script, or several at once from the plain form), sending
it for reading, cancelling it, acknowledging a critical finding; a hub reader's "Claim" (the
report itself is written on the reading side's editor); the photos and PDFs attached to it.

A step the caller may not take is the error page (403, 404); a stale form or a step lost to
someone quicker shows the page again with what happened (409); bad input the page with the
form's errors (422). Patients get their own report page (``diagnostics_patient``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from medunion.access.loaders import parse_uuid
from medunion.core.errors import DomainError, NotFound
from medunion.diagnostics import actions as da
from medunion.diagnostics import actions_reading as dr
from medunion.diagnostics import queries as dq
from medunion.diagnostics.codes import FILE_KINDS
from medunion.diagnostics.notices import examination_url
from medunion.diagnostics.states import Role
from medunion.files.http import file_response

from . import steps
from .common import clinician_page, field_errors, signed_in
from .consults_common import age
from .consults_forms import ReasonForm, StepForm
from .diagnostics_common import annotate_report
from .diagnostics_forms import AcknowledgeForm
from .forms import fresh_once

STEPS: dict[str, Any] = {"submit": StepForm, "cancel": ReasonForm, "claim": StepForm}
READING_ROLES = frozenset({Role.HUB_READER, Role.READER, Role.SENIOR_READER})
# What the file pickers offer for each kind the modality takes.
ACCEPTS = {"dicom": ".dcm,application/dicom", "image": "image/*", "pdf": "application/pdf"}


def report_url(exam_id: Any) -> str:
    """The reading side's report editor (claim, write, sign, correct)."""
    return f"{examination_url(exam_id)}/report"


def _accept(modality: str) -> str:
    return ",".join(ACCEPTS[k] for k in ("dicom", "image", "pdf") if k in FILE_KINDS.get(modality, ()))


def page_context(request: HttpRequest, examination_id: Any, *, bound: dict[str, Any] | None = None,
                 conflict: str = "", upload_errors: list[str] | None = None) -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    view = dq.examination_view(actor, examination_id)
    exam = view.exam
    forms: dict[str, Any] = {}
    for key in view.events:
        if key in STEPS:
            forms[key] = (bound or {}).get(key) or STEPS[key](initial={"once": fresh_once(), "version": exam.version})
    can_ack = "acknowledge" in view.acts
    critical = [{"f": f, "form": (bound or {}).get(f"ack-{f.pk}") or AcknowledgeForm(initial={"once": fresh_once()})
                 if can_ack and f.acknowledged_at is None else None} for f in view.critical]
    versions = {r.pk: r.version for r in view.reports}
    for r in view.reports:
        annotate_report(r)
    series = [{"s": sv.series, "key": sv.key_instance, "slices": sum(i.frames for i in sv.instances)}
              for sv in view.series if sv.instances]
    return {
        "e": exam, "view": view, "age": age(exam.patient.birth_date), "forms": forms, "conflict": conflict,
        "critical": critical, "open_critical": any(f.acknowledged_at is None for f in view.critical), "series": series, "current": view.current, "addenda": view.addenda,
        "superseded": list(reversed(view.superseded)),
        "second_reads": [{"r": s, "version": versions.get(s.report_id)} for s in view.second_reads],
        "can_upload": "upload" in view.acts, "accept": _accept(exam.modality),
        "kinds": sorted(FILE_KINDS.get(exam.modality, ())), "upload_errors": upload_errors or [],
        "reading": bool(READING_ROLES & view.roles), "report_url": report_url(exam.pk),
        "upload_texts": upload_texts() if "upload" in view.acts else {}, "nav": "examinations",
    }


def upload_texts() -> dict[str, str]:
    """What the upload script says, in the reader's language (placeholders: %(name)s)."""
    return {
        "checking": _("Checking what is already stored…"),
        "progress": _("%(done)s of %(total)s files · %(sent)s of %(size)s"),
        "skipped": _("%(n)s already stored, skipped."),
        "retrying": _("Connection lost; trying %(name)s again…"),
        "done": _("Done: %(added)s added, %(again)s already there."),
        "failed": _("%(n)s files could not be added:"),
        "reloading": _("All files are stored. Showing them…"),
        "session": _("You were signed out. Sign in again, then choose the files again."),
        "refused": _("The server refused this file."),
        "leave": _("Files are still uploading. Leave anyway?"),
        "nothing": _("No files to upload in what you chose."),
    }


@signed_in
def examination_page(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if actor.is_patient:  # the patient's own report page: signed reports only
        from .diagnostics_patient import my_report_response

        return my_report_response(request, examination_id)
    if not actor.is_practitioner:
        raise NotFound()
    return render(request, "web/diagnostics/examination.html", page_context(request, examination_id))


def show_again(request: HttpRequest, examination_id: Any, *, bound: dict[str, Any] | None = None,
               conflict: str = "", file_errors: dict[str, list[str]] | None = None,
               status: int = 422) -> HttpResponse:
    errors = [m for ms in (file_errors or {}).values() for m in ms]
    return render(request, "web/diagnostics/examination.html",
                  page_context(request, examination_id, bound=bound, conflict=conflict, upload_errors=errors),
                  status=status)


def _run(request: HttpRequest, examination_id: Any, key: str, perform: steps.Perform, done: str, *,
         form: Any = None, back: Any = None) -> HttpResponse:
    rid = parse_uuid(examination_id)
    return steps.run_step(
        request, rid, scope="diagnostics", key=key, form=form if form is not None else STEPS[key](request.POST),
        perform=perform, done=done, id_key="examination",
        show_again=lambda **kw: show_again(request, rid, **kw),
        back=back or (lambda: redirect(examination_url(rid))))


@clinician_page
@require_POST
def submit(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return _run(request, examination_id, "submit", lambda rid, d, _f: da.submit(
        acting=actor, examination_id=rid, expected_version=d.get("version")),
        _("Sent for reading. The hub's readers have been told."))


@clinician_page
@require_POST
def cancel(request: HttpRequest, examination_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return _run(request, examination_id, "cancel", lambda rid, d, _f: da.cancel(
        acting=actor, examination_id=rid, reason=d.get("reason") or "", expected_version=d.get("version")),
        _("The examination is cancelled."))


@clinician_page
@require_POST
def claim(request: HttpRequest, examination_id: Any) -> HttpResponse:
    """A hub reader takes the examination from the worklist and goes on to write the report."""
    actor = request.actor  # type: ignore[attr-defined]
    rid = parse_uuid(examination_id)
    return _run(request, rid, "claim", lambda rid, d, _f: dr.claim(
        acting=actor, examination_id=rid, expected_version=d.get("version")),
        _("You are reading this examination now."), back=lambda: redirect(report_url(rid)))


@clinician_page
@require_POST
def acknowledge(request: HttpRequest, examination_id: Any, finding_id: Any) -> HttpResponse:
    """The requesting side confirms it has seen a critical finding (a second press answers who
    did first)."""
    actor = request.actor  # type: ignore[attr-defined]
    fid = parse_uuid(finding_id)
    rid = parse_uuid(examination_id)
    where = {"exam": rid}

    def perform(_rid: Any, _d: dict[str, Any], _f: list[Any]) -> Any:
        finding = dr.acknowledge_critical(acting=actor, finding_id=fid)
        where["exam"] = finding.examination_id  # the finding's own examination, whatever the path said
        return finding

    form = AcknowledgeForm(request.POST)
    key = f"ack-{fid}"
    return steps.run_step(
        request, fid, scope="diagnostics", key=key, form=form, perform=perform, id_key="finding",
        done=_("Critical finding acknowledged. The reader and your colleagues can see that you have it in hand."),
        show_again=lambda **kw: show_again(request, where["exam"], **kw),
        back=lambda: redirect(examination_url(where["exam"])))


# --- uploads --------------------------------------------------------------------------------------------

def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _error_text(exc: DomainError) -> str:
    messages_ = [m for ms in field_errors(exc).values() for m in ms]
    return " ".join(dict.fromkeys(messages_)) or str(exc.message)


@clinician_page
@require_POST
def upload(request: HttpRequest, examination_id: Any) -> HttpResponse:
    """Files for an examination being prepared. The page's script sends one file per request and
    reads JSON ``{kind, created, name, error}``; the plain form sends several and gets the page.
    A file already stored (the same SOP Instance UID) is kept once, so retries never duplicate."""
    actor = request.actor  # type: ignore[attr-defined]
    rid = parse_uuid(examination_id)
    files = request.FILES.getlist("file") + request.FILES.getlist("files")
    as_json = _wants_json(request)
    if not files:
        text = _("Choose the files to upload.")
        if as_json:
            return JsonResponse({"kind": "", "created": False, "name": "", "error": text}, status=422)
        return show_again(request, rid, file_errors={"files": [text]})
    results: list[dict[str, Any]] = []
    status = 200
    for f in files:
        name = str(f.name or "")
        try:
            got = da.upload_file(acting=actor, examination_id=rid, upload=f)
        except DomainError as exc:
            if exc.status == 404 or (exc.status == 403 and not as_json):
                raise
            results.append({"kind": "", "created": False, "name": name, "error": _error_text(exc)})
            status = exc.status if len(files) == 1 else status
            continue
        results.append({"kind": got.kind, "created": got.created, "name": name, "error": ""})
    if as_json:
        body: dict[str, Any] = results[0] if len(results) == 1 else {"files": results}
        response = JsonResponse(body, status=status)
        response["Cache-Control"] = "no-store"
        return response
    created = sum(1 for r in results if r["created"])
    again = sum(1 for r in results if not r["error"] and not r["created"])
    if created or again:
        messages.success(request, ngettext("%(n)d file added.", "%(n)d files added.", created) % {"n": created}
                         + (" " + ngettext("%(n)d was there already.", "%(n)d were there already.", again)
                            % {"n": again} if again else ""))
    errors = [f"{r['name']}: {r['error']}" for r in results if r["error"]]
    if errors:
        return show_again(request, rid, file_errors={"files": errors})
    return redirect(examination_url(rid))


@clinician_page
@require_GET
def received(request: HttpRequest, examination_id: Any) -> HttpResponse:
    """What the examination holds already (name and size of each file), so that choosing the
    folder again after a dropped connection sends only what is missing."""
    actor = request.actor  # type: ignore[attr-defined]
    rows = da.received(acting=actor, examination_id=examination_id)
    response = JsonResponse([{"name": r["name"], "size": r["size"]} for r in rows], safe=False)
    response["Cache-Control"] = "no-store"
    return response


@clinician_page
def attachment(request: HttpRequest, examination_id: Any, attachment_id: Any) -> HttpResponse:
    """A photo or PDF of the examination (an ECG tracing, slide photos)."""
    actor = request.actor  # type: ignore[attr-defined]
    att = dq.access_attachment(actor, examination_id, attachment_id)
    return file_response(att.file, as_attachment=request.GET.get("download") == "1")  # type: ignore[return-value]

