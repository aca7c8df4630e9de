"""Fixtures of the import tests: imports run synchronously unless a test says otherwise."""

from __future__ import annotations

import pytest
from django.test import Client

from medunion.access.actor import system_actor
from medunion.accounts.actions import create_account
from tests.world import PASSWORD, World


@pytest.fixture(autouse=True)
def _sync_imports(settings):
    settings.MEDUNION_IMPORT_SYNC = True
    settings.MEDUNION_REQUIRE_MFA = False


@pytest.fixture
def coordinator_actor(world: World):
    return world.actor("coordinator")


@pytest.fixture
def other_coordinator(world: World):
    """A coordinator of the other consortium (OTHER), where the outsider practises."""
    user = create_account(acting=system_actor("tests"), username="coordinator_other", password=PASSWORD,
                          role="coordinator", display_name="外县协调员", consortium_ids=[world.other_consortium.pk])
    world.users["coordinator_other"] = user
    return world.actor("coordinator_other")


@pytest.fixture
def client_for(world: World):
    def make(persona: str) -> Client:
        c = Client(headers={"accept-language": "en"})
        c.force_login(world.users[persona])
        return c

    return make
