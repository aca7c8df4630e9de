"""``/api/v1`` for remote diagnosis: examinations (``/examinations``), critical findings
(``/critical-findings``), turnaround figures (``/diagnostics/figures``) and reading routes
(``/reading-routes``) — everything the diagnosis pages do, for phones, devices and integrations.
Schemas and rendering are in ``api_schemas``.

- Who sees an examination is the policy's (``machine.load_visible``: 404 otherwise). A patient
  sees their own signed reports only (``queries.patient_report``): the images, files, drafts,
  critical findings and second reads are for clinicians.
- Every answer that shows an examination is an audited read (lists: one row per examination
  shown; a frame, a file, the PDF: one row each); every step is an action with its own row.
- Steps take ``expected_version``: a client that saw an older version gets 409; of two readers
  claiming at once one wins, the other gets 409 ``examination_claimed`` naming the winner.
- Creates (the examination, a recognition, an addendum, an amendment, a second read) accept an
  ``Idempotency-Key``; uploads are idempotent by themselves (the SOP Instance UID, the bytes).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Literal

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from ninja import Field, File, Path, Query, Router, Schema, Status
from ninja.files import UploadedFile

from medunion.access.actor import Actor
from medunion.access.diagnostics import examination_roles, visible_examinations, visible_reports
from medunion.api import api_actor, file_download, idempotent, problems
from medunion.audit.actions import Entry, record, record_many
from medunion.audit.models import Verb
from medunion.core.errors import Conflict, NotFound
from medunion.core.idempotency import run_once
from medunion.core.json_body import JsonBody
from medunion.core.planner import joins_as_written
from medunion.files.http import file_response

from . import actions, actions_reading, machine, queries, render
from . import api_schemas as s
from .actions_routes import set_reading_route
from .codes import Modality
from .figures import turnaround
from .models import Examination, Instance, ReadingRoute, Recognition, Report, ReportStatus, SecondRead, Study
from .report_pdf import render_report, report_name
from .states import State
from .validation import ExaminationInput, ReportInput

router = Router(tags=["diagnostics"])

E = "/examinations"
ONE = E + "/{examination_id}"
ListName = Literal["requested", "reported", "worklist", "mine", "second_reads"]
_RELATED = ("patient", "requesting_organisation", "requester", "reader", "hub")

_STEP = problems(403, 404, 409)


def _binary(doc: dict[str, Any], content_type: str, description: str) -> dict[str, Any]:
    doc["responses"][200] = {"description": description,
                             "content": {content_type: {"schema": {"type": "string", "format": "binary"}}}}
    return doc


_PDF_DOC = _binary(problems(404, 409), "application/pdf", "The signed report (the version in force and its "
                                                          "addenda) as a PDF.")
_PNG_DOC = _binary(problems(404, 503), "image/png", "The frame rendered at the window preset.")


def _clinician(actor: Actor) -> None:
    """Requesting, reading and viewing images are clinicians' business; for every other role the
    area is a 404."""
    if not (actor.is_practitioner and actor.practitioner_id is not None):
        raise NotFound()


def _reader(actor: Actor) -> None:
    if not (actor.is_practitioner or actor.is_patient):
        raise NotFound()


def _state(actor: Actor, exam: Examination) -> dict[str, Any]:
    roles = examination_roles(actor, exam)
    return s.state_out(exam, queries.events_now(exam, roles), queries.acts_now(exam, roles))


def _view(actor: Actor, examination_id: Any, *, audit: bool = True) -> dict[str, Any]:
    if actor.is_patient:
        return s.examination(queries.patient_report(actor, examination_id), for_patient=True)
    _clinician(actor)
    view = queries.examination_view(actor, examination_id, audit=audit)
    uids = dict(Study.objects.filter(examination=view.exam).values_list("pk", "study_instance_uid"))
    return s.examination(view, for_patient=False, study_uids=uids)


def _report_input(r: s.ExamReportIn) -> ReportInput:
    return ReportInput(findings=r.findings, impression=r.impression, recommendation=r.recommendation,
                       codes=list(r.codes), measurements=[{"code": m.code, "value": m.value} for m in r.measurements],
                       critical=r.critical, critical_note=r.critical_note, second_read=r.second_read)


def _once(request: HttpRequest, response: HttpResponse, *, scope: str, payload: dict[str, Any],
          perform: Callable[[], Model], replay: Callable[[str], Model]) -> tuple[Any, bool]:
    """An idempotent create: ``perform`` once per Idempotency-Key; a replay re-reads what the first
    request made with ``replay`` (an authorised, audited read). Returns (row, replayed)."""
    made: dict[str, Model] = {}

    def run() -> dict[str, Any]:
        made["row"] = perform()
        return {"status": 201, "id": str(made["row"].pk)}

    result, replayed = run_once(request, response, actor=api_actor(request), scope=scope, payload=payload,
                                perform=run)
    return (replay(result["id"]) if replayed else made["row"]), replayed


def _signed_report(actor: Actor, examination_id: Any, report_id: str) -> Report:
    exam = machine.load_visible(actor, examination_id)
    row = Report.objects.filter(pk=report_id, examination=exam, status=ReportStatus.SIGNED).first()
    if row is None:
        raise NotFound()
    record(actor, "examination.report.read", Verb.READ, obj=row, patient_id=exam.patient_id,
           detail={"examination": str(exam.pk), "replayed": True})
    return row


# --- lists and requesting ------------------------------------------------------------------------

class ExamListFilters(Schema):
    list: ListName | None = Field(None, description="requested: asked for by me or my organisation, still open; "
                                                    "reported: mine or my organisation's, reported; worklist: the "
                                                    "hub's examinations of the modalities I read, the waiting ones "
                                                    "by urgency then waiting time, then the claimed ones; mine: "
                                                    "claimed by me; "
                                                    "second_reads: signed reports waiting for a requested second "
                                                    "read (senior readers). Left out: every examination I may see, "
                                                    "newest first (a patient: their reported examinations).")
    modality: Modality | None = None
    state: State | None = None
    limit: int = Field(queries.PAGE_SIZE, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


@router.get(E, response=s.ExamListOut, summary="My examination lists (a patient: their reported examinations)")
def list_examinations(request: HttpRequest, filters: Query[ExamListFilters]):
    actor = api_actor(request)
    _reader(actor)
    modality, state = filters.modality or "", filters.state or ""
    if actor.is_patient:
        qs = visible_reports(actor).order_by("-signed_at", "-id")
        name = "patient"
    elif filters.list:
        qs = queries.listing(actor, filters.list)
        name = filters.list
    else:
        qs = visible_examinations(actor).order_by("-created_at", "-id")
        name = "all"
    if modality:
        qs = qs.filter(modality=modality)
    if state:
        qs = qs.filter(state=state)
    qs = joins_as_written(qs.select_related(*_RELATED))
    rows = queries.list_page(actor, qs, name=name, limit=filters.limit, offset=filters.offset)
    end = filters.offset + filters.limit
    more = len(rows) == filters.limit and qs[end:end + 1].exists()
    return {"items": [s.list_item(e, clinician=not actor.is_patient) for e in rows],
            "next_offset": end if more else None}


@router.post(E, response={201: s.ExamDetailOut},
             summary="Request an examination (then upload its images and submit it)",
             openapi_extra=idempotent(403, 409))
def create(request: HttpRequest, response: HttpResponse, payload: JsonBody[s.ExamCreateIn]):
    actor = api_actor(request)
    _clinician(actor)
    data = ExaminationInput(
        patient_id=payload.patient_id, modality=payload.modality, body_site=payload.body_site,
        body_site_text=payload.body_site_text, question=payload.question, urgency=payload.urgency,
        organisation_id=payload.organisation_id, consortium_id=payload.consortium_id,
        repeat_reason=payload.repeat_reason)
    exam, replayed = _once(request, response, scope="diagnostics.create", payload=payload.model_dump(mode="json"),
                           perform=lambda: actions.create_examination(acting=actor, data=data),
                           replay=lambda pk: machine.load(pk))
    response["Location"] = f"{request.path.rstrip('/')}/{exam.pk}"
    # The create wrote its own audit row; showing it again on a replay is a read.
    return Status(201, _view(actor, exam.pk, audit=replayed))


@router.get(E + "/counts", response=s.ExamCountsOut,
            summary="How many wait in my worklist and my reading, and my open critical findings")
def counts(request: HttpRequest):
    actor = api_actor(request)
    _clinician(actor)
    found = queries.counts(actor)
    return {"worklist": found.get("worklist"), "mine": found.get("mine"), "critical": found.get("critical", 0)}


@router.get(ONE, response=s.ExamDetailOut, summary="The examination as I may see it (a patient: the signed report)")
def read(request: HttpRequest, examination_id: uuid.UUID):
    actor = api_actor(request)
    _reader(actor)
    return _view(actor, examination_id)


@router.post(ONE + "/recognise", response={201: s.ExamRecognitionOut},
             summary="Use this recent signed report instead of a new examination (an avoided repeat)",
             openapi_extra=idempotent(403, 409))
def recognise(request: HttpRequest, response: HttpResponse, examination_id: uuid.UUID, payload: JsonBody[s.ExamRecogniseIn]):
    actor = api_actor(request)
    _clinician(actor)

    def replay(pk: str) -> Recognition:
        row = Recognition.objects.get(pk=pk)
        exam = machine.load_visible(actor, row.examination_id)
        record(actor, "examination.recognition.read", Verb.READ, obj=row, patient_id=exam.patient_id)
        return row

    row, _replayed = _once(request, response, scope="diagnostics.recognise",
                           payload={"examination_id": str(examination_id), **payload.model_dump(mode="json")},
                           perform=lambda: actions.use_recent_report(acting=actor, examination_id=examination_id,
                                                                     organisation_id=payload.organisation_id),
                           replay=replay)
    return Status(201, s.recognition(row))


# --- images and files --------------------------------------------------------------------------

@router.post(ONE + "/files", response={200: s.ExamFileOut, 201: s.ExamFileOut},
             summary="Upload one DICOM file, photo or PDF (201 stored; 200 stored before: a retry)",
             openapi_extra=problems(403, 409))
def upload(request: HttpRequest, examination_id: uuid.UUID, file: File[UploadedFile]):
    actor = api_actor(request)
    _clinician(actor)
    got = actions.upload_file(acting=actor, examination_id=examination_id, upload=file)
    instance_count, attachment_count = Examination.objects.filter(pk=examination_id).values_list(
        "instance_count", "attachment_count").get()
    counts = {"instance_count": instance_count, "attachment_count": attachment_count}
    if got.instance is not None:
        inst = Instance.objects.select_related("series__study").get(pk=got.instance.pk)
        body = {"kind": "instance", "id": inst.pk, "filename": inst.original_name, "size": inst.size,
                "sha256": inst.sha256, "sop_instance_uid": inst.sop_instance_uid,
                "series_instance_uid": inst.series.series_instance_uid,
                "study_instance_uid": inst.series.study.study_instance_uid}
    else:
        assert got.attachment is not None
        f = got.attachment.file
        body = {"kind": "attachment", "id": got.attachment.pk, "filename": got.attachment.original_name or f.filename,
                "size": f.size, "sha256": f.sha256, "sop_instance_uid": "", "series_instance_uid": "",
                "study_instance_uid": ""}
    return Status(201 if got.created else 200, {**body, "created": got.created, **counts})


@router.get(ONE + "/files", response=s.ExamReceivedOut,
            summary="What the examination holds already, to resume an interrupted upload")
def received(request: HttpRequest, examination_id: uuid.UUID):
    actor = api_actor(request)
    _clinician(actor)
    items = actions.received(acting=actor, examination_id=examination_id)
    return {"count": len(items), "items": items}


@router.get(ONE + "/attachments/{attachment_id}", response={200: None}, url_name="examination_attachment",
            summary="Download a photo or PDF of the examination", openapi_extra=file_download())
def attachment(request: HttpRequest, examination_id: uuid.UUID, attachment_id: uuid.UUID):
    actor = api_actor(request)
    _clinician(actor)
    return file_response(queries.access_attachment(actor, examination_id, attachment_id).file, as_attachment=True)


class ExamFrameFilters(Schema):
    preset: s.FramePreset = Field("default", description="The window: default (the file's own), soft_tissue, "
                                                         "lung, bone, brain, liver.")
    size: s.FrameSize = Field("full", description="full (at most 1024 px) or thumb (160 px).")


@router.get(ONE + "/instances/{instance_id}/frames/{frame}.png", response={200: None},
            summary="One frame of a DICOM instance as PNG (frames count from 1)", openapi_extra=_PNG_DOC)
def frame(request: HttpRequest, examination_id: uuid.UUID, instance_id: uuid.UUID,
          filters: Query[ExamFrameFilters], frame: int = Path(..., ge=1, le=100_000)):
    actor = api_actor(request)
    _clinician(actor)
    inst = queries.access_instance(actor, examination_id, instance_id)
    if frame > inst.frames:
        raise NotFound()
    png = render.frame_png(inst, frame=frame - 1, preset=filters.preset, size=filters.size)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- the requesting side's and the reader's steps ------------------------------------------------

@router.post(ONE + "/submit", response=s.ExamStateOut, summary="Send it to the hub's worklist (images uploaded)",
             openapi_extra=_STEP)
def submit(request: HttpRequest, examination_id: uuid.UUID, payload: JsonBody[s.ExamStepIn]):
    actor = api_actor(request)
    return _state(actor, actions.submit(acting=actor, examination_id=examination_id,
                                        expected_version=payload.expected_version))


@router.post(ONE + "/cancel", response=s.ExamStateOut, summary="Cancel it, with a reason (before it is claimed)",
             openapi_extra=_STEP)
def cancel(request: HttpRequest, examination_id: uuid.UUID, payload: JsonBody[s.ExamCancelIn]):
    actor = api_actor(request)
    return _state(actor, actions.cancel(acting=actor, examination_id=examination_id, reason=payload.reason,
                                        expected_version=payload.expected_version))


@router.post(ONE + "/claim", response=s.ExamStateOut,
             summary="Claim it from the worklist (one reader wins; the other gets 409 naming them)",
             openapi_extra=_STEP)
def claim(request: HttpRequest, examination_id: uuid.UUID, payload: JsonBody[s.ExamStepIn]):
    actor = api_actor(request)
    return _state(actor, actions_reading.claim(acting=actor, examination_id=examination_id,
                                               expected_version=payload.expected_version))


@router.post(ONE + "/release", response=s.ExamStateOut, summary="Give it back to the worklist (the reader)",
             openapi_extra=_STEP)
def release(request: HttpRequest, examination_id: uuid.UUID, payload: JsonBody[s.ExamStepIn]):
    actor = api_actor(request)
    return _state(actor, actions_reading.release(acting=actor, examination_id=examination_id,
                                                 expected_version=payload.expected_version))


# --- the report ----------------------------------------------------------------------------------

@router.put(ONE + "/report/draft", response=s.ExamReportOut,
            summary="Save the report being written (the reader who claimed it)", openapi_extra=_STEP)
def save_draft(request: HttpRequest, examination_id: uuid.UUID, payload: JsonBody[s.ExamReportIn]):
    actor = api_actor(request)
    return s.report(actions_reading.save_draft(acting=actor, examination_id=examination_id,
                                               data=_report_input(payload)))


@router.post(ONE + "/report/sign", response=s.ExamSignOut,
             summary="Sign the report: immutable from now on; a critical finding starts its clock",
             openapi_extra=_STEP)
def sign(request: HttpRequest, examination_id: uuid.UUID, payload: JsonBody[s.ExamSignIn]):
    actor = api_actor(request)
    signed = actions_reading.sign(acting=actor, examination_id=examination_id,
                                  data=_report_input(payload.report) if payload.report is not None else None,
                                  expected_version=payload.expected_version)
    return {**_state(actor, machine.load(examination_id)), "report": s.report(signed)}


@router.post(ONE + "/report/addenda", response={201: s.ExamReportOut},
             summary="Add to the signed report without changing it (readers of the hub)",
             openapi_extra=idempotent(403, 409))
def addendum(request: HttpRequest, response: HttpResponse, examination_id: uuid.UUID, payload: JsonBody[s.ExamAddendumIn]):
    actor = api_actor(request)
    row, _replayed = _once(request, response, scope="diagnostics.addendum",
                           payload={"examination_id": str(examination_id), **payload.model_dump(mode="json")},
                           perform=lambda: actions_reading.add_addendum(
                               acting=actor, examination_id=examination_id, text=payload.text,
                               critical=payload.critical, critical_note=payload.critical_note),
                           replay=lambda pk: _signed_report(actor, examination_id, pk))
    return Status(201, s.report(row))


@router.post(ONE + "/report/amendments", response={201: s.ExamReportOut},
             summary="A new signed version replacing the one in force (which stays readable)",
             openapi_extra=idempotent(403, 409))
def amendment(request: HttpRequest, response: HttpResponse, examination_id: uuid.UUID, payload: JsonBody[s.ExamAmendIn]):
    actor = api_actor(request)
    row, _replayed = _once(request, response, scope="diagnostics.amend",
                           payload={"examination_id": str(examination_id), **payload.model_dump(mode="json")},
                           perform=lambda: actions_reading.amend(acting=actor, examination_id=examination_id,
                                                                 data=_report_input(payload), reason=payload.reason),
                           replay=lambda pk: _signed_report(actor, examination_id, pk))
    return Status(201, s.report(row))


@router.post(ONE + "/report/second-read", response={201: s.ExamSecondReadOut},
             summary="A senior reader's quality-control read of the report in force",
             openapi_extra=idempotent(403, 409))
def second_read(request: HttpRequest, response: HttpResponse, examination_id: uuid.UUID,
                payload: JsonBody[s.ExamSecondReadIn]):
    actor = api_actor(request)

    def replay(pk: str) -> SecondRead:
        exam = machine.load_visible(actor, examination_id)
        row = SecondRead.objects.filter(pk=pk, examination=exam).first()
        if row is None:
            raise NotFound()
        record(actor, "examination.second_read.read", Verb.READ, obj=row, patient_id=exam.patient_id)
        return row

    row, _replayed = _once(request, response, scope="diagnostics.second_read",
                           payload={"examination_id": str(examination_id), **payload.model_dump(mode="json")},
                           perform=lambda: actions_reading.second_read(
                               acting=actor, examination_id=examination_id, verdict=payload.verdict,
                               comment=payload.comment),
                           replay=replay)
    return Status(201, s.second_read(row))


@router.get(ONE + "/report.pdf", response={200: None},
            summary="The signed report as a PDF (the version in force and its addenda)", openapi_extra=_PDF_DOC)
def report_pdf(request: HttpRequest, examination_id: uuid.UUID):
    actor = api_actor(request)
    _reader(actor)
    exam = machine.load_visible(actor, examination_id)
    if exam.state != State.REPORTED:
        raise Conflict(_("The report can be printed once it is signed."), state=exam.state)
    reports = list(Report.objects.filter(examination=exam, status=ReportStatus.SIGNED))
    record(actor, "examination.report.pdf", Verb.READ, obj=exam, patient_id=exam.patient_id)
    pdf = render_report(exam, reports, language=translation.get_language() or "zh-hans")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report_name(exam)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- critical findings ----------------------------------------------------------------------------

@router.get("/critical-findings", response=s.ExamCriticalListOut,
            summary="Critical findings waiting for my side to acknowledge them, oldest first")
def critical_findings(request: HttpRequest, limit: int = Query(queries.PAGE_SIZE, ge=1, le=200)):
    actor = api_actor(request)
    _clinician(actor)
    rows = list(queries.open_critical(actor).select_related(*(f"examination__{r}" for r in _RELATED))[:limit])
    record_many(actor, [Entry(action="examination.critical.list", verb=Verb.READ,
                              object_type="diagnostics.criticalfinding", object_id=str(c.pk),
                              patient_id=c.patient_id, detail={"examination": str(c.examination_id)})
                        for c in rows])
    return {"items": [{**s.critical(c), "examination": s.summary(c.examination)} for c in rows]}


@router.post("/critical-findings/{finding_id}/acknowledge", response=s.ExamCriticalOut,
             summary="Acknowledge a critical finding (the requester, their organisation, the care team)",
             openapi_extra=_STEP)
def acknowledge(request: HttpRequest, finding_id: uuid.UUID):
    actor = api_actor(request)
    _clinician(actor)
    return s.critical(actions_reading.acknowledge_critical(acting=actor, finding_id=finding_id))


# --- coordinators and the health commission (no patient data) -----------------------------------

class DiagnosticFigureFilters(Schema):
    consortium: uuid.UUID | None = Field(None, description="One of the consortia you may see figures of.")
    since: s.IsoDate | None = Field(None, description="Sent for reading from this day (default: 90 days ago).")
    until: s.IsoDate | None = Field(None, description="Up to and including this day (default: today).")


@router.get("/diagnostics/figures", response=s.DiagnosticFiguresOut,
            summary="Turnaround from sending to signature by hub, modality and urgency; critical findings; avoided "
                    "repeats (coordinators, health commission)")
def figures(request: HttpRequest, filters: Query[DiagnosticFigureFilters]):
    return turnaround(api_actor(request), consortium_id=filters.consortium, since=filters.since, until=filters.until)


class DiagnosticRouteFilters(Schema):
    consortium: uuid.UUID | None = Field(None, description="One of your consortia; left out: all of them.")


def _routes(consortium_ids: list[Any]) -> list[dict[str, Any]]:
    rows = (ReadingRoute.objects.filter(consortium_id__in=consortium_ids).select_related("consortium", "hub")
            .order_by("consortium__code", "modality"))
    return [s.route(r) for r in rows]


@router.get("/reading-routes", response=list[s.DiagnosticRouteOut],
            summary="Which hub reads which modality for my consortia (coordinators, clinicians)")
def reading_routes(request: HttpRequest, filters: Query[DiagnosticRouteFilters]):
    actor = api_actor(request)
    if actor.is_coordinator:
        mine = actor.coordinated_ids
    elif actor.is_practitioner:
        mine = actor.consortium_ids
    else:
        raise NotFound()
    if filters.consortium and filters.consortium not in mine:
        raise NotFound()
    return _routes([filters.consortium] if filters.consortium else list(mine))


@router.put("/reading-routes", response=list[s.DiagnosticRouteOut],
            summary="Route a modality of a consortium to a reading hub, or remove the route (its coordinators); "
                    "answers the consortium's routes", openapi_extra=problems(403))
def put_reading_route(request: HttpRequest, payload: JsonBody[s.DiagnosticRouteIn]):
    actor = api_actor(request)
    set_reading_route(acting=actor, consortium_id=payload.consortium_id, modality=payload.modality,
                      hub_id=payload.hub_id)
    return _routes([payload.consortium_id])
