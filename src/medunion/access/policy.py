"""THE access policy (DESIGN §4.2): deny by default, roles plus relationships.

- ``can(actor, action, obj)`` answers yes or no; ``require`` raises ``NotFound`` when the
  actor may not even see the object, ``PermissionDenied`` when they may see it but not do this.
- ``visible_*`` return scoped querysets; ``access_*`` load one object and authorise it.
- The only unscoped reads are through :func:`system_actor` actors, which are easy to grep.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any

from django.db.models import Q, QuerySet

from medunion.core import clock
from medunion.core.errors import NotFound, PermissionDenied

from .actor import Actor

CLINICAL_ROLES = {"practitioner"}
NETWORK_ROLES = {"practitioner", "coordinator", "commission", "secadmin"}


class Action(enum.StrEnum):
    VIEW_NETWORK = "network.view"
    MANAGE_NETWORK = "network.manage"
    IMPORT_PRACTITIONERS = "network.import"
    SEARCH_PATIENTS = "patient.search"
    REGISTER_PATIENT = "patient.register"
    VIEW_PATIENT = "patient.view"
    UPDATE_PATIENT = "patient.update"
    MANAGE_CARE_TEAM = "patient.care_team"
    MANAGE_CONSENT = "patient.consent"
    MANAGE_QR = "patient.qr"
    VIEW_ACCESS_LOG = "patient.access_log"
    BREAK_GLASS = "patient.break_glass"
    REVIEW_BREAK_GLASS = "access.review_break_glass"
    SEARCH_AUDIT = "audit.search"
    EXPORT_AUDIT = "audit.export"
    MANAGE_ACCOUNTS = "accounts.manage"
    MANAGE_SETTINGS = "settings.manage"
    TRANSFER_PATIENTS = "privilege.transfer_patients"
    VIEW_FIGURES = "figures.view"


# --- region prefixes: a 12-digit division code's significant digits per level --------------
_LEVEL_DIGITS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}


def region_prefix(code: str) -> str:
    code = code.rstrip("0") or code
    for digits in sorted(_LEVEL_DIGITS.values()):
        if len(code) <= digits:
            return code.ljust(digits, "0")[:digits]
    return code


# --- scoped querysets -----------------------------------------------------------------------

def visible_patients(actor: Actor) -> QuerySet[Any]:
    from medunion.access.models import BreakGlassGrant
    from medunion.patients.models import CareTeamMember, Patient

    if actor.system:
        return Patient.objects.all()
    if actor.is_patient:
        return Patient.objects.filter(pk=actor.patient_id)  # type: ignore[misc]  # is_patient: set
    if not actor.is_practitioner:
        return Patient.objects.none()
    now = clock.now()
    live = Q(until__isnull=True) | Q(until__gt=now)
    care = CareTeamMember.objects.filter(live).filter(
        Q(practitioner_id=actor.practitioner_id) | Q(team_id__in=list(actor.team_ids))
    ).values("patient_id")
    glass = BreakGlassGrant.objects.filter(user_id=actor.user_id,  # type: ignore[misc]  # a clinician
                                           expires_at__gt=now).values("patient_id")
    return Patient.objects.filter(
        Q(registered_at_id__in=list(actor.org_ids)) | Q(pk__in=care) | Q(pk__in=glass)
    )


def relationship_to(actor: Actor, patient_id: uuid.UUID) -> str | None:
    """Why this actor may see this patient, or None. Break-the-glass is reported as such."""
    from medunion.access.models import BreakGlassGrant
    from medunion.patients.models import CareTeamMember, Patient

    if actor.system:
        return "system"
    if actor.is_patient:
        return "self" if actor.patient_id == patient_id else None
    if not actor.is_practitioner:
        return None
    now = clock.now()
    live = Q(until__isnull=True) | Q(until__gt=now)
    if CareTeamMember.objects.filter(live, patient_id=patient_id).filter(
            Q(practitioner_id=actor.practitioner_id) | Q(team_id__in=list(actor.team_ids))).exists():
        return "care_team"
    if Patient.objects.filter(pk=patient_id, registered_at_id__in=list(actor.org_ids)).exists():
        return "same_organisation"
    if BreakGlassGrant.objects.filter(user_id=actor.user_id,  # type: ignore[misc]  # a clinician
                                      patient_id=patient_id, expires_at__gt=now).exists():
        return "break_glass"
    return None


def visible_organisations(actor: Actor) -> QuerySet[Any]:
    from medunion.network.models import Organisation

    if actor.system or actor.role == "secadmin":
        return Organisation.objects.all()
    if actor.role == "commission" and actor.region_code:
        return Organisation.objects.filter(region__code__startswith=region_prefix(actor.region_code))
    consortia = _network_consortia(actor)
    if not consortia:
        return Organisation.objects.none()
    return Organisation.objects.filter(
        pk__in=Organisation.objects.filter(memberships__consortium_id__in=consortia).values("pk"))


def visible_consortia(actor: Actor) -> QuerySet[Any]:
    from medunion.network.models import Consortium

    if actor.system or actor.role == "secadmin":
        return Consortium.objects.all()
    if actor.role == "commission" and actor.region_code:
        return Consortium.objects.filter(lead__region__code__startswith=region_prefix(actor.region_code))
    return Consortium.objects.filter(pk__in=list(_network_consortia(actor)))


def visible_practitioners(actor: Actor) -> QuerySet[Any]:
    from medunion.network.models import Practitioner

    orgs = visible_organisations(actor)
    if actor.system or actor.role == "secadmin":
        return Practitioner.objects.all()
    return Practitioner.objects.filter(pk__in=Practitioner.objects.filter(
        sites__organisation__in=orgs.values("pk")).values("pk"))


def visible_teams(actor: Actor) -> QuerySet[Any]:
    from medunion.network.models import Team

    if actor.system or actor.role == "secadmin":
        return Team.objects.all()
    if actor.role == "commission":
        return Team.objects.filter(consortium__in=visible_consortia(actor).values("pk"))
    return Team.objects.filter(consortium_id__in=list(_network_consortia(actor)))


def visible_audit(actor: Actor) -> QuerySet[Any]:
    """Audit administrators read the whole log; a coordinator the events of their consortia's
    clinicians; a patient the events about themselves."""
    from medunion.accounts.models import User
    from medunion.audit.models import AuditEvent

    if actor.system or actor.role == "auditadmin":
        return AuditEvent.objects.all()
    if actor.is_patient:
        return AuditEvent.objects.filter(patient_id=actor.patient_id)
    if actor.is_coordinator and actor.coordinated_ids:
        clinicians = User.objects.filter(
            practitioner__sites__organisation__memberships__consortium_id__in=list(actor.coordinated_ids)
        ).values("pk")
        return AuditEvent.objects.filter(actor_id__in=clinicians)
    return AuditEvent.objects.none()


def _network_consortia(actor: Actor) -> frozenset[uuid.UUID]:
    if actor.is_practitioner:
        return actor.consortium_ids
    if actor.is_coordinator:
        return actor.coordinated_ids
    return frozenset()


# --- decisions --------------------------------------------------------------------------------

def can(actor: Actor, action: Action, obj: Any = None) -> bool:
    if actor.system:
        return True
    rule = _RULES.get(action)
    return bool(rule and rule(actor, obj))


def require(actor: Actor, action: Action, obj: Any = None, *, visible: bool = True) -> None:
    """Raise unless allowed. ``visible=False`` (the actor cannot see ``obj``) raises NotFound.

    A role that may never use an area at all (a patient on the audit log, an administrator on
    patient search) is answered like a missing page: call with ``visible=False``. An object the
    actor may see but not change answers 403."""
    if can(actor, action, obj):
        return
    raise PermissionDenied() if visible else NotFound()


def _manages_consortium(actor: Actor, consortium_id: uuid.UUID | None) -> bool:
    return actor.is_coordinator and consortium_id in actor.coordinated_ids


def _manages_org(actor: Actor, org: Any) -> bool:
    if not actor.is_coordinator or org is None:
        return False
    from medunion.network.models import ConsortiumMembership

    org_id = getattr(org, "pk", org)
    return ConsortiumMembership.objects.filter(organisation_id=org_id,
                                               consortium_id__in=list(actor.coordinated_ids)).exists()


def _manage_network(actor: Actor, obj: Any) -> bool:
    if not actor.is_coordinator:
        return False
    if obj is None:
        return bool(actor.coordinated_ids)
    from medunion.network import models as n

    if isinstance(obj, n.Consortium):
        return _manages_consortium(actor, obj.pk)
    if isinstance(obj, n.Organisation):
        return _manages_org(actor, obj)
    if isinstance(obj, n.Department):
        return _manages_org(actor, obj.organisation_id)
    if isinstance(obj, n.Team):
        return _manages_consortium(actor, obj.consortium_id)
    if isinstance(obj, (n.Training, n.ExamResult)):
        return _manages_consortium(actor, obj.consortium_id)
    if isinstance(obj, n.Practitioner):
        return visible_practitioners(actor).filter(pk=obj.pk).exists()
    return False


def _view_patient(actor: Actor, patient: Any) -> bool:
    return patient is not None and relationship_to(actor, patient.pk) is not None


def _clinical_on_patient(actor: Actor, patient: Any) -> bool:
    return actor.is_practitioner and _view_patient(actor, patient)


def _lasting_relationship(actor: Actor, patient: Any) -> bool:
    """Changing who looks after a patient grants lasting access to the record, so it needs a
    lasting relationship: break-the-glass (time-limited, for an emergency) is not enough."""
    return (actor.is_practitioner and patient is not None
            and relationship_to(actor, patient.pk) in ("care_team", "same_organisation"))


def _qr(actor: Actor, patient: Any) -> bool:
    return patient is not None and (
        (actor.is_patient and actor.patient_id == patient.pk) or _clinical_on_patient(actor, patient))


def _review_break_glass(actor: Actor, grant: Any) -> bool:
    if not actor.is_coordinator:
        return False
    if grant is None:
        return bool(actor.coordinated_ids)
    return visible_audit(actor).filter(actor_id=grant.user_id).exists() or \
        _user_in_coordinated(actor, grant.user_id)


def _user_in_coordinated(actor: Actor, user_id: uuid.UUID) -> bool:
    from medunion.accounts.models import User

    return User.objects.filter(
        pk=user_id,
        practitioner__sites__organisation__memberships__consortium_id__in=list(actor.coordinated_ids)).exists()


def _transfer(actor: Actor, consortium: Any) -> bool:
    if not actor.is_practitioner or consortium is None:
        return False
    from medunion.network.queries import privilege_status

    return privilege_status(actor.practitioner_id, getattr(consortium, "pk", consortium),
                            "transfer_patients").granted


_RULES: dict[Action, Any] = {
    Action.VIEW_NETWORK: lambda a, o: a.role in NETWORK_ROLES,
    Action.MANAGE_NETWORK: _manage_network,
    Action.IMPORT_PRACTITIONERS: lambda a, o: _manage_network(a, o),
    # Clinicians find the patients they may see; a patient finds only themselves.
    Action.SEARCH_PATIENTS: lambda a, o: a.is_practitioner or a.is_patient,
    Action.REGISTER_PATIENT: lambda a, o: a.is_practitioner and (o is None or getattr(o, "pk", o) in a.org_ids),
    Action.VIEW_PATIENT: _view_patient,
    Action.UPDATE_PATIENT: _clinical_on_patient,
    Action.MANAGE_CARE_TEAM: _lasting_relationship,
    Action.MANAGE_CONSENT: _clinical_on_patient,
    Action.MANAGE_QR: _qr,
    Action.VIEW_ACCESS_LOG: lambda a, p: p is not None and a.is_patient and a.patient_id == p.pk,
    Action.BREAK_GLASS: lambda a, o: a.is_practitioner,
    Action.REVIEW_BREAK_GLASS: _review_break_glass,
    Action.SEARCH_AUDIT: lambda a, o: a.role == "auditadmin" or (a.is_coordinator and bool(a.coordinated_ids)),
    Action.EXPORT_AUDIT: lambda a, o: a.role == "auditadmin",
    Action.MANAGE_ACCOUNTS: lambda a, o: a.role == "secadmin",
    Action.MANAGE_SETTINGS: lambda a, o: a.role == "sysadmin",
    Action.TRANSFER_PATIENTS: _transfer,
    Action.VIEW_FIGURES: lambda a, o: a.role in {"commission", "coordinator"},
}
