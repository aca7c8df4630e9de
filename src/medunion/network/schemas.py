"""Schemas of the network API (/api/v1/network): what goes in and what comes out."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

from medunion.core.json_body import BodyIn

# One line of text: no control characters (they have no place in a name or a code, and
# PostgreSQL refuses NUL).
TEXT = r"^[^\x00-\x1f\x7f]*$"


class Pages(PageNumberPagination):
    """``?page=&page_size=`` paging with bounds: a page past any database's integers is a 422."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        page_size: int | None = Field(None, ge=1, le=100)

# --- references: the few fields another object needs to point at one ------------------------


class RegionRef(Schema):
    code: str
    name: str
    level: int


class OrganisationRef(Schema):
    id: uuid.UUID
    code: str
    name: str
    tier: str


class ConsortiumRef(Schema):
    id: uuid.UUID
    code: str
    name: str


class PractitionerRef(Schema):
    id: uuid.UUID
    name: str
    title: str


class DepartmentRef(Schema):
    id: uuid.UUID
    code: str
    name: str


# --- regions, consortia, organisations ------------------------------------------------------


class RegionOut(Schema):
    code: str
    name: str
    name_en: str
    level: int
    parent_code: str | None
    population: int | None

    @staticmethod
    def resolve_parent_code(obj: Any) -> str | None:
        return obj.parent_id


class ConsortiumOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    name_en: str
    kind: str
    lead: OrganisationRef


class OrganisationOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    name_en: str
    tier: str
    region: RegionRef
    parent_id: uuid.UUID | None
    address: str
    phone: str
    active: bool
    n_practitioners: int = 0


class ConsortiumDetail(ConsortiumOut):
    members: list[OrganisationOut]
    n_teams: int


class DepartmentOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    specialty: str
    beds: int
    daily_slots: int
    green_channel_beds: int
    green_channel_slots: int


class Capacity(Schema):
    beds: int
    daily_slots: int
    green_channel_beds: int
    green_channel_slots: int


class OrganisationDetail(OrganisationOut):
    departments: list[DepartmentOut]
    capacity: Capacity
    consortia: list[ConsortiumRef]
    children: list[OrganisationRef]


class OrganisationIn(BodyIn):
    consortium_id: uuid.UUID
    code: str = Field(..., max_length=32, pattern=TEXT)
    name: str = Field(..., max_length=200, pattern=TEXT)
    name_en: str = Field("", max_length=200, pattern=TEXT)
    tier: str = Field(..., max_length=32, pattern=TEXT)
    region_code: str = Field(..., max_length=12, pattern=TEXT)
    parent_id: uuid.UUID | None = None


class DepartmentIn(BodyIn):
    name: str = Field(..., max_length=120, pattern=TEXT)
    specialty: str = Field("", max_length=32, pattern=TEXT)
    beds: int = Field(0, ge=0, le=100_000)
    daily_slots: int = Field(0, ge=0, le=100_000)
    green_channel_beds: int = Field(0, ge=0, le=100_000)
    green_channel_slots: int = Field(0, ge=0, le=100_000)


# --- practitioners ----------------------------------------------------------------------------


class SiteOut(Schema):
    id: uuid.UUID
    organisation: OrganisationRef
    department: DepartmentRef | None
    primary: bool
    active: bool


class PractitionerOut(Schema):
    id: uuid.UUID
    name: str
    title: str
    licence_number: str
    active: bool
    specialties: list[str]
    sites: list[SiteOut]

    @staticmethod
    def resolve_specialties(obj: Any) -> list[str]:
        return [s.specialty for s in obj.specialties.all()]

    @staticmethod
    def resolve_sites(obj: Any) -> list[Any]:
        return obj.visible_sites


class MembershipOut(Schema):
    team_id: uuid.UUID
    team_name: str
    kind: str
    consortium: ConsortiumRef
    role: str


class TrainingOut(Schema):
    id: uuid.UUID
    consortium: ConsortiumRef
    course: str
    completed_on: dt.date
    valid_until: dt.date | None


class ExamOut(Schema):
    id: uuid.UUID
    consortium: ConsortiumRef
    course: str
    taken_on: dt.date
    score: Decimal
    pass_mark: Decimal
    passed: bool
    valid_until: dt.date | None


class LicenceOut(Schema):
    id: uuid.UUID
    practitioner_id: uuid.UUID
    number: str
    scope: str
    valid_from: dt.date
    valid_until: dt.date | None
    revoked_on: dt.date | None


class Credentials(Schema):
    trainings: list[TrainingOut]
    exams: list[ExamOut]
    licences: list[LicenceOut]


class MissingCredential(Schema):
    key: Literal["training", "exam", "licence"]
    label: str
    help: str


class PrivilegeOut(Schema):
    privilege: str
    label: str
    consortium: ConsortiumRef
    granted: bool
    missing: list[MissingCredential] | None = Field(
        None, description="The credentials still needed and how to get them; null when the reader may not "
                          "see this practitioner's credentials.")


class PractitionerDetail(Schema):
    id: uuid.UUID
    name: str
    gender: str
    title: str
    licence_number: str
    years_independent: int
    phone: str
    active: bool
    specialties: list[str]
    sites: list[SiteOut]
    teams: list[MembershipOut]
    credentials: Credentials | None = Field(
        None, description="Shown to the practitioner themselves and to the coordinators who manage them.")
    privileges: list[PrivilegeOut]


class PractitionerIn(BodyIn):
    organisation_id: uuid.UUID
    name: str = Field(..., max_length=100, pattern=TEXT)
    title: str = Field(..., max_length=32, pattern=TEXT)
    licence_number: str = Field(..., max_length=32, pattern=TEXT)
    specialties: list[str] = Field(default_factory=list, max_length=30)
    years_independent: int = Field(0, ge=0, le=70)
    gender: str = Field("", max_length=8, pattern=TEXT)
    department_id: uuid.UUID | None = None
    phone: str = Field("", max_length=32, pattern=TEXT)


class SiteIn(BodyIn):
    organisation_id: uuid.UUID
    primary: bool = False


class TrainingIn(BodyIn):
    consortium_id: uuid.UUID
    course: str = Field("referral", max_length=32, pattern=TEXT)
    completed_on: dt.date
    valid_until: dt.date | None = None


class ExamIn(BodyIn):
    consortium_id: uuid.UUID
    course: str = Field("referral", max_length=32, pattern=TEXT)
    taken_on: dt.date
    score: Decimal = Field(..., ge=0, le=100, decimal_places=1)
    pass_mark: Decimal = Field(Decimal(60), ge=0, le=100, decimal_places=1)
    valid_until: dt.date | None = None


class LicenceIn(BodyIn):
    number: str = Field(..., max_length=32, pattern=TEXT)
    scope: str = Field("", max_length=100, pattern=TEXT)
    valid_from: dt.date
    valid_until: dt.date | None = None


class RevokeIn(BodyIn):
    on: dt.date


# --- teams ------------------------------------------------------------------------------------


class TeamOut(Schema):
    id: uuid.UUID
    name: str
    kind: str
    specialty: str
    active: bool
    consortium: ConsortiumRef
    organisation: OrganisationRef | None
    n_members: int = 0
    leads: list[PractitionerRef]

    @staticmethod
    def resolve_leads(obj: Any) -> list[Any]:
        return [m.practitioner for m in getattr(obj, "leads", [])]


class TeamMemberOut(Schema):
    practitioner: PractitionerRef
    role: str


class TeamDetail(TeamOut):
    members: list[TeamMemberOut]

    @staticmethod
    def resolve_members(obj: Any) -> list[Any]:
        return obj.member_list


class TeamIn(BodyIn):
    consortium_id: uuid.UUID
    name: str = Field(..., max_length=200, pattern=TEXT)
    kind: str = Field(..., max_length=32, pattern=TEXT)
    specialty: str = Field("", max_length=32, pattern=TEXT)
    organisation_id: uuid.UUID | None = None


class TeamMemberIn(BodyIn):
    role: str = Field("member", max_length=16, pattern=TEXT)
