"""The access policy for remote diagnosis (issue 5), part of THE policy (``access.policy``
registers these rules in its table).

Who sees an examination while it is worked on: the requesting clinician and the clinicians of
the requesting organisation; the readers of the hub it is routed to (clinicians practising at
the hub whose specialty reads the modality); the patient's care team. Once its report is signed
it is recognised region-wide: any clinician of the examination's consortium who may see the
patient (care team, registered at their organisation, break-the-glass) sees the report and its
images. The patient sees their own signed reports (``diagnostics.queries`` selects them).
Coordinators and commission viewers see turnaround figures, not examinations. Everyone else:
nothing (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from .actor import Actor, remembered
from .policy import (
    Action,
    coordinates,
    in_care_team,
    live_care_patients,
    practitioner_specialties,
    relationship_to,
    sees_figures,
)


@dataclass(frozen=True)
class ExaminationStep:
    """The object of Action.TRANSITION_EXAMINATION: this examination, this event."""

    examination: Any
    event: str


def reader_modalities(actor: Actor) -> frozenset[str]:
    """The modalities this clinician's specialties read."""
    from medunion.diagnostics.codes import modalities_read_by

    if not actor.is_practitioner:
        return frozenset()
    return frozenset(modalities_read_by(practitioner_specialties(actor)))


def worklist_q(actor: Actor, modalities: frozenset[str] | None = None) -> Q | None:
    """Examinations routed to a hub this clinician reads at, for a modality they read."""
    if not actor.is_practitioner or not actor.org_ids:
        return None
    mods = reader_modalities(actor) if modalities is None else modalities
    if not mods:
        return None
    return Q(hub_id__in=list(actor.org_ids), modality__in=list(mods))


def visible_examinations(actor: Actor) -> QuerySet[Any]:
    """Examinations the actor may see (clinicians). Patients see their reports through
    ``diagnostics.queries.patient_reports``, never the working examination."""
    from medunion.access.models import BreakGlassGrant
    from medunion.core import clock
    from medunion.diagnostics.models import Examination
    from medunion.diagnostics.states import State
    from medunion.patients.models import Patient

    if actor.system:
        return Examination.objects.all()
    me = actor.practitioner_id
    if not actor.is_practitioner or me is None:
        return Examination.objects.none()
    orgs = list(actor.org_ids)
    q = Q(requester_id=me) | Q(requesting_organisation_id__in=orgs) | Q(reader_id=me)
    reading = worklist_q(actor)
    if reading is not None:
        q |= reading & ~Q(state=State.DRAFT)
    q |= Q(patient_id__in=live_care_patients(actor))
    # Region-wide recognition: a signed report, for the consortium's clinicians who may see the patient.
    treating = Q(patient_id__in=Patient.objects.filter(registered_at_id__in=orgs).values("pk")) | Q(
        patient_id__in=BreakGlassGrant.objects.filter(user_id=actor.user_id,  # type: ignore[misc]  # a clinician
                                                      expires_at__gt=clock.now())
        .values("patient_id"))
    q |= Q(state=State.REPORTED, consortium_id__in=list(actor.consortium_ids)) & treating
    return Examination.objects.filter(q)


def visible_reports(actor: Actor) -> QuerySet[Any]:
    """Reported examinations whose signed report the actor may read: a patient their own;
    clinicians what ``visible_examinations`` gives them."""
    from medunion.diagnostics.models import Examination
    from medunion.diagnostics.states import State

    if actor.is_patient:
        return Examination.objects.filter(patient_id=actor.patient_id,  # type: ignore[misc]  # is_patient
                                          state=State.REPORTED)
    return visible_examinations(actor).filter(state=State.REPORTED)


def holds_senior_title(actor: Actor) -> bool:
    """An associate chief or chief physician: the readers who give second reads."""
    from medunion.diagnostics.states import SENIOR_TITLES
    from medunion.network.models import Practitioner

    return actor.practitioner_id is not None and remembered(actor, "senior", Practitioner.objects.filter(
        pk=actor.practitioner_id, title__in=list(SENIOR_TITLES)).exists)


def examination_roles(actor: Actor, exam: Any) -> frozenset[str]:
    """The actor's roles on this examination (diagnostics.states.Role), cached on the instance."""
    from medunion.diagnostics.states import Role

    cache = exam.__dict__.setdefault("_roles_cache", {})
    key = (actor.user_id, actor.role, actor.practitioner_id, actor.patient_id, actor.org_ids, actor.team_ids)
    if key in cache:
        return cache[key]
    roles: set[str] = set()
    if actor.is_patient:
        if exam.patient_id == actor.patient_id:
            roles.add(Role.PATIENT)
    elif actor.is_practitioner and actor.practitioner_id is not None:
        me = actor.practitioner_id
        if exam.requester_id == me:
            roles.add(Role.REQUESTER)
        if exam.requesting_organisation_id in actor.org_ids:
            roles.add(Role.REQUESTING)
        if exam.hub_id in actor.org_ids and exam.modality in reader_modalities(actor):
            roles.add(Role.HUB_READER)
            if holds_senior_title(actor):
                roles.add(Role.SENIOR_READER)
        if exam.reader_id == me:
            roles.add(Role.READER)
        if in_care_team(actor, exam.patient_id):
            roles.add(Role.CARE_TEAM)
        if exam.consortium_id in actor.consortium_ids and relationship_to(actor, exam.patient_id) is not None:
            roles.add(Role.TREATING)
    result = frozenset(roles)
    cache[key] = result
    return result


def _view(actor: Actor, exam: Any) -> bool:
    from medunion.diagnostics.states import Role, State, visible_by_roles

    if exam is None:
        return False
    roles = examination_roles(actor, exam)
    if Role.PATIENT in roles:
        return exam.state == State.REPORTED
    return visible_by_roles(exam.state, roles)


def _step(actor: Actor, step: Any) -> bool:
    from medunion.diagnostics.states import TRANSITIONS, Event

    return isinstance(step, ExaminationStep) and bool(
        TRANSITIONS[Event(step.event)].roles & examination_roles(actor, step.examination))


def _act(act: str) -> Any:
    """The act's rule (``states.ACTS``): one of its roles, in one of its states."""
    def rule(actor: Actor, exam: Any) -> bool:
        from medunion.diagnostics.states import ACTS, Act

        allowed = ACTS[Act(act)]
        return exam is not None and exam.state in allowed.states and bool(
            allowed.roles & examination_roles(actor, exam))
    return rule


RULES: dict[Action, Any] = {
    Action.CREATE_EXAMINATION: lambda a, o: a.is_practitioner and (
        o is None or getattr(o, "pk", o) in a.consortium_ids),
    Action.VIEW_EXAMINATION: _view,
    Action.TRANSITION_EXAMINATION: _step,
    Action.UPLOAD_EXAMINATION: _act("upload"),
    Action.WRITE_REPORT: _act("write_draft"),
    Action.ADD_ADDENDUM: _act("addendum"),
    Action.AMEND_REPORT: _act("amend"),
    Action.SECOND_READ: _act("second_read"),
    Action.ACKNOWLEDGE_CRITICAL: _act("acknowledge"),
    Action.VIEW_READING_WORKLIST: lambda a, o: worklist_q(a) is not None,
    Action.VIEW_DIAGNOSTIC_FIGURES: sees_figures,
    Action.MANAGE_READING_ROUTES: coordinates,
}
