"""Clients signed in as the personas for the back office; the second factor is relaxed (tests/core
covers it)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.world import World


@pytest.fixture(autouse=True)
def _no_second_factor(settings):
    settings.MEDUNION_REQUIRE_MFA = False


@pytest.fixture
def client_for(world: World):
    def make(persona: str) -> Client:
        c = Client(headers={"accept-language": "en"})  # assertions read the English source strings
        c.force_login(world.users[persona])
        return c

    return make
