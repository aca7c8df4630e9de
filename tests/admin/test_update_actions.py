"""The update actions the back office added to network.actions and accounts.actions."""

from __future__ import annotations

import pytest

from medunion.accounts import actions as accounts
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medunion.network import actions as net
from tests.web_coordinator.helpers import make_team, other_coordinator


def test_updates_stay_within_the_coordinator_s_consortia(world):
    other_coordinator(world)
    them = world.actor("coordinator_other")
    team = make_team(world)
    with pytest.raises(NotFound):
        net.update_organisation(acting=them, organisation_id=world.orgs["county"].pk, changes={"name": "x"})
    with pytest.raises(NotFound):
        net.update_practitioner(acting=them, practitioner_id=world.users["village_doctor_a"].practitioner_id,
                                changes={"active": False})
    with pytest.raises(NotFound):
        net.update_team(acting=them, team_id=team.pk, changes={"active": False})
    with pytest.raises((NotFound, PermissionDenied)):
        net.update_organisation(acting=world.actor("secadmin"), organisation_id=world.orgs["county"].pk,
                                changes={"name": "x"})


def test_updates_validate_every_field(world):
    me = world.actor("coordinator")
    with pytest.raises(ValidationFailed) as exc:
        net.update_organisation(acting=me, organisation_id=world.orgs["county"].pk,
                                changes={"name": " ", "tier": "castle", "region": "999", "parent": "nonsense"})
    assert set(exc.value.errors) == {"name", "tier", "region", "parent"}
    with pytest.raises(ValidationFailed):
        net.update_organisation(acting=me, organisation_id=world.orgs["county"].pk, changes={"code": "NEW"})
    with pytest.raises(ValidationFailed) as exc:
        net.update_practitioner(acting=me, practitioner_id=world.users["village_doctor_a"].practitioner_id,
                                changes={"years_independent": 99, "specialties": ["astrology"], "gender": "x"})
    assert set(exc.value.errors) == {"years_independent", "specialties", "gender"}
    with pytest.raises(ValidationFailed) as exc:
        net.update_team(acting=me, team_id=make_team(world).pk,
                        changes={"kind": "band", "organisation": world.orgs["other"].pk})
    assert set(exc.value.errors) == {"kind", "organisation"}


def test_account_edits_are_the_security_administrator_s(world):
    target = world.users["village_doctor_a"]
    with pytest.raises(PermissionDenied):
        accounts.rename_account(acting=world.actor("sysadmin"), user_id=target.pk, display_name="x")
    with pytest.raises(ValidationFailed):
        accounts.rename_account(acting=world.actor("secadmin"), user_id=target.pk, display_name=" ")
    from django.test import RequestFactory

    _raw, token = accounts.issue_token(RequestFactory().post("/"), username="village_doctor_a",
                                       password="Medunion-Test-2026!")
    with pytest.raises(PermissionDenied):
        accounts.revoke_account_token(acting=world.actor("coordinator"), token_id=token.pk)
    accounts.revoke_account_token(acting=world.actor("secadmin"), token_id=token.pk)
    with pytest.raises(Conflict):
        accounts.revoke_account_token(acting=world.actor("secadmin"), token_id=token.pk)
