"""``/api/v1/consults``: teleconsultation for phones, clinic systems and integrations — everything
the pages do. Schemas and rendering are in ``api_schemas``.

- Who sees a case is the policy's (``access_consult``: 404 otherwise); what a patient is shown is
  the domain's allowlist (``queries.case_view``): the patient conversation only — never the
  question, a clinician message, the answer or a clinician attachment.
- Every answer that shows a case is an audited read (one row per case; lists one per case shown);
  every step is an action that writes its own row.
- Steps take ``expected_version``: a client that saw an older version gets 409 saying what happened.
- Coordinators see no case: the overdue list and the figures carry no patient data.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from medunion.access.actor import Actor
from medunion.access.loaders import access_consult
from medunion.access.policy import Action, consult_roles, require, visible_consortia
from medunion.api import api_actor, file_download, idempotent, problems
from medunion.core.errors import NotFound
from medunion.core.idempotency import run_once
from medunion.core.json_body import JsonBody
from medunion.files.http import file_response, preview_response
from medunion.files.sniff import SERVABLE_TYPES
from medunion.network.codes import Specialty

from . import actions, queries
from . import api_schemas as s
from .models import ConsultMessage, Urgency
from .states import State, events_for
from .targets import targets_for

router = Router(tags=["consults"])

QueueName = Literal["mine", "team", "pool", "overdue", "waiting", "asked"]



_STEP = problems(403, 404, 409)
_FILE_DOC = file_download()
_PREVIEW_DOC = problems(404, 503)
_PREVIEW_DOC["responses"][200] = {
    "description": "An image to show inline (PNG for DICOM, JPEG for large or HEIC photos, else the photo).",
    "content": {t: {"schema": {"type": "string", "format": "binary"}}
                for t in sorted(t for t in SERVABLE_TYPES if t.startswith("image/"))}}


def _case_reader(actor: Actor) -> None:
    """Cases are clinicians' and patients' business; for every other role the area is a 404."""
    if not (actor.is_practitioner or actor.is_patient):
        raise NotFound()


def _files(ids: list[uuid.UUID]) -> list[Any]:
    """The stored files named by id, in order; an unknown id stays an id, which the action refuses
    ("Unknown file."). Whether the caller sent them is the action's check (``check_files``)."""
    from medunion.files.models import StoredFile

    found = {f.pk: f for f in StoredFile.objects.filter(pk__in=ids)} if ids else {}
    return [found.get(i, i) for i in ids]


def _state(actor: Actor, consult: Any) -> dict[str, Any]:
    events = [str(e) for e in events_for(consult.state, consult_roles(actor, consult))]
    return s.state_out(consult, events)


def _case(actor: Actor, consult: Any) -> dict[str, Any]:
    return s.case(queries.case_view(actor, consult))


# --- queues ---------------------------------------------------------------------------------------

class QueueFilters(Schema):
    queue: QueueName | None = Field(None, description="mine: assigned to me; team: my teams' cases; pool: cases I "
                                                      "may claim; overdue; waiting: waiting on me; asked: cases I "
                                                      "asked. Left out: every case I may see, newest first (a "
                                                      "patient: their own cases).")
    specialty: Specialty | None = None
    urgency: Urgency | None = None
    state: State | None = None
    patient: str = Field("", max_length=100, pattern=s.LINE,
                         description="A resident ID number or mobile number (exact), or part of the patient's name.")
    limit: int = Field(queries.PAGE_SIZE, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


@router.get("", response=s.QueueOut, summary="Queues and search: the cases I may see")
def list_cases(request: HttpRequest, filters: Query[QueueFilters]):
    actor = api_actor(request)
    _case_reader(actor)
    narrow = {"specialty": filters.specialty or "", "urgency": filters.urgency or "", "state": filters.state or ""}
    end = filters.offset + filters.limit
    if filters.queue:
        qs = queries.queue(actor, filters.queue, patient=filters.patient if actor.is_practitioner else "", **narrow)
        rows = queries.list_page(actor, qs, listing=filters.queue, limit=filters.limit, offset=filters.offset)
        more = len(rows) == filters.limit and qs[end:end + 1].exists()
    else:
        page, more = queries.newest_visible(actor, patient=filters.patient if actor.is_practitioner else "",
                                            limit=filters.limit, offset=filters.offset, **narrow)
        rows = queries.record_listed(actor, list(page), listing="all")
    return {"items": [s.queue_item(c, clinician=actor.is_practitioner) for c in rows],
            "next_offset": end if more else None}


@router.post("", response={201: s.CaseOut}, summary="Ask: send a case to the pool, a team or a specialist",
             openapi_extra=idempotent(404))
def create(request: HttpRequest, response: HttpResponse, payload: JsonBody[s.ConsultIn]):
    actor = api_actor(request)

    def perform() -> dict[str, Any]:
        vitals = payload.vitals.model_dump(exclude_none=True) if payload.vitals else {}
        data = actions.ConsultInput(
            specialty=payload.specialty, question=payload.question, urgency=payload.urgency,
            patient_id=payload.patient_id, history=payload.history, medication=payload.medication, vitals=vitals,
            target_kind=payload.target_kind, target_team_id=payload.target_team_id,
            target_practitioner_id=payload.target_practitioner_id, organisation_id=payload.organisation_id,
            consortium_id=payload.consortium_id)
        consult = actions.create_consult(acting=actor, data=data, attachments=_files(payload.attachment_ids))
        return {"status": 201, "consult_id": str(consult.pk)}

    result, replayed = run_once(request, response, actor=actor, scope="consults.create",
                                payload=payload.model_dump(mode="json"), perform=perform)
    # The create wrote its own audit row; showing it again on a replay is a read.
    consult = access_consult(actor, result["consult_id"], audit=replayed)
    response["Location"] = f"{request.path.rstrip('/')}/{consult.pk}"
    return Status(result["status"], _case(actor, consult))


# --- coordinators: no patient data ------------------------------------------------------------------

class ConsortiumFilter(Schema):
    consortium: uuid.UUID | None = Field(None, description="One of your consortia; left out: all of them.")


class OverdueFilters(ConsortiumFilter):
    limit: int = Field(200, ge=1, le=1000)


@router.get("/overdue", response=list[s.OverdueOut], summary="Overdue cases of my consortia (coordinators)",
            openapi_extra=problems(404))
def overdue(request: HttpRequest, filters: Query[OverdueFilters]):
    rows = queries.overdue_consults_for_coordinator(api_actor(request), filters.consortium, limit=filters.limit)
    return [s.overdue(r) for r in rows]


@router.get("/figures", response=s.FiguresOut, summary="Consultation figures of my consortia (coordinators)",
            openapi_extra=problems(404))
def figures(request: HttpRequest, filters: Query[ConsortiumFilter]):
    return queries.consult_figures(api_actor(request), filters.consortium)


def _managed_consortium(actor: Actor, consortium_id: uuid.UUID) -> Any:
    consortium = visible_consortia(actor).filter(pk=consortium_id).first()
    if consortium is None:
        raise NotFound()
    require(actor, Action.MANAGE_NETWORK, consortium)
    return consortium


@router.get("/targets/{consortium_id}", response=s.TargetsOut,
            summary="The consortium's response targets in minutes (its coordinators)", openapi_extra=problems(403))
def get_targets(request: HttpRequest, consortium_id: uuid.UUID):
    consortium = _managed_consortium(api_actor(request), consortium_id)
    return {"consortium_id": consortium.pk, **targets_for(consortium.pk)}


@router.put("/targets/{consortium_id}", response=s.TargetsOut,
            summary="Set the consortium's response targets (cases already sent keep theirs)",
            openapi_extra=problems(403))
def put_targets(request: HttpRequest, consortium_id: uuid.UUID, payload: JsonBody[s.TargetsIn]):
    actor = api_actor(request)
    _managed_consortium(actor, consortium_id)  # a consortium one may not see is 404, as for GET
    row = actions.set_response_targets(acting=actor, consortium_id=consortium_id,
                                       emergency=payload.emergency, urgent=payload.urgent, routine=payload.routine)
    return {"consortium_id": row.consortium_id, "emergency": row.emergency_minutes, "urgent": row.urgent_minutes,
            "routine": row.routine_minutes}


# --- the case -------------------------------------------------------------------------------------

@router.get("/{consult_id}", response=s.CaseOut, summary="The case as I may see it", openapi_extra=problems(404))
def read(request: HttpRequest, consult_id: uuid.UUID):
    actor = api_actor(request)
    return _case(actor, access_consult(actor, consult_id))


@router.get("/{consult_id}/changes", response=s.ChangesOut,
            summary="What is new on the case after `after` (live updates; cheap when nothing changed)",
            openapi_extra=problems(404))
def changes(request: HttpRequest, consult_id: uuid.UUID,
            after: int = Query(0, ge=0, le=s.MAX_VERSION, description="`last_seq` of the previous answer.")):
    return s.changes(queries.poll(api_actor(request), consult_id, after))


# --- steps ------------------------------------------------------------------------------------------

@router.post("/{consult_id}/claim", response=s.StateOut, summary="Take the case (pool, team or named specialist)",
             openapi_extra=_STEP)
def claim(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.ClaimIn]):
    actor = api_actor(request)
    return _state(actor, actions.claim_consult(acting=actor, consult_id=consult_id,
                                               expected_version=payload.expected_version))


@router.post("/{consult_id}/assign", response=s.StateOut, summary="Give a waiting case to a colleague (team lead)",
             openapi_extra=_STEP)
def assign(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.ColleagueIn]):
    actor = api_actor(request)
    return _state(actor, actions.assign_consult(acting=actor, consult_id=consult_id,
                                                practitioner_id=payload.practitioner_id, reason=payload.reason,
                                                expected_version=payload.expected_version))


@router.post("/{consult_id}/decline", response=s.StateOut, summary="Decline the case, with a reason",
             openapi_extra=_STEP)
def decline(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.ReasonIn]):
    actor = api_actor(request)
    return _state(actor, actions.decline_consult(acting=actor, consult_id=consult_id, reason=payload.reason,
                                                 expected_version=payload.expected_version))


@router.post("/{consult_id}/hand-over", response=s.StateOut, summary="Hand the case over to a colleague",
             openapi_extra=_STEP)
def hand_over(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.ColleagueIn]):
    actor = api_actor(request)
    return _state(actor, actions.hand_over_consult(acting=actor, consult_id=consult_id,
                                                   practitioner_id=payload.practitioner_id, reason=payload.reason,
                                                   expected_version=payload.expected_version))


@router.post("/{consult_id}/request-info", response=s.StateOut,
             summary="Ask the asker for more information (the case waits on them)", openapi_extra=_STEP)
def request_info(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.QuestionIn]):
    actor = api_actor(request)
    return _state(actor, actions.request_info(acting=actor, consult_id=consult_id, question=payload.question,
                                              attachments=_files(payload.attachment_ids),
                                              expected_version=payload.expected_version))


@router.post("/{consult_id}/provide-info", response=s.StateOut, summary="Provide the information asked for",
             openapi_extra=_STEP)
def provide_info(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.InfoIn]):
    actor = api_actor(request)
    return _state(actor, actions.provide_info(acting=actor, consult_id=consult_id, body=payload.body,
                                              attachments=_files(payload.attachment_ids),
                                              expected_version=payload.expected_version))


def _answer_input(payload: s.AnswerIn) -> actions.AnswerInput:
    return actions.AnswerInput(assessment=payload.assessment, recommendation=payload.recommendation,
                               plan=payload.plan, examinations=payload.examinations,
                               referral_specialty=payload.referral_specialty or "",
                               referral_notes=payload.referral_notes, consensus=payload.consensus)


@router.post("/{consult_id}/answer", response=s.StateOut,
             summary="Answer: assessment and manage locally, examinations or referral (or the MDT consensus)",
             openapi_extra=_STEP)
def answer(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.AnswerIn]):
    actor = api_actor(request)
    row = actions.answer_consult(acting=actor, consult_id=consult_id, data=_answer_input(payload),
                                 expected_version=payload.expected_version)
    return _state(actor, row.consult)


@router.post("/{consult_id}/amend-answer", response=s.StateOut,
             summary="Amend your answer (a new version; the old one stays for clinicians)", openapi_extra=_STEP)
def amend(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.AmendIn]):
    actor = api_actor(request)
    row = actions.amend_answer(acting=actor, consult_id=consult_id, data=_answer_input(payload),
                               reason=payload.reason, expected_version=payload.expected_version)
    return _state(actor, row.consult)


@router.post("/{consult_id}/confirm", response=s.StateOut, summary="Confirm the outcome and rate the answer",
             openapi_extra=_STEP)
def confirm(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.ConfirmIn]):
    actor = api_actor(request)
    rating = actions.RatingInput(useful=payload.useful, avoided_referral=payload.avoided_referral,
                                 avoided_travel=payload.avoided_travel, comment=payload.comment)
    return _state(actor, actions.confirm_consult(acting=actor, consult_id=consult_id, rating=rating,
                                                 expected_version=payload.expected_version))


@router.post("/{consult_id}/follow-up", response=s.StateOut, summary="Ask a follow-up question after the answer",
             openapi_extra=_STEP)
def follow_up(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.QuestionIn]):
    actor = api_actor(request)
    return _state(actor, actions.follow_up_consult(acting=actor, consult_id=consult_id, question=payload.question,
                                                   attachments=_files(payload.attachment_ids),
                                                   expected_version=payload.expected_version))


@router.post("/{consult_id}/cancel", response=s.StateOut, summary="Withdraw the case, with a reason",
             openapi_extra=_STEP)
def cancel(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.ReasonIn]):
    actor = api_actor(request)
    return _state(actor, actions.cancel_consult(acting=actor, consult_id=consult_id, reason=payload.reason,
                                                expected_version=payload.expected_version))


# --- conversations and MDT ----------------------------------------------------------------------

_ENTRY = idempotent(403, 404, 409)


def _once_message(request: HttpRequest, response: HttpResponse, *, consult_id: uuid.UUID, scope: str,
                  payload: dict[str, Any], write: Any) -> Status:
    """A create of a message (a message, a correction, an opinion) honouring the request's
    ``Idempotency-Key``: a retry with the same key shows the message written the first time
    (an audited read of the case) instead of writing it again."""
    actor = api_actor(request)
    created: dict[str, ConsultMessage] = {}

    def perform() -> dict[str, Any]:
        created["message"] = write(actor)
        return {"status": 201, "message_id": str(created["message"].pk)}

    result, replayed = run_once(request, response, actor=actor, scope=scope,
                                payload={"consult_id": str(consult_id), **payload}, perform=perform)
    if replayed:
        consult = access_consult(actor, consult_id)
        m = ConsultMessage.objects.filter(pk=result["message_id"], consult=consult).first()
        if m is None:
            raise NotFound()
        return Status(result["status"], s.message(m))
    return Status(result["status"], s.message(created["message"]))


@router.post("/{consult_id}/messages", response={201: s.MessageOut},
             summary="Write in the clinician conversation or the patient conversation", openapi_extra=_ENTRY)
def post_message(request: HttpRequest, response: HttpResponse, consult_id: uuid.UUID, payload: JsonBody[s.MessageIn]):
    return _once_message(request, response, consult_id=consult_id, scope="consults.message",
                         payload=payload.model_dump(mode="json"),
                         write=lambda actor: actions.post_message(
                             acting=actor, consult_id=consult_id, body=payload.body, audience=payload.audience,
                             attachments=_files(payload.attachment_ids)))


@router.post("/{consult_id}/messages/{message_id}/corrections", response={201: s.MessageOut},
             summary="Correct your message (a new version; clinicians still see the old one)", openapi_extra=_ENTRY)
def correct(request: HttpRequest, response: HttpResponse, consult_id: uuid.UUID, message_id: uuid.UUID,
            payload: JsonBody[s.CorrectionIn]):
    if not ConsultMessage.objects.filter(pk=message_id, consult_id=consult_id).exists():
        raise NotFound()
    return _once_message(request, response, consult_id=consult_id, scope="consults.correction",
                         payload={"message_id": str(message_id), **payload.model_dump(mode="json")},
                         write=lambda actor: actions.correct_message(acting=actor, message_id=message_id,
                                                                     body=payload.body))


@router.post("/{consult_id}/invitations", response={201: list[s.ParticipantOut]},
             summary="Invite colleagues of the consortium to give an MDT opinion", openapi_extra=_STEP)
def invite(request: HttpRequest, consult_id: uuid.UUID, payload: JsonBody[s.InviteIn]):
    rows = actions.invite_to_consult(acting=api_actor(request), consult_id=consult_id,
                                     practitioner_ids=payload.practitioner_ids, note=payload.note)
    return Status(201, [s.participant(p) for p in rows])


@router.post("/{consult_id}/opinions", response={201: s.MessageOut}, summary="Give your MDT opinion",
             openapi_extra=_ENTRY)
def opinion(request: HttpRequest, response: HttpResponse, consult_id: uuid.UUID, payload: JsonBody[s.OpinionIn]):
    return _once_message(request, response, consult_id=consult_id, scope="consults.opinion",
                         payload=payload.model_dump(mode="json"),
                         write=lambda actor: actions.give_opinion(acting=actor, consult_id=consult_id,
                                                                  body=payload.body,
                                                                  attachments=_files(payload.attachment_ids)))


# --- attachments ------------------------------------------------------------------------------------

@router.get("/{consult_id}/attachments/{file_id}", response={200: None}, url_name="consult_attachment",
            summary="Download a file of the case (only of a message you may see)", openapi_extra=_FILE_DOC)
def download(request: HttpRequest, consult_id: uuid.UUID, file_id: uuid.UUID):
    return file_response(queries.visible_attachment(api_actor(request), consult_id, file_id), as_attachment=True)


@router.get("/{consult_id}/attachments/{file_id}/preview", response={200: None},
            summary="A preview image of a file of the case", openapi_extra=_PREVIEW_DOC)
def preview(request: HttpRequest, consult_id: uuid.UUID, file_id: uuid.UUID):
    stored = queries.visible_attachment(api_actor(request), consult_id, file_id, preview=True)
    return preview_response(stored)

