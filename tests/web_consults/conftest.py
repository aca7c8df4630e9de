"""Clients signed in as the personas of the consultation world (tests/consults/conftest.py),
reading English, and small helpers to read forms off the pages."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from medunion.accounts.models import User
from tests.consults.conftest import START, ConsultWorld, ask, build_consult_world  # noqa: F401


@pytest.fixture
def cw(world) -> ConsultWorld:
    return build_consult_world(world)


@pytest.fixture
def client_for(cw: ConsultWorld, settings):
    settings.MEDUNION_REQUIRE_MFA = False

    def make(persona: str) -> Client:
        c = Client(headers={"accept-language": "en"})
        user = cw.users.get(persona) or cw.world.users[persona]
        c.force_login(User.objects.get(pk=user.pk))
        return c

    return make


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path):
    """Stored files land in a private directory per test."""
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(tmp_path / "files")}}


def page(response) -> str:
    return response.content.decode()


def token(html: str, form: str = "") -> str:
    """The once token of the first form on the page (after ``form`` if given)."""
    start = html.index(form) if form else 0
    return re.search(r'name="once" value="([0-9a-f]+)"', html[start:]).group(1)


def jpeg(name: str = "photo.jpg", colour: tuple[int, int, int] = (200, 30, 30)) -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")
