"""The consortium of tests/world.py, ready for remote diagnosis, and real DICOM files for it.

- reading routes: CT, DR/X-ray, MR and ultrasound are read at the imaging hub (乾县影像诊断中心);
- hub_radiologist (attending) and hub_radiologist_b (attending) read there; hub_chief (chief
  physician) gives second reads; hub_sonographer reads ultrasound only;
- township_doctor (城关镇卫生院) requests examinations; county_doctor (乾县人民医院) is in
  patient_a's care team (treating), so recognised reports reach him;
- village_doctor_a registered patient_a; village_doctor_b is unrelated to her.

DICOM files are pydicom's own test files (``pydicom.data``), restamped with the registered
patient's identity the way a scanner's worklist writes it (``identity_of``), and given fresh UIDs
where a test needs new instances.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from medunion.access.actor import Actor, actor_for, system_actor
from medunion.accounts.models import User
from tests.consults.conftest import add_practitioner
from tests.diagnostics.dicom_files import PATIENT_A_LATIN, ct_series, dicom_testfile, identity_of, restamp  # noqa: F401
from tests.world import World


@dataclass
class DiagnosisWorld:
    world: World
    users: dict[str, User] = field(default_factory=dict)

    def actor(self, persona: str, surface: str = "page") -> Actor:
        user = self.users.get(persona) or self.world.users[persona]
        return actor_for(User.objects.get(pk=user.pk), surface)

    def pid(self, persona: str) -> Any:
        return self.actor(persona).practitioner_id

    @property
    def patient(self) -> Any:
        return self.world.patients["patient_a"]

    @property
    def orgs(self) -> dict[str, Any]:
        return self.world.orgs


def build_diagnosis_world(world: World) -> DiagnosisWorld:
    from medunion.diagnostics.models import ReadingRoute
    from medunion.patients.actions import add_to_care_team

    users: dict[str, User] = {}
    add_practitioner(world, users, "hub_radiologist_b", "钱影像", "imaging_hub", "110610424000021", ["radiology"])
    add_practitioner(world, users, "hub_chief", "孙主任", "imaging_hub", "110610424000022", ["radiology"],
                     title="chief")
    add_practitioner(world, users, "hub_sonographer", "李超声", "imaging_hub", "110610424000023", ["ultrasound"])
    add_practitioner(world, users, "township_doctor", "冯家医", "township", "110610424000013", ["general_practice"])
    add_practitioner(world, users, "county_doctor", "吴县内", "county", "110610424000012", ["internal_medicine"])
    dw = DiagnosisWorld(world=world, users=users)
    for modality in ("CT", "DX", "MR", "US"):
        ReadingRoute.objects.create(consortium=world.consortium, modality=modality, hub=world.orgs["imaging_hub"])
    village = dw.actor("village_doctor_a")
    for persona, role in (("township_doctor", "family_doctor"), ("county_doctor", "attending")):
        add_to_care_team(acting=village, patient_id=dw.patient.pk, role=role, practitioner_id=dw.pid(persona),
                         source_type="page")
    return dw


@pytest.fixture
def dw(world) -> DiagnosisWorld:
    return build_diagnosis_world(world)


# --- real DICOM files: tests/diagnostics/dicom_files.py -----------------------------------------------

def upload(name: str, data: bytes, content_type: str = "application/dicom") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def new_ct(dw: DiagnosisWorld, persona: str = "township_doctor", **overrides: Any) -> Any:
    from medunion.diagnostics.actions import create_examination
    from medunion.diagnostics.validation import ExaminationInput

    data: dict[str, Any] = dict(patient_id=dw.patient.pk, modality="CT", body_site="head", urgency="urgent",
                                question="突发头痛伴呕吐2小时，排除颅内出血")
    data.update(overrides)
    return create_examination(acting=dw.actor(persona), data=ExaminationInput(**data))


def uploaded_ct(dw: DiagnosisWorld, slices: int = 3, persona: str = "township_doctor", **overrides: Any) -> Any:
    """A CT examination with ``slices`` real CT slices of patient_a, sent for reading."""
    from medunion.diagnostics.actions import submit, upload_file

    exam = new_ct(dw, persona, **overrides)
    identity = identity_of(dw.patient, dw.world.patients["patient_a_id_number"])
    for i, data in enumerate(ct_series(identity, slices)):
        upload_file(acting=dw.actor(persona), examination_id=exam.pk, upload=upload(f"IM{i:04d}.dcm", data))
    return submit(acting=dw.actor(persona), examination_id=exam.pk)


def signed_ct(dw: DiagnosisWorld, *, critical: bool = False, reader: str = "hub_radiologist", **overrides: Any) -> Any:
    from medunion.diagnostics.actions_reading import claim, sign
    from medunion.diagnostics.validation import ReportInput

    exam = uploaded_ct(dw, **overrides)
    claim(acting=dw.actor(reader), examination_id=exam.pk)
    sign(acting=dw.actor(reader), examination_id=exam.pk, data=ReportInput(
        findings="右侧基底节区见类圆形高密度影，约 25 mm，周围少许水肿带，中线结构无移位。",
        impression="右侧基底节区脑出血。", recommendation="建议立即转上级医院神经外科。", codes=["I61.9"],
        measurements=[{"code": "21889-1", "value": 25}], critical=critical,
        critical_note="右侧基底节区急性脑出血" if critical else ""))
    from medunion.diagnostics.machine import load

    return load(exam.pk)


@pytest.fixture
def system() -> Actor:
    return system_actor("tests")


# --- archives: the local file store, and a real Orthanc over DICOMweb --------------------------------

from tests.orthanc_server import orthanc_server, orthanc_url  # noqa: E402,F401  (session: a real Orthanc)


@pytest.fixture(params=["local", "orthanc"])
def archive(request, settings) -> Iterator[str]:
    """Run a test once with the local archive and once against a real Orthanc (DICOMweb); what
    the test stored at Orthanc is deleted afterwards."""
    from medunion.diagnostics.render import clear_caches

    server = None
    if request.param == "orthanc":
        server = request.getfixturevalue("orthanc_server")
        settings.MEDUNION_DICOMWEB_URL = server.dicomweb_url
        settings.MEDUNION_DICOMWEB_USER = server.user
        settings.MEDUNION_DICOMWEB_PASSWORD = server.password
        settings.MEDUNION_DICOM_ARCHIVE = "orthanc"
    else:
        settings.MEDUNION_DICOM_ARCHIVE = "local"
    clear_caches()
    yield request.param
    clear_caches()
    if server is not None:
        server.clear()


# --- for the domain tests: a private file store, and what a refusal must leave untouched -------------

@pytest.fixture(autouse=True)
def file_root(settings, tmp_path) -> Any:
    """Stored files land in a private directory per test (never the working tree's var/)."""
    root = tmp_path / "files"
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(root)}}
    return root


def stored_keys(root: Any) -> list[str]:
    """Every file under the store's root (staging files included)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def snapshot() -> dict[str, Any]:
    """Everything a diagnosis action may write: row counts, and each examination's state."""
    from medunion.audit.models import AuditEvent
    from medunion.diagnostics import models as m
    from medunion.files.models import StoredFile
    from medunion.notifications.models import Notification

    counts = {model.__name__: model.objects.count() for model in (
        m.Examination, m.Study, m.Series, m.Instance, m.ExamAttachment, m.Report, m.SecondRead,
        m.CriticalFinding, m.Recognition, StoredFile, AuditEvent, Notification)}
    return {**counts, "states": sorted(m.Examination.objects.values_list(
        "accession", "state", "version", "instance_count", "attachment_count", "reader_id"))}


def ct_slice(dw: DiagnosisWorld, **changes: Any) -> bytes:
    """One real CT slice of patient_a with fresh UIDs."""
    return restamp("CT_small.dcm", identity_of(dw.patient, dw.world.patients["patient_a_id_number"]),
                   fresh_uids=True, **changes)
