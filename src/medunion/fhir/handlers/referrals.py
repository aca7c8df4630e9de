"""Read and search of tiered referral: ServiceRequest (category referral), Task (the closed loop),
Appointment and DocumentReference — within ``visible_referrals(actor)``, and every resource
served is an audited read of patient data.

ServiceRequest and Task serve teleconsultations and referrals as one type each: a read finds
either by its id (UUIDs never collide), a search answers with both — consultations first, then
referrals, each newest first — and ``category`` (ServiceRequest) tells them apart. The
teleconsultation side is ``handlers.consults``'.

What a patient is served, by ALLOWLIST:

- Task: the state of their own referrals (no reason's text, no outcome document);
- Appointment: when, where to go, what to bring;
- DocumentReference: the documents of their referrals whose audience is the patient's
  (``referrals.queries.PATIENT_AUDIENCES``: the rehabilitation plan);
- ServiceRequest: nothing — it carries the reason and the clinical summary, written for
  clinicians (the type answers 404 for every role but clinicians).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can
from medunion.access.referrals import visible_referrals
from medunion.audit.actions import Entry, record, record_many
from medunion.audit.models import Outcome, Verb
from medunion.core.errors import NotFound
from medunion.referrals.models import DOCUMENT_KINDS, Direction, EntryKind, Referral, ReferralEntry
from medunion.referrals.queries import CLINICIAN_AUDIENCES, PATIENT_AUDIENCES
from medunion.referrals.states import TASK_STATUS, State

from .. import codes
from ..mappers import consults as cm
from ..mappers import referrals as m
from ..registry import register
from ..search import (
    Criterion,
    Param,
    SearchRequest,
    SearchResult,
    any_of,
    date_param,
    id_param,
    paginate,
    reference_param,
    token_codes,
)
from . import consults as consult_handlers
from .consults import _codes, _consults, _priority, _typed_refs
from .patients import audit_served

SR_RELATED = ("sender", "sender_organisation", "target_organisation", "target_department", "target_practitioner")
TASK_RELATED = ("sender", "receiver", "target_practitioner", "target_organisation")
APPOINTMENT_RELATED = ("receiver", "target_organisation", "target_department")
LETTER_RELATED = ("sender", "sender_organisation")


def _clinician(actor: Actor) -> bool:
    return actor.is_practitioner or actor.system


def _referrals(actor: Actor, related: tuple[str, ...]) -> QuerySet[Any]:
    return visible_referrals(actor).select_related(*related).order_by("-created_at", "-id")


def _find(rid: Any, related: tuple[str, ...]) -> Referral | None:
    return Referral.objects.select_related(*related).filter(pk=parse_uuid(rid)).first()


def _authorise(actor: Actor, referral: Referral | None, action: str, *,
               wanted: Callable[[Referral], bool] | None = None, **detail: Any) -> Referral:
    """404 unless the actor may see the referral (a refused look at a real one is recorded as
    denied) and it has what is asked for (``wanted``); else the read's one audit row."""
    if referral is None:
        raise NotFound()
    if not can(actor, Action.VIEW_REFERRAL, referral):
        if actor.user_id is not None:
            record(actor, action, Verb.READ, obj=referral, patient_id=referral.patient_id, outcome=Outcome.DENIED)
        raise NotFound()
    if wanted is not None and not wanted(referral):
        raise NotFound()
    record(actor, action, Verb.READ, obj=referral, patient_id=referral.patient_id, detail=detail)
    return referral


def _patients(doc: Any = None) -> list[Param]:
    return [reference_param("patient", "patient_id", ["Patient"], doc or _("The patient referred.")),
            reference_param("subject", "patient_id", ["Patient"], _("Same as patient."))]


# --- one type, several sources ------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """Rows served as one resource type: its own parameters (by the type's names), its rows
    (visible, ordered), and how a page of them is served (resources, audit entries)."""

    params: dict[str, Param]
    rows: Callable[[Actor], QuerySet[Any]]
    serve: Callable[[Actor, list[Any], list[str]], tuple[list[dict[str, Any]], list[Entry]]]


def source(params: list[Param], rows: Callable[[Actor], QuerySet[Any]],
           serve: Callable[[Actor, list[Any], list[str]], tuple[list[dict[str, Any]], list[Entry]]]) -> Source:
    return Source({p.name: p for p in params}, rows, serve)


def _entries(action: str, object_type: str, rows: list[Any], by: list[str]) -> list[Entry]:
    return [Entry(action=action, verb=Verb.SEARCH, object_type=object_type, object_id=str(r.pk),
                  patient_id=r.patient_id, detail={"by": by}) for r in rows]


def paginate_across(querysets: list[QuerySet[Any]], sr: SearchRequest) -> tuple[list[list[Any]], int | None, bool]:
    """One page across several querysets, in order, as ``search.paginate`` does for one: one
    more row fetched to know whether a next page exists; a source wholly before the offset costs
    a COUNT; the total is free when the page reaches the end, else one COUNT per source unless
    ``_total=none``; past the last page there is no total (patient data)."""
    pages: list[list[Any]] = [[] for _qs in querysets]
    offset, need = sr.offset, sr.count + 1
    for i, qs in enumerate(querysets):
        if need <= 0:
            break
        chunk = list(qs[offset:offset + need])
        if not chunk and offset > 0:
            offset = max(0, offset - qs.count())
            continue
        pages[i], need, offset = chunk, need - len(chunk), 0
    served = sum(len(p) for p in pages)
    has_next = served > sr.count
    if has_next:
        last = max(i for i, p in enumerate(pages) if p)
        pages[last] = pages[last][:-1]
        served -= 1
    if not has_next:
        if served or sr.offset == 0:
            return pages, sr.offset + served, False
        return pages, None, False
    mode = sr.total or "accurate"
    return pages, (None if mode == "none" else sum(qs.count() for qs in querysets)), True


def search_across(actor: Actor, sr: SearchRequest, sources: list[Source]) -> SearchResult:
    querysets = []
    for s in sources:
        criteria = [Criterion(s.params[c.param.name], c.modifier, c.values) for c in sr.criteria
                    if c.param.name in s.params]
        qs = s.rows(actor)
        querysets.append(replace(sr, criteria=criteria).apply(qs) if len(criteria) == len(sr.criteria)
                         else qs.none())
    pages, total, has_next = paginate_across(querysets, sr)
    by = sorted({c.param.name for c in sr.criteria})
    resources: list[dict[str, Any]] = []
    audit: list[Entry] = []
    for s, rows in zip(sources, pages, strict=True):
        if rows:
            served, entries = s.serve(actor, rows, by)
            resources += served
            audit += entries
    record_many(actor, audit)
    return SearchResult(resources, total, has_next)


def combined(sources: list[Source], docs: dict[str, tuple[str, Any]]) -> list[Param]:
    """The type's parameters (for parsing and the CapabilityStatement): each name any source
    knows, with the type's documentation."""
    names = list(dict.fromkeys(n for s in sources for n in s.params))
    return [Param(n, docs[n][0], docs[n][1]) for n in names]


# --- ServiceRequest ------------------------------------------------------------------------------

def _sr_status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    states = _codes(values, "http://hl7.org/fhir/request-status", m.SERVICE_REQUEST_STATUS)
    return qs.filter(state__in=states) if states else qs.none()


def _category(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    where = []
    for v in values:
        for system, field in ((cm.CS_SERVICE_CATEGORY, None), (m.CS_REFERRAL_DIRECTION, "direction")):
            for code in token_codes([v], system):
                if field is None and code == m.REFERRAL:
                    where.append(Q())
                elif field and code in Direction.values:
                    where.append(Q(direction=code))
    return any_of(qs, where)


def _requester(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    where = []
    for kind, uid in _typed_refs(values):
        if kind in (None, "Practitioner"):
            where.append(Q(sender_id=uid))
        if kind in (None, "Organization"):
            where.append(Q(sender_organisation_id=uid))
    return any_of(qs, where)


def _performer(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    where = []
    for kind, uid in _typed_refs(values):
        if kind in (None, "Organization"):
            where.append(Q(target_organisation_id=uid))
        if kind in (None, "Practitioner"):
            where.append(Q(target_practitioner_id=uid))
    return any_of(qs, where)


REFERRAL_SR_PARAMS = [
    id_param(), *_patients(),
    Param("requester", "reference", _("The referring Practitioner, or their Organization."), _requester),
    Param("performer", "reference", _("The receiving Organization, or the named Practitioner."), _performer),
    Param("status", "token", _("active, completed or revoked (declined or cancelled)."), _sr_status),
    Param("priority", "token", _("routine, urgent or stat (emergency)."), _priority),
    date_param("authored", "created_at", _("When the referral was sent.")),
    Param("category", "token", _("referral (service-category), or the direction: up, down, across "
                                 "(referral-direction)."), _category),
]


def _serve_consult_requests(actor: Actor, rows: list[Any], by: list[str]) -> tuple[list[dict[str, Any]], list[Entry]]:
    return ([cm.service_request(c) for c in rows],
            _entries("consult.service_request.search", "consults.consult", rows, by))


def _serve_referral_requests(actor: Actor, rows: list[Any], by: list[str]) -> tuple[list[dict[str, Any]], list[Entry]]:
    return ([m.service_request(r) for r in rows],
            _entries("referral.service_request.search", "referrals.referral", rows, by))


SR_SOURCES = [
    source(consult_handlers.SERVICE_REQUEST_PARAMS, _consults, _serve_consult_requests),
    source(REFERRAL_SR_PARAMS, lambda a: _referrals(a, SR_RELATED), _serve_referral_requests),
]
SR_DOCS: dict[str, tuple[str, Any]] = {
    "_id": ("token", _("The resource id.")),
    "patient": ("reference", _("The patient the consultation or referral is about.")),
    "subject": ("reference", _("Same as patient.")),
    "requester": ("reference", _("The clinician who asked or referred (Practitioner); for a referral also the "
                                 "referring Organization.")),
    "performer": ("reference", _("A consultation's target: Practitioner (a named specialist), CareTeam (a team) or "
                                 "Organization (the consortium's specialty pool); a referral's: the receiving "
                                 "Organization or the named Practitioner.")),
    "status": ("token", _("active, on-hold, completed or revoked.")),
    "priority": ("token", _("routine, urgent or stat (emergency).")),
    "authored": ("date", _("When it was sent.")),
    "category": ("token", _("consultation or referral (service-category code system); for referrals also the "
                            "direction: up, down, across (referral-direction code system).")),
}


def read_service_request(actor: Actor, rid: str) -> dict[str, Any]:
    if not _clinician(actor):
        raise NotFound()  # the reason and the clinical summary are written for clinicians
    referral = _find(rid, SR_RELATED)
    if referral is None:
        return consult_handlers.read_service_request(actor, rid)
    return m.service_request(_authorise(actor, referral, "referral.service_request.read"))


def search_service_request(actor: Actor, sr: SearchRequest) -> SearchResult:
    if not _clinician(actor):
        raise NotFound()
    return search_across(actor, sr, SR_SOURCES)


register("ServiceRequest", _("Teleconsultation requests (category consultation) and referrals (category referral) "
                             "the clinician may see: the question or the reason, the patient, who asked or referred, "
                             "the target. Clinicians only. Every request served is recorded in the audit log."),
         combined(SR_SOURCES, SR_DOCS), read_service_request, search_service_request,
         areas=(Action.CREATE_CONSULT, Action.CREATE_REFERRAL), patient_data=True)


# --- Task ------------------------------------------------------------------------------------------

def _task_status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    states = _codes(values, "http://hl7.org/fhir/task-status", TASK_STATUS)
    return qs.filter(state__in=states) if states else qs.none()


def _business_status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    states = [c for c in token_codes(values, m.CS_REFERRAL_STATE) if c in State.values]
    return qs.filter(state__in=states) if states else qs.none()


def _owner(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    """As served: the receiver; before acceptance the named doctor, else the organisation."""
    where = []
    for kind, uid in _typed_refs(values):
        if kind in (None, "Practitioner"):
            where += [Q(receiver_id=uid), Q(receiver__isnull=True, target_practitioner_id=uid)]
        if kind in (None, "Organization"):
            where.append(Q(receiver__isnull=True, target_practitioner__isnull=True, target_organisation_id=uid))
    return any_of(qs, where)


REFERRAL_TASK_PARAMS = [
    id_param(_("The task's id: the referral's id.")),
    reference_param("patient", "patient_id", ["Patient"], _("The patient referred.")),
    reference_param("focus", "pk", ["ServiceRequest"], _("The referral (ServiceRequest).")),
    Param("owner", "reference", _("Who has it: the receiving Practitioner, or the Organization."), _owner),
    reference_param("requester", "sender_id", ["Practitioner"], _("The referring clinician.")),
    Param("status", "token", _("requested, accepted, rejected, in-progress, completed or cancelled."), _task_status),
    Param("business-status", "token", _("The referral's state (referral-state code system)."), _business_status),
    Param("priority", "token", _("routine, urgent or stat (emergency)."), _priority),
    date_param("authored-on", "created_at", _("When the referral was sent.")),
]


def _for_patient(actor: Actor) -> bool:
    return not _clinician(actor)


def _serve_consult_tasks(actor: Actor, rows: list[Any], by: list[str]) -> tuple[list[dict[str, Any]], list[Entry]]:
    return ([cm.task(c, for_patient=_for_patient(actor)) for c in rows],
            _entries("consult.task.search", "consults.consult", rows, by))


def _outcomes(referral_ids: list[Any]) -> dict[Any, ReferralEntry]:
    """The treatment summary of each referral that has one: one query."""
    out: dict[Any, ReferralEntry] = {}
    for e in ReferralEntry.objects.filter(referral_id__in=referral_ids, kind=EntryKind.OUTCOME).order_by("seq"):
        out[e.referral_id] = e
    return out


def _serve_referral_tasks(actor: Actor, rows: list[Any], by: list[str]) -> tuple[list[dict[str, Any]], list[Entry]]:
    patient = _for_patient(actor)
    outcomes = {} if patient else _outcomes([r.pk for r in rows if r.outcome_at])
    return ([m.task(r, for_patient=patient, outcome=outcomes.get(r.pk)) for r in rows],
            _entries("referral.task.search", "referrals.referral", rows, by))


TASK_SOURCES = [
    source(consult_handlers.TASK_PARAMS, _consults, _serve_consult_tasks),
    source(REFERRAL_TASK_PARAMS, lambda a: _referrals(a, TASK_RELATED), _serve_referral_tasks),
]
TASK_DOCS: dict[str, tuple[str, Any]] = {
    "_id": ("token", _("The task's id: the consultation's or the referral's id.")),
    "patient": ("reference", _("The patient.")),
    "focus": ("reference", _("The consultation or the referral (ServiceRequest).")),
    "owner": ("reference", _("Who has it: the specialist working on the case; the clinician who accepted the "
                             "referral (before that the named Practitioner, else the receiving Organization).")),
    "requester": ("reference", _("The clinician who asked or referred.")),
    "status": ("token", _("requested, accepted, rejected, in-progress, on-hold, completed or cancelled.")),
    "business-status": ("token", _("The consultation's state (consult-state code system) or the referral's "
                                   "(referral-state code system).")),
    "priority": ("token", _("routine, urgent or stat (emergency).")),
    "authored-on": ("date", _("When it was sent.")),
}


def read_task(actor: Actor, rid: str) -> dict[str, Any]:
    referral = _find(rid, TASK_RELATED)
    if referral is None:
        return consult_handlers.read_task(actor, rid)
    referral = _authorise(actor, referral, "referral.task.read")
    patient = _for_patient(actor)
    outcome = None if patient or not referral.outcome_at else _outcomes([referral.pk]).get(referral.pk)
    return m.task(referral, for_patient=patient, outcome=outcome)


def search_task(actor: Actor, sr: SearchRequest) -> SearchResult:
    return search_across(actor, sr, TASK_SOURCES)


register("Task", _("The workflow state of each teleconsultation and the closed-loop state of each referral the actor "
                   "may see (a patient: their own, without clinical content). Every task served is recorded in the "
                   "audit log."),
         combined(TASK_SOURCES, TASK_DOCS), read_task, search_task, areas=(Action.SEARCH_PATIENTS,),
         patient_data=True)


# --- Appointment -----------------------------------------------------------------------------------

def _appointments(actor: Actor) -> QuerySet[Any]:
    return _referrals(actor, APPOINTMENT_RELATED).filter(appointment_at__isnull=False)


def _appointment_status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    states = _codes(values, "http://hl7.org/fhir/appointmentstatus", m.APPOINTMENT_STATUS)
    return qs.filter(state__in=states) if states else qs.none()


def _actor(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    where = []
    for kind, uid in _typed_refs(values):
        if kind in (None, "Patient"):
            where.append(Q(patient_id=uid))
        if kind in (None, "Practitioner"):
            where.append(Q(receiver_id=uid))
        if kind in (None, "Location"):
            where.append(Q(target_department_id=uid))
    return any_of(qs, where)


APPOINTMENT_PARAMS = [
    id_param(_("The appointment's id: the referral's id.")),
    reference_param("patient", "patient_id", ["Patient"], _("The patient referred.")),
    Param("actor", "reference", _("A participant: the Patient, the receiving Practitioner or the department "
                                  "(Location)."), _actor),
    reference_param("practitioner", "receiver_id", ["Practitioner"], _("The receiving clinician.")),
    reference_param("location", "target_department_id", ["Location"], _("The receiving department.")),
    date_param("date", "appointment_at", _("When the patient is expected.")),
    Param("status", "token", _("booked, arrived, fulfilled or cancelled."), _appointment_status),
    reference_param("based-on", "pk", ["ServiceRequest"], _("The referral (ServiceRequest).")),
]


def read_appointment(actor: Actor, rid: str) -> dict[str, Any]:
    referral = _authorise(actor, _find(rid, APPOINTMENT_RELATED), "referral.appointment.read",
                          wanted=lambda r: r.appointment_at is not None)
    return m.appointment(referral, for_patient=_for_patient(actor))


def search_appointment(actor: Actor, sr: SearchRequest) -> SearchResult:
    rows, total, has_next = paginate(sr.apply(_appointments(actor)), sr)
    audit_served(actor, "referral.appointment.search", "referrals.referral", [(r.pk, r.patient_id) for r in rows], sr)
    patient = _for_patient(actor)
    return SearchResult([m.appointment(r, for_patient=patient) for r in rows], total, has_next)


register("Appointment", _("The appointment or bed of each accepted referral the actor may see: when, where to go, "
                          "what to bring. Every appointment served is recorded in the audit log."),
         APPOINTMENT_PARAMS, read_appointment, search_appointment, areas=(Action.SEARCH_PATIENTS,), patient_data=True)


# --- DocumentReference ------------------------------------------------------------------------------

def audiences(actor: Actor) -> tuple[str, ...]:
    """The allowlist: clinicians (and the platform) read every document; anyone else — a
    patient — the patient-audience ones only (the rehabilitation plan)."""
    return CLINICIAN_AUDIENCES if _clinician(actor) else PATIENT_AUDIENCES


def _documents(actor: Actor) -> QuerySet[Any]:
    return (ReferralEntry.objects.filter(referral_id__in=visible_referrals(actor).values("pk"),
                                         kind__in=list(DOCUMENT_KINDS), audience__in=audiences(actor))
            .order_by("-created_at", "-id"))


def _letters(actor: Actor) -> QuerySet[Any]:
    """The referral letters (from each referral's clinical summary): clinicians only."""
    qs = _referrals(actor, LETTER_RELATED)
    return qs if _clinician(actor) else qs.none()


def _kinds(values: list[str]) -> set[str]:
    loinc = {code: kind for kind, (code, _display) in m.DOCUMENT_LOINC.items()}
    kinds = {loinc[c] for c in token_codes(values, codes.LOINC) if c in loinc}
    kinds |= {c for c in token_codes(values, m.CS_DOCUMENT_KIND) if c in m.DOCUMENT_LOINC}
    return kinds


def _entry_type(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    kinds = _kinds(values)
    return qs.filter(kind__in=kinds) if kinds else qs.none()


def _letter_type(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    return qs if EntryKind.REFERRAL_LETTER in _kinds(values) else qs.none()


def _document_params(type_apply: Any, related_field: str) -> list[Param]:
    return [
        id_param(), *_patients(),
        reference_param("related", related_field, ["ServiceRequest"], _("The referral (ServiceRequest).")),
        Param("type", "token", _("The document type: LOINC, or referral-document code system."), type_apply),
        date_param("date", "created_at", _("When it was written.")),
    ]


def _serve_letters(actor: Actor, rows: list[Any], by: list[str]) -> tuple[list[dict[str, Any]], list[Entry]]:
    entries = _entries("referral.document.search", "referrals.referral", rows, by)
    for e in entries:
        e.detail["document"] = EntryKind.REFERRAL_LETTER
    return [m.referral_letter(r) for r in rows], entries


def _serve_documents(actor: Actor, rows: list[Any], by: list[str]) -> tuple[list[dict[str, Any]], list[Entry]]:
    return ([m.entry_document(e) for e in rows],
            _entries("referral.document.search", "referrals.referralentry", rows, by))


DOCUMENT_SOURCES = [
    source(_document_params(_letter_type, "pk"), _letters, _serve_letters),
    source(_document_params(_entry_type, "referral_id"), _documents, _serve_documents),
]
DOCUMENT_DOCS: dict[str, tuple[str, Any]] = {
    "_id": ("token", _("The resource id (a referral letter's is the referral's).")),
    "patient": ("reference", _("The patient referred.")),
    "subject": ("reference", _("Same as patient.")),
    "related": ("reference", _("The referral (ServiceRequest).")),
    "type": ("token", _("LOINC 57133-1 (referral note), 34133-9 (treatment summary), 18842-5 (discharge summary), "
                        "18776-5 (rehabilitation plan), 11506-3 (interim note); or the referral-document code.")),
    "date": ("date", _("When it was written.")),
}


def read_document(actor: Actor, rid: str) -> dict[str, Any]:
    uid: uuid.UUID = parse_uuid(rid)
    entry = _documents(actor).filter(pk=uid).first()
    if entry is not None:
        record(actor, "referral.document.read", Verb.READ, obj=entry, patient_id=entry.patient_id,
               detail={"referral": str(entry.referral_id), "kind": entry.kind, "audience": entry.audience})
        return m.entry_document(entry)
    if not _clinician(actor):
        raise NotFound()
    letter = _authorise(actor, _find(uid, LETTER_RELATED), "referral.document.read",
                        document=str(EntryKind.REFERRAL_LETTER))
    return m.referral_letter(letter)


def search_document(actor: Actor, sr: SearchRequest) -> SearchResult:
    return search_across(actor, sr, DOCUMENT_SOURCES)


register("DocumentReference", _("The documents of the referrals the actor may see: the referral letter, the treatment "
                                "summary, the discharge summary, the rehabilitation plan and interim notes, with their "
                                "audience as a security label. A patient is served patient-audience documents only. "
                                "Every document served is recorded in the audit log."),
         combined(DOCUMENT_SOURCES, DOCUMENT_DOCS), read_document, search_document,
         areas=(Action.SEARCH_PATIENTS,), patient_data=True)
