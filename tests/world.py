"""A small consortium built through the actions, so audit rows exist like in real use.

Personas (DESIGN §6): village_doctor_a, village_doctor_b, cardiologist_tertiary, hub_radiologist,
coordinator, patient_a, outsider, commission_viewer, sysadmin, secadmin, auditadmin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from medunion.access.actor import Actor, actor_for, system_actor
from medunion.accounts.actions import create_account
from medunion.accounts.models import User
from medunion.network import actions as net
from medunion.network.models import Consortium, ConsortiumMembership, Organisation, Region
from medunion.patients.actions import PatientInput, register_patient
from medunion.patients.identity import make_resident_id

PASSWORD = "Medunion-Test-2026!"

# Real division codes of Xianyang, Shaanxi (stdnum knows 610424 as 乾县).
PROVINCE, CITY, COUNTY = "610000000000", "610400000000", "610424000000"
TOWNSHIP, VILLAGE_A, VILLAGE_B = "610424100000", "610424100201", "610424100202"


@dataclass
class World:
    consortium: Consortium
    other_consortium: Consortium
    orgs: dict[str, Organisation]
    users: dict[str, User] = field(default_factory=dict)
    patients: dict[str, Any] = field(default_factory=dict)

    def actor(self, persona: str, surface: str = "page") -> Actor:
        return actor_for(User.objects.get(pk=self.users[persona].pk), surface)


def _region(code: str, name: str, level: int, parent: str | None) -> Region:
    return Region.objects.create(code=code, name=name, level=level, parent_id=parent)


def build_world() -> World:
    system = system_actor("tests")
    _region(PROVINCE, "陕西省", 1, None)
    _region(CITY, "咸阳市", 2, PROVINCE)
    _region(COUNTY, "乾县", 3, CITY)
    _region(TOWNSHIP, "城关街道", 4, COUNTY)
    _region(VILLAGE_A, "东村", 5, TOWNSHIP)
    _region(VILLAGE_B, "西村", 5, TOWNSHIP)
    _region("610100000000", "西安市", 2, PROVINCE)

    tertiary = Organisation.objects.create(code="T001", name="西安交通大学第一附属医院", tier="tertiary_hospital",
                                           region_id="610100000000")
    county = Organisation.objects.create(code="C001", name="乾县人民医院", tier="county_hospital", region_id=COUNTY)
    consortium = Consortium.objects.create(code="QX-YGT", name="乾县县域医共体", kind="county_community", lead=county)
    other_lead = Organisation.objects.create(code="X001", name="外县人民医院", tier="county_hospital",
                                             region_id="610100000000")
    other = Consortium.objects.create(code="OTHER", name="外县医共体", kind="county_community", lead=other_lead)
    for org in (tertiary, county):
        ConsortiumMembership.objects.create(consortium=consortium, organisation=org)
    ConsortiumMembership.objects.create(consortium=other, organisation=other_lead)

    orgs = {"tertiary": tertiary, "county": county, "other": other_lead}
    for key, code, name, tier, region in (
        ("township", "W001", "城关镇卫生院", "township_centre", TOWNSHIP),
        ("clinic_a", "V001", "东村卫生室", "village_clinic", VILLAGE_A),
        ("clinic_b", "V002", "西村卫生室", "village_clinic", VILLAGE_B),
        ("imaging_hub", "H001", "乾县影像诊断中心", "imaging_hub", COUNTY),
    ):
        orgs[key] = net.create_organisation(acting=system, consortium_id=consortium.pk, code=code, name=name,
                                            tier=tier, region_code=region)
    net.save_department(acting=system, organisation_id=tertiary.pk, code="CARD", name="心内科",
                        specialty="cardiology", beds=40, daily_slots=60, green_channel_beds=4,
                        green_channel_slots=6)

    world = World(consortium=consortium, other_consortium=other, orgs=orgs)

    def practitioner(persona: str, name: str, title: str, org: str, licence: str, specialties: list[str]) -> None:
        p = net.create_practitioner(acting=system, name=name, title=title, licence_number=licence,
                                    organisation_id=orgs[org].pk, specialties=specialties, years_independent=8)
        world.users[persona] = create_account(acting=system, username=persona, password=PASSWORD,
                                              role="practitioner", display_name=name, practitioner_id=p.pk)

    practitioner("village_doctor_a", "张卫国", "village_doctor", "clinic_a", "V610424000001", ["general_practice"])
    practitioner("village_doctor_b", "李秀兰", "village_doctor", "clinic_b", "V610424000002", ["general_practice"])
    practitioner("cardiologist_tertiary", "王建生", "chief", "tertiary", "110610000000001", ["cardiology"])
    practitioner("hub_radiologist", "赵明", "attending", "imaging_hub", "110610424000003", ["radiology"])
    practitioner("outsider", "孙立", "attending", "other", "110610100000009", ["cardiology"])

    world.users["coordinator"] = create_account(acting=system, username="coordinator", password=PASSWORD,
                                                role="coordinator", display_name="刘协调",
                                                consortium_ids=[consortium.pk])
    world.users["commission_viewer"] = create_account(acting=system, username="commission_viewer",
                                                      password=PASSWORD, role="commission",
                                                      display_name="县卫健委", region_code=COUNTY)
    for role in ("sysadmin", "secadmin", "auditadmin"):
        world.users[role] = create_account(acting=system, username=role, password=PASSWORD, role=role)

    number = make_resident_id("610424", dt.date(1962, 3, 14), 21, male=False)
    patient = register_patient(acting=world.actor("village_doctor_a"),
                               data=PatientInput(name="陈桂芳", id_number=number, phone="13800000001",
                                                 region_code=VILLAGE_A))
    world.patients["patient_a"] = patient
    world.patients["patient_a_id_number"] = number
    world.users["patient_a"] = create_account(acting=system, username="patient_a", password=PASSWORD,
                                              role="patient", display_name="陈桂芳", patient_id=patient.pk)
    return world
