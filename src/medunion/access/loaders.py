"""``access_*`` loaders: load one object and authorise it in one step; 404 when not visible.

Reads of patient data are audited here, once per request and object.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError

from medunion.audit.actions import record
from medunion.audit.models import Outcome, Verb
from medunion.core.errors import NotFound, PermissionDenied
from medunion.core.planner import joins_as_written
from medunion.core.statements import Statement

from .actor import Actor
from .policy import (
    Action,
    can,
    clinician_relationship,
    clinician_terms,
    consult_roles,
    relationship_in_the_data,
    relationship_to,
    require,
    visible_organisations,
    visible_practitioners,
    visible_teams,
)


def parse_uuid(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError, ValidationError) as exc:
        raise NotFound() from exc


def _patient(pk: uuid.UUID) -> Any:
    from medunion.patients.models import Patient

    return Patient.objects.select_related("region", "registered_at").filter(pk=pk)  # no ORDER BY: by key


def _patient_for_clinician(pk: uuid.UUID, *terms: Any) -> Any:
    return _patient(pk).annotate(actor_relationship=clinician_relationship(*terms))


# Every read of a patient (core.statements); a clinician's carries their relationship to it, so
# the read asks the database once for both.
_PATIENT = Statement(_patient)
_PATIENT_FOR_CLINICIAN = Statement(_patient_for_clinician)


def access_patient(actor: Actor, patient_id: Any, action: Action = Action.VIEW_PATIENT, *,
                   audit: bool = True, audit_action: str = "patient.read") -> Any:
    from medunion.patients.models import Patient

    pid = parse_uuid(patient_id)
    in_the_data = relationship_in_the_data(actor)
    if in_the_data:
        patient = _PATIENT_FOR_CLINICIAN.first(pid, *clinician_terms(actor))
        relation = patient.actor_relationship if patient is not None else None
    else:
        relation = relationship_to(actor, pid)
        patient = _PATIENT.first(pid) if relation else None
    if relation is None:
        if audit and actor.user_id is not None and (
                patient is not None or (not in_the_data and Patient.objects.filter(pk=pid).exists())):
            # A refused look at a real patient is itself worth recording.
            record(actor, audit_action, Verb.READ, object_type="patients.patient", object_id=str(pid),
                   patient_id=pid, outcome=Outcome.DENIED)
        raise NotFound()
    try:
        # Viewing is the relationship found above (policy._view_patient): not asked twice.
        if action is not Action.VIEW_PATIENT:
            require(actor, action, patient)
    except PermissionDenied:
        if audit:  # may see the patient, may not do this: the refusal is recorded too
            record(actor, audit_action, Verb.READ, obj=patient, patient_id=patient.pk, outcome=Outcome.DENIED,
                   detail={"relationship": relation, "action": str(action)})
        raise
    if audit:
        record(actor, audit_action, Verb.READ, obj=patient, patient_id=patient.pk,
               purpose="break_glass" if relation == "break_glass" else "",
               detail={"relationship": relation} if relation else {})
    return patient


def _load(qs: Any, pk: Any) -> Any:
    obj = qs.filter(pk=parse_uuid(pk)).first()
    if obj is None:
        raise NotFound()
    return obj


def access_organisation(actor: Actor, org_id: Any, action: Action = Action.VIEW_NETWORK) -> Any:
    org = _load(visible_organisations(actor).select_related("region", "parent"), org_id)
    require(actor, action, org)
    return org


def access_practitioner(actor: Actor, practitioner_id: Any, action: Action = Action.VIEW_NETWORK) -> Any:
    p = _load(visible_practitioners(actor), practitioner_id)
    require(actor, action, p)
    return p


def access_team(actor: Actor, team_id: Any, action: Action = Action.VIEW_NETWORK) -> Any:
    t = _load(visible_teams(actor).select_related("consortium", "organisation"), team_id)
    require(actor, action, t)
    return t


CONSULT_RELATED = ("patient", "consortium", "asker", "asker_organisation", "assignee", "target_practitioner",
                   "target_team")


def _consult(pk: uuid.UUID) -> Any:
    from medunion.consults.models import Consult

    return joins_as_written(Consult.objects.select_related(*CONSULT_RELATED)).filter(pk=pk)  # by key


# Every view of a case and every step on one loads it with its seven related rows: compiling that
# was a twentieth of a case page (core.statements).
_CONSULT = Statement(_consult)


def access_consult(actor: Actor, consult_id: Any, action: Action = Action.VIEW_CONSULT, *, audit: bool = True,
                   audit_action: str = "consult.read") -> Any:
    """Load a consult the actor may see (else 404) and, with ``audit``, record the read: one row,
    with the patient. A refused look at a real case is recorded as denied."""
    consult = _CONSULT.first(parse_uuid(consult_id))
    if consult is None or not can(actor, Action.VIEW_CONSULT, consult):
        if audit and consult is not None and actor.user_id is not None:
            record(actor, audit_action, Verb.READ, obj=consult, patient_id=consult.patient_id,
                   outcome=Outcome.DENIED)
        raise NotFound()
    require(actor, action, consult)
    if audit:
        record(actor, audit_action, Verb.READ, obj=consult, patient_id=consult.patient_id,
               detail={"roles": sorted(consult_roles(actor, consult))})
    return consult
