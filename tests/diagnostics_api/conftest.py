"""The diagnosis world of tests/diagnostics (township_doctor requests, hub_radiologist and
hub_radiologist_b read at the imaging hub, hub_chief gives second reads, county_doctor is in
patient_a's care team) reached through the JSON API with a bearer token per persona; stored files
land in a private directory per test."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.api.conftest import ApiClient, assert_problem, issue_token
from tests.diagnostics.conftest import DiagnosisWorld, build_diagnosis_world
from tests.diagnostics.dicom_files import ct_series, identity_of

__all__ = ["assert_problem", "Api", "exam_body", "request_ct", "ct_slices", "photo", "uploaded", "signed",
           "REPORT"]

REPORT = {"findings": "右侧基底节区见类圆形高密度影，约 25 mm，周围少许水肿带，中线结构无移位。",
          "impression": "右侧基底节区脑出血。", "recommendation": "建议立即转上级医院神经外科。",
          "codes": ["I61.9"], "measurements": [{"code": "21889-1", "value": 25}]}


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    from medunion.diagnostics.render import clear_caches

    settings.MEDUNION_REQUIRE_MFA = False
    settings.MEDUNION_DICOM_ARCHIVE = "local"
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(tmp_path / "files")}}
    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def dw(world) -> DiagnosisWorld:
    return build_diagnosis_world(world)


class Api(ApiClient):
    def upload(self, examination_id: Any, data: bytes, name: str = "IM0001.dcm",
               content_type: str = "application/dicom") -> Any:
        from django.core.files.uploadedfile import SimpleUploadedFile

        return self.client.post(f"/api/v1/examinations/{examination_id}/files",
                                {"file": SimpleUploadedFile(name, data, content_type=content_type)})


@pytest.fixture
def api(dw):
    """``api("township_doctor")``: a client with a fresh bearer token of that persona."""
    made: dict[str, Api] = {}

    def make(persona: str) -> Api:
        if persona not in made:
            made[persona] = Api(issue_token(persona))
        return made[persona]

    return make


def exam_body(dw: DiagnosisWorld, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"patient_id": str(dw.patient.pk), "modality": "CT", "body_site": "head",
                            "urgency": "urgent", "question": "突发头痛伴呕吐2小时，排除颅内出血"}
    body.update(overrides)
    return body


def request_ct(api: Any, dw: DiagnosisWorld, persona: str = "township_doctor", **overrides: Any) -> dict[str, Any]:
    response = api(persona).post("/examinations", exam_body(dw, **overrides))
    assert response.status_code == 201, response.content
    return response.json()


def ct_slices(dw: DiagnosisWorld, n: int) -> list[bytes]:
    return ct_series(identity_of(dw.patient, dw.world.patients["patient_a_id_number"]), n)


def photo(colour: str = "red") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def uploaded(api: Any, dw: DiagnosisWorld, slices: int = 2, persona: str = "township_doctor",
             **overrides: Any) -> str:
    """A CT examination with real slices, uploaded and sent for reading through the API; its id."""
    exam = request_ct(api, dw, persona, **overrides)["summary"]
    for i, data in enumerate(ct_slices(dw, slices)):
        assert api(persona).upload(exam["id"], data, name=f"IM{i:04d}.dcm").status_code == 201
    assert api(persona).post(f"/examinations/{exam['id']}/submit", {}).status_code == 200
    return exam["id"]


def signed(api: Any, dw: DiagnosisWorld, reader: str = "hub_radiologist", **report: Any) -> str:
    eid = uploaded(api, dw)
    assert api(reader).post(f"/examinations/{eid}/claim", {}).status_code == 200
    response = api(reader).post(f"/examinations/{eid}/report/sign", {"report": {**REPORT, **report}})
    assert response.status_code == 200, response.content
    return eid
