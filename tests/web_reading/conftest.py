"""The diagnosis world of tests/diagnostics for the reading pages, clients signed in as its
personas (the second factor relaxed), and a private file store per test."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from medunion.accounts.models import User
from tests.diagnostics.conftest import DiagnosisWorld, build_diagnosis_world


@pytest.fixture
def dw(world) -> DiagnosisWorld:
    return build_diagnosis_world(world)


@pytest.fixture(autouse=True)
def _pages(settings, tmp_path) -> None:
    settings.MEDUNION_REQUIRE_MFA = False
    settings.MEDUNION_DICOM_ARCHIVE = "local"
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(tmp_path / "files")}}


def client(persona: str, lang: str = "en") -> Client:
    c = Client(headers={"accept-language": lang})
    c.force_login(User.objects.get(username=persona))
    return c


def page(response: Any) -> str:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    return response.content.decode()
