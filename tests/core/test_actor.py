"""Who an actor is: a clinician's places (organisations, with their consortia) and teams, read in
one statement whether the clinician signs in by session or by bearer token (access.actor)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.access.actor import actor_for
from medunion.accounts.actions import user_for_token
from medunion.accounts.models import User
from medunion.network.models import (
    ConsortiumMembership,
    Organisation,
    PracticeSite,
    Team,
    TeamMember,
)
from tests.api.conftest import issue_token
from tests.world import COUNTY


@pytest.fixture(autouse=True)
def _no_second_factor(settings):
    settings.MEDUNION_REQUIRE_MFA = False  # the administrators' tokens need it otherwise


def _by_session(user: User):
    return actor_for(User.objects.get(pk=user.pk), "api")


def test_a_clinician_s_places_and_teams(world):
    """Active sites at active organisations count, with every consortium of the organisation and
    none for one in no consortium; active teams count, a lead's marked as led."""
    user = world.users["cardiologist_tertiary"]
    pid = user.practitioner_id
    tertiary, county, other = world.orgs["tertiary"], world.orgs["county"], world.orgs["other"]
    ConsortiumMembership.objects.create(consortium=world.other_consortium, organisation=tertiary)
    lonely = Organisation.objects.create(code="L001", name="独立诊所", tier="village_clinic", region_id=COUNTY)
    closed = Organisation.objects.create(code="L002", name="已关闭诊所", tier="village_clinic", region_id=COUNTY,
                                         active=False)
    PracticeSite.objects.create(practitioner_id=pid, organisation=lonely)
    PracticeSite.objects.create(practitioner_id=pid, organisation=closed)
    PracticeSite.objects.create(practitioner_id=pid, organisation=county, active=False)
    PracticeSite.objects.create(practitioner_id=pid, organisation=other, active=True)
    Organisation.objects.filter(pk=other.pk).update(active=False)

    def team(name: str, active: bool = True) -> Team:
        return Team.objects.create(name=name, kind="specialty", consortium=world.consortium, active=active)

    led, joined, dissolved = team("胸痛中心"), team("心内科专科组"), team("旧组", active=False)
    TeamMember.objects.filter(practitioner_id=pid).delete()
    TeamMember.objects.create(team=led, practitioner_id=pid, role="lead")
    TeamMember.objects.create(team=joined, practitioner_id=pid, role="member")
    TeamMember.objects.create(team=dissolved, practitioner_id=pid, role="lead")

    raw = issue_token("cardiologist_tertiary")
    with CaptureQueriesContext(connection) as session:
        by_session = _by_session(user)
    by_token = actor_for(user_for_token(raw), "api")
    assert by_session == by_token
    assert by_session.org_ids == {tertiary.pk, lonely.pk}
    assert by_session.consortium_ids == {world.consortium.pk, world.other_consortium.pk}
    assert by_session.team_ids == {led.pk, joined.pk}
    assert by_session.led_team_ids == {led.pk}
    assert len(session) == 2  # the user; their places and teams


def test_a_clinician_with_no_place_and_no_team(world):
    user = world.users["village_doctor_b"]
    PracticeSite.objects.filter(practitioner_id=user.practitioner_id).delete()
    TeamMember.objects.filter(practitioner_id=user.practitioner_id).delete()
    actor = actor_for(user_for_token(issue_token("village_doctor_b")), "api")
    assert actor == _by_session(user)
    assert (actor.org_ids, actor.consortium_ids, actor.team_ids, actor.led_team_ids) == ((frozenset(),) * 4)
    assert actor.is_practitioner


def test_the_token_and_the_session_make_the_same_actor_for_everyone(world):
    """A bearer token's statement reads the places and teams with the token; the session's user
    asks for them: both make the same actor, for every persona."""
    for persona, user in world.users.items():
        token_user = user_for_token(issue_token(persona))
        with CaptureQueriesContext(connection) as ctx:
            by_token = actor_for(token_user, "api")
        assert by_token == _by_session(user), persona
        if by_token.is_practitioner:
            assert len(ctx) == 0, (persona, [q["sql"][:80] for q in ctx.captured_queries])
