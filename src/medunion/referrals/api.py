"""``/api/v1/referrals``: tiered referral for phones, clinic systems and integrations — everything
the pages do. Schemas and rendering are in ``api_schemas``.

- Who sees a referral is the policy's (``queries.access_referral``: 404 otherwise); what a
  patient is shown is the domain's allowlist (``queries.referral_view``): status, appointment,
  where to go and what to bring, and the patient-audience timeline — never the reason, the
  clinical summary, a clinician entry or a clinician's file.
- Every answer that shows a referral is an audited read (lists: one row per referral shown);
  every step is an action that writes its own row.
- Steps take ``expected_version``: a client that saw an older version gets 409 saying what
  happened. Sending and the receiving side's decisions need the consortium's
  ``transfer_patients`` privilege: 403 ``privilege_missing`` names what is missing.
- Coordinators see no referral: capacity, the clock and the figures carry no patient data.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status

from medunion.access.actor import Actor
from medunion.access.policy import Action, require, visible_consortia, visible_organisations, visible_patients
from medunion.access.referrals import referral_roles, visible_referrals
from medunion.api import api_actor, file_download, idempotent, problems
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core.errors import Conflict, NotFound
from medunion.core.idempotency import run_once
from medunion.core.json_body import JsonBody
from medunion.core.planner import joins_as_written
from medunion.files.http import file_response
from medunion.network.codes import Specialty
from medunion.network.models import Department

from . import actions, queries
from . import api_schemas as s
from .figures import referral_figures
from .machine import RELATED, load_referral, reload
from .models import Direction, FollowUpTask, ReferralEntry
from .slip import render_slip, slip_name
from .states import State
from .timing import clock_for, set_referral_clock

router = Router(tags=["referrals"])

ListName = Literal["incoming", "accepted", "sent", "closed"]
GroupBy = Literal["month", "organisation", "consortium"]
TASK_RELATED = ("organisation", "assignee", "completed_by")



_STEP = problems(403, 404, 409)
_FILE_DOC = file_download()
_SLIP_DOC = problems(404, 409)
_SLIP_DOC["responses"][200] = {"description": "The slip (PDF) with the check-in QR code.",
                               "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}


def _clinician(actor: Actor) -> None:
    """Sending, receiving and follow-up are clinicians' business; for every other role the area is
    a 404."""
    if not (actor.is_practitioner and actor.practitioner_id is not None):
        raise NotFound()


def _reader(actor: Actor) -> None:
    if not (actor.is_practitioner or actor.is_patient):
        raise NotFound()


def _files(ids: list[uuid.UUID]) -> list[Any]:
    """The stored files named by id, in order; an unknown id stays an id, which the action refuses
    ("Unknown file."). Whether the caller sent them is the action's check."""
    from medunion.files.models import StoredFile

    found = {f.pk: f for f in StoredFile.objects.filter(pk__in=ids)} if ids else {}
    return [found.get(i, i) for i in ids]


def _plan(items: list[s.PlanItemIn]) -> list[actions.PlanItem]:
    return [actions.PlanItem(kind=p.kind, description=p.description, due_in_days=p.due_in_days, due_on=p.due_on)
            for p in items]


def _state(actor: Actor, referral: Any) -> dict[str, Any]:
    return s.state_out(referral, queries.events_now(referral, referral_roles(actor, referral)))


def _view(actor: Actor, referral: Any) -> dict[str, Any]:
    return s.referral(queries.referral_view(actor, referral))


# --- lists and sending ---------------------------------------------------------------------------

class ListFilters(Schema):
    list: ListName | None = Field(None, description="incoming: waiting for an answer at my organisations; "
                                                    "accepted: accepted or arrived there, by appointment; sent: "
                                                    "what I referred that is still open; closed: declined, "
                                                    "completed and cancelled. Left out: every referral I may "
                                                    "see, newest first (a patient: their own).")
    direction: Direction | None = None
    state: State | None = None
    limit: int = Field(queries.PAGE_SIZE, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


@router.get("", response=s.ListOut, summary="My referral lists (a patient: their own referrals)")
def list_referrals(request: HttpRequest, filters: Query[ListFilters]):
    actor = api_actor(request)
    _reader(actor)
    direction, state = filters.direction or "", filters.state or ""
    if filters.list and actor.is_practitioner:
        qs = queries.listing(actor, filters.list, direction=direction, state=state)
    else:
        qs = joins_as_written(visible_referrals(actor).select_related(*RELATED)).order_by(
            "-created_at", "-id")
        if direction:
            qs = qs.filter(direction=direction)
        if state:
            qs = qs.filter(state=state)
    name = filters.list if filters.list and actor.is_practitioner else "mine" if actor.is_patient else "all"
    rows = queries.list_page(actor, qs, name=name, limit=filters.limit, offset=filters.offset)
    end = filters.offset + filters.limit
    more = len(rows) == filters.limit and qs[end:end + 1].exists()
    return {"items": [s.list_item(r, clinician=actor.is_practitioner) for r in rows],
            "next_offset": end if more else None}


@router.post("", response={201: s.ReferralOut},
             summary="Refer a patient up, down or across (the transfer_patients privilege)",
             openapi_extra=idempotent(403, 409))
def create(request: HttpRequest, response: HttpResponse, payload: JsonBody[s.ReferralIn]):
    actor = api_actor(request)

    def perform() -> dict[str, Any]:
        data = actions.ReferralInput(
            patient_id=payload.patient_id, direction=payload.direction,
            target_organisation_id=payload.target_organisation_id, reason=payload.reason,
            clinical_summary=payload.clinical_summary, urgency=payload.urgency,
            target_department_id=payload.target_department_id, target_practitioner_id=payload.target_practitioner_id,
            requested_by=payload.requested_by, consult_id=payload.consult_id, green_channel=payload.green_channel,
            green_place=payload.green_place or "", organisation_id=payload.organisation_id,
            consortium_id=payload.consortium_id, discharge_summary=payload.discharge_summary,
            plan=_plan(payload.plan))
        referral = actions.create_referral(acting=actor, data=data, attachments=_files(payload.attachment_ids))
        return {"status": 201, "referral_id": str(referral.pk)}

    result, replayed = run_once(request, response, actor=actor, scope="referrals.create",
                                payload=payload.model_dump(mode="json"), perform=perform)
    # The create wrote its own audit row; showing it again on a replay is a read.
    referral = queries.access_referral(actor, result["referral_id"], audit=replayed)
    response["Location"] = f"{request.path.rstrip('/')}/{referral.pk}"
    return Status(result["status"], _view(actor, referral))


@router.get("/counts", response=s.CountsOut, summary="How many wait in my incoming and accepted lists, and my "
                                                     "open follow-up tasks")
def counts(request: HttpRequest):
    actor = api_actor(request)
    _clinician(actor)
    return queries.counts(actor)


class DestinationFilters(Schema):
    direction: Direction
    specialty: Specialty | None = Field(None, description="Only departments of this specialty.")
    q: str = Field("", max_length=100, pattern=s.LINE, description="Part of the organisation's name, or its code.")
    consortium: uuid.UUID | None = Field(None, description="One of your consortia; left out: all of them.")


@router.get("/destinations", response=list[s.DestinationOut],
            summary="Where I may refer to, with departments and live green-channel availability")
def destinations(request: HttpRequest, filters: Query[DestinationFilters]):
    actor = api_actor(request)
    _clinician(actor)
    rows = queries.destinations(actor, direction=filters.direction, consortium_id=filters.consortium,
                                specialty=filters.specialty or "", q=filters.q)
    return [{"id": d.organisation.pk, "name": d.organisation.name, "tier": d.organisation.tier,
             "departments": [s.department(dept, d.availability.get(dept.pk)) for dept in d.departments]}
            for d in rows]


class LiveFilters(Schema):
    patient: uuid.UUID
    direction: Direction


@router.get("/live", response=s.LiveOut,
            summary="The patient's live referral in this direction, to track it rather than start another")
def live(request: HttpRequest, filters: Query[LiveFilters]):
    actor = api_actor(request)
    _clinician(actor)
    if not visible_patients(actor).filter(pk=filters.patient).exists():
        raise NotFound()
    found = queries.live_for(actor, filters.patient, filters.direction)
    if found is not None:
        found = reload(found.pk)
    # Whether the patient has a live referral is patient data: one audit row either way.
    record(actor, "referral.live", Verb.READ, obj=found, object_type="referrals.referral",
           patient_id=filters.patient, detail={"direction": filters.direction, "found": found is not None})
    return {"referral": s.summary(found) if found is not None else None}


@router.post("/check-in", response=s.ReferralStateOut,
             summary="The receiving desk checks the patient in by the slip's code (QR or typed)",
             openapi_extra=_STEP)
def check_in_by_code(request: HttpRequest, payload: JsonBody[s.CodeIn]):
    actor = api_actor(request)
    return _state(actor, actions.check_in(acting=actor, code=payload.code))


# --- follow-up tasks ----------------------------------------------------------------------------

class TaskFilters(Schema):
    include_done: bool = Field(False, description="Also the tasks already recorded.")
    limit: int = Field(queries.PAGE_SIZE, ge=1, le=200)


@router.get("/tasks", response=s.TaskListOut, summary="My follow-up tasks (downward referrals), by due date")
def tasks(request: HttpRequest, filters: Query[TaskFilters]):
    actor = api_actor(request)
    _clinician(actor)
    qs = queries.my_tasks(actor, include_done=filters.include_done).select_related(*TASK_RELATED)
    return {"items": [s.task(t) for t in queries.task_page(actor, qs, limit=filters.limit)]}


@router.post("/tasks/{task_id}/complete", response=s.TaskOut,
             summary="Record a follow-up as done (a problem found goes back to the referring clinician)",
             openapi_extra=_STEP)
def complete_task(request: HttpRequest, task_id: uuid.UUID, payload: JsonBody[s.TaskDoneIn]):
    actor = api_actor(request)
    done = actions.complete_task(acting=actor, task_id=task_id, result=payload.result, problem=payload.problem,
                                 expected_version=payload.expected_version)
    row = FollowUpTask.objects.select_related("patient", "referral__sender", "referral__sender_organisation",
                                              *TASK_RELATED).get(pk=done.pk)
    return s.task(row)


# --- coordinators: capacity, the clock, figures (no patient data) --------------------------------

class CapacityFilters(Schema):
    consortium: uuid.UUID | None = Field(None, description="One of your consortia; left out: all of them.")


@router.get("/capacity", response=list[s.CapacityOut],
            summary="Green-channel capacity of the departments of my consortia (coordinators)")
def capacity(request: HttpRequest, filters: Query[CapacityFilters]):
    actor = api_actor(request)
    if not actor.is_coordinator or (filters.consortium and filters.consortium not in actor.coordinated_ids):
        raise NotFound()
    consortia = [filters.consortium] if filters.consortium else sorted(actor.coordinated_ids)
    rows = Department.objects.filter(organisation__memberships__consortium_id__in=consortia) \
        .select_related("organisation").distinct().order_by("organisation__name", "name", "id")
    return [s.capacity_row(d) for d in rows]


@router.put("/capacity/{department_id}", response=s.CapacityOut,
            summary="Reserve green-channel beds and slots of a department (coordinators)",
            openapi_extra=problems(403))
def put_capacity(request: HttpRequest, department_id: uuid.UUID, payload: JsonBody[s.CapacityIn]):
    from medunion.network.actions import save_department

    actor = api_actor(request)
    dept = Department.objects.filter(pk=department_id).first()
    if dept is None or not visible_organisations(actor).filter(pk=dept.organisation_id).exists():
        raise NotFound()
    save_department(acting=actor, organisation_id=dept.organisation_id, code=dept.code, name=dept.name,
                    specialty=dept.specialty, beds=dept.beds, daily_slots=dept.daily_slots,
                    green_channel_beds=payload.green_channel_beds, green_channel_slots=payload.green_channel_slots)
    return s.capacity_row(Department.objects.select_related("organisation").get(pk=dept.pk))


def _managed_consortium(actor: Actor, consortium_id: uuid.UUID) -> Any:
    consortium = visible_consortia(actor).filter(pk=consortium_id).first()
    if consortium is None:
        raise NotFound()
    require(actor, Action.MANAGE_NETWORK, consortium)
    return consortium


@router.get("/clock/{consortium_id}", response=s.ClockOut,
            summary="The consortium's referral clock (its coordinators)", openapi_extra=problems(403))
def get_clock(request: HttpRequest, consortium_id: uuid.UUID):
    consortium = _managed_consortium(api_actor(request), consortium_id)
    return {"consortium_id": consortium.pk, **clock_for(consortium.pk).as_dict()}


@router.put("/clock/{consortium_id}", response=s.ClockOut,
            summary="Set the consortium's referral clock (referrals already sent keep their times)",
            openapi_extra=problems(403))
def put_clock(request: HttpRequest, consortium_id: uuid.UUID, payload: JsonBody[s.ClockIn]):
    actor = api_actor(request)
    _managed_consortium(actor, consortium_id)  # a consortium one may not see is 404, as for GET
    row = set_referral_clock(acting=actor, consortium_id=consortium_id, values=payload.model_dump())
    return {"consortium_id": consortium_id, **row.as_dict()}


class FigureFilters(Schema):
    by: GroupBy = "month"
    consortium: uuid.UUID | None = Field(None, description="One of the consortia you may see figures of.")
    organisation: uuid.UUID | None = Field(None, description="Referrals from or to this organisation.")
    since: s.IsoDate | None = None
    until: s.IsoDate | None = None


@router.get("/figures", response=s.ReferralFiguresOut,
            summary="Up and down counts, acceptance times, loops closed, kept within the county "
                    "(coordinators, health commission)")
def figures(request: HttpRequest, filters: Query[FigureFilters]):
    return referral_figures(api_actor(request), by=filters.by, consortium_id=filters.consortium,
                            organisation_id=filters.organisation, since=filters.since, until=filters.until)


# --- the referral -------------------------------------------------------------------------------

@router.get("/{referral_id}", response=s.ReferralOut, summary="The referral as I may see it")
def read(request: HttpRequest, referral_id: uuid.UUID):
    actor = api_actor(request)
    _reader(actor)
    return _view(actor, queries.access_referral(actor, referral_id))


@router.get("/{referral_id}/changes", response=s.ReferralChangesOut,
            summary="What is new on the referral after `after` (live updates; cheap when nothing changed)")
def changes(request: HttpRequest, referral_id: uuid.UUID,
            after: int = Query(0, ge=0, le=s.MAX_VERSION, description="`last_seq` of the previous answer.")):
    actor = api_actor(request)
    _reader(actor)
    referral = queries.access_referral(actor, referral_id, audit=False)
    rows = queries.entries(referral, queries.audiences_for(referral_roles(actor, referral)), after=after)
    if rows:
        record(actor, "referral.view", Verb.READ, obj=referral, patient_id=referral.patient_id,
               detail={"after": after, "live": True})
    return {"state": referral.state, "version": referral.version, "last_seq": referral.last_seq,
            "entries": [s.entry(e) for e in rows]}


# --- steps --------------------------------------------------------------------------------------

@router.post("/{referral_id}/accept", response=s.ReferralStateOut,
             summary="Accept, with a bed or an appointment, where to go and what to bring", openapi_extra=_STEP)
def accept(request: HttpRequest, referral_id: uuid.UUID, payload: JsonBody[s.AcceptIn]):
    actor = api_actor(request)
    data = actions.AcceptInput(admit_kind=payload.admit_kind, appointment_at=payload.appointment_at,
                               location=payload.location, bring=payload.bring, note=payload.note)
    return _state(actor, actions.accept_referral(acting=actor, referral_id=referral_id, data=data,
                                                 expected_version=payload.expected_version))


@router.post("/{referral_id}/decline", response=s.ReferralStateOut, summary="Decline, with a reason", openapi_extra=_STEP)
def decline(request: HttpRequest, referral_id: uuid.UUID, payload: JsonBody[s.ReferralReasonIn]):
    actor = api_actor(request)
    return _state(actor, actions.decline_referral(acting=actor, referral_id=referral_id, reason=payload.reason,
                                                  expected_version=payload.expected_version))


@router.post("/{referral_id}/redirect", response=s.ReferralStateOut,
             summary="Send it on to another department or organisation, with a reason", openapi_extra=_STEP)
def redirect(request: HttpRequest, referral_id: uuid.UUID, payload: JsonBody[s.RedirectIn]):
    actor = api_actor(request)
    return _state(actor, actions.redirect_referral(
        acting=actor, referral_id=referral_id, organisation_id=payload.organisation_id,
        department_id=payload.department_id, reason=payload.reason, expected_version=payload.expected_version))


@router.post("/{referral_id}/cancel", response=s.ReferralStateOut,
             summary="Cancel (the referring clinician, before arrival), with a reason", openapi_extra=_STEP)
def cancel(request: HttpRequest, referral_id: uuid.UUID, payload: JsonBody[s.ReferralReasonIn]):
    actor = api_actor(request)
    return _state(actor, actions.cancel_referral(acting=actor, referral_id=referral_id, reason=payload.reason,
                                                 expected_version=payload.expected_version))


@router.post("/{referral_id}/check-in", response=s.ReferralStateOut, summary="Check the patient in (receiving side)",
             openapi_extra=_STEP)
def check_in(request: HttpRequest, referral_id: uuid.UUID, payload: JsonBody[s.ReferralStepIn]):
    actor = api_actor(request)
    return _state(actor, actions.check_in(acting=actor, referral_id=referral_id,
                                          expected_version=payload.expected_version))


@router.post("/{referral_id}/outcome", response=s.ReferralStateOut,
             summary="Return the treatment summary (and send the patient back down with a plan)",
             openapi_extra=_STEP)
def outcome(request: HttpRequest, referral_id: uuid.UUID, payload: JsonBody[s.OutcomeIn]):
    actor = api_actor(request)
    data = actions.OutcomeInput(summary=payload.summary, review_at=payload.review_at, refer_down=payload.refer_down,
                                discharge_summary=payload.discharge_summary, plan=_plan(payload.plan))
    return _state(actor, actions.return_outcome(acting=actor, referral_id=referral_id, data=data,
                                                attachments=_files(payload.attachment_ids),
                                                expected_version=payload.expected_version))


@router.post("/{referral_id}/complete", response=s.ReferralStateOut,
             summary="Close the loop (the referring clinician, once the outcome is back)", openapi_extra=_STEP)
def complete(request: HttpRequest, referral_id: uuid.UUID, payload: JsonBody[s.ReferralStepIn]):
    actor = api_actor(request)
    return _state(actor, actions.complete_referral(acting=actor, referral_id=referral_id,
                                                   expected_version=payload.expected_version))


@router.post("/{referral_id}/reopen", response=s.ReferralStateOut,
             summary="Undo an automatic close of the loop", openapi_extra=_STEP)
def reopen(request: HttpRequest, referral_id: uuid.UUID, payload: JsonBody[s.ReferralStepIn]):
    actor = api_actor(request)
    return _state(actor, actions.reopen_referral(acting=actor, referral_id=referral_id,
                                                 expected_version=payload.expected_version))


_ENTRY = idempotent(403, 404, 409)


def _once_entry(request: HttpRequest, response: HttpResponse, *, referral_id: uuid.UUID, scope: str,
                payload: dict[str, Any], write: Any) -> Status:
    """A create of a note or a message honouring the request's ``Idempotency-Key``: a retry with
    the same key shows the entry written the first time (an audited read of the referral)
    instead of writing it again."""
    actor = api_actor(request)
    created: dict[str, ReferralEntry] = {}

    def perform() -> dict[str, Any]:
        created["entry"] = write(actor)
        return {"status": 201, "entry_id": str(created["entry"].pk)}

    result, replayed = run_once(request, response, actor=actor, scope=scope,
                                payload={"referral_id": str(referral_id), **payload}, perform=perform)
    if replayed:
        referral = queries.access_referral(actor, referral_id)
        entry = ReferralEntry.objects.filter(pk=result["entry_id"], referral=referral).first()
        if entry is None:
            raise NotFound()
        return Status(result["status"], s.entry(entry))
    return Status(result["status"], s.entry(created["entry"]))


@router.post("/{referral_id}/notes", response={201: s.EntryOut},
             summary="An interim note to the referring clinician (receiving side)", openapi_extra=_ENTRY)
def note(request: HttpRequest, response: HttpResponse, referral_id: uuid.UUID, payload: JsonBody[s.NoteIn]):
    return _once_entry(request, response, referral_id=referral_id, scope="referrals.note",
                       payload=payload.model_dump(mode="json"),
                       write=lambda actor: actions.post_interim_note(acting=actor, referral_id=referral_id,
                                                                     body=payload.body,
                                                                     attachments=_files(payload.attachment_ids)))


@router.post("/{referral_id}/messages", response={201: s.EntryOut},
             summary="Write in the clinician conversation or the patient conversation", openapi_extra=_ENTRY)
def message(request: HttpRequest, response: HttpResponse, referral_id: uuid.UUID, payload: JsonBody[s.ReferralMessageIn]):
    return _once_entry(request, response, referral_id=referral_id, scope="referrals.message",
                       payload=payload.model_dump(mode="json"),
                       write=lambda actor: actions.post_message(acting=actor, referral_id=referral_id,
                                                                audience=payload.audience, body=payload.body,
                                                                attachments=_files(payload.attachment_ids)))


# --- files and the slip ---------------------------------------------------------------------------

@router.get("/{referral_id}/files/{file_id}", response={200: None}, url_name="referral_file",
            summary="Download a file of the referral (only one you may see)", openapi_extra=_FILE_DOC)
def download(request: HttpRequest, referral_id: uuid.UUID, file_id: uuid.UUID):
    return file_response(queries.visible_attachment(api_actor(request), referral_id, file_id), as_attachment=True)


@router.get("/{referral_id}/slip.pdf", response={200: None},
            summary="The printable slip with the check-in QR code (once accepted, until arrival)",
            openapi_extra=_SLIP_DOC)
def slip(request: HttpRequest, referral_id: uuid.UUID):
    actor = api_actor(request)
    _reader(actor)
    referral = load_referral(actor, referral_id)
    if not referral.checkin_code or referral.state not in (State.ACCEPTED, State.ARRIVED):
        raise Conflict(_("The slip can be printed once the referral is accepted, until the patient has arrived."),
                       state=referral.state)
    record(actor, "referral.slip", Verb.READ, obj=referral, patient_id=referral.patient_id)
    pdf = render_slip(referral, base_url=request.build_absolute_uri("/"), language=translation.get_language())
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{slip_name(referral)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
