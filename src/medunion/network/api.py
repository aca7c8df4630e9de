"""The network API (/api/v1/network): the coordinator's back office as JSON, under the same policy.

Readers: everyone with ``network.view`` (clinicians see their consortia, coordinators theirs,
health-commission viewers their region, the security administrator all). Anyone else gets 404
for the whole area. Writes: coordinators, within their own consortia; an object of another
consortium answers 404, one the reader can see but not change answers 403.
"""

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from medunion.access.actor import Actor
from medunion.access.loaders import access_organisation, access_practitioner, access_team, parse_uuid
from medunion.access.policy import Action, can, visible_consortia, visible_organisations, visible_teams
from medunion.api import api_actor, idempotent, problems
from medunion.core.errors import NotFound, ValidationFailed
from medunion.core.idempotency import run_once
from medunion.core.json_body import BodyIn, JsonBody

from . import actions as net
from . import queries
from .codes import ConsortiumKind, Specialty, TeamKind, Tier, Title
from .models import Consortium, ExamResult, Licence, PracticeSite, Team, Training
from .schemas import (
    TEXT,
    ConsortiumDetail,
    ConsortiumOut,
    DepartmentIn,
    DepartmentOut,
    ExamIn,
    ExamOut,
    LicenceIn,
    LicenceOut,
    OrganisationDetail,
    OrganisationIn,
    OrganisationOut,
    Pages,
    PractitionerDetail,
    PractitionerIn,
    PractitionerOut,
    PrivilegeOut,
    RegionOut,
    RevokeIn,
    SiteIn,
    SiteOut,
    TeamDetail,
    TeamIn,
    TeamMemberIn,
    TeamMemberOut,
    TeamOut,
    TrainingIn,
    TrainingOut,
)

router = Router(tags=["network"])

CAPACITY = ("beds", "daily_slots", "green_channel_beds", "green_channel_slots")


def _reader(request: HttpRequest) -> Actor:
    """The acting reader of the network; the area does not exist for anyone else (404)."""
    actor = api_actor(request)
    if not can(actor, Action.VIEW_NETWORK):
        raise NotFound()
    return actor


def _choice(value: str, allowed: list[str], field: str) -> str:
    if value and value not in allowed:
        raise ValidationFailed(errors={field: [str(_("Unknown value: %(value)s") % {"value": value})]})
    return value



def _reads() -> dict[str, Any]:  # a fresh dict per operation: Ninja merges it into the schema
    return problems(404)


def _writes() -> dict[str, Any]:
    return problems(403, 404, 409)


def _creates() -> dict[str, Any]:
    return idempotent(403, 404, 409)


def _created(request: HttpRequest, response: HttpResponse, scope: str, payload: dict[str, Any],
             perform: Callable[[], Any], reload: Callable[[uuid.UUID], Any]) -> Any:
    """Run a create, once per Idempotency-Key when the client sends one (DESIGN §4.10); a replay
    answers with the record the first request created."""
    made: dict[str, Any] = {}

    def run() -> dict[str, Any]:
        made["obj"] = perform()
        return {"status": 201, "id": str(made["obj"].pk)}

    result, replayed = run_once(request, response, actor=api_actor(request), scope=scope, payload=payload,
                                perform=run)
    return reload(uuid.UUID(result["id"])) if replayed else made["obj"]


# --- regions and consortia ----------------------------------------------------------------------


class RegionFilters(Schema):
    parent: str = Field("", max_length=12, description="Children of this division code", pattern=TEXT)
    level: int | None = Field(None, ge=1, le=5, description="1 province … 5 village")
    q: str = Field("", max_length=100, description="Name or the beginning of the code", pattern=TEXT)


@router.get("/regions", response=list[RegionOut], summary="Administrative divisions", openapi_extra=_reads())
@paginate(Pages)
def regions(request: HttpRequest, filters: Query[RegionFilters]) -> Any:
    _reader(request)
    return queries.search_regions(parent=filters.parent, level=filters.level, q=filters.q)


class ConsortiumFilters(Schema):
    kind: str = Field("", max_length=32, pattern=TEXT)
    q: str = Field("", max_length=100, pattern=TEXT)


@router.get("/consortia", response=list[ConsortiumOut], summary="Consortia the reader can see",
            openapi_extra=_reads())
@paginate(Pages)
def consortia(request: HttpRequest, filters: Query[ConsortiumFilters]) -> Any:
    actor = _reader(request)
    return queries.search_consortia(actor, kind=_choice(filters.kind, ConsortiumKind.values, "kind"), q=filters.q)


def _consortium(actor: Actor, consortium_id: Any) -> Consortium:
    c = visible_consortia(actor).select_related("lead").filter(pk=parse_uuid(consortium_id)).first()
    if c is None:
        raise NotFound()
    return c


@router.get("/consortia/{consortium_id}", response=ConsortiumDetail, summary="A consortium and its members",
            openapi_extra=_reads())
def consortium(request: HttpRequest, consortium_id: str) -> Any:
    actor = _reader(request)
    c = _consortium(actor, consortium_id)
    members = (queries.with_practitioner_counts(visible_organisations(actor).filter(memberships__consortium=c))
               .select_related("region").order_by("code"))
    return {**ConsortiumOut.from_orm(c).model_dump(), "members": list(members),
            "n_teams": visible_teams(actor).filter(consortium=c, active=True).count()}


# --- organisations ------------------------------------------------------------------------------


class OrganisationFilters(Schema):
    consortium: uuid.UUID | None = None
    tier: str = Field("", max_length=32, pattern=TEXT)
    region: str = Field("", max_length=12, description="A division code: organisations in it and below", pattern=TEXT)
    q: str = Field("", max_length=100, description="Name or organisation code", pattern=TEXT)


@router.get("/organisations", response=list[OrganisationOut], summary="Organisations the reader can see",
            openapi_extra=_reads())
@paginate(Pages)
def organisations(request: HttpRequest, filters: Query[OrganisationFilters]) -> Any:
    actor = _reader(request)
    return queries.search_organisations(actor, consortium_id=filters.consortium, region=filters.region,
                                        tier=_choice(filters.tier, Tier.values, "tier"), q=filters.q)


def _organisation_detail(actor: Actor, org: Any) -> dict[str, Any]:
    departments = list(org.departments.order_by("code"))
    counted = (queries.with_practitioner_counts(visible_organisations(actor).filter(pk=org.pk))
               .values_list("n_practitioners", flat=True).first())
    org.n_practitioners = counted or 0
    return {
        **OrganisationOut.from_orm(org).model_dump(),
        "departments": departments,
        "capacity": {k: sum(getattr(d, k) for d in departments) for k in CAPACITY},
        "consortia": list(visible_consortia(actor).filter(memberships__organisation=org).order_by("code")),
        "children": list(visible_organisations(actor).filter(parent=org).order_by("code")),
    }


@router.get("/organisations/{org_id}", response=OrganisationDetail,
            summary="An organisation with its departments and their capacity", openapi_extra=_reads())
def organisation(request: HttpRequest, org_id: str) -> Any:
    actor = _reader(request)
    return _organisation_detail(actor, access_organisation(actor, org_id))


@router.post("/organisations", response={201: OrganisationDetail},
             summary="Add an organisation to one of the coordinator's consortia", openapi_extra=_creates())
def create_organisation(request: HttpRequest, response: HttpResponse, payload: JsonBody[OrganisationIn]) -> Any:
    actor = _reader(request)
    org = _created(request, response, "network.organisation", payload.model_dump(mode="json"),
                   lambda: net.create_organisation(
                       acting=actor, consortium_id=payload.consortium_id, code=payload.code, name=payload.name,
                       name_en=payload.name_en, tier=payload.tier, region_code=payload.region_code,
                       parent_id=payload.parent_id),
                   lambda pk: access_organisation(actor, pk))
    return Status(201, _organisation_detail(actor, org))


@router.put("/organisations/{org_id}/departments/{code}", response=DepartmentOut,
            summary="Create or update a department and its capacity", openapi_extra=_writes())
def save_department(request: HttpRequest, org_id: str, code: str, payload: JsonBody[DepartmentIn]) -> Any:
    actor = _reader(request)
    if len(code) > 32 or not re.match(TEXT, code):
        raise ValidationFailed(errors={"code": [str(_("A department code is one line of at most 32 characters."))]})
    return net.save_department(acting=actor, organisation_id=parse_uuid(org_id), code=code, **payload.model_dump())


# --- practitioners ------------------------------------------------------------------------------


class PractitionerFilters(Schema):
    q: str = Field("", max_length=100, description="Name or licence number", pattern=TEXT)
    organisation: uuid.UUID | None = None
    specialty: str = Field("", max_length=32, pattern=TEXT)
    title: str = Field("", max_length=32, pattern=TEXT)


@router.get("/practitioners", response=list[PractitionerOut], summary="Practitioners the reader can see",
            openapi_extra=_reads())
@paginate(Pages)
def practitioners(request: HttpRequest, filters: Query[PractitionerFilters]) -> Any:
    actor = _reader(request)
    return queries.search_practitioners(actor, q=filters.q, organisation_id=filters.organisation,
                                        specialty=_choice(filters.specialty, Specialty.values, "specialty"),
                                        title=_choice(filters.title, Title.values, "title"))


def _privileges(rows: list[queries.PrivilegeRow]) -> list[dict[str, Any]]:
    return [{"privilege": r.privilege, "label": r.label, "consortium": r.consortium, "granted": r.granted,
             "missing": r.missing} for r in rows]


def _practitioner_detail(actor: Actor, p: Any) -> dict[str, Any]:
    profile = queries.practitioner_profile(actor, p)
    return {
        "id": p.pk, "name": p.name, "gender": p.gender, "title": p.title, "licence_number": p.licence_number,
        "years_independent": p.years_independent, "phone": p.phone, "active": p.active,
        "specialties": profile["specialties"], "sites": profile["sites"],
        "teams": [{"team_id": m.team_id, "team_name": m.team.name, "kind": m.team.kind,
                   "consortium": m.team.consortium, "role": m.role} for m in profile["teams"]],
        "credentials": profile["credentials"],
        "privileges": _privileges(profile["privileges"]),
    }


@router.get("/practitioners/{practitioner_id}", response=PractitionerDetail, openapi_extra=_reads(),
            summary="A practitioner: sites, specialties, teams, credentials and derived privileges")
def practitioner(request: HttpRequest, practitioner_id: str) -> Any:
    actor = _reader(request)
    return _practitioner_detail(actor, access_practitioner(actor, practitioner_id))


@router.get("/practitioners/{practitioner_id}/privileges", response=list[PrivilegeOut], openapi_extra=_reads(),
            summary="Privileges per consortium, with what is missing and how to get it")
def practitioner_privileges(request: HttpRequest, practitioner_id: str, consortium: uuid.UUID | None = None) -> Any:
    actor = _reader(request)
    p = access_practitioner(actor, practitioner_id)
    return _privileges(queries.privileges_of(actor, p, consortium))


@router.post("/practitioners", response={201: PractitionerDetail}, summary="Add a practitioner at an organisation",
             openapi_extra=_creates())
def create_practitioner(request: HttpRequest, response: HttpResponse, payload: JsonBody[PractitionerIn]) -> Any:
    actor = _reader(request)
    p = _created(request, response, "network.practitioner", payload.model_dump(mode="json"),
                 lambda: net.create_practitioner(
                     acting=actor, name=payload.name, title=payload.title,
                     licence_number=payload.licence_number.strip(), organisation_id=payload.organisation_id,
                     specialties=payload.specialties, years_independent=payload.years_independent,
                     gender=payload.gender, department_id=payload.department_id, phone=payload.phone),
                 lambda pk: access_practitioner(actor, pk))
    return Status(201, _practitioner_detail(actor, p))


def _path_body(path_id: str, payload: BodyIn) -> dict[str, Any]:
    """What identifies a create under a path: the path's id and the body."""
    return {"path": path_id, **payload.model_dump(mode="json")}


@router.post("/practitioners/{practitioner_id}/sites", response={201: SiteOut},
             summary="Add a practice site (multi-site practice)", openapi_extra=_creates())
def add_site(request: HttpRequest, response: HttpResponse, practitioner_id: str, payload: JsonBody[SiteIn]) -> Any:
    actor = _reader(request)
    site = _created(request, response, "network.practice_site", _path_body(practitioner_id, payload),
                    lambda: net.add_practice_site(acting=actor, practitioner_id=parse_uuid(practitioner_id),
                                                  organisation_id=payload.organisation_id, primary=payload.primary),
                    lambda pk: PracticeSite.objects.get(pk=pk))
    return Status(201, PracticeSite.objects.select_related("organisation", "department").get(pk=site.pk))


@router.post("/practitioners/{practitioner_id}/trainings", response={201: TrainingOut},
             summary="Record a completed training", openapi_extra=_creates())
def record_training(request: HttpRequest, response: HttpResponse, practitioner_id: str, payload: JsonBody[TrainingIn]) -> Any:
    actor = _reader(request)
    t = _created(request, response, "network.training", _path_body(practitioner_id, payload),
                 lambda: net.record_training(
                     acting=actor, practitioner_id=parse_uuid(practitioner_id), consortium_id=payload.consortium_id,
                     course=payload.course, completed_on=payload.completed_on, valid_until=payload.valid_until),
                 lambda pk: Training.objects.get(pk=pk))
    return Status(201, Training.objects.select_related("consortium").get(pk=t.pk))


@router.post("/practitioners/{practitioner_id}/exams", response={201: ExamOut}, summary="Record an exam result",
             openapi_extra=_creates())
def record_exam(request: HttpRequest, response: HttpResponse, practitioner_id: str, payload: JsonBody[ExamIn]) -> Any:
    actor = _reader(request)
    e = _created(request, response, "network.exam", _path_body(practitioner_id, payload),
                 lambda: net.record_exam(
                     acting=actor, practitioner_id=parse_uuid(practitioner_id), consortium_id=payload.consortium_id,
                     course=payload.course, taken_on=payload.taken_on, score=payload.score,
                     pass_mark=payload.pass_mark, valid_until=payload.valid_until),
                 lambda pk: ExamResult.objects.get(pk=pk))
    return Status(201, ExamResult.objects.select_related("consortium").get(pk=e.pk))


@router.post("/practitioners/{practitioner_id}/licences", response={201: LicenceOut},
             summary="Record a practising licence", openapi_extra=_creates())
def record_licence(request: HttpRequest, response: HttpResponse, practitioner_id: str, payload: JsonBody[LicenceIn]) -> Any:
    actor = _reader(request)
    return Status(201, _created(request, response, "network.licence", _path_body(practitioner_id, payload),
                                lambda: net.record_licence(
                                    acting=actor, practitioner_id=parse_uuid(practitioner_id),
                                    number=payload.number.strip(), scope=payload.scope,
                                    valid_from=payload.valid_from, valid_until=payload.valid_until),
                                lambda pk: Licence.objects.get(pk=pk)))


@router.post("/licences/{licence_id}/revoke", response=LicenceOut, summary="Revoke a practising licence",
             openapi_extra=_writes())
def revoke_licence(request: HttpRequest, licence_id: str, payload: JsonBody[RevokeIn]) -> Any:
    actor = _reader(request)
    return net.revoke_licence(acting=actor, licence_id=parse_uuid(licence_id), on=payload.on)


# --- teams --------------------------------------------------------------------------------------


class TeamFilters(Schema):
    consortium: uuid.UUID | None = None
    kind: str = Field("", max_length=32, pattern=TEXT)
    q: str = Field("", max_length=100, pattern=TEXT)


@router.get("/teams", response=list[TeamOut], summary="Teams the reader can see", openapi_extra=_reads())
@paginate(Pages)
def teams(request: HttpRequest, filters: Query[TeamFilters]) -> Any:
    actor = _reader(request)
    return queries.search_teams(actor, consortium_id=filters.consortium,
                                kind=_choice(filters.kind, TeamKind.values, "kind"), q=filters.q)


def _team_detail(actor: Actor, team: Team) -> Any:
    t = queries.search_teams(actor).get(pk=team.pk)
    t.member_list = list(team.members.select_related("practitioner").order_by("role", "practitioner__name"))
    return t


@router.get("/teams/{team_id}", response=TeamDetail, summary="A team and its members", openapi_extra=_reads())
def team(request: HttpRequest, team_id: str) -> Any:
    actor = _reader(request)
    return _team_detail(actor, access_team(actor, team_id))


@router.post("/teams", response={201: TeamDetail}, summary="Create a team in one of the coordinator's consortia",
             openapi_extra=_creates())
def create_team(request: HttpRequest, response: HttpResponse, payload: JsonBody[TeamIn]) -> Any:
    actor = _reader(request)
    t = _created(request, response, "network.team", payload.model_dump(mode="json"),
                 lambda: net.create_team(acting=actor, consortium_id=payload.consortium_id, name=payload.name,
                                         kind=payload.kind, specialty=payload.specialty,
                                         organisation_id=payload.organisation_id),
                 lambda pk: access_team(actor, pk))
    return Status(201, _team_detail(actor, t))


@router.put("/teams/{team_id}/members/{practitioner_id}", response=TeamMemberOut,
            summary="Add a member or change their role", openapi_extra=_writes())
def set_member(request: HttpRequest, team_id: str, practitioner_id: str, payload: JsonBody[TeamMemberIn]) -> Any:
    actor = _reader(request)
    member = net.set_team_member(acting=actor, team_id=parse_uuid(team_id),
                                 practitioner_id=parse_uuid(practitioner_id), role=payload.role)
    return {"practitioner": member.practitioner, "role": member.role}


@router.delete("/teams/{team_id}/members/{practitioner_id}", response={204: None}, summary="Remove a member",
               openapi_extra=_writes())
def remove_member(request: HttpRequest, team_id: str, practitioner_id: str) -> Any:
    actor = _reader(request)
    net.remove_team_member(acting=actor, team_id=parse_uuid(team_id), practitioner_id=parse_uuid(practitioner_id))
    return Status(204, None)
