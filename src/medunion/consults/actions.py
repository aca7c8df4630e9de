"""Teleconsultation actions (DESIGN §4.1): each checks the policy and the transition table,
validates, writes in one transaction with its audit row, and queues notifications for after the
commit. This module holds asking and the routing of a case (claim, assign, decline, hand over,
request / provide information, follow up, cancel); answers, rating and MDT are in
``actions_answers``, conversation messages in ``actions_messages`` — all re-exported here, so
``from medunion.consults.actions import …`` is the whole contract.

Every function takes the acting actor as the keyword ``acting`` and ids as UUIDs or strings;
a case the actor may not see answers 404, a step their role does not allow 403, a step the
case's state does not allow (or lost to someone quicker) 409, bad input 422.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.policy import Action, can, require, visible_patients
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import ValidationFailed
from medunion.network.codes import TIER_RANK, Specialty
from medunion.network.models import ConsortiumMembership, Organisation, Practitioner, Team, TeamMember

from . import routing
from .actions_answers import amend_answer, answer_consult, confirm_consult, give_opinion, invite_to_consult
from .actions_messages import correct_message, post_message
from .machine import (
    apply_transition,
    attach,
    check_files,
    end_care_team,
    leave_case,
    load_consult,
    me,
    notice,
    take_case,
    write_message,
)
from .models import Audience, Consult, ConsultDecline, MessageKind, TargetKind
from .states import Event
from .targets import set_response_targets, targets_for
from .validation import AnswerInput, ConsultInput, RatingInput, add, clean_body, clean_consult, clean_reason

__all__ = [
    "AnswerInput", "ConsultInput", "RatingInput", "create_consult", "claim_consult", "assign_consult", "decline_consult", "hand_over_consult",
    "request_info", "provide_info", "follow_up_consult", "cancel_consult", "answer_consult", "amend_answer",
    "confirm_consult", "invite_to_consult", "give_opinion", "post_message", "correct_message",
    "set_response_targets",
]


def _uuid(errors: dict[str, list[str]], key: str, value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        add(errors, key, _("Not a valid identifier."))
        return None


def _asker_place(acting: Actor, data: ConsultInput, errors: dict[str, list[str]]) -> tuple[Any, Any]:
    org_id = _uuid(errors, "organisation", data.organisation_id)
    if org_id is None and len(acting.org_ids) == 1:
        org_id = next(iter(acting.org_ids))
    if org_id is None or org_id not in acting.org_ids:
        add(errors, "organisation", _("Choose an organisation where you practise.") if org_id is None
            else _("You do not practise at this organisation."))
        return None, None
    org = Organisation.objects.get(pk=org_id)
    consortia = list(ConsortiumMembership.objects.filter(organisation=org).values_list("consortium_id", flat=True))
    wanted = _uuid(errors, "consortium", data.consortium_id)
    if wanted is None and len(consortia) == 1:
        wanted = consortia[0]
    if wanted is None or wanted not in consortia:
        add(errors, "consortium", _("Choose the consortium to ask in.") if wanted is None and consortia
            else _("Your organisation is not in this consortium."))
        return org, None
    return org, wanted


def _check_target(data: ConsultInput, fields: dict[str, Any], acting: Actor, consortium_id: uuid.UUID,
                  asker_rank: int, errors: dict[str, list[str]]) -> dict[str, Any]:
    kind, specialty = fields["target_kind"], fields["specialty"]
    if kind == TargetKind.TEAM:
        team_id = _uuid(errors, "target_team", data.target_team_id)
        team = Team.objects.filter(pk=team_id, consortium_id=consortium_id, active=True).first() if team_id else None
        if team is None:
            add(errors, "target_team", _("This team is not in the consortium.") if team_id else _("Choose a team."))
            return {}
        if not TeamMember.objects.filter(team=team, practitioner__active=True) \
                .exclude(practitioner_id=me(acting)).exists():
            add(errors, "target_team", _("This team has no members who could answer."))
        return {"target_team": team}
    if kind == TargetKind.PRACTITIONER:
        pid = _uuid(errors, "target_practitioner", data.target_practitioner_id)
        p = Practitioner.objects.filter(pk=pid).first() if pid else None
        if p is None:
            add(errors, "target_practitioner", _("This specialist is not in the consortium.") if pid
                else _("Choose a specialist."))
            return {}
        if specialty:
            why = routing.why_not_eligible(p, consortium_id=consortium_id, specialty=specialty, asker_rank=asker_rank,
                                           asker_id=acting.practitioner_id)
            if why:
                add(errors, "target_practitioner", why)
        return {"target_practitioner": p}
    if kind == TargetKind.POOL and specialty and not routing.eligible_specialists(
            consortium_id=consortium_id, specialty=specialty, asker_rank=asker_rank,
            exclude=[me(acting)]).exists():
        add(errors, "specialty", _("No %(specialty)s specialist of the consortium can answer a case from your "
                                   "organisation.") % {"specialty": Specialty(specialty).label})
    return {}


def create_consult(*, acting: Actor, data: ConsultInput, attachments: Sequence[Any] = ()) -> Consult:
    """A practitioner of the consortium asks. The patient (optional: a general question has
    none) must be one the asker may see; the target must be able to answer (see ``routing``).
    Attachments are StoredFile rows the asker uploaded (``files.actions.store_upload``)."""
    if not acting.is_practitioner:
        require(acting, Action.CREATE_CONSULT, visible=False)
    fields, errors = clean_consult(data)
    org, consortium_id = _asker_place(acting, data, errors)
    patient_id = _uuid(errors, "patient", data.patient_id)
    if patient_id is not None and not visible_patients(acting).filter(pk=patient_id).exists():
        add(errors, "patient", _("Unknown patient."))
    asker_rank = TIER_RANK.get(org.tier, 0) if org is not None else 0  # type: ignore[call-overload]
    target: dict[str, Any] = {}
    if consortium_id is not None and fields["target_kind"]:
        if not can(acting, Action.CREATE_CONSULT, consortium_id):
            add(errors, "consortium", _("You do not practise in this consortium."))
        target = _check_target(data, fields, acting, consortium_id, asker_rank, errors)
    try:
        files = check_files(acting, attachments, patient_id)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        now = clock.now()
        minutes = targets_for(consortium_id)[fields["urgency"]]  # type: ignore[arg-type]
        due = now + dt.timedelta(minutes=minutes)
        consult = Consult.objects.create(
            patient_id=patient_id, consortium_id=consortium_id, asker_id=me(acting),
            asker_organisation=org, asker_tier_rank=asker_rank, target_minutes=minutes, due_at=due,
            escalate_at=due, created_at=now, last_seq=1, **fields, **target)
        write_message(acting, consult, seq=1, kind=MessageKind.SYSTEM, audience=Audience.CLINICIANS, event="create",
                      detail={"target_kind": consult.target_kind})
        attach(consult, files, None)
        record(acting, "consult.create", Verb.CREATE, obj=consult, patient_id=patient_id,
               detail={"specialty": consult.specialty, "urgency": consult.urgency, "target_kind": consult.target_kind,
                       "attachments": len(files)})
        _announce(acting, consult)
    return consult


def _announce(acting: Actor, consult: Consult) -> None:
    """A new (or returned-to-pool) case: to the named specialist, the team, or the pool."""
    if consult.target_kind == TargetKind.PRACTITIONER:
        users = routing.user_ids_of([consult.target_practitioner_id])
    elif consult.target_kind == TargetKind.TEAM:
        users = routing.team_recipients(consult.target_team_id, exclude=[consult.asker_id])  # type: ignore[arg-type]
    else:
        users = routing.pool_recipients(consult)
    notice(consult, "consult.new", users, acting=acting, body=_("From %(organisation)s."),
           organisation=consult.asker_organisation.name)


def _audit(acting: Actor, consult: Consult, action: str, **detail: Any) -> None:
    record(acting, action, Verb.UPDATE, obj=consult, patient_id=consult.patient_id,
           detail={"state": consult.state, "version": consult.version, **detail})


def claim_consult(*, acting: Actor, consult_id: Any, expected_version: int | None = None) -> Consult:
    """An eligible specialist (pool), a member of the target team, or the named specialist takes
    the case. Of several at once exactly one succeeds; the others are told who took it (409)."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id, claiming=True)
        require(acting, Action.TRANSITION_CONSULT, _step(consult, Event.CLAIM))
        now = clock.now()
        moved = apply_transition(acting, consult, Event.CLAIM, expected_version=expected_version,
                                 changes={"assignee_id": me(acting), "assigned_at": now,
                                          "asker_replied_at": None})
        take_case(acting, moved.consult, me(acting), invited_by=None)
        _audit(acting, moved.consult, "consult.claim")
        notice(moved.consult, "consult.claimed", routing.user_ids_of([consult.asker_id]), acting=acting)
    return moved.consult


def _check_colleague(consult: Consult, practitioner_id: Any) -> Practitioner:
    """A colleague a case may be given to: a member of its target team, or a specialist who
    could take it from the pool; not the asker, not one who declined it."""
    errors: dict[str, list[str]] = {}
    pid = _uuid(errors, "practitioner", practitioner_id)
    p = Practitioner.objects.filter(pk=pid, active=True).first() if pid else None
    if p is None:
        raise ValidationFailed(errors=errors or {"practitioner": [str(_("Choose a colleague."))]})
    if p.pk == consult.assignee_id:
        raise ValidationFailed(_("This specialist is working on the case already."), field="practitioner")
    if ConsultDecline.objects.filter(consult=consult, practitioner=p).exists():
        raise ValidationFailed(_("This specialist has declined the case."), field="practitioner")
    in_team = consult.target_team_id is not None and TeamMember.objects.filter(
        team_id=consult.target_team_id, practitioner=p).exists() and p.pk != consult.asker_id
    if not in_team:
        why = routing.why_not_eligible(p, consortium_id=consult.consortium_id, specialty=consult.specialty,
                                       asker_rank=consult.asker_tier_rank, asker_id=consult.asker_id)
        if why:
            raise ValidationFailed(why, field="practitioner")
    return p


def assign_consult(*, acting: Actor, consult_id: Any, practitioner_id: Any, reason: str = "",
                   expected_version: int | None = None) -> Consult:
    """A team lead gives a waiting case (e.g. an escalated one) to a named colleague."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, _step(consult, Event.ASSIGN))
        colleague = _check_colleague(consult, practitioner_id)
        reason = clean_reason(reason, required=False)
        moved = apply_transition(acting, consult, Event.ASSIGN, reason=reason, expected_version=expected_version,
                                 detail={"to": colleague.name},
                                 changes={"assignee_id": colleague.pk, "assigned_at": clock.now()})
        take_case(acting, moved.consult, colleague.pk, invited_by=acting.practitioner_id)
        _audit(acting, moved.consult, "consult.assign", to=str(colleague.pk))
        notice(moved.consult, "consult.assigned", routing.user_ids_of([colleague.pk]), acting=acting)
        notice(moved.consult, "consult.claimed", routing.user_ids_of([consult.asker_id]), acting=acting,
               who=colleague.name)
    return moved.consult


def _step(consult: Consult, event: str) -> Any:
    from medunion.access.policy import ConsultStep

    return ConsultStep(consult, event)


def decline_consult(*, acting: Actor, consult_id: Any, reason: str, expected_version: int | None = None) -> Consult:
    """The assignee (or the named specialist) declines, with a reason. The case waits again: for
    its team, its pool, or — a named specialist's case — the specialty pool. The decliner is
    remembered: the case does not come back to their pool queue."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, _step(consult, Event.DECLINE))
        reason = clean_reason(reason, required=True)
        changes: dict[str, Any] = {"assignee_id": None, "assigned_at": None, "asker_replied_at": None}
        to_pool = consult.target_kind == TargetKind.PRACTITIONER
        if to_pool:
            changes.update(target_kind=TargetKind.POOL, target_practitioner_id=None)
        moved = apply_transition(acting, consult, Event.DECLINE, reason=reason, expected_version=expected_version,
                                 changes=changes, detail={"to_pool": to_pool})
        ConsultDecline.objects.create(consult=moved.consult, patient_id=consult.patient_id,
                                      practitioner_id=me(acting), reason=reason)
        leave_case(acting, moved.consult, acting.practitioner_id)
        if consult.assignee_id and consult.assignee_id != acting.practitioner_id:
            leave_case(acting, moved.consult, consult.assignee_id)
        _audit(acting, moved.consult, "consult.decline", to_pool=to_pool)
        notice(moved.consult, "consult.declined", routing.user_ids_of([consult.asker_id]), acting=acting)
        if to_pool:
            _announce(acting, moved.consult)
    return moved.consult


def hand_over_consult(*, acting: Actor, consult_id: Any, practitioner_id: Any, reason: str = "",
                      expected_version: int | None = None) -> Consult:
    """The assignee (or a team lead) hands the case to a named eligible colleague."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, _step(consult, Event.HAND_OVER))
        colleague = _check_colleague(consult, practitioner_id)
        reason = clean_reason(reason, required=False)
        moved = apply_transition(acting, consult, Event.HAND_OVER, reason=reason, expected_version=expected_version,
                                 detail={"to": colleague.name},
                                 changes={"assignee_id": colleague.pk, "assigned_at": clock.now()})
        take_case(acting, moved.consult, colleague.pk, invited_by=acting.practitioner_id)
        leave_case(acting, moved.consult, consult.assignee_id)
        _audit(acting, moved.consult, "consult.hand_over", to=str(colleague.pk))
        notice(moved.consult, "consult.handed_over", routing.user_ids_of([colleague.pk]), acting=acting)
        notice(moved.consult, "consult.claimed", routing.user_ids_of([consult.asker_id]), acting=acting,
               who=colleague.name)
    return moved.consult


def request_info(*, acting: Actor, consult_id: Any, question: str, attachments: Sequence[Any] = (),
                 expected_version: int | None = None) -> Consult:
    """The assignee asks the asker for more (an ECG, a photo, a result). The case waits on the
    asker; the response-target clock stops until they answer."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, _step(consult, Event.REQUEST_INFO))
        body = clean_body(question, key="question", missing=_("Write what you need to know."))
        files = check_files(acting, attachments, consult.patient_id)
        moved = apply_transition(acting, consult, Event.REQUEST_INFO, body=body, kind=MessageKind.INFO_REQUEST,
                                 expected_version=expected_version,
                                 changes={"on_hold_since": clock.now(), "asker_replied_at": None})
        attach(moved.consult, files, moved.message)
        _audit(acting, moved.consult, "consult.request_info", message=str(moved.message.pk))
        notice(moved.consult, "consult.info_requested", routing.user_ids_of([consult.asker_id]), acting=acting)
    return moved.consult


def provide_info(*, acting: Actor, consult_id: Any, body: str, attachments: Sequence[Any] = (),
                 expected_version: int | None = None) -> Consult:
    """The asker answers the information request (text and files). The time the case spent on
    hold is added to its due time (and to its next escalation point)."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, _step(consult, Event.PROVIDE_INFO))
        text = clean_body(body)
        files = check_files(acting, attachments, consult.patient_id)
        now = clock.now()
        held = max(now - (consult.on_hold_since or now), dt.timedelta(0))
        moved = apply_transition(acting, consult, Event.PROVIDE_INFO, body=text, kind=MessageKind.INFO_REPLY,
                                 expected_version=expected_version, detail={"held_seconds": int(held.total_seconds())},
                                 changes={"on_hold_since": None, "asker_replied_at": now,
                                          "due_at": consult.due_at + held,
                                          "escalate_at": consult.escalate_at + held if consult.escalate_at else None})
        attach(moved.consult, files, moved.message)
        _audit(acting, moved.consult, "consult.provide_info", message=str(moved.message.pk), attachments=len(files))
        notice(moved.consult, "consult.info_provided", routing.user_ids_of([consult.assignee_id]), acting=acting)
    return moved.consult


def follow_up_consult(*, acting: Actor, consult_id: Any, question: str, attachments: Sequence[Any] = (),
                      expected_version: int | None = None) -> Consult:
    """The asker asks a further question after the answer: the case is in progress again with a
    fresh response target from now (and no escalation yet)."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, _step(consult, Event.FOLLOW_UP))
        text = clean_body(question, key="question", missing=_("Write your question."))
        files = check_files(acting, attachments, consult.patient_id)
        now = clock.now()
        due = now + dt.timedelta(minutes=consult.target_minutes)
        moved = apply_transition(acting, consult, Event.FOLLOW_UP, body=text, kind=MessageKind.MESSAGE,
                                 expected_version=expected_version,
                                 changes={"asker_replied_at": now, "due_at": due, "escalate_at": due,
                                          "escalation_level": 0})
        attach(moved.consult, files, moved.message)
        _audit(acting, moved.consult, "consult.follow_up", message=str(moved.message.pk))
        notice(moved.consult, "consult.follow_up", routing.user_ids_of([consult.assignee_id]), acting=acting)
    return moved.consult


def cancel_consult(*, acting: Actor, consult_id: Any, reason: str, expected_version: int | None = None) -> Consult:
    """The asker withdraws a case that has not been answered, with a reason."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, _step(consult, Event.CANCEL))
        reason = clean_reason(reason, required=True)
        now = clock.now()
        moved = apply_transition(acting, consult, Event.CANCEL, reason=reason, expected_version=expected_version,
                                 changes={"closed_at": now, "close_reason": reason, "escalate_at": None,
                                          "on_hold_since": None})
        end_care_team(acting, moved.consult, now)
        _audit(acting, moved.consult, "consult.cancel")
        told = [consult.assignee_id, consult.target_practitioner_id]
        notice(moved.consult, "consult.cancelled", routing.user_ids_of(told), acting=acting)
    return moved.consult

