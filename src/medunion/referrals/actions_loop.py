"""The rest of the closed loop: the patient checked in at the desk, interim notes and messages,
the outcome going back (with the patient sent back down for rehabilitation), closing and undoing
an automatic close, and the follow-up tasks of a downward referral."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can, require
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.consults.machine import check_files
from medunion.consults.validation import clean_body
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, ValidationFailed

from . import capacity
from .machine import (
    apply_transition,
    load_referral,
    me,
    notice,
    patient_update,
    patient_users,
    reserve_seq,
    user_ids_of,
    write_entry,
)
from .models import (
    Audience,
    Direction,
    EntryKind,
    FollowUpTask,
    GreenPlace,
    Referral,
    ReferralAttachment,
    TaskState,
)
from .states import ACTS, OPEN_STATES, Act, Event, State
from .timing import clock_for
from .validation import OutcomeInput, clean_outcome


def _audit(acting: Actor, referral: Referral, action: str, **detail: Any) -> None:
    record(acting, action, Verb.UPDATE, obj=referral, patient_id=referral.patient_id,
           detail={"state": referral.state, "version": referral.version, **detail})


def _attach(referral: Referral, files: Sequence[Any], entry: Any, audience: str) -> None:
    ReferralAttachment.objects.bulk_create([
        ReferralAttachment(referral=referral, entry=entry, file=f, patient_id=referral.patient_id, audience=audience)
        for f in dict.fromkeys(files)])


def end_care_team(acting: Actor, referral: Referral, closed_at: dt.datetime) -> None:
    """The receiving clinician stays in the care team for the same grace period as a consult's
    specialists, then loses the access the referral gave them."""
    from medunion.consults.machine import care_team_days
    from medunion.patients.actions import end_workflow_care_team

    end_workflow_care_team(acting=acting, patient_id=referral.patient_id, source_type="referral",
                           source_id=str(referral.pk), until=closed_at + dt.timedelta(days=care_team_days()))


# --- check-in ------------------------------------------------------------------------------------

def find_by_code(acting: Actor, code: str) -> Referral:
    """The referral whose slip carries this code, if the actor may see it (else 404)."""
    from .actions import checkin_hash

    cleaned = (code or "").replace("-", "").replace(" ", "").upper()
    if not cleaned or len(cleaned) > 20:
        raise NotFound()
    pk = Referral.objects.filter(checkin_hash=checkin_hash(cleaned)).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFound()
    return load_referral(acting, pk)


def check_in(*, acting: Actor, referral_id: Any = None, code: str = "", expected_version: int | None = None) -> Referral:
    """The receiving desk checks the patient in, by the slip's QR code (or its typed code) or
    from the referral page. A green-channel slot is used up on arrival (and so goes back)."""
    with transaction.atomic():
        referral = find_by_code(acting, code) if code else load_referral(acting, referral_id)
        now = clock.now()
        days = clock_for(referral.consortium_id).outcome_days
        # A new outcome clock starts on arrival (a flag raised while waiting for the patient is cleared).
        changes: dict[str, Any] = {"arrived_at": now, "outcome_due_at": now + dt.timedelta(days=days),
                                   "outcome_flagged_at": None}
        if referral.green_place == GreenPlace.SLOT:
            changes.update(capacity.give_back(referral))
        moved = apply_transition(acting, referral, Event.CHECK_IN, expected_version=expected_version,
                                 detail={"by_code": bool(code)}, changes=changes)
        referral = moved.referral
        patient_update(acting, referral, "check_in", {"organisation": referral.target_organisation.name})
        _audit(acting, referral, "referral.check_in", by_code=bool(code))
        notice(referral, "referral.arrived", user_ids_of([referral.sender_id]), acting=acting)
    return referral


# --- notes and messages --------------------------------------------------------------------------

def _check_act(acting: Actor, referral: Referral, act: Act, action: Action) -> None:
    require(acting, action, referral)
    if referral.state not in ACTS[act].states:
        raise Conflict(_("This referral is closed; nothing more can be written on it."), state=referral.state)


def post_interim_note(*, acting: Actor, referral_id: Any, body: str, attachments: Sequence[Any] = ()) -> Any:
    """The receiving side tells the referring clinician how it is going, at any time."""
    with transaction.atomic():
        referral = load_referral(acting, referral_id)
        _check_act(acting, referral, Act.INTERIM_NOTE, Action.WRITE_REFERRAL_NOTE)
        body = clean_body(body, missing=_("Write the note."))
        files = check_files(acting, attachments, referral.patient_id)
        seq = reserve_seq(referral, states=OPEN_STATES)
        entry = write_entry(acting, referral, seq=seq, kind=EntryKind.INTERIM_NOTE, audience=Audience.CLINICIANS,
                            body=body)
        _attach(referral, files, entry, Audience.CLINICIANS)
        record(acting, "referral.note", Verb.CREATE, obj=entry, patient_id=referral.patient_id,
               detail={"referral": str(referral.pk), "attachments": len(files)})
        notice(referral, "referral.note", user_ids_of([referral.sender_id]), acting=acting)
    return entry


def post_message(*, acting: Actor, referral_id: Any, audience: str, body: str,
                 attachments: Sequence[Any] = ()) -> Any:
    """A message in the clinician conversation (``clinicians``) or the patient conversation
    (``patient``: the patient, the referring and receiving clinicians and the care team)."""
    if audience not in Audience.values:
        raise ValidationFailed(_("Choose who the message is for."), field="audience")
    act, action = (Act.PATIENT_MESSAGE, Action.WRITE_REFERRAL_PATIENT_MESSAGE) if audience == Audience.PATIENT \
        else (Act.CLINICIAN_MESSAGE, Action.WRITE_REFERRAL_CLINICIAN_MESSAGE)
    with transaction.atomic():
        referral = load_referral(acting, referral_id)
        _check_act(acting, referral, act, action)
        body = clean_body(body)
        files = check_files(acting, attachments, referral.patient_id)
        seq = reserve_seq(referral, states=OPEN_STATES)
        entry = write_entry(acting, referral, seq=seq, kind=EntryKind.MESSAGE, audience=audience, body=body)
        _attach(referral, files, entry, audience)
        record(acting, "referral.message", Verb.CREATE, obj=entry, patient_id=referral.patient_id,
               detail={"referral": str(referral.pk), "audience": audience, "attachments": len(files)})
        clinicians = user_ids_of([referral.sender_id, referral.receiver_id or referral.target_practitioner_id])
        if audience == Audience.PATIENT and not acting.is_patient:
            notice(referral, "referral.patient", patient_users(referral), acting=acting,
                   url=f"/me/referrals/{referral.pk}")
        notice(referral, "referral.message", clinicians, acting=acting)
    return entry


# --- the outcome, and back down ------------------------------------------------------------------

def return_outcome(*, acting: Actor, referral_id: Any, data: OutcomeInput, attachments: Sequence[Any] = (),
                   expected_version: int | None = None) -> Referral:
    """The receiving side returns the treatment summary. A bed held through the green channel
    goes back (the patient is discharged). With a discharge summary and a rehabilitation plan,
    the patient is referred back down to the referring organisation (and doctor), whose plan
    becomes their follow-up tasks. The loop then closes by itself ``close_after_days`` after the
    later of now and the review appointment, unless the referring clinician closes it first."""
    from .actions import precheck, send

    with transaction.atomic():
        referral = load_referral(acting, referral_id)
        precheck(acting, referral, Event.RETURN_OUTCOME, expected_version)
        fields = clean_outcome(data)
        files = check_files(acting, attachments, referral.patient_id)
        now = clock.now()
        last = max(now, fields["review_at"] or now)
        close_at = last + dt.timedelta(days=clock_for(referral.consortium_id).close_after_days)
        changes = {"outcome_at": now, "review_at": fields["review_at"], "close_at": close_at, "outcome_due_at": None}
        if referral.green_place == GreenPlace.BED:
            changes.update(capacity.give_back(referral))
        moved = apply_transition(acting, referral, Event.RETURN_OUTCOME, kind=EntryKind.OUTCOME,
                                 body=fields["summary"], expected_version=expected_version,
                                 detail={"review_at": fields["review_at"].isoformat() if fields["review_at"] else "",
                                         "refer_down": fields["refer_down"]}, changes=changes)
        referral = moved.referral
        _attach(referral, files, moved.entry, Audience.CLINICIANS)
        patient_update(acting, referral, "return_outcome", {
            "review_at": fields["review_at"].isoformat() if fields["review_at"] else ""})
        down = None
        if fields["refer_down"]:
            down = _refer_back_down(acting, referral, fields, send)
        _audit(acting, referral, "referral.outcome", review_at=changes["review_at"].isoformat()
               if changes["review_at"] else "", referred_down=str(down.pk) if down else "")
        notice(referral, "referral.outcome", user_ids_of([referral.sender_id]), acting=acting)
    return referral


def _refer_back_down(acting: Actor, referral: Referral, fields: dict[str, Any], send: Any) -> Referral:
    from medunion.network.models import Organisation, PracticeSite

    from .actions import check_direction, live_referral, require_privilege

    require_privilege(acting, referral.consortium_id)
    home = Organisation.objects.get(pk=referral.sender_organisation_id)
    errors: dict[str, list[str]] = {}
    check_direction(errors, Direction.DOWN, referral.target_organisation, home, key="refer_down")
    if errors:
        raise ValidationFailed(errors=errors)
    if live_referral(referral.patient_id, Direction.DOWN) is not None:
        raise ValidationFailed(errors={"refer_down": [str(_(
            "This patient already has a live downward referral; add to it instead."))]})
    doctor = referral.sender_id if PracticeSite.objects.filter(
        practitioner_id=referral.sender_id, organisation=home, active=True).exists() else None
    down_fields = {
        "direction": Direction.DOWN, "urgency": "routine",
        "reason": str(_("Rehabilitation and follow-up after treatment at %(organisation)s")
                      % {"organisation": referral.target_organisation.name})[:500],
        "clinical_summary": fields["summary"], "requested_by": None, "green_channel": False, "green_place": "",
        "target_practitioner_id": doctor, "consult_id": referral.consult_id,
        "_discharge_summary": fields["discharge_summary"], "_plan": fields["plan"]}
    return send(acting, down_fields, patient_id=referral.patient_id, consortium_id=referral.consortium_id,
                sender_org=referral.target_organisation, target=home, department=None, parent=referral)


def complete_referral(*, acting: Actor, referral_id: Any, expected_version: int | None = None) -> Referral:
    """The referring clinician has read the outcome and closes the loop."""
    with transaction.atomic():
        referral = load_referral(acting, referral_id)
        now = clock.now()
        moved = apply_transition(acting, referral, Event.COMPLETE, expected_version=expected_version,
                                 changes={"completed_at": now, "close_at": None, "closed_automatically": False})
        referral = moved.referral
        end_care_team(acting, referral, now)
        patient_update(acting, referral, "complete", {})
        _audit(acting, referral, "referral.complete", automatic=False)
        notice(referral, "referral.completed", user_ids_of([referral.receiver_id]), acting=acting)
    return referral


def reopen_referral(*, acting: Actor, referral_id: Any, expected_version: int | None = None) -> Referral:
    """Undo a close the platform made by itself (a loop closed by a clinician stays closed)."""
    with transaction.atomic():
        referral = load_referral(acting, referral_id)
        if referral.state == State.COMPLETED and not referral.closed_automatically:
            require(acting, Action.TRANSITION_REFERRAL, _step(referral, Event.REOPEN))
            raise Conflict(_("Only a loop the platform closed by itself can be reopened."), state=referral.state)
        moved = apply_transition(acting, referral, Event.REOPEN, expected_version=expected_version,
                                 changes={"completed_at": None, "closed_automatically": False, "close_at": None})
        referral = moved.referral
        from medunion.patients.models import CareTeamMember

        CareTeamMember.objects.filter(patient_id=referral.patient_id, source_type="referral",
                                      source_id=str(referral.pk), until__isnull=False).update(until=None)
        _audit(acting, referral, "referral.reopen")
        others = [p for p in (referral.sender_id, referral.receiver_id) if p != acting.practitioner_id]
        notice(referral, "referral.reopened", user_ids_of(others), acting=acting)
    return referral


def _step(referral: Referral, event: str) -> Any:
    from medunion.access.referrals import ReferralStep

    return ReferralStep(referral, event)


# --- follow-up tasks -----------------------------------------------------------------------------

def load_task(acting: Actor, task_id: Any) -> FollowUpTask:
    task = FollowUpTask.objects.select_related("referral").filter(pk=parse_uuid(task_id)).first()
    if task is None or not (can(acting, Action.VIEW_REFERRAL, task.referral)
                            and can(acting, Action.COMPLETE_FOLLOW_UP, task)):
        raise NotFound()
    return task


def complete_task(*, acting: Actor, task_id: Any, result: str, problem: bool = False,
                  expected_version: int | None = None) -> FollowUpTask:
    """The grassroots clinician records a follow-up as done. A problem found goes back up: the
    clinician who sent the patient down is told, and it is written on the referral."""
    with transaction.atomic():
        task = load_task(acting, task_id)
        referral = task.referral
        result = clean_body(result, key="result", missing=_("Record what you found."))
        if task.state != TaskState.SCHEDULED or (expected_version is not None and expected_version != task.version):
            raise Conflict(_("This follow-up was already recorded as %(state)s.") % {
                "state": task.get_state_display()} if task.state != TaskState.SCHEDULED
                else _("This follow-up has changed since you opened it; reload it and try again."),
                state=task.state, version=task.version)
        now = clock.now()
        state = TaskState.PROBLEM if problem else TaskState.DONE
        if not FollowUpTask.objects.filter(pk=task.pk, state=TaskState.SCHEDULED, version=task.version).update(
                state=state, completed_at=now, completed_by_id=me(acting), result=result, version=F("version") + 1,
                assignee_id=task.assignee_id or me(acting)):
            fresh = FollowUpTask.objects.get(pk=task.pk)
            raise Conflict(_("This follow-up was already recorded as %(state)s.") % {
                "state": fresh.get_state_display()}, state=fresh.state, version=fresh.version)
        task = FollowUpTask.objects.select_related("referral").get(pk=task.pk)
        record(acting, "referral.follow_up.complete", Verb.UPDATE, obj=task, patient_id=task.patient_id,
               detail={"referral": str(referral.pk), "problem": bool(problem), "kind": task.kind})
        seq = reserve_seq(referral)
        write_entry(acting, referral, seq=seq, kind=EntryKind.SYSTEM, audience=Audience.CLINICIANS,
                    event="follow_up_problem" if problem else "follow_up_done", body=result,
                    detail={"task": str(task.pk), "description": task.description, "kind": task.kind})
        if problem:
            notice(referral, "followup.problem", user_ids_of([referral.sender_id]), acting=acting, body=result)
    return task
