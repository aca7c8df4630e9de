"""Read side of teleconsultation: the queues, search, the case page and its live updates, and
the coordinators' figures. The pages and the API call these; nothing here widens the policy.

Queues (each a lazy queryset, ``select_related``; cut a page with :func:`list_page`, which
reads the page's keys and then its rows, two queries whatever the page's size, and writes the
audit rows for the patients shown):

- :func:`my_open_cases` — assigned to me, not closed;
- :func:`my_team_cases` — sent to a team I am in, not closed;
- :func:`pool_cases` — requested pool cases I may claim;
- :func:`overdue_cases` — overdue cases I work on, could claim, or lead;
- :func:`waiting_on_me` — as asker: on hold or answered (to confirm); as assignee: the asker has
  replied;
- :func:`asked_by_me` — every case I asked.

What a patient is shown is selected by ALLOWLIST (``PATIENT_AUDIENCES``): patient-audience
messages and their attachments, never a clinician message, never the question, the clinical
details or the structured answer (which are written for clinicians). :func:`case_view` and
:func:`changes_since` enforce it; for a patient ``CaseView.consult`` is ``None`` and only the
:class:`ConsultSummary` is given.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import (
    Action,
    consult_roles,
    escalated_to_lead_q,
    pool_consults,
    require,
    visible_consult_parts,
    visible_consults,
)
from medunion.audit.actions import Entry, record, record_many
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import NotFound, ValidationFailed
from medunion.core.planner import joins_as_written, rows_by_key
from medunion.core.statements import Statement
from medunion.network.codes import Specialty

from .models import (
    CLINICIAN_AUDIENCES,
    PATIENT_AUDIENCES,
    Consult,
    ConsultAnswer,
    ConsultAttachment,
    ConsultMessage,
    ConsultParticipant,
    ConsultRating,
    Urgency,
)
from .states import ACTS, OPEN_STATES, State, events_for, may_act
from .targets import is_overdue, overdue_q

QUEUE_RELATED = ("patient", "consortium", "asker", "asker_organisation", "assignee", "target_practitioner",
                 "target_team")
# What a list shows of each case (the pages' rows, the API's queue items, their audit rows): with
# every column of the eight tables a page of 50 cost 6.7 ms to load on the province, with these 4.7.
# A field left out costs a query per row when read, which the list pages' query pins would show.
QUEUE_FIELDS = ("created_at", "patient_id", "consortium_id", "asker_id", "asker_organisation_id", "specialty",
                "urgency", "question", "target_kind", "target_practitioner_id", "target_team_id", "assignee_id",
                "state", "version", "last_seq", "due_at", "escalation_level", "answered_at", "closed_at",
                "patient__name", "patient__sex", "patient__birth_date", "consortium__name", "asker__name", "asker__title",
                "asker_organisation__name", "assignee__name", "target_practitioner__name", "target_team__name")
PAGE_SIZE = 50


# --- queues ----------------------------------------------------------------------------------

def _none_unless_clinician(actor: Actor) -> QuerySet[Any] | None:
    return None if actor.is_practitioner else Consult.objects.none()


def _queue(qs: QuerySet[Any], order: tuple[str, ...] = ("due_at", "id")) -> QuerySet[Any]:
    return joins_as_written(qs.select_related(*QUEUE_RELATED).only(*QUEUE_FIELDS).order_by(*order))


def my_open_cases(actor: Actor) -> QuerySet[Any]:
    empty = _none_unless_clinician(actor)
    return empty if empty is not None else _queue(
        Consult.objects.filter(assignee_id=actor.practitioner_id, state__in=list(OPEN_STATES)))


def my_team_cases(actor: Actor) -> QuerySet[Any]:
    empty = _none_unless_clinician(actor)
    if empty is not None or not actor.team_ids:
        return empty if empty is not None else Consult.objects.none()
    return _queue(Consult.objects.filter(target_team_id__in=list(actor.team_ids), state__in=list(OPEN_STATES)))


def pool_cases(actor: Actor) -> QuerySet[Any]:
    empty = _none_unless_clinician(actor)
    return empty if empty is not None else _queue(pool_consults(actor))


def _work_q(actor: Actor) -> Q:
    me = actor.practitioner_id
    q = Q(assignee_id=me) | Q(target_practitioner_id=me)
    if actor.team_ids:
        q |= Q(target_team_id__in=list(actor.team_ids))
    lead = escalated_to_lead_q(actor)
    if lead is not None:
        q |= lead
    q |= Q(pk__in=pool_consults(actor).values("pk"))
    return q


def overdue_cases(actor: Actor, now: dt.datetime | None = None) -> QuerySet[Any]:
    empty = _none_unless_clinician(actor)
    return empty if empty is not None else _queue(Consult.objects.filter(_work_q(actor) & overdue_q(now)))


def waiting_on_me(actor: Actor) -> QuerySet[Any]:
    empty = _none_unless_clinician(actor)
    me = actor.practitioner_id
    return empty if empty is not None else _queue(Consult.objects.filter(
        Q(asker_id=me, state__in=[State.ON_HOLD, State.ANSWERED])
        | Q(assignee_id=me, state=State.IN_PROGRESS, asker_replied_at__isnull=False)))


def asked_by_me(actor: Actor) -> QuerySet[Any]:
    empty = _none_unless_clinician(actor)
    return empty if empty is not None else _queue(Consult.objects.filter(asker_id=actor.practitioner_id),
                                                  order=("-created_at", "-id"))


QUEUES = {
    "mine": my_open_cases,
    "team": my_team_cases,
    "pool": pool_cases,
    "overdue": overdue_cases,
    "waiting": waiting_on_me,
    "asked": asked_by_me,
}


def filter_cases(qs: QuerySet[Any], *, specialty: str = "", urgency: str = "", state: str = "") -> QuerySet[Any]:
    """Narrow a queue; an unknown filter value is a 422, not an empty page."""
    errors: dict[str, list[str]] = {}
    if specialty and specialty not in Specialty.values:
        errors["specialty"] = [str(_("Unknown specialty."))]
    if urgency and urgency not in Urgency.values:
        errors["urgency"] = [str(_("Unknown urgency."))]
    if state and state not in State.values:
        errors["state"] = [str(_("Unknown state."))]
    if errors:
        raise ValidationFailed(errors=errors)
    if specialty:
        qs = qs.filter(specialty=specialty)
    if urgency:
        qs = qs.filter(urgency=urgency)
    if state:
        qs = qs.filter(state=state)
    return qs


def match_patient(qs: QuerySet[Any], q: str) -> QuerySet[Any]:
    """Cases whose patient matches: a resident ID number (exact, through its keyed hash), a
    mobile number (exact, keyed hash) or a name (contains). Apply to a scoped queryset only."""
    from medunion.patients.actions import id_hash, phone_hash
    from medunion.patients.identity import parse_resident_id
    from medunion.patients.queries import classify_query

    q = (q or "").strip()
    if not q:
        return qs
    kind = classify_query(q)
    if kind == "id_number":
        try:
            return qs.filter(patient__id_number_hash=id_hash(parse_resident_id(q).number))
        except Exception:  # noqa: BLE001 - a malformed number simply finds nothing
            return qs.none()
    if kind == "phone":
        return qs.filter(patient__phone_hash=phone_hash(q))
    return qs.filter(patient__name__icontains=q)


def newest_visible(actor: Actor, *, patient: str = "", limit: int = PAGE_SIZE, offset: int = 0,
                   **narrow: str) -> tuple[QuerySet[Any], bool]:
    """One page of every case the actor may see, newest first (narrowed by ``filter_cases`` and, for
    a clinician, ``match_patient``), and whether more follow. A clinician's visibility clauses are
    asked as a UNION of the cases' keys, each clause through an index of its own: ORed in one WHERE
    they make the database read every case (on a province, 200,000 cases: a second and more)."""
    limit, offset = max(1, min(limit, 200)), max(0, offset)
    parts = visible_consult_parts(actor)
    if parts is None:
        qs = _queue(filter_cases(visible_consults(actor), **narrow), order=("-created_at", "-id"))
        keys = list(qs.values_list("pk", flat=True)[offset:offset + limit + 1])
    else:
        found = [match_patient(filter_cases(Consult.objects.filter(part), **narrow), patient)
                 .order_by().values_list("created_at", "pk") for part in parts]
        keys = [pk for _at, pk in found[0].union(*found[1:]).order_by("-created_at", "-pk")[offset:offset + limit + 1]]
    page = _queue(Consult.objects.filter(pk__in=keys[:limit]), order=("-created_at", "-id"))
    return page, len(keys) > limit


def queue(actor: Actor, name: str, *, specialty: str = "", urgency: str = "", state: str = "",
          patient: str = "") -> QuerySet[Any]:
    """One queue by name (``QUEUES``), filtered and searched; unknown name: 404."""
    if name not in QUEUES:
        raise NotFound()
    return match_patient(filter_cases(QUEUES[name](actor), specialty=specialty, urgency=urgency, state=state),
                         patient)


def list_page(actor: Actor, qs: QuerySet[Any], *, listing: str, limit: int = PAGE_SIZE,
              offset: int = 0) -> list[Consult]:
    """Cut a page from a queue, keys first (``rows_by_key``: the joins only for the rows shown,
    not for every case of a full pool before it is sorted), and record it (``record_listed``)."""
    limit = max(1, min(limit, 200))
    return record_listed(actor, rows_by_key(qs, offset, max(0, offset) + limit), listing=listing)


def record_listed(actor: Actor, rows: list[Consult], *, listing: str) -> list[Consult]:
    """One audit row per case about a patient shown (each patient's access log says their case
    was listed), written in one batch."""
    record_many(actor, [Entry(action="consult.list", verb=Verb.READ, object_type="consults.consult",
                              object_id=str(c.pk), patient_id=c.patient_id, detail={"list": listing})
                        for c in rows if c.patient_id is not None])
    return rows


# --- a patient's own cases ---------------------------------------------------------------------

@dataclass(frozen=True)
class ConsultSummary:
    """What anyone who may see the case is shown about it, a patient included: no clinical
    content, only where it stands and who is on it."""

    id: uuid.UUID
    state: str
    state_label: str
    specialty: str
    specialty_label: str
    urgency: str
    created_at: dt.datetime
    due_at: dt.datetime
    answered_at: dt.datetime | None
    closed_at: dt.datetime | None
    asker_name: str
    asker_organisation: str
    assignee_name: str
    version: int
    overdue: bool

    @classmethod
    def of(cls, c: Consult) -> ConsultSummary:
        return cls(id=c.pk, state=c.state, state_label=str(State(c.state).label), specialty=c.specialty,
                   specialty_label=str(Specialty(c.specialty).label) if c.specialty in Specialty.values else "",
                   urgency=c.urgency, created_at=c.created_at, due_at=c.due_at, answered_at=c.answered_at,
                   closed_at=c.closed_at, asker_name=c.asker.name, asker_organisation=c.asker_organisation.name,
                   assignee_name=c.assignee.name if c.assignee is not None else "", version=c.version,
                   overdue=is_overdue(c))


def patient_consults(actor: Actor, *, limit: int = PAGE_SIZE) -> list[ConsultSummary]:
    """A patient's own cases, newest first, as summaries only; one query, and one audit row."""
    if not actor.is_patient:
        return []
    rows = list(Consult.objects.filter(patient_id=actor.patient_id).select_related(  # type: ignore[misc]
        "asker", "asker_organisation", "assignee").order_by("-created_at", "-id")[:limit])
    if rows:
        record(actor, "consult.list", Verb.READ, object_type="consults.consult", patient_id=actor.patient_id,
               detail={"list": "mine", "count": len(rows)})
    return [ConsultSummary.of(c) for c in rows]


# --- the case page ----------------------------------------------------------------------------

@dataclass
class CaseView:
    summary: ConsultSummary
    roles: frozenset[str]
    audiences: tuple[str, ...]
    messages: list[ConsultMessage]
    consult: Consult | None = None  # clinicians only: the question, history, medication, vitals
    request_attachments: list[ConsultAttachment] = field(default_factory=list)
    answers: list[ConsultAnswer] = field(default_factory=list)  # every version, oldest first
    participants: list[ConsultParticipant] = field(default_factory=list)
    rating: ConsultRating | None = None
    events: list[str] = field(default_factory=list)  # transitions the actor may apply now
    acts: list[str] = field(default_factory=list)  # messages, invitations, opinions they may make now

    @property
    def answer(self) -> ConsultAnswer | None:
        return self.answers[-1] if self.answers else None

    @property
    def last_seq(self) -> int:
        return max((m.seq for m in self.messages), default=0) if self.consult is None else self.consult.last_seq


def audiences_for(roles: frozenset[str]) -> tuple[str, ...]:
    """The allowlist: patients read patient-audience content only; clinicians both."""
    from .states import Role

    return PATIENT_AUDIENCES if Role.PATIENT in roles else CLINICIAN_AUDIENCES


def _messages_of(pk: Any, audiences: Any, after: int, current_only: bool) -> QuerySet[ConsultMessage]:
    qs = ConsultMessage.objects.filter(consult_id=pk, audience__in=audiences, seq__gt=after) \
        .annotate(is_superseded=Exists(ConsultMessage.objects.filter(supersedes=OuterRef("pk")))) \
        .order_by("seq")
    return qs.filter(is_superseded=False) if current_only else qs


# A case's messages and their attachments, compiled once per connection like the parts below: on
# a case page the SQL compiler spent more on these two than the database did.
_MESSAGES = Statement(_messages_of)
_MESSAGE_ATTACHMENTS = Statement(lambda pk, audiences: ConsultAttachment.objects.filter(
    consult_id=pk, message__isnull=False, audience__in=audiences).select_related("file"))


def _messages(consult: Consult, audiences: tuple[str, ...], *, after: int = 0,
              current_only: bool = False) -> list[ConsultMessage]:
    """The messages of the audiences after ``after``, each with its attachments of the audiences
    in place (``message.attachments.all()`` runs no query), as a prefetch would: two queries, or
    one when there is no message."""
    messages = _MESSAGES.all(consult.pk, list(audiences), after, current_only)
    if not messages:
        return messages
    files: dict[Any, list[ConsultAttachment]] = {m.pk: [] for m in messages}
    for attachment in _MESSAGE_ATTACHMENTS.all(consult.pk, list(audiences)):
        if attachment.message_id in files:  # not an earlier message's (a live page's update)
            files[attachment.message_id].append(attachment)
    for message in messages:
        attached = ConsultAttachment.objects.none()
        attached._result_cache = files[message.pk]  # type: ignore[attr-defined]  # as Django's prefetch does
        attached._prefetch_done = True  # type: ignore[attr-defined]
        message._prefetched_objects_cache = {"attachments": attached}  # type: ignore[attr-defined]
    return messages


# The parts of a case every clinician's view of it loads, compiled once per connection
# (core.statements): compiling them cost more than running them.
_REQUEST_ATTACHMENTS = Statement(lambda pk: ConsultAttachment.objects.filter(consult_id=pk, message__isnull=True)
                                 .select_related("file"))
_ANSWERS = Statement(lambda pk: ConsultAnswer.objects.filter(consult_id=pk).order_by("seq"))
_PARTICIPANTS = Statement(lambda pk: ConsultParticipant.objects.filter(consult_id=pk).select_related("practitioner")
                          .order_by("invited_at"))
_RATING = Statement(lambda pk: ConsultRating.objects.filter(consult_id=pk))  # one to one


def case_view(actor: Actor, consult: Consult) -> CaseView:
    """Everything the actor may see of a case loaded with ``access_consult`` (which wrote the
    one audit row of this page view). A fixed number of queries whatever the case's size."""
    roles = consult_roles(actor, consult)
    audiences = audiences_for(roles)
    summary = ConsultSummary.of(consult)
    events = [str(e) for e in events_for(consult.state, roles)]
    acts = [str(a) for a in ACTS if may_act(a, consult.state, roles) and (
        a != "patient_message" or consult.patient_id is not None)]
    if audiences == PATIENT_AUDIENCES:
        # A patient: the patient conversation, current versions only; nothing else of the case.
        return CaseView(summary=summary, roles=roles, audiences=audiences,
                        messages=_messages(consult, audiences, current_only=True), events=events, acts=acts)
    return CaseView(
        summary=summary, roles=roles, audiences=audiences, consult=consult,
        messages=_messages(consult, audiences),
        request_attachments=_REQUEST_ATTACHMENTS.all(consult.pk),
        answers=_ANSWERS.all(consult.pk),
        participants=_PARTICIPANTS.all(consult.pk),
        rating=_RATING.first(consult.pk),
        events=events, acts=acts)


@dataclass
class Changes:
    state: str
    version: int
    last_seq: int  # pass back as ``after`` next time
    messages: list[ConsultMessage]
    answers: list[ConsultAnswer]

    @property
    def empty(self) -> bool:
        return not self.messages and not self.answers


def changes_since(actor: Actor, consult: Consult, after: int) -> Changes:
    """What is new on the case after sequence number ``after`` (the page's ``last_seq``), within
    the actor's audiences: no query at all when nothing changed, else two or three. A patient's
    cursor advances only over what they may see."""
    roles = consult_roles(actor, consult)
    audiences = audiences_for(roles)
    patient = audiences == PATIENT_AUDIENCES
    if consult.last_seq <= after:
        return Changes(consult.state, consult.version, after if patient else consult.last_seq, [], [])
    messages = _messages(consult, audiences, after=after, current_only=patient)
    answers = [] if patient else list(ConsultAnswer.objects.filter(consult_id=consult.pk, seq__gt=after)
                                      .order_by("seq"))
    last = max([after, *(m.seq for m in messages)]) if patient else consult.last_seq
    return Changes(consult.state, consult.version, last, messages, answers)


def poll(actor: Actor, consult_id: Any, after: int) -> Changes:
    """For the live page: 404 unless visible; an audit row only when something new is shown."""
    from medunion.access.loaders import access_consult

    consult = access_consult(actor, consult_id, audit=False)
    changes = changes_since(actor, consult, after)
    if not changes.empty:
        record(actor, "consult.read", Verb.READ, obj=consult, patient_id=consult.patient_id,
               detail={"after": after, "live": True})
    return changes


def unchanged_since(consult_id: Any, after: int, version: int) -> bool:
    """Whether a case has had no new message, answer or transition since a live page's cursor
    (``after``, ``version``): one query by primary key, and no policy — for a page whose session
    was shown the case (``web.live.granted``); a poll that finds something goes through ``poll``."""
    row = Consult.objects.filter(pk=parse_uuid(consult_id)).values_list("last_seq", "version").first()
    return row is not None and row[0] <= after and row[1] == version


def visible_attachment(actor: Actor, consult_id: Any, file_id: Any, *, preview: bool = False) -> Any:
    """A file attached to a case, for download or preview: 404 unless the actor may see the case
    AND the message (or the request) it belongs to — selected by the same allowlist as the case
    page (a patient: current patient-audience messages only; never the request's files or a
    clinician message's). One audit row for the file served."""
    from medunion.access.loaders import access_consult

    consult = access_consult(actor, consult_id, audit=False)
    audiences = audiences_for(consult_roles(actor, consult))
    rows = ConsultAttachment.objects.filter(consult_id=consult.pk, file_id=parse_uuid(file_id),
                                            audience__in=audiences)
    if audiences == PATIENT_AUDIENCES:
        rows = rows.filter(message__isnull=False, message__audience__in=audiences,
                           message__superseded_by__isnull=True)
    found = rows.select_related("file").first()
    if found is None or (preview and not has_preview(found.file)):
        raise NotFound()
    record(actor, "consult.attachment.read", Verb.READ, obj=found.file, patient_id=consult.patient_id,
           detail={"consult": str(consult.pk), "preview": preview})
    return found.file


def has_preview(stored: Any) -> bool:
    """Whether ``files.http.preview_response`` has an image to show for this file."""
    from medunion.files.models import FileKind
    from medunion.files.sniff import SERVABLE_TYPES

    return bool(stored.preview_key) or (stored.kind == FileKind.IMAGE and stored.content_type in SERVABLE_TYPES)


def system_text(message: ConsultMessage) -> str:
    """A case event in words, in the current language (for system messages)."""
    detail = message.detail or {}
    texts = {
        "create": _("%(who)s sent the case."),
        "claim": _("%(who)s took the case."),
        "assign": _("%(who)s assigned the case to %(to)s."),
        "decline": _("%(who)s declined the case."),
        "hand_over": _("%(who)s handed the case over to %(to)s."),
        "answer": _("%(who)s answered."),
        "amend_answer": _("%(who)s amended the answer."),
        "confirm": _("%(who)s confirmed the outcome and closed the case."),
        "cancel": _("%(who)s cancelled the case."),
        "invite": _("%(who)s invited %(to)s to give an opinion."),
        "escalate": _("The case is overdue and was escalated (level %(level)s)."),
    }
    text = texts.get(message.event, _("%(who)s updated the case."))
    to = detail.get("to") or ", ".join(detail.get("invited", []))
    return str(text) % {"who": message.author_name or _("The platform"), "to": to, "level": detail.get("level", "")}


# --- coordinators: figures and overdue lists without patient data -----------------------------

OVERDUE_FIELDS = ("id", "consortium__name", "specialty", "urgency", "state", "created_at", "due_at",
                  "escalation_level", "asker_organisation__name", "target_kind", "target_team__name",
                  "assignee__name")


def _coordinated(actor: Actor, consortium_id: Any) -> list[uuid.UUID]:
    require(actor, Action.VIEW_CONSULT_FIGURES, visible=False)
    if consortium_id:
        cid = parse_uuid(consortium_id)
        require(actor, Action.VIEW_CONSULT_FIGURES, cid, visible=False)
        return [cid]
    return sorted(actor.coordinated_ids)


def overdue_consults_for_coordinator(actor: Actor, consortium_id: Any = None, *,
                                     limit: int = 200) -> list[dict[str, Any]]:
    """The consortium's overdue cases for its coordinators: specialty, urgency, state, times,
    escalation level, asking organisation, target team and specialist — and NO patient data:
    no patient, no question, no clinical detail. Coordinators do not open cases; this list and
    the figures are what they see (404 for anyone else)."""
    ids = _coordinated(actor, consortium_id)
    rows = Consult.objects.filter(overdue_q(), consortium_id__in=ids).order_by("due_at", "id") \
        .values(*OVERDUE_FIELDS)[:max(1, min(limit, 1000))]
    return [dict(r) for r in rows]


def consult_figures(actor: Actor, consortium_id: Any = None) -> dict[str, Any]:
    """Counts for a coordinator's dashboard: cases per state and urgency, overdue now, and how
    many answered cases were answered within their target. Two queries; no patient data."""
    ids = _coordinated(actor, consortium_id)
    base = Consult.objects.filter(consortium_id__in=ids)
    by = base.values("state", "urgency").annotate(n=Count("pk")).order_by()
    per_state: dict[str, int] = {}
    per_urgency: dict[str, int] = {}
    for row in by:
        per_state[row["state"]] = per_state.get(row["state"], 0) + row["n"]
        per_urgency[row["urgency"]] = per_urgency.get(row["urgency"], 0) + row["n"]
    now = clock.now()
    agg = base.aggregate(
        overdue=Count("pk", filter=overdue_q(now)),
        answered=Count("pk", filter=Q(answered_at__isnull=False)),
        on_time=Count("pk", filter=Q(answered_at__isnull=False, answered_at__lte=F("due_at"))),
    )
    return {"by_state": per_state, "by_urgency": per_urgency, **agg}

