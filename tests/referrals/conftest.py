"""The consortium of tests/world.py, ready for referrals:

- village_doctor_a (东村卫生室) and cardiologist_tertiary (the tertiary hospital's cardiology
  department, 4 green-channel beds and 6 slots reserved) hold the ``transfer_patients``
  privilege: trained, examined and licensed;
- village_doctor_b is trained but has neither passed the exam nor a licence;
- cardiologist_b (tertiary, cardiology) holds the privilege too; county_doctor at the county
  hospital (internal medicine department) holds it as well;
- tertiary_colleague (tertiary, cardiology) holds the privilege; tertiary_unlicensed (tertiary,
  cardiology) is trained only;
- township_doctor (城关镇卫生院) is patient_a's family doctor (care team) and refers nobody.
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

RECEIVING_STAFF = ("cardiologist_tertiary", "cardiologist_b", "tertiary_colleague", "tertiary_unlicensed")


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
          licence_number: str = "", training: bool = True) -> None:
    system = system_actor("tests")
    if training:
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
    from medunion.patients.actions import add_to_care_team

    system = system_actor("tests")
    users: dict[str, User] = {}
    add_practitioner(world, users, "cardiologist_b", "周心怡", "tertiary", "110610000000002", ["cardiology"])
    add_practitioner(world, users, "county_doctor", "吴县内", "county", "110610424000012", ["internal_medicine"])
    add_practitioner(world, users, "tertiary_colleague", "郑同事", "tertiary", "110610000000004", ["cardiology"])
    add_practitioner(world, users, "tertiary_unlicensed", "钱新人", "tertiary", "110610000000005", ["cardiology"])
    add_practitioner(world, users, "township_doctor", "冯家医", "township", "110610424000013",
                     ["general_practice"])
    cardiology = Department.objects.get(organisation=world.orgs["tertiary"], code="CARD")
    internal = net.save_department(acting=system, organisation_id=world.orgs["county"].pk, code="NEI",
                                   name="内科", specialty="internal_medicine", beds=30, daily_slots=20,
                                   green_channel_beds=2, green_channel_slots=2)
    rw = ReferralWorld(world=world, cardiology=cardiology, internal=internal, users=users)
    PracticeSite.objects.filter(practitioner_id__in=[rw.pid(p) for p in RECEIVING_STAFF]).update(department=cardiology)
    for persona in ("village_doctor_a", "cardiologist_tertiary", "cardiologist_b", "county_doctor",
                    "tertiary_colleague"):
        grant(world, rw.pid(persona))
    grant(world, rw.pid("village_doctor_b"), exam=False, licence=False)
    grant(world, rw.pid("tertiary_unlicensed"), exam=False, licence=False)
    add_to_care_team(acting=rw.actor("village_doctor_a"), patient_id=rw.patient.pk, role="family_doctor",
                     practitioner_id=rw.pid("township_doctor"), source_type="page")
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


def decline(rw: ReferralWorld, referral: Any, persona: str = "cardiologist_tertiary",
            reason: str = "本科室今日无床，建议转县医院") -> Any:
    from medunion.referrals.actions import decline_referral

    return decline_referral(acting=rw.actor(persona), referral_id=referral.pk, reason=reason)


def cancel(rw: ReferralWorld, referral: Any, persona: str = "village_doctor_a", reason: str = "患者拒绝转诊") -> Any:
    from medunion.referrals.actions import cancel_referral

    return cancel_referral(acting=rw.actor(persona), referral_id=referral.pk, reason=reason)


def redirect(rw: ReferralWorld, referral: Any, persona: str = "cardiologist_tertiary", **overrides: Any) -> Any:
    from medunion.referrals.actions import redirect_referral

    args: dict[str, Any] = dict(organisation_id=rw.orgs["county"].pk, department_id=rw.internal.pk,
                                reason="县医院内科可以处理")
    args.update(overrides)
    return redirect_referral(acting=rw.actor(persona), referral_id=referral.pk, **args)


def check_in(rw: ReferralWorld, referral: Any, persona: str = "cardiologist_tertiary", code: str = "") -> Any:
    from medunion.referrals.actions import check_in as do_check_in

    if code:
        return do_check_in(acting=rw.actor(persona), code=code)
    return do_check_in(acting=rw.actor(persona), referral_id=referral.pk)


def outcome(rw: ReferralWorld, referral: Any, persona: str = "cardiologist_tertiary", **overrides: Any) -> Any:
    from medunion.referrals.actions import OutcomeInput, return_outcome

    data: dict[str, Any] = dict(summary="冠脉造影示前降支狭窄80%，已植入支架一枚，术后恢复良好。")
    data.update(overrides)
    return return_outcome(acting=rw.actor(persona), referral_id=referral.pk, data=OutcomeInput(**data))


def complete(rw: ReferralWorld, referral: Any, persona: str = "village_doctor_a") -> Any:
    from medunion.referrals.actions import complete_referral

    return complete_referral(acting=rw.actor(persona), referral_id=referral.pk)


def close_automatically(referral: Any) -> Any:
    """The worker closes the loop (as if ``close_after_days`` had passed)."""
    from medunion.referrals.models import Referral
    from medunion.referrals.worker import close_finished_loops

    due = Referral.objects.get(pk=referral.pk).close_at
    assert due is not None and close_finished_loops(due) == 1
    return Referral.objects.get(pk=referral.pk)


STATES = ("requested", "accepted", "declined", "cancelled", "arrived", "outcome_returned", "completed",
          "completed_auto")


def in_state(rw: ReferralWorld, state: str, **overrides: Any) -> Any:
    """A referral of patient_a brought into ``state`` through the actions. ``cancelled`` is
    cancelled after acceptance; ``completed`` was closed by the sender, ``completed_auto`` by
    the worker."""
    r = refer_up(rw, **overrides)
    if state == "requested":
        return r
    if state == "declined":
        return decline(rw, r)
    r = accept(rw, r)
    if state == "accepted":
        return r
    if state == "cancelled":
        return cancel(rw, r)
    r = check_in(rw, r)
    if state == "arrived":
        return r
    r = outcome(rw, r)
    if state == "outcome_returned":
        return r
    if state == "completed":
        return complete(rw, r)
    assert state == "completed_auto", state
    return close_automatically(r)


def new_patient(rw: ReferralWorld, i: int, persona: str = "village_doctor_a") -> Any:
    """Another patient registered by ``persona`` (who joins their care team)."""
    from medunion.patients.actions import PatientInput, register_patient
    from medunion.patients.identity import make_resident_id

    number = make_resident_id("610424", dt.date(1950, 1, 1) + dt.timedelta(days=97 * i), 100 + i, male=i % 2 == 0)
    return register_patient(acting=rw.actor(persona), data=PatientInput(name=f"患者{i:03d}", id_number=number,
                                                                         region_code="610424100201"))


def snapshot() -> dict[str, Any]:
    """Everything a referral action may write: row counts and the green-channel places in use."""
    from medunion.audit.models import AuditEvent
    from medunion.notifications.models import Notification
    from medunion.patients.models import CareTeamMember
    from medunion.referrals.models import FollowUpTask, Referral, ReferralAttachment, ReferralEntry

    return {
        "referrals": Referral.objects.count(), "entries": ReferralEntry.objects.count(),
        "attachments": ReferralAttachment.objects.count(), "tasks": FollowUpTask.objects.count(),
        "audit": AuditEvent.objects.filter(action__startswith="referral.").count(),
        "notifications": Notification.objects.count(), "care_team": CareTeamMember.objects.count(),
        "states": sorted(Referral.objects.values_list("state", "version", "last_seq")),
        "in_use": sorted(Department.objects.values_list("code", "green_channel_beds_in_use",
                                                        "green_channel_slots_in_use")),
    }
