"""The referral world of tests/referrals (privileged village_doctor_a, cardiologist_tertiary,
cardiologist_b; village_doctor_b trained only) reached through the JSON API with a bearer token per
persona; stored files land in a private directory per test."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from tests.api.conftest import ApiClient, assert_problem, issue_token
from tests.referrals.conftest import ReferralWorld, build_referral_world

__all__ = ["assert_problem", "photo", "Api", "refer", "accept_body", "new_patient"]


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.MEDUNION_REQUIRE_MFA = False
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(tmp_path / "files")}}


@pytest.fixture
def rw(world) -> ReferralWorld:
    return build_referral_world(world)


class Api(ApiClient):
    def upload(self, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg",
               patient_id: Any = None) -> Any:
        from django.core.files.uploadedfile import SimpleUploadedFile

        form: dict[str, Any] = {"file": SimpleUploadedFile(name, data, content_type=content_type)}
        if patient_id is not None:
            form["patient_id"] = str(patient_id)
        response = self.client.post("/api/v1/files", form)
        assert response.status_code == 201, response.content
        return response.json()["id"]


@pytest.fixture
def api(rw):
    """``api("village_doctor_a")``: a client with a fresh bearer token of that persona."""
    made: dict[str, Api] = {}

    def make(persona: str) -> Api:
        if persona not in made:
            made[persona] = Api(issue_token(persona))
        return made[persona]

    return make


def photo(colour: str = "red") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def refer_body(rw: ReferralWorld, patient: Any = None, **overrides: Any) -> dict[str, Any]:
    """An urgent upward referral to the tertiary hospital's cardiology department."""
    body: dict[str, Any] = {
        "patient_id": str((patient or rw.patient).pk), "direction": "up",
        "target_organisation_id": str(rw.orgs["tertiary"].pk), "target_department_id": str(rw.cardiology.pk),
        "urgency": "urgent", "reason": "不稳定型心绞痛，需冠脉造影",
        "clinical_summary": "胸痛反复发作三天，心电图ST段压低，肌钙蛋白轻度升高。"}
    body.update(overrides)
    return body


def refer(api: Any, rw: ReferralWorld, persona: str = "village_doctor_a", patient: Any = None,
          **overrides: Any) -> dict[str, Any]:
    response = api(persona).post("/referrals", refer_body(rw, patient, **overrides))
    assert response.status_code == 201, response.content
    return response.json()


def accept_body(**overrides: Any) -> dict[str, Any]:
    from medunion.core import clock

    body: dict[str, Any] = {"admit_kind": "bed", "appointment_at": (clock.now() + dt.timedelta(hours=4)).isoformat(),
                            "location": "住院部5楼 心内科 12床", "bring": "身份证、医保卡、既往心电图"}
    body.update(overrides)
    return body


def new_patient(rw: ReferralWorld, i: int, persona: str = "village_doctor_a") -> Any:
    """Another patient registered by ``persona`` (who joins their care team)."""
    from medunion.patients.actions import PatientInput, register_patient
    from medunion.patients.identity import make_resident_id

    number = make_resident_id("610424", dt.date(1950, 1, 1) + dt.timedelta(days=97 * i), 100 + i, male=i % 2 == 0)
    return register_patient(acting=rw.actor(persona), data=PatientInput(
        name=f"患者{i:03d}", id_number=number, region_code="610424100201"))
