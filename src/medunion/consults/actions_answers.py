"""Answering a case, amending the answer, the asker's confirmation and rating, and the
multidisciplinary (MDT) consult: invitations, opinions, and the consensus — which is an answer
with ``consensus=True`` recorded by the assigned specialist. Re-exported by ``consults.actions``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.policy import Action, ConsultStep, require
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import ValidationFailed
from medunion.network.models import PracticeSite, Practitioner

from . import routing
from .machine import (
    active_mdt,
    apply_transition,
    attach,
    author_snapshot,
    check_files,
    describe_conflict,
    end_care_team,
    join_care_team,
    load_consult,
    me,
    notice,
    reload,
    reserve_seq,
    write_message,
)
from .models import (
    Audience,
    Consult,
    ConsultAnswer,
    ConsultMessage,
    ConsultParticipant,
    ConsultRating,
    MessageKind,
    ParticipantRole,
)
from .states import ACTS, Act, Event
from .validation import AnswerInput, RatingInput, clean_answer, clean_body, clean_rating, clean_reason

MAX_INVITES = 20


def _answer_row(acting: Actor, consult: Consult, seq: int, fields: dict[str, Any], *,
                supersedes: ConsultAnswer | None = None, reason: str = "") -> ConsultAnswer:
    snap = author_snapshot(acting, consult)
    return ConsultAnswer.objects.create(
        consult=consult, patient_id=consult.patient_id, seq=seq, author_id=me(acting),
        author_name=snap["author_name"], author_title=snap["author_title"],
        author_organisation=snap["author_organisation"], supersedes=supersedes, amendment_reason=reason, **fields)


def _check_consensus(consult: Consult, fields: dict[str, Any]) -> None:
    if fields["consensus"] and not active_mdt(consult):
        raise ValidationFailed(_("An MDT consensus needs invited colleagues; invite them first."), field="consensus")


def answer_consult(*, acting: Actor, consult_id: Any, data: AnswerInput,
                   expected_version: int | None = None) -> ConsultAnswer:
    """The assignee answers: assessment, and manage locally (with a plan), examinations to do,
    or referral (specialty and notes: the pre-fill the referral workflow acts on). With
    ``data.consensus`` the answer records the MDT's consensus."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, ConsultStep(consult, Event.ANSWER))
        fields = clean_answer(data)
        _check_consensus(consult, fields)
        now = clock.now()
        moved = apply_transition(acting, consult, Event.ANSWER, expected_version=expected_version, extra_seqs=1,
                                 detail={"recommendation": fields["recommendation"], "consensus": fields["consensus"]},
                                 changes={"answered_at": consult.answered_at or now, "escalate_at": None,
                                          "asker_replied_at": None})
        answer = _answer_row(acting, moved.consult, moved.extra_seqs[0], fields)
        record(acting, "consult.answer", Verb.CREATE, obj=answer, patient_id=consult.patient_id,
               detail={"consult": str(consult.pk), "recommendation": answer.recommendation,
                       "consensus": answer.consensus})
        notice(moved.consult, "consult.answered", routing.user_ids_of([consult.asker_id]), acting=acting)
    return answer


def amend_answer(*, acting: Actor, consult_id: Any, data: AnswerInput, reason: str = "",
                 expected_version: int | None = None) -> ConsultAnswer:
    """The author of the answer amends it: a new version; the old one stays for clinicians."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, ConsultStep(consult, Event.AMEND_ANSWER))
        fields = clean_answer(data)
        _check_consensus(consult, fields)
        reason = clean_reason(reason, required=False)
        latest = ConsultAnswer.objects.filter(consult=consult).order_by("-seq").first()
        moved = apply_transition(acting, consult, Event.AMEND_ANSWER, reason=reason, extra_seqs=1,
                                 expected_version=expected_version,
                                 detail={"recommendation": fields["recommendation"]})
        try:
            with transaction.atomic():
                answer = _answer_row(acting, moved.consult, moved.extra_seqs[0], fields, supersedes=latest,
                                     reason=reason)
        except IntegrityError as exc:  # two amendments of one version: the table's version check
            raise describe_conflict(reload(consult.pk), stale=True) from exc  # pragma: no cover
        record(acting, "consult.amend_answer", Verb.UPDATE, obj=answer, patient_id=consult.patient_id,
               detail={"consult": str(consult.pk), "supersedes": str(latest.pk) if latest else ""})
        notice(moved.consult, "consult.amended", routing.user_ids_of([consult.asker_id]), acting=acting)
    return answer


def confirm_consult(*, acting: Actor, consult_id: Any, rating: RatingInput,
                    expected_version: int | None = None) -> Consult:
    """The asker confirms the outcome and rates the answer; the case is completed, and the
    specialists' care-team access ends MEDUNION_CONSULT_CARE_TEAM_DAYS later."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        require(acting, Action.TRANSITION_CONSULT, ConsultStep(consult, Event.CONFIRM))
        fields = clean_rating(rating)
        now = clock.now()
        moved = apply_transition(acting, consult, Event.CONFIRM, expected_version=expected_version,
                                 detail={"useful": fields["useful"]}, changes={"closed_at": now, "escalate_at": None})
        ConsultRating.objects.create(consult=moved.consult, patient_id=consult.patient_id,
                                     rated_by_id=me(acting), **fields)
        end_care_team(acting, moved.consult, now)
        record(acting, "consult.confirm", Verb.UPDATE, obj=moved.consult, patient_id=consult.patient_id,
               detail={"useful": fields["useful"], "avoided_referral": fields["avoided_referral"],
                       "avoided_travel": fields["avoided_travel"]})
        notice(moved.consult, "consult.confirmed", routing.user_ids_of([consult.assignee_id]), acting=acting)
    return moved.consult


def _check_act(acting: Actor, consult: Consult, act: Act, action: Action) -> None:
    require(acting, action, consult)
    if consult.state not in ACTS[act].states:
        raise describe_conflict(consult)


def invite_to_consult(*, acting: Actor, consult_id: Any, practitioner_ids: Sequence[Any],
                      note: str = "") -> list[ConsultParticipant]:
    """The assignee or a lead of the target team invites colleagues of the consortium (any
    specialty) to give an opinion. Each joins the clinician conversation and, for a case about
    a patient, the care team while the case lasts."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        _check_act(acting, consult, Act.INVITE, Action.INVITE_TO_CONSULT)
        note = clean_reason(note, required=False)
        try:
            ids = list(dict.fromkeys(uuid.UUID(str(p)) for p in practitioner_ids or ()))
        except ValueError as exc:
            raise ValidationFailed(_("Unknown colleague."), field="practitioners") from exc
        if not ids or len(ids) > MAX_INVITES:
            raise ValidationFailed(_("Invite between 1 and %(n)d colleagues.") % {"n": MAX_INVITES},
                                   field="practitioners")
        in_consortium = PracticeSite.objects.filter(active=True, organisation__active=True,
                                                    organisation__memberships__consortium_id=consult.consortium_id)
        found = list(Practitioner.objects.filter(pk__in=ids, active=True)
                     .filter(pk__in=in_consortium.values("practitioner_id")).order_by("name"))
        if len(found) != len(ids):
            raise ValidationFailed(_("Each colleague must practise in the consortium."), field="practitioners")
        seq = reserve_seq(consult, states=ACTS[Act.INVITE].states)  # one change to the case at a time
        taken = set(ConsultParticipant.objects.filter(consult=consult, role=ParticipantRole.MDT_MEMBER,
                                                      left_at__isnull=True).values_list("practitioner_id", flat=True))
        busy = {consult.asker_id, consult.assignee_id} | taken
        if any(p.pk in busy for p in found):
            raise ValidationFailed(_("A colleague you named takes part in the case already."), field="practitioners")
        now = clock.now()
        rows = [ConsultParticipant.objects.create(consult=consult, patient_id=consult.patient_id, practitioner=p,
                                                  role=ParticipantRole.MDT_MEMBER,
                                                  invited_by_id=acting.practitioner_id, invited_at=now)
                for p in found]
        for p in found:
            join_care_team(acting, consult, p.pk)
        write_message(acting, consult, seq=seq, kind=MessageKind.SYSTEM, audience=Audience.CLINICIANS,
                      event="invite", body=note, detail={"invited": [p.name for p in found]})
        record(acting, "consult.invite", Verb.CREATE, obj=consult, patient_id=consult.patient_id,
               detail={"invited": [str(p.pk) for p in found]})
        notice(consult, "consult.invited", routing.user_ids_of([p.pk for p in found]), acting=acting)
    return rows


def give_opinion(*, acting: Actor, consult_id: Any, body: str, attachments: Sequence[Any] = ()) -> ConsultMessage:
    """An invited MDT member gives their opinion (a clinician message of kind opinion)."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        _check_act(acting, consult, Act.OPINION, Action.GIVE_CONSULT_OPINION)
        text = clean_body(body, missing=_("Write your opinion."))
        files = check_files(acting, attachments, consult.patient_id)
        seq = reserve_seq(consult, states=ACTS[Act.OPINION].states)
        message = write_message(acting, consult, seq=seq, kind=MessageKind.OPINION, audience=Audience.CLINICIANS,
                                body=text, event="opinion")
        attach(consult, files, message)
        ConsultParticipant.objects.filter(consult=consult, practitioner_id=me(acting),
                                          role=ParticipantRole.MDT_MEMBER, left_at__isnull=True,
                                          opinion_given_at__isnull=True).update(opinion_given_at=clock.now())
        record(acting, "consult.opinion", Verb.CREATE, obj=message, patient_id=consult.patient_id,
               detail={"consult": str(consult.pk), "attachments": len(files)})
        notice(consult, "consult.opinion", routing.user_ids_of([consult.assignee_id]), acting=acting)
    return message
