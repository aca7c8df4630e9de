"""What the generator's stages share: the seeded generator, the ids, the sink and the audit chain,
and the network and people made so far (compact: a million patients are arrays, not objects)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from array import array
from dataclasses import dataclass, field

from .bulk import ActorRow, AuditChain, Ids, Sink
from .scale import Scale


@dataclass
class Org:
    id: uuid.UUID
    code: str
    name: str
    tier: str
    region: str
    city: int  # index into Gen.cities
    county: int = -1  # index into Gen.counties (-1: a city-level organisation)
    township: int = -1  # index into Gen.townships (-1: above the township)


@dataclass
class Dept:
    id: uuid.UUID
    org: int  # index into Gen.orgs
    code: str
    name: str
    specialty: str
    beds: int
    slots: int
    green_beds: int
    green_slots: int


@dataclass
class Clinician:
    id: uuid.UUID
    name: str
    title: str
    kind: str  # village, township, specialist, reader
    org: int
    dept: int  # index into Gen.depts, -1 for none
    specialties: list[str]
    user_id: uuid.UUID | None = None
    username: str = ""
    consortia: list[int] = field(default_factory=list)  # indexes into Gen.consortia (credentials)

    def actor(self) -> ActorRow:
        return ActorRow(self.user_id, self.name, "practitioner")


@dataclass
class Township:
    code: str
    name: str
    county: int
    org: int = -1  # the health centre
    villages: list[int] = field(default_factory=list)  # indexes into Gen.villages
    gps: list[int] = field(default_factory=list)  # indexes into Gen.clinicians


@dataclass
class Village:
    code: str
    name: str
    township: int
    population: int
    org: int = -1  # the village clinic
    doctors: list[int] = field(default_factory=list)  # indexes into Gen.clinicians
    team: uuid.UUID | None = None  # the family-doctor team
    team_lead: int = -1  # the township GP leading it


@dataclass
class County:
    code: str
    name: str
    name_en: str
    city: int
    hospital: int = -1
    townships: list[int] = field(default_factory=list)
    community: int = -1  # index into Gen.consortia


@dataclass
class City:
    code: str
    name: str
    name_en: str
    tertiary: int = -1
    hubs: dict[str, int] = field(default_factory=dict)  # imaging / pathology / ecg -> org index
    counties: list[int] = field(default_factory=list)
    network: int = -1  # index into Gen.consortia


@dataclass
class ConsortiumRow:
    id: uuid.UUID
    code: str
    county: int  # -1 for a city's tele-medicine network
    city: int
    members: list[int] = field(default_factory=list)  # org indexes


@dataclass
class Gen:
    scale: Scale
    seed: int
    now: dt.datetime
    sink: Sink
    ids: Ids
    audit: AuditChain
    rng: random.Random
    password_hash: str
    cities: list[City] = field(default_factory=list)
    counties: list[County] = field(default_factory=list)
    townships: list[Township] = field(default_factory=list)
    villages: list[Village] = field(default_factory=list)
    orgs: list[Org] = field(default_factory=list)
    depts: list[Dept] = field(default_factory=list)
    consortia: list[ConsortiumRow] = field(default_factory=list)
    clinicians: list[Clinician] = field(default_factory=list)
    # Patients: i-th patient's village, registering clinician and id (kept as arrays).
    patient_village: array[int] = field(default_factory=lambda: array("i"))
    patient_doctor: array[int] = field(default_factory=lambda: array("i"))
    patient_users: dict[int, uuid.UUID] = field(default_factory=dict)  # patient index -> account id
    patient_names: dict[int, str] = field(default_factory=dict)  # the patients with an account
    care_serial: int = 0  # care-team rows numbered so far
    green_in_use: dict[uuid.UUID, tuple[int, int]] = field(default_factory=dict)  # department -> beds, slots
    counts: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)  # what each stage generates

    def fork(self, label: str) -> random.Random:
        """A generator of its own for a stage: a stage's output does not depend on how many
        numbers an earlier stage drew."""
        return random.Random(f"{self.seed}:{label}")

    def days_ago(self, days: float) -> dt.datetime:
        return self.now - dt.timedelta(days=days)
