"""More of the consortium for consultations, built through the actions like tests/world.py:

- cardiologist_b: a second cardiologist at the tertiary hospital;
- county_cardiologist: a cardiologist at the county hospital (a lower tier than the tertiary);
- oncologist: at the tertiary hospital (for MDT invitations);
- a cardiology team of the consortium led by cardiologist_tertiary, with cardiologist_b;
- consult_coordinator_b: a coordinator of the other consortium.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from medunion.access.actor import Actor, actor_for, system_actor
from medunion.accounts.actions import create_account
from medunion.accounts.models import User
from medunion.consults.actions import ConsultInput, create_consult
from medunion.files.models import StoredFile
from medunion.network import actions as net
from tests.world import PASSWORD, World

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


@dataclass
class ConsultWorld:
    world: World
    team: Any
    users: dict[str, User] = field(default_factory=dict)

    def actor(self, persona: str, surface: str = "page") -> Actor:
        user = self.users.get(persona) or self.world.users[persona]
        return actor_for(User.objects.get(pk=user.pk), surface)

    def pid(self, persona: str) -> Any:
        return self.actor(persona).practitioner_id

    @property
    def patient(self) -> Any:
        return self.world.patients["patient_a"]


def add_practitioner(world: World, users: dict[str, User], persona: str, name: str, org: str, licence: str,
                     specialties: list[str], title: str = "attending") -> User:
    system = system_actor("tests")
    p = net.create_practitioner(acting=system, name=name, title=title, licence_number=licence,
                                organisation_id=world.orgs[org].pk, specialties=specialties, years_independent=6)
    users[persona] = create_account(acting=system, username=persona, password=PASSWORD, role="practitioner",
                                    display_name=name, practitioner_id=p.pk)
    return users[persona]


def build_consult_world(world: World) -> ConsultWorld:
    system = system_actor("tests")
    users: dict[str, User] = {}
    add_practitioner(world, users, "cardiologist_b", "周心怡", "tertiary", "110610000000002", ["cardiology"])
    add_practitioner(world, users, "county_cardiologist", "吴县心", "county", "110610424000011", ["cardiology"])
    add_practitioner(world, users, "oncologist", "郑肿瘤", "tertiary", "110610000000003", ["oncology"])
    team = net.create_team(acting=system, consortium_id=world.consortium.pk, name="心血管会诊团队", kind="specialty",
                           specialty="cardiology", organisation_id=world.orgs["tertiary"].pk)
    net.set_team_member(acting=system, team_id=team.pk,
                        practitioner_id=world.users["cardiologist_tertiary"].practitioner_id, role="lead")
    net.set_team_member(acting=system, team_id=team.pk, practitioner_id=users["cardiologist_b"].practitioner_id)
    users["coordinator_b"] = create_account(acting=system, username="coordinator_b", password=PASSWORD,
                                            role="coordinator", display_name="外协调",
                                            consortium_ids=[world.other_consortium.pk])
    return ConsultWorld(world=world, team=team, users=users)


@pytest.fixture
def cw(world) -> ConsultWorld:
    return build_consult_world(world)


def ask(cw: ConsultWorld, persona: str = "village_doctor_a", **overrides: Any) -> Any:
    """An urgent cardiology question about patient_a to the pool (override any field)."""
    data = dict(specialty="cardiology", urgency="urgent", question="胸闷两天，心电图ST段压低，是否需要转诊？",
                patient_id=cw.patient.pk, history="高血压十年", medication="氨氯地平 5mg qd",
                vitals={"systolic": 150, "diastolic": 95, "heart_rate": 88})
    attachments = overrides.pop("attachments", ())
    data.update(overrides)
    return create_consult(acting=cw.actor(persona), data=ConsultInput(**data), attachments=attachments)


def stored_file(cw: ConsultWorld, persona: str = "village_doctor_a", *, patient: Any = "default",
                name: str = "ecg.jpg") -> StoredFile:
    user = cw.users.get(persona) or cw.world.users[persona]
    return StoredFile.objects.create(
        patient=cw.patient if patient == "default" else patient, uploaded_by=user, filename=name, kind="image",
        content_type="image/jpeg", size=1234, sha256=hashlib.sha256(f"{persona}/{name}".encode()).hexdigest(),
        storage_key=f"test/{persona}/{name}")
