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
    "cardiologist_tertiary": "same consortium, unrelated, another tier",
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
    event = AuditEvent.objects.filter(patient_id=pid).order_by("-seq").first()
    matrix = MatrixWorld(world=world, ids={
        "patient": str(pid), "org": str(county.pk), "department": str(department.pk),
        "department_code": department.code, "consortium": str(c.pk), "practitioner": str(vdb),
        "team": str(team.pk), "licence": str(licence.pk), "consent": str(consent.pk), "qr": qr.token,
        "grant": str(grant.pk), "job": str(job.pk), "user": str(world.users["village_doctor_b"].pk),
        "site": str(site.pk) if site else "", "event": str(event.uid) if event else "",
        "patient_id_number": world.patients["patient_a_id_number"], "region": "610424100201",
        "setting": "support_phone",
    })
    for persona in PERSONAS:
        if persona != "anonymous":
            matrix.tokens[persona] = _token(persona)[0]
    # A second token of village_doctor_a's, to be revoked through /accounts/me/tokens/{id}.
    matrix.ids["token"] = str(_token("village_doctor_a")[1].pk)
    actor_for(world.users["village_doctor_a"])  # warm: nothing cached, only proves the account loads
    return matrix


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
