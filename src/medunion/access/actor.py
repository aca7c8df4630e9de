"""Who is acting: built afresh for every request, so role and team changes take effect at once.

What the policy looks up about the actor more than once in a request (a clinician's specialties:
six times on the reading worklist) is kept in the actor's ``memo`` for the actor's life (one
request, one command); ``remembered`` fills it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

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


def _places(practitioner_id: uuid.UUID) -> Any:
    from medunion.network.models import PracticeSite

    return (PracticeSite.objects
            .filter(practitioner_id=practitioner_id, active=True, organisation__active=True)
            .values_list("organisation_id", "organisation__memberships__consortium_id"))


def _teams(practitioner_id: uuid.UUID) -> Any:
    from medunion.network.models import TeamMember

    return (TeamMember.objects.filter(practitioner_id=practitioner_id, team__active=True)
            .values_list("team_id", "role"))


# Asked on every request of a clinician (core.statements: compiled once per connection).
_PLACES = Statement(_places)
_TEAMS = Statement(_teams)


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
        # The organisations and their consortia in one query (a LEFT JOIN: an organisation in
        # no consortium still counts); this runs on every request.
        places = _PLACES.all(user.practitioner_id)
        org_ids = frozenset(o for o, _c in places)
        consortium_ids = frozenset(c for _o, c in places if c is not None)
        memberships = _TEAMS.all(user.practitioner_id)
        team_ids = frozenset(t for t, _ in memberships)
        led = frozenset(t for t, r in memberships if r == "lead")
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
