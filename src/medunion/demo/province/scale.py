"""How big a generated data set is: the province (the totals of issue 6, demo included), and two
small scales for development and tests (what is generated on top of the demo)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    # True: the counts are totals, the demo consortium included (the generator adds the rest);
    # False: the counts are what is generated on top of the demo.
    totals: bool
    organisations: int
    clinicians: int
    patients: int
    patient_logins: int
    consults: int
    messages: int
    referrals: int
    examinations: int
    demo_patients: int = 3000


SCALES: dict[str, Scale] = {
    "province": Scale("province", True, organisations=1_200, clinicians=6_000, patients=1_000_000,
                      patient_logins=10_000, consults=200_000, messages=1_000_000, referrals=100_000,
                      examinations=100_000),
    # About 1/100 of the province's clinical volume, on a network of two counties.
    "small": Scale("small", False, organisations=120, clinicians=600, patients=10_000, patient_logins=100,
                   consults=2_000, messages=10_000, referrals=1_000, examinations=1_000),
    # About 1/10,000, for tests: one county, a few of everything.
    "tiny": Scale("tiny", False, organisations=12, clinicians=40, patients=100, patient_logins=5, consults=20,
                  messages=100, referrals=10, examinations=10, demo_patients=300),
}
