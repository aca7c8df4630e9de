"""The diagnosis world of tests/diagnostics for the page tests, and a signed-in browser client."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from medunion.accounts.models import User
from tests.diagnostics.conftest import (  # noqa: F401 - fixtures for the page tests
    DiagnosisWorld,
    archive,
    build_diagnosis_world,
    file_root,
    orthanc_server,
)


@pytest.fixture
def dw(world) -> DiagnosisWorld:
    return build_diagnosis_world(world)


@pytest.fixture(autouse=True)
def _relaxed_second_factor(settings) -> None:
    settings.MEDUNION_REQUIRE_MFA = False


def client(persona: str, lang: str = "en") -> Client:
    c = Client(headers={"accept-language": lang})
    c.force_login(User.objects.get(username=persona))
    return c


def json_client(persona: str, lang: str = "en") -> Client:
    c = Client(headers={"accept-language": lang, "accept": "application/json"})
    c.force_login(User.objects.get(username=persona))
    return c


def page(response: Any) -> str:
    return response.content.decode()
