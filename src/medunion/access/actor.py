"""Who is acting: built afresh for every request, so role and team changes take effect at once.

What the policy looks up about the actor more than once in a request (a clinician's specialties:
six times on the reading worklist) is kept in the actor's ``memo`` for the actor's life (one
request, one command); ``remembered`` fills it.

A clinician's places and teams are one statement (``memberships``: two JSON lists), asked of the
practitioner for a session's user, and read with the token itself for a bearer token's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import OuterRef, Subquery
from django.db.models.functions import JSONArray

from medunion.core.aggregates import JSONList
from medunion.core.statements import Statement

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from medunion.accounts.models import User

T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None
    username: str
    display: str
    role: str
    surface: str = "page"
    purpose: str = "treatment"
    on_behalf_of: str = ""
    practitioner_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    region_code: str | None = None
    org_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    consortium_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    team_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    led_team_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    coordinated_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    system: bool = False
    # Not part of who the actor is (equality, hash); shared by the copies ``via`` makes.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def is_practitioner(self) -> bool:
        return self.role == "practitioner" and self.practitioner_id is not None

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"

    @property
    def is_patient(self) -> bool:
        return self.role == "patient" and self.patient_id is not None

    def via(self, surface: str) -> Actor:
        return replace(self, surface=surface)


def remembered(actor: Actor, key: str, look_up: Callable[[], T]) -> T:
    """``look_up()`` once per actor: later calls with the same key return what it gave. Only for
    facts about the actor themselves that a request does not change (their specialties, title)."""
    if key not in actor.memo:
        actor.memo[key] = look_up()
    return actor.memo[key]  # type: ignore[no-any-return]


ANONYMOUS = Actor(user_id=None, username="", display="anonymous", role="anonymous")


def system_actor(name: str, *, on_behalf_of: str = "") -> Actor:
    """The platform acting by itself (commands, the demo, background work). Grep: system_actor."""
    return Actor(user_id=None, username=f"system:{name}", display=f"system:{name}", role="system",
                 surface="cli", purpose="operations", on_behalf_of=on_behalf_of, system=True)


def memberships(practitioner: Any) -> dict[str, Subquery]:
    """Where a clinician works and in which teams, as two annotations of one query: ``actor_places``,
    a JSON list of [organisation, consortium or null] (an organisation in no consortium still
    counts), and ``actor_teams``, of [team, role]; each NULL when there is none. ``practitioner``
    is the practitioner's key or an ``OuterRef`` to it. Only active practice sites at active
    organisations, and active teams, count."""
    from medunion.network.models import PracticeSite, TeamMember

    places = (PracticeSite.objects
              .filter(practitioner_id=practitioner, active=True, organisation__active=True)
              .values("practitioner_id")
              .annotate(places=JSONList(JSONArray("organisation_id", "organisation__memberships__consortium_id")))
              .values("places"))
    teams = (TeamMember.objects.filter(practitioner_id=practitioner, team__active=True)
             .values("practitioner_id").annotate(teams=JSONList(JSONArray("team_id", "role"))).values("teams"))
    return {MEMBERSHIP_FIELDS[0]: Subquery(places), MEMBERSHIP_FIELDS[1]: Subquery(teams)}


MEMBERSHIP_FIELDS = ("actor_places", "actor_teams")
MEMBERSHIPS_LOADED = "medunion_memberships"
"""A user object's attribute holding ``memberships`` read with the user itself in the same query
(``accounts.actions.user_for_token``): ``actor_for`` then asks no more."""


def _memberships(practitioner_id: uuid.UUID) -> Any:
    from medunion.network.models import Practitioner

    return Practitioner.objects.filter(pk=practitioner_id).values_list(*memberships(OuterRef("pk")).values())


# Asked on every request of a clinician signed in by session (core.statements: compiled once per
# connection); a bearer token's request has it with the token (accounts.actions.user_for_token).
_MEMBERSHIPS = Statement(_memberships)


def actor_for(user: User | AnonymousUser | None, surface: str = "page") -> Actor:
    if user is None or not user.is_authenticated or not user.is_active:
        return ANONYMOUS
    from medunion.network.models import CoordinatorAssignment

    org_ids: frozenset[uuid.UUID] = frozenset()
    consortium_ids: frozenset[uuid.UUID] = frozenset()
    team_ids: frozenset[uuid.UUID] = frozenset()
    led: frozenset[uuid.UUID] = frozenset()
    coordinated: frozenset[uuid.UUID] = frozenset()
    if user.role == "practitioner" and user.practitioner_id:
        loaded = user.__dict__.get(MEMBERSHIPS_LOADED)
        places, teams = loaded if loaded is not None else (_MEMBERSHIPS.first(user.practitioner_id) or (None, None))
        pairs = [(uuid.UUID(o), uuid.UUID(c) if c else None) for o, c in places or ()]
        org_ids = frozenset(o for o, _c in pairs)
        consortium_ids = frozenset(c for _o, c in pairs if c is not None)
        team_roles = [(uuid.UUID(t), r) for t, r in teams or ()]
        team_ids = frozenset(t for t, _ in team_roles)
        led = frozenset(t for t, r in team_roles if r == "lead")
    elif user.role == "coordinator":
        coordinated = frozenset(CoordinatorAssignment.objects.filter(user_id=user.pk)
                                .values_list("consortium_id", flat=True))
    return Actor(
        user_id=user.pk,
        username=user.username,
        display=user.display_name or user.username,
        role=user.role,
        surface=surface,
        practitioner_id=user.practitioner_id,
        patient_id=user.patient_id,
        region_code=user.region_id,
        org_ids=org_ids,
        consortium_ids=consortium_ids,
        team_ids=team_ids,
        led_team_ids=led,
        coordinated_ids=coordinated,
        purpose="treatment" if user.role in ("practitioner", "patient") else "operations",
    )
