"""THE access policy (DESIGN §4.2): deny by default, roles plus relationships.

- ``can(actor, action, obj)`` answers yes or no; ``require`` raises ``NotFound`` when the
  actor may not even see the object, ``PermissionDenied`` when they may see it but not do this.
- ``visible_*`` return scoped querysets; ``access_*`` load one object and authorise it.
- The only unscoped reads are through :func:`system_actor` actors, which are easy to grep.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Value, When

from medunion.core import clock
from medunion.core.errors import NotFound, PermissionDenied
from medunion.core.statements import Statement

from .actor import Actor, remembered

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
    # Teleconsultation (issue 3). Who may do which step of a case is the transition table's
    # business (consults/states.py); these rules read it with the actor's roles on the consult.
    CREATE_CONSULT = "consult.create"
    VIEW_CONSULT = "consult.view"
    TRANSITION_CONSULT = "consult.transition"  # obj: ConsultStep(consult, event)
    WRITE_CLINICIAN_MESSAGE = "consult.message.clinicians"
    WRITE_PATIENT_MESSAGE = "consult.message.patient"
    INVITE_TO_CONSULT = "consult.invite"
    GIVE_CONSULT_OPINION = "consult.opinion"
    VIEW_CONSULT_FIGURES = "consult.figures"
    # Tiered referral (issue 4): the rules are in access/referrals.py.
    CREATE_REFERRAL = "referral.create"
    VIEW_REFERRAL = "referral.view"
    TRANSITION_REFERRAL = "referral.transition"  # obj: ReferralStep(referral, event)
    WRITE_REFERRAL_NOTE = "referral.note"
    WRITE_REFERRAL_CLINICIAN_MESSAGE = "referral.message.clinicians"
    WRITE_REFERRAL_PATIENT_MESSAGE = "referral.message.patient"
    COMPLETE_FOLLOW_UP = "referral.follow_up"
    VIEW_REFERRAL_FIGURES = "referral.figures"
    # Remote diagnosis (issue 5): the rules are in access/diagnostics.py.
    CREATE_EXAMINATION = "examination.create"
    VIEW_EXAMINATION = "examination.view"
    TRANSITION_EXAMINATION = "examination.transition"  # obj: ExaminationStep(examination, event)
    UPLOAD_EXAMINATION = "examination.upload"
    WRITE_REPORT = "examination.report.write"
    ADD_ADDENDUM = "examination.report.addendum"
    AMEND_REPORT = "examination.report.amend"
    SECOND_READ = "examination.report.second_read"
    ACKNOWLEDGE_CRITICAL = "examination.critical.acknowledge"
    VIEW_READING_WORKLIST = "examination.worklist"
    VIEW_DIAGNOSTIC_FIGURES = "examination.figures"
    MANAGE_READING_ROUTES = "examination.routes"


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
    from medunion.patients.models import Patient

    if actor.system:
        return Patient.objects.all()
    if actor.is_patient:
        return Patient.objects.filter(pk=actor.patient_id)  # type: ignore[misc]  # is_patient: set
    if not actor.is_practitioner:
        return Patient.objects.none()
    return clinician_patients(*clinician_terms(actor))


def clinician_terms(actor: Actor) -> tuple[Any, ...]:
    """What a clinician's patients depend on, as plain values (for a core.statements Statement)."""
    return actor.practitioner_id, list(actor.team_ids), list(actor.org_ids), actor.user_id, clock.now()


def clinician_patients(practitioner_id: uuid.UUID, team_ids: list[uuid.UUID], org_ids: list[uuid.UUID],
                       user_id: uuid.UUID, now: Any) -> QuerySet[Any]:
    """The patients a clinician may see: registered at one of their organisations, in their care
    team (in person or through a team), or opened by their unexpired break-the-glass grant."""
    from medunion.access.models import BreakGlassGrant
    from medunion.patients.models import Patient

    care = care_team_patients(practitioner_id, team_ids, now)
    glass = BreakGlassGrant.objects.filter(user_id=user_id, expires_at__gt=now).values("patient_id")
    return Patient.objects.filter(Q(registered_at_id__in=org_ids) | Q(pk__in=care) | Q(pk__in=glass))


def care_team_patients(practitioner_id: uuid.UUID, team_ids: list[uuid.UUID], now: Any) -> QuerySet[Any]:
    """The patients in a clinician's live care teams (in person, or through one of their teams), as
    a subquery of ``patient_id``: the two kinds of link as a ``UNION ALL``, each read from its own
    covering index. ORed in one WHERE, SQLite fetched every link's table row (a township GP's
    ≈7,000 links: ≈10 ms against ≈2 ms on the province)."""
    from medunion.patients.models import CareTeamMember

    live = CareTeamMember.objects.live(now)
    mine = live.filter(practitioner_id=practitioner_id).values("patient_id")
    if not team_ids:
        return mine
    return mine.union(live.filter(team_id__in=team_ids).values("patient_id"), all=True)


def _care_team_link(patient_id: Any, practitioner_id: uuid.UUID, team_ids: list[uuid.UUID],
                    now: Any) -> QuerySet[Any]:
    from medunion.patients.models import CareTeamMember

    return CareTeamMember.objects.live(now).filter(patient_id=patient_id).filter(
        Q(practitioner_id=practitioner_id) | Q(team_id__in=team_ids))


def _glass_grant(user_id: uuid.UUID, patient_id: Any, now: Any) -> QuerySet[Any]:
    from medunion.access.models import BreakGlassGrant

    return BreakGlassGrant.objects.filter(user_id=user_id, patient_id=patient_id, expires_at__gt=now)


def clinician_relationship(practitioner_id: uuid.UUID, team_ids: list[uuid.UUID], org_ids: list[uuid.UUID],
                           user_id: uuid.UUID, now: Any) -> Case:
    """A clinician's relationship to the patient of the row (``clinician_terms``), as SQL: the
    first of the care team (in person or through a team), an organisation they work at where the
    patient is registered, and their unexpired break-the-glass grant; NULL for none. The one
    statement of a clinician's :func:`relationship_to`, and annotated on the patient that
    ``access_patient`` loads, so that a read of a patient asks the database once. CASE stops at the
    first that holds: a care-team read looks for no grant."""
    return Case(
        When(Exists(_care_team_link(OuterRef("pk"), practitioner_id, team_ids, now)), then=Value("care_team")),
        When(registered_at_id__in=org_ids, then=Value("same_organisation")),
        When(Exists(_glass_grant(user_id, OuterRef("pk"), now)), then=Value("break_glass")),
        default=None, output_field=CharField())


def _clinician_relationship(patient_id: uuid.UUID, *terms: Any) -> QuerySet[Any]:
    from medunion.patients.models import Patient

    return Patient.objects.filter(pk=patient_id).values_list(clinician_relationship(*terms), flat=True)


# Asked on every read of a patient (core.statements: compiled once per connection).
_CARE_TEAM_LINK = Statement(_care_team_link)
_RELATIONSHIP = Statement(_clinician_relationship)


def relationship_in_the_data(actor: Actor) -> bool:
    """Whether this actor's relationship to a patient is a question for the database
    (:func:`clinician_relationship`): a clinician's is; the platform's and a patient's are not."""
    return actor.is_practitioner and not actor.system and not actor.is_patient


def relationship_to(actor: Actor, patient_id: uuid.UUID) -> str | None:
    """Why this actor may see this patient, or None. Break-the-glass is reported as such."""
    if actor.system:
        return "system"
    if actor.is_patient:
        return "self" if actor.patient_id == patient_id else None
    if relationship_in_the_data(actor):
        return _RELATIONSHIP.first(patient_id, *clinician_terms(actor))  # type: ignore[no-any-return]
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


# --- teleconsultation ------------------------------------------------------------------------
# Who sees a consult (issue 3): a practitioner who asked it, is assigned to it, is its named
# target, is in its target team, leads a team it was escalated to, was invited to its MDT, or is
# in the patient's care team (the care team is in the clinician conversation); an eligible
# specialist of the pool while the case is requested (see consult_pool_scope); the patient it is
# about (patient-audience content only: consults/queries.py enforces that by allowlist).
# Coordinators see no consult: they get figures and overdue lists without patient data
# (consults.queries.overdue_consults_for_coordinator). Everyone else: nothing (404).


@dataclass(frozen=True)
class ConsultPoolScope:
    """Where a practitioner answers pool cases: their specialties, and per consortium the
    highest tier rank among the active organisations of that consortium where they practise."""

    practitioner_id: uuid.UUID | None
    specialties: frozenset[str]
    ranks: dict[uuid.UUID, int]

    def covers(self, consortium_id: uuid.UUID, specialty: str, asker_rank: int) -> bool:
        return specialty in self.specialties and self.ranks.get(consortium_id, 0) > asker_rank


@dataclass(frozen=True)
class ConsultStep:
    """The object of Action.TRANSITION_CONSULT: this consult, this event."""

    consult: Any
    event: str


def _specialties(practitioner_id: uuid.UUID) -> QuerySet[Any]:
    from medunion.network.models import PractitionerSpecialty

    return PractitionerSpecialty.objects.filter(practitioner_id=practitioner_id).values_list("specialty", flat=True)


def _pool_sites(practitioner_id: uuid.UUID) -> QuerySet[Any]:
    from medunion.network.models import PracticeSite

    return PracticeSite.objects.filter(practitioner_id=practitioner_id, active=True, practitioner__active=True,
                                       organisation__active=True, organisation__memberships__isnull=False) \
        .values_list("organisation__memberships__consortium_id", "organisation__tier")


def _declined(consult_id: uuid.UUID, practitioner_id: uuid.UUID) -> QuerySet[Any]:
    from medunion.consults.models import ConsultDecline

    return ConsultDecline.objects.filter(consult_id=consult_id, practitioner_id=practitioner_id)


def _mdt_member(consult_id: uuid.UUID, practitioner_id: uuid.UUID) -> QuerySet[Any]:
    from medunion.consults.models import ConsultParticipant, ParticipantRole

    return ConsultParticipant.objects.filter(consult_id=consult_id, practitioner_id=practitioner_id,
                                             left_at__isnull=True, role=ParticipantRole.MDT_MEMBER)


def _latest_author(consult_id: uuid.UUID) -> QuerySet[Any]:
    from medunion.consults.models import ConsultAnswer

    return ConsultAnswer.objects.filter(consult_id=consult_id).order_by("-seq").values_list("author_id", flat=True)[:1]


# Asked on every view of a case and every step on one (core.statements).
_SPECIALTIES = Statement(_specialties)
_POOL_SITES = Statement(_pool_sites)
_DECLINED = Statement(_declined)
_MDT_MEMBER = Statement(_mdt_member)
_LATEST_AUTHOR = Statement(_latest_author)


def practitioner_specialties(actor: Actor) -> frozenset[str]:
    """The clinician's specialties (one query per actor: ``remembered``)."""
    me = actor.practitioner_id
    if not actor.is_practitioner or me is None:
        return frozenset()
    return remembered(actor, "specialties", lambda: frozenset(_SPECIALTIES.all(me)))


def consult_pool_scope(actor: Actor) -> ConsultPoolScope:
    from medunion.network.codes import TIER_RANK

    me = actor.practitioner_id
    if not actor.is_practitioner or me is None:
        return ConsultPoolScope(None, frozenset(), {})
    specialties = practitioner_specialties(actor)
    ranks: dict[uuid.UUID, int] = {}
    if specialties:
        for consortium_id, tier in _POOL_SITES.all(me):
            ranks[consortium_id] = max(ranks.get(consortium_id, 0),
                                       TIER_RANK.get(tier, 0))  # type: ignore[call-overload]
    return ConsultPoolScope(me, specialties, ranks)


def pool_consults(actor: Actor, scope: ConsultPoolScope | None = None) -> QuerySet[Any]:
    """Requested pool cases this practitioner may claim (not their own, not ones they declined)."""
    from medunion.consults.models import Consult

    scope = scope or consult_pool_scope(actor)
    q = _pool_q(scope)
    return Consult.objects.none() if q is None else Consult.objects.filter(q)


def _pool_q(scope: ConsultPoolScope) -> Q | None:
    from medunion.consults.models import ConsultDecline, TargetKind
    from medunion.consults.states import State

    if not scope.specialties or not scope.ranks or scope.practitioner_id is None:
        return None
    where = Q()
    for consortium_id, rank in scope.ranks.items():
        where |= Q(consortium_id=consortium_id, asker_tier_rank__lt=rank)
    declined = ConsultDecline.objects.filter(practitioner_id=scope.practitioner_id).values("consult_id")
    return (Q(state=State.REQUESTED, target_kind=TargetKind.POOL, specialty__in=sorted(scope.specialties))
            & where & ~Q(asker_id=scope.practitioner_id) & ~Q(pk__in=declined))


def _led_specialties(actor: Actor) -> list[tuple[uuid.UUID, str]]:
    from medunion.network.models import Team

    if not actor.led_team_ids:
        return []
    return list(Team.objects.filter(pk__in=list(actor.led_team_ids), active=True).exclude(specialty="")
                .values_list("consortium_id", "specialty"))


def escalated_to_lead_q(actor: Actor) -> Q | None:
    pairs = _led_specialties(actor)
    if not pairs:
        return None
    where = Q()
    for consortium_id, specialty in pairs:
        where |= Q(consortium_id=consortium_id, specialty=specialty)
    return Q(escalation_level__gte=1) & where


def live_care_patients(actor: Actor) -> QuerySet[Any]:
    """The patients in the actor's live care teams, as a subquery (``care_team_patients``)."""
    from medunion.patients.models import CareTeamMember

    if actor.practitioner_id is None:
        return CareTeamMember.objects.none().values("patient_id")
    return care_team_patients(actor.practitioner_id, list(actor.team_ids), clock.now())


def in_care_team(actor: Actor, patient_id: uuid.UUID) -> bool:
    """Whether the clinician is in the patient's live care team, in person or through a team."""
    return _CARE_TEAM_LINK.exists(patient_id, actor.practitioner_id, list(actor.team_ids), clock.now())


def visible_consult_parts(actor: Actor) -> list[Q] | None:
    """The clauses whose union is what a clinician may see (``visible_consults`` ORs them); each
    can use an index of its own. None: the actor is not a clinician."""
    from medunion.consults.models import ConsultParticipant, ParticipantRole

    me = actor.practitioner_id
    if actor.system or actor.is_patient or not actor.is_practitioner or me is None:
        return None
    parts = [Q(asker_id=me), Q(assignee_id=me), Q(target_practitioner_id=me)]
    if actor.team_ids:
        parts.append(Q(target_team_id__in=list(actor.team_ids)))
    lead = escalated_to_lead_q(actor)
    if lead is not None:
        parts.append(lead)
    parts.append(Q(pk__in=ConsultParticipant.objects.filter(practitioner_id=me, role=ParticipantRole.MDT_MEMBER,
                                                            left_at__isnull=True).values("consult_id")))
    parts.append(Q(patient_id__in=live_care_patients(actor)))
    pool = _pool_q(consult_pool_scope(actor))
    if pool is not None:
        parts.append(pool)
    return parts


def visible_consults(actor: Actor) -> QuerySet[Any]:
    from medunion.consults.models import Consult

    if actor.system:
        return Consult.objects.all()
    if actor.is_patient:
        return Consult.objects.filter(patient_id=actor.patient_id)  # type: ignore[misc]  # is_patient: set
    parts = visible_consult_parts(actor)
    if parts is None:
        return Consult.objects.none()
    q = Q()
    for part in parts:
        q |= part
    return Consult.objects.filter(q)


def consult_roles(actor: Actor, consult: Any) -> frozenset[str]:
    """The actor's roles on this consult (consults.states.Role), whatever its state. Cached on
    the instance: an action reloads the consult after changing it."""
    from medunion.consults.models import TargetKind
    from medunion.consults.states import Role

    cache = consult.__dict__.setdefault("_roles_cache", {})
    key = (actor.user_id, actor.role, actor.practitioner_id, actor.patient_id, actor.team_ids, actor.led_team_ids)
    if key in cache:
        return cache[key]
    roles: set[str] = set()
    if actor.is_patient:
        if consult.patient_id is not None and consult.patient_id == actor.patient_id:
            roles.add(Role.PATIENT)
    elif actor.is_practitioner and actor.practitioner_id is not None:
        me = actor.practitioner_id
        if consult.asker_id == me:
            roles.add(Role.ASKER)
        if consult.assignee_id == me:
            roles.add(Role.ASSIGNEE)
        if consult.target_kind == TargetKind.PRACTITIONER and consult.target_practitioner_id == me:
            roles.add(Role.TARGET)
        if consult.target_kind == TargetKind.TEAM and consult.target_team_id in actor.team_ids:
            roles.add(Role.TEAM_MEMBER)
        if (consult.target_kind == TargetKind.TEAM and consult.target_team_id in actor.led_team_ids) or (
                consult.escalation_level >= 1
                and (consult.consortium_id, consult.specialty) in _led_specialties(actor)):
            roles.add(Role.TEAM_LEAD)
        if (consult.target_kind == TargetKind.POOL and consult.asker_id != me
                and consult_pool_scope(actor).covers(consult.consortium_id, consult.specialty,
                                                     consult.asker_tier_rank)
                and not _DECLINED.exists(consult.pk, me)):
            roles.add(Role.ELIGIBLE)
        if _MDT_MEMBER.exists(consult.pk, me):
            roles.add(Role.MDT_MEMBER)
        if consult.patient_id is not None and in_care_team(actor, consult.patient_id):
            roles.add(Role.CARE_TEAM)
        if consult.answered_at is not None:
            if _LATEST_AUTHOR.first(consult.pk) == me:
                roles.add(Role.AUTHOR)
    result = frozenset(roles)
    cache[key] = result
    return result


def _view_consult(actor: Actor, consult: Any) -> bool:
    from medunion.consults.states import visible_by_roles

    return consult is not None and visible_by_roles(consult.state, consult_roles(actor, consult))


def _consult_step(actor: Actor, step: Any) -> bool:
    from medunion.consults.states import TRANSITIONS, Event

    return isinstance(step, ConsultStep) and bool(
        TRANSITIONS[Event(step.event)].roles & consult_roles(actor, step.consult))


def _consult_act(act: str) -> Any:
    def rule(actor: Actor, consult: Any) -> bool:
        from medunion.consults.states import ACTS, Act

        return consult is not None and bool(ACTS[Act(act)].roles & consult_roles(actor, consult))
    return rule


def coordinates(actor: Actor, consortium: Any) -> bool:
    """A coordinator of this consortium (``None``: of any)."""
    if not actor.is_coordinator:
        return False
    if consortium is None:
        return bool(actor.coordinated_ids)
    return _manages_consortium(actor, getattr(consortium, "pk", consortium))


_consult_figures = coordinates


def sees_figures(actor: Actor, consortium: Any) -> bool:
    """Figures without patient data: coordinators for their consortia; health-commission viewers
    for the consortia of their region (``None``: any)."""
    if actor.role == "commission":
        if consortium is None:
            return bool(actor.region_code)
        return visible_consortia(actor).filter(pk=getattr(consortium, "pk", consortium)).exists()
    return coordinates(actor, consortium)


def figure_scope(actor: Actor, action: Action, consortium_id: Any = None) -> list[Any]:
    """The consortia whose figures (``action``) the actor may see: the one asked for, or all of
    theirs; 404 for anyone else."""
    from .loaders import parse_uuid

    require(actor, action, visible=False)
    if consortium_id:
        cid = parse_uuid(consortium_id)
        require(actor, action, cid, visible=False)
        return [cid]
    if actor.role == "commission":
        return list(visible_consortia(actor).values_list("pk", flat=True))
    return sorted(actor.coordinated_ids)


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
    Action.CREATE_CONSULT: lambda a, o: a.is_practitioner and (o is None or getattr(o, "pk", o) in a.consortium_ids),
    Action.VIEW_CONSULT: _view_consult,
    Action.TRANSITION_CONSULT: _consult_step,
    Action.WRITE_CLINICIAN_MESSAGE: _consult_act("clinician_message"),
    Action.WRITE_PATIENT_MESSAGE: _consult_act("patient_message"),
    Action.INVITE_TO_CONSULT: _consult_act("invite"),
    Action.GIVE_CONSULT_OPINION: _consult_act("opinion"),
    Action.VIEW_CONSULT_FIGURES: _consult_figures,
}

# The referral rules live beside this module (kept apart to keep each file readable).
from .referrals import RULES as _REFERRAL_RULES  # noqa: E402

_RULES.update(_REFERRAL_RULES)

from .diagnostics import RULES as _DIAGNOSTIC_RULES  # noqa: E402

_RULES.update(_DIAGNOSTIC_RULES)
