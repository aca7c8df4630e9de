"""Read and search of teleconsultation: ServiceRequest, Task, Communication — within
``visible_consults(actor)``, and every resource served is an audited read of patient data.

What a patient is served, by ALLOWLIST (the domain's: ``consults.models.PATIENT_AUDIENCES``):

- Communication: the current versions of the messages of the patient conversation of their own
  cases — never a clinician-only message, never a clinician attachment;
- Task: the state of their own cases (no clinical content);
- ServiceRequest: nothing — it carries the clinical question, which is written for clinicians
  (the area answers 404 for a patient, as it does for every role but clinicians).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import CONSULT_RELATED, access_consult, parse_uuid
from medunion.access.policy import Action, visible_consults
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.consults.models import (
    CLINICIAN_AUDIENCES,
    PATIENT_AUDIENCES,
    ConsultAttachment,
    ConsultMessage,
    MessageKind,
    TargetKind,
)
from medunion.consults.states import State
from medunion.core.errors import NotFound
from medunion.core.planner import joins_as_written

from ..mappers import consults as m
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
    token_codes,
)
from .patients import audit_served

# --- shared -----------------------------------------------------------------------------------------


def _typed_refs(values: list[str]) -> list[tuple[str | None, uuid.UUID]]:
    """``Type/id``, a URL ending in it, or a bare id (type None); ids that are not UUIDs are dropped."""
    out = []
    for v in values:
        parts = v.rstrip("/").split("/")
        uid = as_uuid(parts[-1])
        if uid is not None:
            out.append((parts[-2] if len(parts) >= 2 else None, uid))
    return out


def _codes(values: list[str], system: str, table: dict[Any, str]) -> set[str]:
    """The domain values whose FHIR code (``table``) was asked for."""
    wanted = set(token_codes(values, system))
    return {str(k) for k, code in table.items() if code in wanted}


def _consults(actor: Actor) -> QuerySet[Any]:
    return joins_as_written(visible_consults(actor).select_related(*CONSULT_RELATED)).order_by(
        "-created_at", "-id")


def _priority(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    urgencies = _codes(values, "http://hl7.org/fhir/request-priority", m.PRIORITY)
    return qs.filter(urgency__in=urgencies) if urgencies else qs.none()


def _patients(field_name: str) -> Param:
    return reference_param("patient", field_name, ["Patient"], _("The patient the case is about."))


# --- ServiceRequest ----------------------------------------------------------------------------------

def _sr_status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    states = _codes(values, "http://hl7.org/fhir/request-status", m.SERVICE_REQUEST_STATUS)
    return qs.filter(state__in=states) if states else qs.none()


def _category(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    found = token_codes(values, m.CS_SERVICE_CATEGORY)
    return qs if m.CONSULTATION in found else qs.none()


def _performer(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    where = []
    for kind, uid in _typed_refs(values):
        if kind in (None, "Practitioner"):
            where.append(Q(target_kind=TargetKind.PRACTITIONER, target_practitioner_id=uid))
        if kind in (None, "CareTeam"):
            where.append(Q(target_kind=TargetKind.TEAM, target_team_id=uid))
        if kind in (None, "Organization"):
            where.append(Q(target_kind=TargetKind.POOL, consortium_id=uid))
    return any_of(qs, where)


SERVICE_REQUEST_PARAMS = [
    id_param(),
    _patients("patient_id"),
    reference_param("subject", "patient_id", ["Patient"], _("Same as patient.")),
    reference_param("requester", "asker_id", ["Practitioner"], _("The clinician who asked.")),
    Param("performer", "reference", _("The target: Practitioner (a named specialist), CareTeam (a team) or "
                                      "Organization (the consortium's specialty pool)."), _performer),
    Param("status", "token", _("active, on-hold, completed or revoked."), _sr_status),
    Param("priority", "token", _("routine, urgent or stat (emergency)."), _priority),
    date_param("authored", "created_at", _("When the case was sent.")),
    Param("category", "token", _("consultation (service-category code system)."), _category),
]


def read_service_request(actor: Actor, rid: str) -> dict[str, Any]:
    if not actor.is_practitioner and not actor.system:
        raise NotFound()  # the clinical question is written for clinicians
    consult = access_consult(actor, rid, audit_action="consult.service_request.read")
    return m.service_request(consult)


# ServiceRequest and Task are registered by handlers.referrals, which serves teleconsultations and
# referrals as one type each (searching both, reading either by id).


# --- Task ---------------------------------------------------------------------------------------------

def _task_status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    states = _codes(values, "http://hl7.org/fhir/task-status", m.TASK_STATUS)
    return qs.filter(state__in=states) if states else qs.none()


def _business_status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    states = [c for c in token_codes(values, m.CS_CONSULT_STATE) if c in State.values]
    return qs.filter(state__in=states) if states else qs.none()


TASK_PARAMS = [
    id_param(_("The task's id: the consultation's id.")),
    _patients("patient_id"),
    reference_param("focus", "pk", ["ServiceRequest"], _("The consultation (ServiceRequest).")),
    reference_param("owner", "assignee_id", ["Practitioner"], _("The specialist working on the case.")),
    reference_param("requester", "asker_id", ["Practitioner"], _("The clinician who asked.")),
    Param("status", "token", _("requested, in-progress, on-hold, completed or cancelled."), _task_status),
    Param("business-status", "token", _("The consultation's state (consult-state code system): requested, "
                                        "in_progress, on_hold, answered, completed, cancelled."), _business_status),
    Param("priority", "token", _("routine, urgent or stat (emergency)."), _priority),
    date_param("authored-on", "created_at", _("When the case was sent.")),
]


def read_task(actor: Actor, rid: str) -> dict[str, Any]:
    consult = access_consult(actor, rid, audit_action="consult.task.read")
    return m.task(consult, for_patient=not actor.is_practitioner and not actor.system)


# --- Communication -------------------------------------------------------------------------------------

def audiences(actor: Actor) -> tuple[str, ...]:
    """The allowlist: clinicians (and the platform) read both conversations; anyone else — a
    patient — the patient conversation only."""
    return CLINICIAN_AUDIENCES if actor.is_practitioner or actor.system else PATIENT_AUDIENCES


def _messages(actor: Actor) -> QuerySet[Any]:
    allow = audiences(actor)
    qs = (ConsultMessage.objects.filter(consult_id__in=visible_consults(actor).values("pk"), audience__in=allow)
          .annotate(is_superseded=Exists(ConsultMessage.objects.filter(supersedes=OuterRef("pk"))))
          .select_related("author")
          .prefetch_related(Prefetch("attachments", queryset=ConsultAttachment.objects.filter(audience__in=allow)
                                     .select_related("file").order_by("created_at"))))
    if allow == PATIENT_AUDIENCES:
        qs = qs.filter(is_superseded=False)  # a patient sees the current version of a corrected message
    return qs.order_by("created_at", "id")


def _comm_status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    wanted = set(token_codes(values, "http://hl7.org/fhir/event-status"))
    return any_of(qs, [q for code, q in (("completed", Q(is_superseded=False)),
                                         ("entered-in-error", Q(is_superseded=True))) if code in wanted])


def _kind(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    kinds = [c for c in token_codes(values, m.CS_MESSAGE_KIND) if c in MessageKind.values]
    return qs.filter(kind__in=kinds) if kinds else qs.none()


def _sender(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    where = []
    for kind, uid in _typed_refs(values):
        if kind in (None, "Practitioner"):
            where.append(Q(author_practitioner_id=uid))
        if kind in (None, "Patient"):
            where.append(Q(author_practitioner_id__isnull=True, author__patient_id=uid))
    return any_of(qs, where)


COMMUNICATION_PARAMS = [
    id_param(),
    reference_param("based-on", "consult_id", ["ServiceRequest"], _("The consultation (ServiceRequest).")),
    _patients("patient_id"),
    reference_param("subject", "patient_id", ["Patient"], _("Same as patient.")),
    Param("sender", "reference", _("Who wrote it: a Practitioner, or the Patient."), _sender),
    date_param("sent", "created_at", _("When it was written.")),
    Param("category", "token", _("The kind (message-kind code system): message, info_request, info_reply, opinion, "
                                 "system."), _kind),
    Param("status", "token", _("completed, or entered-in-error for a version replaced by a correction."),
          _comm_status),
]


def read_communication(actor: Actor, rid: str) -> dict[str, Any]:
    message = _messages(actor).filter(pk=parse_uuid(rid)).first()
    if message is None:
        raise NotFound()
    access_consult(actor, message.consult_id, audit=False)  # the case itself must be visible (404)
    record(actor, "consult.communication.read", Verb.READ, obj=message, patient_id=message.patient_id,
           detail={"consult": str(message.consult_id), "audience": message.audience})
    return m.communication(message, superseded=message.is_superseded)


def search_communication(actor: Actor, sr: SearchRequest) -> SearchResult:
    rows, total, has_next = paginate(sr.apply(_messages(actor)), sr)
    audit_served(actor, "consult.communication.search", "consults.consultmessage",
                 [(x.pk, x.patient_id) for x in rows], sr)
    return SearchResult([m.communication(x, superseded=x.is_superseded) for x in rows], total, has_next)


register("Communication", _("The messages of the teleconsultations the actor may see, with their audience as a "
                            "security label (clinician-only messages: confidentiality R). A patient is served the "
                            "patient conversation only. Every message served is recorded in the audit log."),
         COMMUNICATION_PARAMS, read_communication, search_communication, areas=(Action.SEARCH_PATIENTS,),
         patient_data=True)

