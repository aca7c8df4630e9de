"""One world for the whole access matrix, built once per module inside a transaction that is
rolled back when the module ends; every request of the matrix runs in a savepoint that is rolled
back too, so a write by one persona never changes what the next one sees."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, RequestFactory
from django.test.utils import override_settings

from medunion.access.actions import break_glass
from medunion.access.actor import actor_for, system_actor
from medunion.accounts.actions import issue_token
from medunion.accounts.models import ApiToken, User
from medunion.network import actions as net
from medunion.patients import actions as pa
from tests.world import PASSWORD, World, build_world

# Who asks, and how they are related to patient_a and to the consortium QX-YGT.
PERSONAS = {
    "anonymous": "not signed in",
    "village_doctor_a": "care team of patient_a (registered them)",
    "village_doctor_b": "same consortium, unrelated to patient_a",
    "hub_radiologist": "same consortium, break-the-glass grant on patient_a",
    "cardiologist_tertiary": "same consortium, unrelated, another tier (sees the cardiology pool)",
    "consult_specialist": "cardiologist who took patient_a's consultation and accepted their referral (care team)",
    "outsider": "clinician of another consortium",
    "coordinator": "coordinator of QX-YGT",
    "commission_viewer": "health commission of the county",
    "patient_a": "the patient themselves",
    "sysadmin": "system administrator",
    "secadmin": "security administrator",
    "auditadmin": "audit administrator",
}


@dataclass
class MatrixWorld:
    world: World
    ids: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    def page_client(self, persona: str) -> Client:
        c = Client(headers={"accept-language": "en"})
        if persona != "anonymous":
            c.force_login(User.objects.get(username=persona))
        return c

    def api_client(self, persona: str) -> Client:
        headers = {"accept-language": "en"}
        if persona != "anonymous":
            headers["authorization"] = f"Bearer {self.tokens[persona]}"
        return Client(headers=headers)


def _token(username: str) -> tuple[str, ApiToken]:
    return issue_token(RequestFactory().post("/api/v1/auth/token"), username=username, password=PASSWORD)


def _build() -> MatrixWorld:
    world = build_world()
    system = system_actor("matrix")
    c = world.consortium
    pid = world.patients["patient_a"].pk
    vdb = world.users["village_doctor_b"].practitioner_id
    county = world.orgs["county"]
    department = net.save_department(acting=system, organisation_id=county.pk, code="NEPH", name="肾内科",
                                     specialty="nephrology", beds=20, daily_slots=30)
    team = net.create_team(acting=system, consortium_id=c.pk, name="城关家庭医生团队", kind="family_doctor")
    net.set_team_member(acting=system, team_id=team.pk, practitioner_id=vdb)
    licence = net.record_licence(acting=system, practitioner_id=vdb, number="V610424000002",
                                 valid_from=dt.date(2020, 1, 1))
    doctor = world.actor("village_doctor_a")
    consent = pa.record_consent(acting=doctor, patient_id=pid, scope="teleconsultation", consortium_id=c.pk)
    qr = pa.issue_qr_token(acting=doctor, patient_id=pid)
    grant = break_glass(acting=world.actor("hub_radiologist"), patient_id=pid,
                        reason="Emergency reading, patient unconscious")
    from medunion.network.importer import start_import

    with override_settings(MEDUNION_IMPORT_SYNC=True):
        job = start_import(acting=world.actor("coordinator"), consortium_id=c.pk, filename="staff.csv",
                           content="name,licence_number,organisation_code,title\n王医生,V610424000099,V001,village_doctor\n"
                           .encode())
    from medunion.audit.models import AuditEvent
    from medunion.network.models import PracticeSite

    site = PracticeSite.objects.filter(practitioner_id=vdb).first()
    consult_ids = _consult(world)
    event = AuditEvent.objects.filter(patient_id=pid).order_by("-seq").first()
    referral_ids = _referral(world)
    diagnosis_ids = _diagnosis(world)
    matrix = MatrixWorld(world=world, ids={
        "patient": str(pid), "org": str(county.pk), "department": str(department.pk),
        "department_code": department.code, "consortium": str(c.pk), "practitioner": str(vdb),
        "team": str(team.pk), "licence": str(licence.pk), "consent": str(consent.pk), "qr": qr.token,
        "grant": str(grant.pk), "job": str(job.pk), "user": str(world.users["village_doctor_b"].pk),
        "site": str(site.pk) if site else "", "event": str(event.uid) if event else "",
        "patient_id_number": world.patients["patient_a_id_number"], "region": "610424100201",
        "setting": "support_phone",
        **consult_ids, **referral_ids, **diagnosis_ids,
    })
    for persona in PERSONAS:
        if persona != "anonymous":
            matrix.tokens[persona] = _token(persona)[0]
    # A second token of village_doctor_a's, to be revoked through /accounts/me/tokens/{id}.
    matrix.ids["token"] = str(_token("village_doctor_a")[1].pk)
    actor_for(world.users["village_doctor_a"])  # warm: nothing cached, only proves the account loads
    return matrix


def _consult(world: World) -> dict[str, str]:
    """A cardiology consultation about patient_a: asked by village_doctor_a (with a photo), claimed
    by cardiologist_tertiary, who wrote in both conversations; and a second one still in the pool."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from medunion.accounts.actions import create_account
    from medunion.consults import actions as ca
    from medunion.files.actions import store_upload
    from medunion.notifications.models import Notification

    pid = world.patients["patient_a"].pk
    system = system_actor("matrix")
    specialist = net.create_practitioner(acting=system, name="周心怡", title="attending",
                                         licence_number="110610000000002", organisation_id=world.orgs["tertiary"].pk,
                                         specialties=["cardiology"], years_independent=6)
    world.users["consult_specialist"] = create_account(acting=system, username="consult_specialist",
                                                       password=PASSWORD, role="practitioner", display_name="周心怡",
                                                       practitioner_id=specialist.pk)
    doctor, cardio = world.actor("village_doctor_a"), world.actor("consult_specialist")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG")
    photo = store_upload(acting=doctor, patient_id=pid, upload=SimpleUploadedFile("ecg.jpg", buffer.getvalue(),
                                                                                   content_type="image/jpeg"))
    consult = ca.create_consult(acting=doctor, data=ca.ConsultInput(
        specialty="cardiology", urgency="urgent", question="胸闷两天，是否需要转诊？", patient_id=pid),
        attachments=[photo])
    ca.claim_consult(acting=cardio, consult_id=consult.pk)
    clinical = ca.post_message(acting=cardio, consult_id=consult.pk, body="请补做十二导联心电图。")
    to_patient = ca.post_message(acting=cardio, consult_id=consult.pk, body="请按时服药。", audience="patient")
    pool = ca.create_consult(acting=doctor, data=ca.ConsultInput(
        specialty="cardiology", urgency="routine", question="血压控制不佳，如何调整用药？", patient_id=pid))
    note = Notification.objects.filter(user=world.users["village_doctor_a"]).order_by("-created_at").first()
    return {"consult": str(consult.pk), "pool_consult": str(pool.pk), "consult_file": str(photo.pk),
            "consult_message": str(clinical.pk), "patient_message": str(to_patient.pk),
            "notification": str(note.pk) if note else ""}


def _referral(world: World) -> dict[str, str]:
    """village_doctor_a, cardiologist_tertiary and consult_specialist hold the transfer_patients
    privilege (village_doctor_b only a licence). patient_a referred up by village_doctor_a to the
    tertiary cardiology department through the green channel (a bed), with a file and a clinician
    message, accepted with a bed by consult_specialist (already in the care team through the
    consultation: accepting puts the receiver in it, and cardiologist_tertiary must stay unrelated
    to patient_a, a clinician of the receiving hospital who sees the referral only); and sent down
    by consult_specialist to 东村卫生室 (village_doctor_a's clinic) with a discharge summary and a
    two-step plan, still requested."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from medunion.core import clock
    from medunion.files.actions import store_upload
    from medunion.network.models import Department
    from medunion.referrals import actions as ra
    from medunion.referrals.models import FollowUpTask

    system = system_actor("matrix")
    c = world.consortium
    for persona, number in (("village_doctor_a", "V610424000001"), ("cardiologist_tertiary", "110610000000001"),
                            ("consult_specialist", "110610000000002")):
        practitioner_id = world.users[persona].practitioner_id
        net.record_training(acting=system, practitioner_id=practitioner_id, consortium_id=c.pk,
                            completed_on="2025-06-01")
        net.record_exam(acting=system, practitioner_id=practitioner_id, consortium_id=c.pk, taken_on="2025-06-20",
                        score=88)
        net.record_licence(acting=system, practitioner_id=practitioner_id, number=number, valid_from="2020-01-01")
    pid = world.patients["patient_a"].pk
    doctor, cardio = world.actor("village_doctor_a"), world.actor("consult_specialist")
    cardiology = Department.objects.get(organisation=world.orgs["tertiary"], code="CARD")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 30, 200)).save(buffer, "JPEG")
    letter = store_upload(acting=doctor, patient_id=pid, upload=SimpleUploadedFile(
        "ecg-referral.jpg", buffer.getvalue(), content_type="image/jpeg"))
    referral = ra.create_referral(acting=doctor, data=ra.ReferralInput(
        patient_id=pid, direction="up", target_organisation_id=world.orgs["tertiary"].pk,
        target_department_id=cardiology.pk, urgency="urgent", reason="不稳定型心绞痛，需冠脉造影",
        clinical_summary="胸痛反复发作三天，心电图ST段压低，肌钙蛋白轻度升高。", green_channel=True, green_place="bed"),
        attachments=[letter])
    entry = ra.post_message(acting=doctor, referral_id=referral.pk, audience="clinicians",
                            body="患者已服阿司匹林300mg。")
    referral = ra.accept_referral(acting=cardio, referral_id=referral.pk, data=ra.AcceptInput(
        admit_kind="bed", appointment_at=clock.now() + dt.timedelta(hours=4), location="住院部5楼 心内科 12床",
        bring="身份证、医保卡、既往心电图"))
    down = ra.create_referral(acting=cardio, data=ra.ReferralInput(
        patient_id=pid, direction="down", target_organisation_id=world.orgs["clinic_a"].pk,
        reason="康复期随访", clinical_summary="冠脉支架术后，病情稳定。", discharge_summary="PCI术后第5天出院，继续双抗治疗。",
        plan=[ra.PlanItem(kind="visit", description="出院一周随访", due_in_days=7),
              ra.PlanItem(kind="medication_review", description="复查用药", due_in_days=30)]))
    task = FollowUpTask.objects.filter(referral=down).order_by("position").first()
    return {"referral": str(referral.pk), "referral_entry": str(entry.pk), "referral_file": str(letter.pk),
            "referral_code": referral.checkin_code, "down_referral": str(down.pk),
            "task": str(task.pk) if task else "", "card_department": str(cardiology.pk),
            "tertiary": str(world.orgs["tertiary"].pk)}


def _diagnosis(world: World) -> dict[str, str]:
    """Remote diagnosis (issue 5): CT is read at the imaging hub. village_doctor_a asked for three
    CTs of patient_a: "exam" (two slices, claimed and signed by hub_radiologist with a critical
    finding, "critical" — recognised region-wide), "exam_waiting" (sent, in the hub's worklist) and
    "exam_draft" (one slice, not yet sent). consult_specialist is in patient_a's care team;
    hub_radiologist reads at the hub (and holds a break-the-glass grant)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from medunion.diagnostics import actions as da
    from medunion.diagnostics import actions_reading as dr
    from medunion.diagnostics.models import CriticalFinding, ReadingRoute
    from medunion.diagnostics.validation import ExaminationInput, ReportInput
    from tests.diagnostics.dicom_files import ct_series, identity_of

    ReadingRoute.objects.create(consortium=world.consortium, modality="CT", hub=world.orgs["imaging_hub"])
    doctor, reader = world.actor("village_doctor_a"), world.actor("hub_radiologist")
    patient = world.patients["patient_a"]
    slices = ct_series(identity_of(patient, world.patients["patient_a_id_number"]), 4)

    def exam(n: int, site: str) -> Any:
        e = da.create_examination(acting=doctor, data=ExaminationInput(
            patient_id=patient.pk, modality="CT", body_site=site, urgency="urgent", question="头痛待查"))
        for i in range(n):
            da.upload_file(acting=doctor, examination_id=e.pk,
                           upload=SimpleUploadedFile(f"IM{i}.dcm", slices.pop(), content_type="application/dicom"))
        return e

    reported = exam(2, "head")
    da.submit(acting=doctor, examination_id=reported.pk)
    dr.claim(acting=reader, examination_id=reported.pk)
    dr.sign(acting=reader, examination_id=reported.pk, data=ReportInput(
        findings="右侧基底节区高密度影。", impression="脑出血。", codes=["I61.9"],
        measurements=[{"code": "21889-1", "value": 25}], critical=True, critical_note="急性脑出血"))
    waiting = exam(1, "chest")
    da.submit(acting=doctor, examination_id=waiting.pk)
    draft = exam(1, "abdomen")
    instance = reported.instances.order_by("number").first()
    return {"exam": str(reported.pk), "exam_waiting": str(waiting.pk), "exam_draft": str(draft.pk),
            "exam_instance": str(instance.pk) if instance else "", "exam_series": str(instance.series_id) if instance else "",
            "critical": str(CriticalFinding.objects.get(examination=reported).pk), "exam_frame": "1",
            # FHIR: the studies of "exam" and "exam_draft", and the first measurement of exam's report.
            "exam_study": str(reported.studies.get().pk), "exam_draft_study": str(draft.studies.get().pk),
            "exam_observation": f"{reported.reports.get().pk}-1"}


@pytest.fixture(scope="module")
def matrix(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), override_settings(
            MEDUNION_REQUIRE_MFA=False, MEDUNION_IMPORT_SYNC=True,
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        from django.db import connection

        from medunion.audit import triggers

        triggers.install(connection)
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def send(client: Client, method: str, path: str, body: Any = None, *, form: bool = False,
         inspect: Any = None) -> Any:
    """One request inside a savepoint that is rolled back afterwards; ``inspect(response)`` runs
    before the rollback, while what the request wrote is still there."""
    with transaction.atomic():
        if method == "get":
            response = client.get(path)
        elif form:
            response = getattr(client, method)(path, body or {})
        else:
            data = json.dumps(body, default=str) if body is not None else None
            response = getattr(client, method)(path, data, content_type="application/json")
        if inspect is not None:
            inspect(response)
        transaction.set_rollback(True)
    return response
