"""The machinery under the consult actions: the one function that applies a transition, the
per-consult sequence, author snapshots, conflict messages, care-team and participant upkeep, and
notices. Nothing here is called by views: they call ``consults.actions``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import CONSULT_RELATED, parse_uuid
from medunion.access.policy import Action, ConsultStep, can, consult_roles, require
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, ValidationFailed
from medunion.core.planner import joins_as_written
from medunion.network.codes import Specialty
from medunion.patients.models import CareRole

from .models import (
    Audience,
    Consult,
    ConsultAttachment,
    ConsultMessage,
    ConsultParticipant,
    MessageKind,
    ParticipantRole,
    Urgency,
)
from .states import TRANSITIONS, Event, Role, State
from .validation import MAX_ATTACHMENTS

CASE_URL = "/consults/{id}"
COORDINATOR_OVERDUE_URL = "/network/consults/overdue"


def case_url(consult_id: Any) -> str:
    """Where a consult's case page lives (the pages register this path)."""
    return CASE_URL.format(id=consult_id)


# --- loading ---------------------------------------------------------------------------------

def load_consult(acting: Actor, consult_id: Any, *, claiming: bool = False) -> Consult:
    """The consult for an action: 404 unless the actor may see it. A pool specialist claiming a
    case they saw in their queue and were beaten to is told who took it (409), not that it
    vanished."""
    consult = (joins_as_written(Consult.objects.select_related(*CONSULT_RELATED))
               .filter(pk=parse_uuid(consult_id)).first())
    if consult is None:
        raise NotFound()
    if not can(acting, Action.VIEW_CONSULT, consult):
        if claiming and Role.ELIGIBLE in consult_roles(acting, consult):
            raise describe_conflict(consult)
        raise NotFound()
    return consult


def me(acting: Actor) -> uuid.UUID:
    """The acting practitioner's id (the consult actions are clinicians' work)."""
    if acting.practitioner_id is None:
        raise NotFound()
    return acting.practitioner_id


def reload(consult_id: uuid.UUID) -> Consult:
    return joins_as_written(Consult.objects.select_related(*CONSULT_RELATED)).get(pk=consult_id)


# --- conflicts -------------------------------------------------------------------------------

def _when(at: dt.datetime | None) -> str:
    if at is None:
        return ""
    local = timezone.localtime(at)
    return local.strftime("%H:%M") if local.date() == timezone.localtime(clock.now()).date() \
        else local.strftime("%Y-%m-%d %H:%M")


def describe_conflict(consult: Consult, *, stale: bool = False) -> Conflict:
    """What happened to the case, said plainly: who took it and when, or where it stands."""
    details: dict[str, Any] = {"state": consult.state, "version": consult.version}
    message: Any
    name = consult.assignee.name if consult.assignee_id and consult.assignee else ""
    if name:
        details.update(assignee=name, assigned_at=consult.assigned_at.isoformat() if consult.assigned_at else "")
    if consult.state == State.IN_PROGRESS and name:
        message = _("This case was taken by %(name)s at %(time)s.") % {"name": name,
                                                                       "time": _when(consult.assigned_at)}
    elif consult.state == State.ON_HOLD:
        message = _("This case is waiting for information from the asker.")
    elif consult.state == State.ANSWERED:
        message = _("This case has been answered already.")
    elif consult.state == State.COMPLETED:
        message = _("This case is closed.")
    elif consult.state == State.CANCELLED:
        message = _("This case was cancelled.")
    else:
        message = _("This case has changed since you opened it; reload it and try again.")
    if stale and consult.state == State.REQUESTED:
        message = _("This case has changed since you opened it; reload it and try again.")
    return Conflict(message, **details)


# --- the sequence and the one transition function -------------------------------------------

def reserve_seq(consult: Consult, n: int = 1, *, states: Iterable[str] | None = None) -> int:
    """Take the next ``n`` numbers of this consult's sequence; returns the first. Locks the
    consult's row until the transaction ends. With ``states``, a case that has meanwhile left
    them answers 409."""
    rows = Consult.objects.filter(pk=consult.pk)
    if states is not None:
        rows = rows.filter(state__in=list(states))
    if not rows.update(last_seq=F("last_seq") + n):
        raise describe_conflict(reload(consult.pk))
    last = Consult.objects.filter(pk=consult.pk).values_list("last_seq", flat=True).get()
    return int(last) - n + 1


@dataclass
class Moved:
    before: Consult
    consult: Consult  # reloaded after the move
    message: ConsultMessage
    extra_seqs: list[int] = field(default_factory=list)


def apply_transition(acting: Actor, consult: Consult, event: str, *, reason: str = "", body: str = "",
                     kind: str = MessageKind.SYSTEM, detail: dict[str, Any] | None = None,
                     changes: dict[str, Any] | None = None, expected_version: int | None = None,
                     extra_seqs: int = 0) -> Moved:
    """THE way a consult changes state (DESIGN §4.6). Checks, in order: the actor's roles
    against the table (403), the state and the version the caller saw (409), the reason when the
    table requires one (422). Then moves the state with a conditional UPDATE — ``WHERE id AND
    state AND version`` — so of two people acting at once exactly one succeeds and the other gets
    a 409 that says what happened. Writes the event's message (a system message, or the
    info_request / info_reply / follow-up text) in the clinician conversation.

    Call inside ``transaction.atomic()``; the caller writes the audit row and the notices."""
    t = TRANSITIONS[Event(event)]
    require(acting, Action.TRANSITION_CONSULT, ConsultStep(consult, event))
    if expected_version is not None and expected_version != consult.version:
        raise describe_conflict(consult, stale=True)
    if consult.state not in t.sources:
        raise describe_conflict(consult)
    if t.reason_required and not reason:
        raise ValidationFailed(_("Give a reason."), field="reason")
    n = 1 + extra_seqs
    moved = Consult.objects.filter(pk=consult.pk, state=consult.state, version=consult.version).update(
        state=t.target, version=F("version") + 1, last_seq=F("last_seq") + n, **(changes or {}))
    if not moved:
        raise describe_conflict(reload(consult.pk))
    fresh = reload(consult.pk)
    first = fresh.last_seq - n + 1
    message = write_message(acting, fresh, seq=first, kind=kind, event=str(event), audience=Audience.CLINICIANS,
                            body=body or reason, detail={"from": consult.state, "to": t.target, **(detail or {})})
    return Moved(before=consult, consult=fresh, message=message, extra_seqs=list(range(first + 1, first + n)))


# --- messages ---------------------------------------------------------------------------------

def author_snapshot(acting: Actor, consult: Consult) -> dict[str, Any]:
    """Who is writing, as they are now: name, title, specialty (the case's if they have it) and
    organisation (one in the case's consortium if they practise at several)."""
    from medunion.network.models import PracticeSite, Practitioner

    if acting.system:
        return {"author_id": None, "author_practitioner_id": None, "author_name": "", "author_title": "",
                "author_specialty": "", "author_organisation": ""}
    snap = {"author_id": acting.user_id, "author_practitioner_id": acting.practitioner_id,
            "author_name": acting.display[:200], "author_title": "", "author_specialty": "",
            "author_organisation": ""}
    if acting.practitioner_id:
        p = Practitioner.objects.filter(pk=acting.practitioner_id).only("name", "title").first()
        specialties = []
        if p is not None:
            snap.update(author_name=p.name[:200], author_title=p.title)
            specialties = list(p.specialties.values_list("specialty", flat=True))
        snap["author_specialty"] = consult.specialty if consult.specialty in specialties else \
            (sorted(specialties)[0] if specialties else "")
        sites = list(PracticeSite.objects.filter(practitioner_id=acting.practitioner_id, active=True)
                     .values_list("organisation__name", "organisation__memberships__consortium_id", "primary"))
        sites.sort(key=lambda s: (s[1] != consult.consortium_id, not s[2]))
        if sites:
            snap["author_organisation"] = sites[0][0][:200]
    return snap


def write_message(acting: Actor, consult: Consult, *, seq: int, kind: str, audience: str, body: str = "",
                  event: str = "", detail: dict[str, Any] | None = None,
                  supersedes: ConsultMessage | None = None, snapshot: dict[str, Any] | None = None) -> ConsultMessage:
    return ConsultMessage.objects.create(
        consult=consult, patient_id=consult.patient_id, seq=seq, kind=kind, audience=audience, body=body,
        event=event, detail=detail or {}, supersedes=supersedes, **(snapshot or author_snapshot(acting, consult)))


def _stored_by(acting: Actor, files: list[Any]) -> set[str]:
    """Ids of the files the actor sent: uploaded first, or sent again (the same bytes for the
    same patient are stored once, and ``store_upload`` records each sending as ``file.store``)."""
    from medunion.audit.models import AuditEvent

    theirs = {str(f.pk) for f in files if f.uploaded_by_id == acting.user_id}
    others = [str(f.pk) for f in files if str(f.pk) not in theirs]
    if others and acting.user_id is not None:
        theirs |= set(AuditEvent.objects.filter(action="file.store", object_type="files.storedfile",
                                                object_id__in=others, actor_id=acting.user_id)
                      .values_list("object_id", flat=True))
    return theirs


def check_files(acting: Actor, files: Sequence[Any], patient_id: uuid.UUID | None, *,
                key: str = "attachments") -> list[Any]:
    """Files the actor sent themselves, for this patient (or for no patient)."""
    from medunion.files.models import StoredFile

    files = list(files or ())
    errors: list[str] = []
    if len(files) > MAX_ATTACHMENTS:
        errors.append(str(_("At most %(n)d files at a time.") % {"n": MAX_ATTACHMENTS}))
    known = [f for f in files if isinstance(f, StoredFile) and f.pk is not None]
    sent = _stored_by(acting, known) if known else set()
    for f in files:
        if not isinstance(f, StoredFile) or f.pk is None:
            errors.append(str(_("Unknown file.")))
        elif str(f.pk) not in sent:
            errors.append(str(_("%(name)s was not sent by you.") % {"name": f.filename}))
        elif f.patient_id is not None and f.patient_id != patient_id:
            errors.append(str(_("%(name)s belongs to another patient.") % {"name": f.filename}))
    if errors:
        raise ValidationFailed(errors={key: errors})
    return files


def attach(consult: Consult, files: Sequence[Any], message: ConsultMessage | None) -> list[ConsultAttachment]:
    audience = message.audience if message is not None else Audience.CLINICIANS
    return ConsultAttachment.objects.bulk_create([
        ConsultAttachment(consult=consult, message=message, file=f, patient_id=consult.patient_id, audience=audience)
        for f in dict.fromkeys(files)])


# --- who works on the case -------------------------------------------------------------------

def take_case(acting: Actor, consult: Consult, practitioner_id: uuid.UUID, *, invited_by: uuid.UUID | None) -> None:
    """``practitioner_id`` becomes the assignee: a participant row (the previous assignee's
    ends) and, for a case about a patient, a place in the patient's care team."""
    now = clock.now()
    ConsultParticipant.objects.filter(consult=consult, role=ParticipantRole.ASSIGNEE, left_at__isnull=True) \
        .exclude(practitioner_id=practitioner_id).update(left_at=now)
    ConsultParticipant.objects.get_or_create(
        consult=consult, practitioner_id=practitioner_id, role=ParticipantRole.ASSIGNEE, left_at=None,
        defaults={"patient_id": consult.patient_id, "invited_by_id": invited_by, "invited_at": now})
    join_care_team(acting, consult, practitioner_id)


def leave_case(acting: Actor, consult: Consult, practitioner_id: uuid.UUID | None) -> None:
    """A specialist who declined or handed over leaves the case and the care team it gave them."""
    if practitioner_id is None:
        return
    now = clock.now()
    ConsultParticipant.objects.filter(consult=consult, practitioner_id=practitioner_id,
                                      role=ParticipantRole.ASSIGNEE, left_at__isnull=True).update(left_at=now)
    if consult.patient_id is not None:
        from medunion.patients.actions import end_workflow_care_team

        end_workflow_care_team(acting=acting, patient_id=consult.patient_id, source_type="consult",
                               source_id=str(consult.pk), until=now, practitioner_id=practitioner_id)


def join_care_team(acting: Actor, consult: Consult, practitioner_id: uuid.UUID) -> None:
    if consult.patient_id is None:
        return
    from medunion.patients.actions import join_care_team_for_workflow

    join_care_team_for_workflow(acting=acting, patient_id=consult.patient_id, practitioner_id=practitioner_id,
                                role=CareRole.CONSULT, source_type="consult", source_id=str(consult.pk))


def care_team_days() -> int:
    return int(getattr(settings, "MEDUNION_CONSULT_CARE_TEAM_DAYS", 30))


def end_care_team(acting: Actor, consult: Consult, closed_at: dt.datetime) -> None:
    """A closed case's specialists stay in the care team for MEDUNION_CONSULT_CARE_TEAM_DAYS
    (30) more days (to see how it went), then lose the access the case gave them."""
    if consult.patient_id is None:
        return
    from medunion.patients.actions import end_workflow_care_team

    end_workflow_care_team(acting=acting, patient_id=consult.patient_id, source_type="consult",
                           source_id=str(consult.pk), until=closed_at + dt.timedelta(days=care_team_days()))


def active_mdt(consult: Consult) -> list[uuid.UUID]:
    return list(ConsultParticipant.objects.filter(consult=consult, role=ParticipantRole.MDT_MEMBER,
                                                  left_at__isnull=True).values_list("practitioner_id", flat=True))


# --- notices ----------------------------------------------------------------------------------
# Titles never name the patient (they may be sent by SMS); the clinician's name is no secret.

TITLES: dict[str, Any] = {
    "consult.new": _("New %(specialty)s case (%(urgency)s)"),
    "consult.claimed": _("Your %(specialty)s case was taken by %(who)s"),
    "consult.assigned": _("A %(specialty)s case was assigned to you (%(urgency)s)"),
    "consult.declined": _("Your %(specialty)s case was declined and is waiting for another specialist"),
    "consult.handed_over": _("A %(specialty)s case was handed over to you (%(urgency)s)"),
    "consult.info_requested": _("The specialist asks for more information on your %(specialty)s case"),
    "consult.info_provided": _("The asker replied on a %(specialty)s case"),
    "consult.answered": _("Your %(specialty)s case has been answered"),
    "consult.amended": _("The answer to your %(specialty)s case was amended"),
    "consult.confirmed": _("A %(specialty)s case you answered was closed and rated"),
    "consult.follow_up": _("A follow-up question on a %(specialty)s case"),
    "consult.cancelled": _("A %(specialty)s case was cancelled"),
    "consult.invited": _("You are invited to a multidisciplinary consult (%(specialty)s)"),
    "consult.opinion": _("%(who)s gave an MDT opinion on a %(specialty)s case"),
    "consult.message": _("New message on a %(specialty)s case"),
    "consult.patient_message": _("New message about your consultation"),
    "consult.escalated.lead": _("Overdue %(specialty)s case (%(urgency)s) needs a specialist"),
    "consult.escalated.coordinator": _("Overdue %(specialty)s case (%(urgency)s) in your consortium"),
}


def notice(consult: Consult, kind: str, users: Iterable[Any], *, acting: Actor | None = None, body: Any = "",
           url: str | None = None, with_patient: bool = True, **params: Any) -> None:
    from medunion.notifications.actions import notify

    base = {"specialty": Specialty(consult.specialty).label if consult.specialty in Specialty.values else "",
            "urgency": Urgency(consult.urgency).label, "who": acting.display if acting else ""}
    notify(users, kind=kind, title=TITLES[kind], body=body, params={**base, **params},
           url=case_url(consult.pk) if url is None else url, consult=consult,
           patient_id=consult.patient_id if with_patient else None,
           exclude=[acting.user_id] if acting and acting.user_id else [])
