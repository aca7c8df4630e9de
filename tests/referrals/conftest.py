"""The consortium of tests/world.py, ready for referrals:

- village_doctor_a (东村卫生室) and cardiologist_tertiary (the tertiary hospital's cardiology
  department, 4 green-channel beds and 6 slots reserved) hold the ``transfer_patients``
  privilege: trained, examined and licensed;
- village_doctor_b is trained but has neither passed the exam nor a licence;
- cardiologist_b (tertiary, cardiology) holds the privilege too; county_doctor at the county
  hospital (internal medicine department) holds it as well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from medunion.access.actor import Actor, actor_for, system_actor
from medunion.accounts.models import User
from medunion.network import actions as net
from medunion.network.models import Department, PracticeSite
from medunion.referrals.actions import AcceptInput, ReferralInput, accept_referral, create_referral
from tests.consults.conftest import add_practitioner
from tests.world import World

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


@dataclass
class ReferralWorld:
    world: World
    cardiology: Department
    internal: Department
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


def grant(world: World, practitioner_id: Any, *, exam: bool = True, licence: bool = True,
          licence_number: str = "") -> None:
    system = system_actor("tests")
    net.record_training(acting=system, practitioner_id=practitioner_id, consortium_id=world.consortium.pk,
                        completed_on="2025-06-01")
    if exam:
        net.record_exam(acting=system, practitioner_id=practitioner_id, consortium_id=world.consortium.pk,
                        taken_on="2025-06-20", score=88)
    if licence:
        net.record_licence(acting=system, practitioner_id=practitioner_id,
                           number=licence_number or f"L{str(practitioner_id).replace('-', '')[:12]}",
                           valid_from="2020-01-01")


def build_referral_world(world: World) -> ReferralWorld:
    system = system_actor("tests")
    users: dict[str, User] = {}
    add_practitioner(world, users, "cardiologist_b", "周心怡", "tertiary", "110610000000002", ["cardiology"])
    add_practitioner(world, users, "county_doctor", "吴县内", "county", "110610424000012", ["internal_medicine"])
    cardiology = Department.objects.get(organisation=world.orgs["tertiary"], code="CARD")
    internal = net.save_department(acting=system, organisation_id=world.orgs["county"].pk, code="NEI",
                                   name="内科", specialty="internal_medicine", beds=30, daily_slots=20,
                                   green_channel_beds=2, green_channel_slots=2)
    rw = ReferralWorld(world=world, cardiology=cardiology, internal=internal, users=users)
    PracticeSite.objects.filter(practitioner_id__in=[rw.pid("cardiologist_tertiary"), rw.pid("cardiologist_b")]) \
        .update(department=cardiology)
    for persona in ("village_doctor_a", "cardiologist_tertiary", "cardiologist_b", "county_doctor"):
        grant(world, rw.pid(persona))
    grant(world, rw.pid("village_doctor_b"), exam=False, licence=False)
    return rw


@pytest.fixture
def rw(world) -> ReferralWorld:
    return build_referral_world(world)


def refer_up(rw: ReferralWorld, persona: str = "village_doctor_a", **overrides: Any) -> Any:
    """An urgent upward referral of patient_a to the tertiary cardiology department."""
    data: dict[str, Any] = dict(
        patient_id=rw.patient.pk, direction="up", target_organisation_id=rw.orgs["tertiary"].pk,
        target_department_id=rw.cardiology.pk, urgency="urgent", reason="不稳定型心绞痛，需冠脉造影",
        clinical_summary="胸痛反复发作三天，心电图ST段压低，肌钙蛋白轻度升高。")
    attachments = overrides.pop("attachments", ())
    data.update(overrides)
    return create_referral(acting=rw.actor(persona), data=ReferralInput(**data), attachments=attachments)


def accept(rw: ReferralWorld, referral: Any, persona: str = "cardiologist_tertiary", **overrides: Any) -> Any:
    from medunion.core import clock

    data: dict[str, Any] = dict(admit_kind="bed", appointment_at=clock.now() + dt.timedelta(hours=4),
                                location="住院部5楼 心内科 12床", bring="身份证、医保卡、既往心电图")
    data.update(overrides)
    return accept_referral(acting=rw.actor(persona), referral_id=referral.pk, data=AcceptInput(**data))
