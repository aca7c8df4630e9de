"""The consult world of tests/consults (a cardiology team, more specialists) reached through the
JSON API with a bearer token per persona; stored files land in a private directory per test."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.api.conftest import ApiClient, assert_problem, issue_token
from tests.consults.conftest import ConsultWorld, build_consult_world

__all__ = ["assert_problem", "photo", "Api"]


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.MEDUNION_REQUIRE_MFA = False
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(tmp_path / "files")}}


@pytest.fixture
def cw(world) -> ConsultWorld:
    return build_consult_world(world)


class Api(ApiClient):
    def upload(self, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg",
               patient_id: Any = None, **headers: str):
        from django.core.files.uploadedfile import SimpleUploadedFile

        form: dict[str, Any] = {"file": SimpleUploadedFile(name, data, content_type=content_type)}
        if patient_id is not None:
            form["patient_id"] = str(patient_id)
        return self.client.post("/api/v1/files", form, headers=headers)


@pytest.fixture
def api(cw):
    """``api("village_doctor_a")``: a client with a fresh bearer token of that persona."""
    made: dict[str, Api] = {}

    def make(persona: str) -> Api:
        if persona not in made:
            made[persona] = Api(issue_token(persona))
        return made[persona]

    return make


def photo(colour: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def ask_body(cw: ConsultWorld, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"patient_id": str(cw.patient.pk), "specialty": "cardiology", "urgency": "urgent",
                            "question": "胸闷两天，心电图ST段压低，是否需要转诊？", "history": "高血压十年",
                            "medication": "氨氯地平 5mg qd", "vitals": {"systolic": 150, "diastolic": 95}}
    body.update(overrides)
    return body


def ask(api: Any, cw: ConsultWorld, persona: str = "village_doctor_a", **overrides: Any) -> dict[str, Any]:
    response = api(persona).post("/consults", ask_body(cw, **overrides))
    assert response.status_code == 201, response.content
    return response.json()
