"""Clients signed in as the personas, reading English (the source strings)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.world import World


@pytest.fixture
def client_for(world: World, settings):
    settings.MEDUNION_REQUIRE_MFA = False

    def make(persona: str) -> Client:
        c = Client(headers={"accept-language": "en"})
        c.force_login(world.users[persona])
        return c

    return make


@pytest.fixture
def anon() -> Client:
    return Client(headers={"accept-language": "en"})
