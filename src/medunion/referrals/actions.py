"""Referral actions (DESIGN §4.1): each checks the policy, the transition table and the
privilege, validates, writes in one transaction with its audit row, and queues notifications for
after the commit. This module holds sending and the receiving side's decisions (accept, decline,
redirect) and cancelling; the rest of the loop (check-in, notes, outcome, closing, follow-up
tasks) is in ``actions_loop`` — all re-exported here, so ``from medunion.referrals.actions
import …`` is the whole contract.

A referral the actor may not see answers 404, a step their role does not allow 403 (a missing
credential: 403 ``privilege_missing`` naming it), a step its state does not allow — or lost to
someone quicker — 409, bad input 422, a full green channel 409 ``green_channel_full``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.policy import Action, require, visible_patients
from medunion.access.referrals import ReferralStep
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.consults.machine import check_files
from medunion.core import clock
from medunion.core.crypto import lookup_hash
from medunion.core.errors import Conflict, ValidationFailed
from medunion.network.codes import TIER_RANK, Tier
from medunion.network.models import ConsortiumMembership, Department, Organisation, PracticeSite
from medunion.patients.models import CareRole

from . import capacity
from .actions_loop import (
    check_in,
    complete_referral,
    complete_task,
    end_care_team,
    post_interim_note,
    post_message,
    reopen_referral,
    return_outcome,
)
from .machine import (
    apply_transition,
    describe_conflict,
    load_referral,
    me,
    notice,
    patient_update,
    patient_users,
    receiving_users,
    require_privilege,
    user_ids_of,
    write_entry,
)
from .models import Audience, Direction, EntryKind, FollowUpTask, Referral, ReferralAttachment
from .states import LIVE_STATES, TRANSITIONS, Event
from .timing import clock_for
from .validation import (
    AcceptInput,
    OutcomeInput,
    PlanItem,
    ReferralInput,
    add,
    as_uuid,
    clean_accept,
    clean_referral,
    text,
)

__all__ = [
    "AcceptInput", "OutcomeInput", "PlanItem", "ReferralInput", "create_referral", "accept_referral",
    "decline_referral", "redirect_referral", "cancel_referral", "check_in", "post_interim_note", "post_message",
    "return_outcome", "complete_referral", "reopen_referral", "complete_task", "live_referral",
]

DOWN_TIERS = {Tier.VILLAGE_CLINIC, Tier.TOWNSHIP_CENTRE, Tier.COMMUNITY_CENTRE}


def _rank(org: Organisation) -> int:
    return TIER_RANK.get(org.tier, 0)  # type: ignore[call-overload]


def live_referral(patient_id: Any, direction: str) -> Referral | None:
    """The patient's live referral in this direction, if any (there is at most one)."""
    return Referral.objects.filter(patient_id=patient_id, direction=direction, state__in=list(LIVE_STATES)) \
        .select_related("target_organisation").first()


class LiveReferralExists(Conflict):
    code = "referral_live"


def _live_conflict(live: Referral) -> LiveReferralExists:
    return LiveReferralExists(
        _("This patient already has a live %(direction)s referral to %(organisation)s (%(state)s, since "
          "%(date)s). Track it instead of starting another.") % {
            "direction": Direction(live.direction).label, "organisation": live.target_organisation.name,
            "state": live.get_state_display(), "date": f"{live.created_at:%Y-%m-%d}"},
        referral_id=str(live.pk), state=live.state)


# --- where from, where to ---------------------------------------------------------------------

def _sender_place(acting: Actor, data: ReferralInput, target: Organisation | None,
                  errors: dict[str, list[str]]) -> tuple[Organisation | None, uuid.UUID | None]:
    org_id = as_uuid(errors, "organisation", data.organisation_id)
    if org_id is None and len(acting.org_ids) == 1:
        org_id = next(iter(acting.org_ids))
    if org_id is None or org_id not in acting.org_ids:
        add(errors, "organisation", _("Choose an organisation where you practise.") if org_id is None
            else _("You do not practise at this organisation."))
        return None, None
    org = Organisation.objects.get(pk=org_id)
    shared = set(ConsortiumMembership.objects.filter(organisation=org).values_list("consortium_id", flat=True))
    shared &= set(acting.consortium_ids)
    if target is not None:
        shared &= set(ConsortiumMembership.objects.filter(organisation=target).values_list("consortium_id",
                                                                                           flat=True))
    wanted = as_uuid(errors, "consortium", data.consortium_id)
    if wanted is not None:
        if wanted not in shared:
            add(errors, "consortium", _("Both organisations must be members of this consortium."))
            return org, None
        return org, wanted
    if len(shared) == 1:
        return org, next(iter(shared))
    if target is not None:
        add(errors, "consortium", _("Choose the consortium to refer within.") if shared
            else _("This organisation is not in a consortium with yours."))
    return org, None


def _target(errors: dict[str, list[str]], org_id: Any) -> Organisation | None:
    pk = as_uuid(errors, "target_organisation", org_id)
    if pk is None:
        if "target_organisation" not in errors:
            add(errors, "target_organisation", _("Choose the organisation to refer to."))
        return None
    org = Organisation.objects.filter(pk=pk, active=True).first()
    if org is None:
        add(errors, "target_organisation", _("Unknown organisation."))
    return org


def check_direction(errors: dict[str, list[str]], direction: str, sender: Organisation, target: Organisation,
                    key: str = "target_organisation") -> None:
    if target.pk == sender.pk:
        add(errors, key, _("Refer to another organisation than your own."))
    elif direction == Direction.UP and _rank(target) <= _rank(sender):
        add(errors, key, _("An upward referral goes to an organisation of a higher tier than yours."))
    elif direction == Direction.DOWN and (_rank(target) >= _rank(sender) or target.tier not in DOWN_TIERS):
        add(errors, key, _("A downward referral goes to a township or community health centre or a village "
                           "clinic."))
    elif direction == Direction.ACROSS and _rank(target) != _rank(sender):
        add(errors, key, _("A referral across goes to an organisation of the same tier as yours."))


def check_department(errors: dict[str, list[str]], target: Organisation, department_id: Any, *,
                     required: bool, key: str = "target_department") -> Department | None:
    pk = as_uuid(errors, key, department_id)
    if pk is None:
        if required and key not in errors:
            add(errors, key, _("Choose the receiving department."))
        return None
    dept = Department.objects.filter(pk=pk, organisation=target).first()
    if dept is None:
        add(errors, key, _("Unknown department at %(organisation)s.") % {"organisation": target.name})
    return dept


def _target_doctor(errors: dict[str, list[str]], target: Organisation, practitioner_id: Any) -> uuid.UUID | None:
    pk = as_uuid(errors, "target_practitioner", practitioner_id)
    if pk is None:
        return None
    if not PracticeSite.objects.filter(practitioner_id=pk, organisation=target, active=True,
                                       practitioner__active=True).exists():
        add(errors, "target_practitioner", _("This doctor does not practise at %(organisation)s.")
            % {"organisation": target.name})
        return None
    return pk


def _consult(acting: Actor, errors: dict[str, list[str]], consult_id: Any, patient_id: Any) -> uuid.UUID | None:
    from medunion.access.policy import visible_consults

    pk = as_uuid(errors, "consult", consult_id)
    if pk is None:
        return None
    rows = list(visible_consults(acting).filter(pk=pk).values_list("patient_id", flat=True))
    if not rows:
        add(errors, "consult", _("Unknown consultation."))
        return None
    if rows[0] != patient_id:
        add(errors, "consult", _("The consultation is about another patient."))
        return None
    return pk


# --- sending ---------------------------------------------------------------------------------

def create_referral(*, acting: Actor, data: ReferralInput, attachments: Sequence[Any] = ()) -> Referral:
    """A clinician holding the ``transfer_patients`` privilege refers a patient they may see.
    A second live referral of the patient in the same direction is refused with the live one
    (409 ``referral_live``, ``referral_id``); a full green channel with 409
    ``green_channel_full``; nothing is written unless everything holds."""
    if not acting.is_practitioner:
        require(acting, Action.CREATE_REFERRAL, visible=False)
    fields, errors = clean_referral(data)
    target = _target(errors, data.target_organisation_id)
    org, consortium_id = _sender_place(acting, data, target, errors)
    if consortium_id is not None:
        require_privilege(acting, consortium_id)
    patient_id = as_uuid(errors, "patient", data.patient_id)
    if patient_id is None:
        if "patient" not in errors:
            add(errors, "patient", _("Choose the patient."))
    elif not visible_patients(acting).filter(pk=patient_id).exists():
        add(errors, "patient", _("Unknown patient."))
        patient_id = None
    if patient_id is not None and fields["direction"]:
        live = live_referral(patient_id, fields["direction"])
        if live is not None:
            raise _live_conflict(live)
    dept = None
    if target is not None and org is not None:
        if fields["direction"]:
            check_direction(errors, fields["direction"], org, target)
        dept = check_department(errors, target, data.target_department_id,
                                required=fields["direction"] in (Direction.UP, Direction.ACROSS))
        fields["target_practitioner_id"] = _target_doctor(errors, target, data.target_practitioner_id)
    fields["consult_id"] = _consult(acting, errors, data.consult_id, patient_id) if patient_id else None
    try:
        files = check_files(acting, attachments, patient_id)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        referral = send(acting, fields, patient_id=patient_id, consortium_id=consortium_id,  # type: ignore[arg-type]
                        sender_org=org, target=target, department=dept)  # type: ignore[arg-type]
        _attach(referral, files, None)
    return referral


def send(acting: Actor, fields: dict[str, Any], *, patient_id: uuid.UUID, consortium_id: uuid.UUID,
         sender_org: Organisation, target: Organisation, department: Department | None,
         parent: Referral | None = None) -> Referral:
    """Write a checked referral (inside the caller's transaction): take the green-channel place,
    write the row, its timeline, its follow-up tasks and its audit row, and tell the receiving
    side and the patient."""
    now = clock.now()
    discharge, plan = fields.pop("_discharge_summary", ""), fields.pop("_plan", [])
    if fields["green_channel"]:
        capacity.hold(department, fields["green_place"])
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                patient_id=patient_id, consortium_id=consortium_id, sender_id=me(acting), sender_organisation=sender_org,
                target_organisation=target, target_department=department, parent=parent,
                green_held=fields["green_channel"], created_at=now, last_seq=1,
                escalate_at=now + clock_for(consortium_id).answer_within(fields["urgency"]), **fields)
    except IntegrityError:
        live = live_referral(patient_id, fields["direction"])
        if live is None:
            raise
        raise _live_conflict(live) from None
    write_entry(acting, referral, seq=1, kind=EntryKind.SYSTEM, audience=Audience.CLINICIANS, event="create",
                detail={"direction": referral.direction, "green_channel": referral.green_channel,
                        "green_place": referral.green_place})
    seq = 2
    if discharge:
        write_entry(acting, referral, seq=seq, kind=EntryKind.DISCHARGE_SUMMARY, audience=Audience.CLINICIANS,
                    body=discharge)
        seq += 1
    if plan:
        write_entry(acting, referral, seq=seq, kind=EntryKind.REHAB_PLAN, audience=Audience.PATIENT,
                    detail={"plan": [{**p, "due_on": p["due_on"].isoformat()} for p in plan]})
        seq += 1
        FollowUpTask.objects.bulk_create([
            FollowUpTask(referral=referral, patient_id=patient_id, organisation=target,
                         assignee_id=referral.target_practitioner_id, created_at=now, **p) for p in plan])
    write_entry(acting, referral, seq=seq, kind=EntryKind.SYSTEM, audience=Audience.PATIENT, event="create",
                detail={"organisation": target.name, "department": department.name if department else ""})
    Referral.objects.filter(pk=referral.pk).update(last_seq=seq)
    referral.last_seq = seq
    record(acting, "referral.create", Verb.CREATE, obj=referral, patient_id=patient_id,
           detail={"direction": referral.direction, "urgency": referral.urgency, "green_channel": referral.green_channel,
                   "green_place": referral.green_place, "target_organisation": str(target.pk),
                   "target_department": str(department.pk) if department else "", "tasks": len(plan),
                   "parent": str(parent.pk) if parent else "", "consult": str(referral.consult_id or "")})
    referral = Referral.objects.select_related("sender_organisation").get(pk=referral.pk)
    notice(referral, "referral.new", receiving_users(referral), acting=acting)
    notice(referral, "referral.patient", patient_users(referral), acting=acting,
           url=f"/me/referrals/{referral.pk}")
    return referral


def _attach(referral: Referral, files: Sequence[Any], entry: Any, audience: str = Audience.CLINICIANS) -> None:
    ReferralAttachment.objects.bulk_create([
        ReferralAttachment(referral=referral, entry=entry, file=f, patient_id=referral.patient_id, audience=audience)
        for f in dict.fromkeys(files)])


# --- the receiving side's decision -------------------------------------------------------------

def precheck(acting: Actor, referral: Referral, event: str, expected_version: int | None) -> None:
    """What ``apply_transition`` will check, before the caller validates its input: 403 for the
    role, 403 for a missing credential, 409 for the state or a stale version."""
    t = TRANSITIONS[Event(event)]
    require(acting, Action.TRANSITION_REFERRAL, ReferralStep(referral, event))
    if t.privileged:
        require_privilege(acting, referral.consortium_id, referral=referral)
    if expected_version is not None and expected_version != referral.version:
        raise describe_conflict(referral, stale=True)
    if referral.state not in t.sources:
        raise describe_conflict(referral)


def _audit(acting: Actor, referral: Referral, action: str, **detail: Any) -> None:
    record(acting, action, Verb.UPDATE, obj=referral, patient_id=referral.patient_id,
           detail={"state": referral.state, "version": referral.version, **detail})


def new_checkin_code() -> str:
    """Ten characters from an alphabet without look-alikes, shown as XXXXX-XXXXX on the slip."""
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def checkin_hash(code: str) -> str:
    return lookup_hash(code.replace("-", "").replace(" ", "").upper(), "referral.checkin")


def accept_referral(*, acting: Actor, referral_id: Any, data: AcceptInput,
                    expected_version: int | None = None) -> Referral:
    """The named doctor or a privileged clinician of the receiving organisation accepts, with a
    bed or an appointment, where to go and what to bring. Of several at once exactly one wins;
    the others are told who accepted (409). Issues the slip's check-in code."""
    from medunion.patients.actions import join_care_team_for_workflow

    with transaction.atomic():
        referral = load_referral(acting, referral_id)
        precheck(acting, referral, Event.ACCEPT, expected_version)
        fields = clean_accept(data)
        note = fields.pop("note")
        now = clock.now()
        code = new_checkin_code()
        outcome_days = clock_for(referral.consortium_id).outcome_days
        moved = apply_transition(acting, referral, Event.ACCEPT, body=note, expected_version=expected_version,
                                 detail={"admit_kind": fields["admit_kind"]}, changes={
                                     **fields, "receiver_id": me(acting), "accepted_at": now, "escalate_at": None,
                                     "outcome_due_at": fields["appointment_at"] + dt.timedelta(days=outcome_days),
                                     "checkin_code": code, "checkin_hash": checkin_hash(code)})
        referral = moved.referral
        FollowUpTask.objects.filter(referral=referral, assignee__isnull=True).update(assignee_id=me(acting))
        join_care_team_for_workflow(acting=acting, patient_id=referral.patient_id, practitioner_id=me(acting),
                                    role=CareRole.REFERRAL, source_type="referral", source_id=str(referral.pk))
        when = fields["appointment_at"].isoformat()
        patient_update(acting, referral, "accept", {
            "admit_kind": referral.admit_kind, "appointment_at": when,
            "organisation": referral.target_organisation.name, "location": referral.location,
            "bring": referral.bring})
        _audit(acting, referral, "referral.accept", admit_kind=referral.admit_kind,
               appointment_at=when)
        notice(referral, "referral.accepted", user_ids_of([referral.sender_id]), acting=acting)
        notice(referral, "referral.patient", patient_users(referral), acting=acting,
               url=f"/me/referrals/{referral.pk}")
    return referral


def decline_referral(*, acting: Actor, referral_id: Any, reason: str,
                     expected_version: int | None = None) -> Referral:
    with transaction.atomic():
        referral = load_referral(acting, referral_id)
        precheck(acting, referral, Event.DECLINE, expected_version)
        reason = _reason(reason)
        moved = apply_transition(acting, referral, Event.DECLINE, reason=reason, expected_version=expected_version,
                                 changes={"declined_at": clock.now(), "escalate_at": None,
                                          **capacity.give_back(referral)})
        referral = moved.referral
        FollowUpTask.objects.filter(referral=referral, state="scheduled").update(state="cancelled")
        patient_update(acting, referral, "decline", {"organisation": referral.target_organisation.name})
        _audit(acting, referral, "referral.decline", reason=reason, green_place_returned=referral.green_channel)
        notice(referral, "referral.declined", user_ids_of([referral.sender_id]), acting=acting, body=reason)
        notice(referral, "referral.patient", patient_users(referral), acting=acting,
               url=f"/me/referrals/{referral.pk}")
    return referral


def _reason(value: Any) -> str:
    errors: dict[str, list[str]] = {}
    reason = text(errors, "reason", value, 1000, required=True, missing=_("Give a reason."))
    if errors:
        raise ValidationFailed(errors=errors)
    return reason


def redirect_referral(*, acting: Actor, referral_id: Any, organisation_id: Any, department_id: Any = None,
                      reason: str = "", expected_version: int | None = None) -> Referral:
    """The receiving side sends the referral on to another department or organisation of the
    consortium (reason required). A green-channel place moves with it: given back here, taken
    there — or, if the new department's channel is full, nothing changes (409)."""
    with transaction.atomic():
        referral = load_referral(acting, referral_id)
        precheck(acting, referral, Event.REDIRECT, expected_version)
        errors: dict[str, list[str]] = {}
        reason = text(errors, "reason", reason, 1000, required=True, missing=_("Give a reason."))
        target = _target(errors, organisation_id)
        dept = None
        if target is not None:
            if not ConsortiumMembership.objects.filter(consortium_id=referral.consortium_id,
                                                       organisation=target).exists():
                add(errors, "target_organisation", _("This organisation is not a member of the consortium."))
            else:
                check_direction(errors, referral.direction, referral.sender_organisation, target)
            dept = check_department(errors, target, department_id,
                                    required=referral.direction in (Direction.UP, Direction.ACROSS))
            if target.pk == referral.target_organisation_id and (dept.pk if dept else None) == \
                    referral.target_department_id:
                add(errors, "target_department", _("Choose another department or organisation."))
        if errors:
            raise ValidationFailed(errors=errors)
        changes = capacity.give_back(referral)
        if referral.green_held:
            capacity.hold(dept, referral.green_place)
            changes["green_held"] = True
        now = clock.now()
        old = {"organisation": referral.target_organisation.name,
               "department": referral.target_department.name if referral.target_department else ""}
        moved = apply_transition(acting, referral, Event.REDIRECT, reason=reason, expected_version=expected_version,
                                 detail={"from_place": old, "to_place": {
                                     "organisation": target.name,  # type: ignore[union-attr]
                                     "department": dept.name if dept else ""}},
                                 changes={**changes, "target_organisation": target, "target_department": dept,
                                          "target_practitioner": None, "redirect_count": referral.redirect_count + 1,
                                          "escalation_level": 0, "escalate_at": now + clock_for(
                                              referral.consortium_id).answer_within(referral.urgency)})
        referral = moved.referral
        # A downward referral's follow-up tasks go with it, to whoever accepts there.
        FollowUpTask.objects.filter(referral=referral, state="scheduled").update(organisation=target, assignee=None)
        patient_update(acting, referral, "redirect", {"organisation": referral.target_organisation.name})
        _audit(acting, referral, "referral.redirect", reason=reason,
               target_organisation=str(referral.target_organisation_id),
               target_department=str(referral.target_department_id or ""))
        notice(referral, "referral.redirected", user_ids_of([referral.sender_id]), acting=acting, body=reason,
               organisation=referral.target_organisation.name)
        notice(referral, "referral.new", receiving_users(referral), acting=acting)
    return referral


def cancel_referral(*, acting: Actor, referral_id: Any, reason: str, expected_version: int | None = None) -> Referral:
    """Only the sending side cancels, with a reason, before the patient has arrived."""
    with transaction.atomic():
        referral = load_referral(acting, referral_id)
        precheck(acting, referral, Event.CANCEL, expected_version)
        reason = _reason(reason)
        now = clock.now()
        moved = apply_transition(acting, referral, Event.CANCEL, reason=reason, expected_version=expected_version,
                                 changes={"cancelled_at": now, "escalate_at": None, "outcome_due_at": None,
                                          **capacity.give_back(referral)})
        referral = moved.referral
        FollowUpTask.objects.filter(referral=referral, state="scheduled").update(state="cancelled")
        end_care_team(acting, referral, now)
        patient_update(acting, referral, "cancel", {})
        _audit(acting, referral, "referral.cancel", reason=reason)
        users = user_ids_of([referral.receiver_id]) if referral.receiver_id else receiving_users(referral)
        notice(referral, "referral.cancelled", users, acting=acting, body=reason)
        notice(referral, "referral.patient", patient_users(referral), acting=acting,
               url=f"/me/referrals/{referral.pk}")
    return referral
