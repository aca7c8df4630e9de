"""AuditEvent: the audit log through visible_audit(actor). Audit administrators and coordinators
search it (Action.SEARCH_AUDIT); a patient reads the events about themselves. Every search and
read of the log is itself recorded (purpose "audit")."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can, visible_audit
from medunion.accounts.models import User
from medunion.audit.actions import record
from medunion.audit.models import AuditEvent, Outcome, Verb
from medunion.core.errors import NotFound
from medunion.patients.models import Patient

from .. import codes
from ..http import InvalidRequest
from ..mappers.audit import AccountLink, audit_event
from ..mappers.common import as_uuid
from ..registry import register
from ..search import (
    Param,
    SearchRequest,
    SearchResult,
    any_of,
    date_param,
    id_param,
    paginate,
    reference_param,
    token,
    token_codes,
)

_ACTIONS = {"C": ["create"], "R": ["read", "export"], "U": ["update"], "D": ["delete"],
            "E": ["search", "execute", "login"]}
_INTERACTIONS = {"create": "create", "read": "read", "update": "update", "delete": "delete",
                 "search-type": "search", "operation": "execute"}
_OUTCOMES = {"0": Outcome.SUCCESS, "4": Outcome.DENIED, "8": Outcome.FAILURE}
_OBJECT_TYPES: dict[str, list[str]] = {}
for _label, _fhir in codes.OBJECT_TYPES.items():
    _OBJECT_TYPES.setdefault(_fhir, []).append(_label)


def _authorise(actor: Actor) -> None:
    if can(actor, Action.SEARCH_AUDIT):
        return
    if actor.is_patient and can(actor, Action.VIEW_ACCESS_LOG, Patient(pk=actor.patient_id)):
        return
    raise NotFound()  # a role that may not read the log at all: as if there were none


def _agent(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    queries = []
    for v in values:
        parts = v.rstrip("/").split("/")
        uid = as_uuid(parts[-1])
        if uid is None:
            continue
        kind = parts[-2] if len(parts) >= 2 else ""
        if kind == "Practitioner":
            queries.append(Q(actor_id__in=User.objects.filter(practitioner_id=uid).values("pk")))
        elif kind == "Patient":
            queries.append(Q(actor_id__in=User.objects.filter(patient_id=uid).values("pk")))
        elif not kind:
            queries.append(Q(actor_id=uid))
    return any_of(qs, queries)


def _entity(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    queries = []
    for v in values:
        parts = v.rstrip("/").split("/")
        oid, kind = parts[-1], (parts[-2] if len(parts) >= 2 else "")
        if not oid:
            continue
        if not kind:
            queries.append(Q(object_id=oid))
        elif kind in _OBJECT_TYPES:
            q = Q(object_id=oid, object_type__in=_OBJECT_TYPES[kind])
            if kind == "Patient" and as_uuid(oid):
                q |= Q(patient_id=as_uuid(oid))
            queries.append(q)
    return any_of(qs, queries)


def _action(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    verbs = [verb for code in token_codes(values, "http://hl7.org/fhir/audit-event-action")
             for verb in _ACTIONS.get(code, [])]
    return qs.filter(verb__in=verbs) if verbs else qs.none()


def _subtype(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    queries = []
    for v in values:
        system, code = token(v)
        if system in (None, codes.CS_AUDIT_ACTION):
            queries.append(Q(action=code))
        if system in (None, codes.RESTFUL_INTERACTION) and code in _INTERACTIONS:
            queries.append(Q(verb=_INTERACTIONS[code]))
    return any_of(qs, queries)


def _outcome(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    found = [_OUTCOMES[c] for c in token_codes(values, "http://hl7.org/fhir/audit-event-outcome") if c in _OUTCOMES]
    return qs.filter(outcome__in=found) if found else qs.none()


def _accounts(actor: Actor, events: list[AuditEvent]) -> dict[Any, AccountLink]:
    """The actors' linked records. User names (sign-in names, which the lockout counts by) are
    shown only to the audit administrator: a patient or coordinator reading the log gets names
    and records, not a list of accounts to lock out or guess at."""
    ids = {e.actor_id for e in events if e.actor_id}
    if not ids:
        return {}
    show_username = actor.role == "auditadmin" or actor.system
    return {pk: AccountLink(username if show_username else "", practitioner_id, patient_id)
            for pk, username, practitioner_id, patient_id
            in User.objects.filter(pk__in=ids).values_list("pk", "username", "practitioner_id", "patient_id")}


def read_audit_event(actor: Actor, rid: str) -> dict[str, Any]:
    _authorise(actor)
    event = visible_audit(actor).filter(uid=parse_uuid(rid)).first()
    if event is None:
        raise NotFound()
    record(actor, "audit.read", Verb.READ, object_type="audit.auditevent", object_id=str(event.uid), purpose="audit")
    return audit_event(event, _accounts(actor, [event]))


def _cursor(sr: SearchRequest) -> int | None:
    if not sr.cursor:
        return None
    if not sr.cursor.isdigit() or len(sr.cursor) > 18:
        raise InvalidRequest(errors={"_cursor": [str(_("Use the next link as given."))]})
    return int(sr.cursor)


def search_audit_event(actor: Actor, sr: SearchRequest) -> SearchResult:
    """Newest first, paged by key (the log grows while it is read, not least by this search)."""
    _authorise(actor)
    qs = sr.apply(visible_audit(actor)).order_by("-seq")
    before = _cursor(sr)
    page_qs = qs.filter(seq__lt=before) if before is not None else qs
    rows, total, has_next = paginate(page_qs, sr, total_default="none", whole=qs if before is not None else None)
    record(actor, "audit.search", Verb.SEARCH, object_type="audit.auditevent", purpose="audit",
           detail={"filters": sr.summary(), "offset": sr.offset, "results": len(rows)})
    accounts = _accounts(actor, rows)
    return SearchResult([audit_event(e, accounts) for e in rows], total, has_next,
                        next_cursor=str(rows[-1].seq) if has_next and rows else None)


register("AuditEvent", _("The audit log, newest first: audit administrators see all of it, coordinators the "
                         "events of their consortia's clinicians, a patient the events about themselves. "
                         "Paged by the opaque _cursor of the next link; the total is given only with _total=accurate (or "
                         "when one page holds everything)."), [
    id_param(field_name="uid"),
    reference_param("patient", "patient_id", ["Patient"], _("The patient the event concerns.")),
    date_param("date", "at", _("When the event was recorded, with prefixes eq, ne, gt, lt, ge, le.")),
    Param("agent", "reference", _("Who acted: Practitioner/<id>, Patient/<id>, or an account id."), _agent),
    Param("entity", "reference", _("The object: Type/<id> (Patient also matches every event about that "
                                   "patient) or a bare id."), _entity),
    Param("action", "token", _("C, R, U, D or E."), _action),
    Param("subtype", "token", _("The MedUnion action (audit-action code system, e.g. patient.read) or a "
                                "RESTful interaction (read, search-type, create, update, delete)."), _subtype),
    Param("outcome", "token", _("0 success, 4 refused, 8 failed."), _outcome),
], read_audit_event, search_audit_event, keyset=True)
