"""What the demo's build steps share: the seeded generator, the rows made so far, counters."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field

from medunion.accounts.models import User
from medunion.network.models import Consortium, Department, Organisation, Practitioner, Region, Team
from medunion.patients.models import Patient

from .names import person_name
from .places import TownshipPlan


@dataclass
class Staff:
    practitioner: Practitioner
    org_key: str
    specialty: str
    department: Department | None = None


@dataclass
class DemoState:
    rng: random.Random
    today: dt.date
    townships: list[TownshipPlan] = field(default_factory=list)
    regions: dict[str, Region] = field(default_factory=dict)
    hospitals: dict[str, Organisation] = field(default_factory=dict)
    partner_hospitals: list[Organisation] = field(default_factory=list)
    departments: dict[tuple[str, str], Department] = field(default_factory=dict)
    centres: dict[str, Organisation] = field(default_factory=dict)  # township code -> health centre
    clinics: dict[str, Organisation] = field(default_factory=dict)  # village code -> village clinic
    consortia: dict[str, Consortium] = field(default_factory=dict)  # community, alliance, telemedicine
    village_doctors: dict[str, list[Practitioner]] = field(default_factory=dict)  # by village code
    township_gps: dict[str, list[Practitioner]] = field(default_factory=dict)  # by township code
    specialists: dict[tuple[str, str], list[Staff]] = field(default_factory=dict)  # by (org key, dept code)
    family_teams: dict[str, Team] = field(default_factory=dict)  # village code -> family-doctor team
    personas: dict[str, Practitioner] = field(default_factory=dict)
    missing_exam: Practitioner | None = None
    patient_count: int = 0
    patients: list[Patient] = field(default_factory=list)
    demo_patient: Patient | None = None
    users: dict[str, User] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    _serial: int = 0
    _phones: set[str] = field(default_factory=set)

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    def mobile(self) -> str:
        """A unique, well-formed mainland mobile number."""
        while True:
            prefix = self.rng.choice(["133", "135", "136", "137", "138", "139", "150", "151", "152", "157",
                                      "158", "159", "177", "180", "182", "183", "187", "188", "189", "199"])
            number = prefix + f"{self.rng.randrange(10**8):08d}"
            if number not in self._phones:
                self._phones.add(number)
                return number

    def practitioner(self, *, title: str, years: int, licence_region6: str, village_doctor: bool = False,
                     women: float = 0.45) -> Practitioner:
        male = self.rng.random() >= women
        birth_year = self.today.year - 24 - years - self.rng.randint(0, 6)
        serial = self.serial()
        # 执业证书编码-like: 15 digits for physicians; village doctors' certificates: V + region + serial.
        licence = f"V{licence_region6}{serial:06d}" if village_doctor else f"110{licence_region6}{serial:06d}"
        return Practitioner(name=person_name(self.rng, male, birth_year),
                            gender="male" if male else "female", title=title, licence_number=licence,
                            years_independent=years, phone=self.mobile() if village_doctor else "")

    def all_specialists(self) -> list[Staff]:
        return [s for staff in self.specialists.values() for s in staff]

