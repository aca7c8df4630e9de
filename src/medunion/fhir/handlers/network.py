"""Read and search of the network: Organization, Location, Practitioner, PractitionerRole.

Network data is not patient data: these reads are scoped by the policy but not audited."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import access_organisation, access_practitioner, parse_uuid
from medunion.access.policy import (
    Action,
    require,
    visible_consortia,
    visible_organisations,
    visible_practitioners,
)
from medunion.core.errors import NotFound
from medunion.network.models import Consortium, Department, PracticeSite, PractitionerSpecialty

from .. import codes
from ..mappers import network as m
from ..mappers.common import region_chains
from ..registry import register
from ..search import (
    Param,
    SearchRequest,
    SearchResult,
    any_of,
    bool_param,
    id_param,
    paginate,
    paginate_sources,
    parse_bools,
    reference_ids,
    reference_param,
    string_param,
    token_codes,
    token_param,
)

# --- Organization: organisations and consortia ----------------------------------------------------


def _orgs(actor: Actor) -> QuerySet[Any]:
    return visible_organisations(actor).select_related("parent").order_by("code", "id")


def _consortia(actor: Actor) -> QuerySet[Any]:
    return visible_consortia(actor).select_related("lead").order_by("code", "id")


def _is_consortia(qs: QuerySet[Any]) -> bool:
    return qs.model is Consortium


def _org_identifier(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    system = codes.CONSORTIUM_CODE if _is_consortia(qs) else codes.ORGANISATION_CODE
    found = token_codes(values, system)
    return qs.filter(code__in=found) if found else qs.none()


def _org_type(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    if _is_consortia(qs):
        if "consortium" in token_codes(values, codes.CS_ORGANIZATION_TYPE):
            return qs
        kinds = token_codes(values, codes.CS_CONSORTIUM_KIND)
        return qs.filter(kind__in=kinds) if kinds else qs.none()
    tiers = token_codes(values, codes.CS_ORGANIZATION_TYPE)
    return qs.filter(tier__in=tiers) if tiers else qs.none()


def _org_partof(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    ids = reference_ids(values, ["Organization"])
    return qs.none() if _is_consortia(qs) or not ids else qs.filter(parent_id__in=ids)


def _org_active(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    wanted = parse_bools("active", values)
    if _is_consortia(qs):  # consortia are always active
        return qs if True in wanted else qs.none()
    return any_of(qs, [Q(active=w) for w in wanted])

ORGANIZATION_PARAMS = [
    id_param(),
    Param("identifier", "token", _("The organisation code (urn:medunion:organisation-code) or consortium code "
                                   "(urn:medunion:consortium-code)."), _org_identifier),
    string_param("name", ["name", "name_en"], _("Name or English name; starts with, or :contains / :exact.")),
    Param("type", "token", _("The tier (organization-type code system), \"consortium\", or a consortium kind."),
          _org_type),
    Param("partof", "reference", _("The parent organisation."), _org_partof),
    Param("active", "token", _("true or false."), _org_active),
]


def read_organization(actor: Actor, rid: str) -> dict[str, Any]:
    pk = parse_uuid(rid)
    consortium = _consortia(actor).filter(pk=pk).first()
    if consortium is not None:
        require(actor, Action.VIEW_NETWORK, consortium)
        return m.consortium_organization(consortium)
    org = access_organisation(actor, pk)
    return m.organization(org, region_chains([org.region_id]))


def search_organization(actor: Actor, sr: SearchRequest) -> SearchResult:
    rows, total, has_next = paginate_sources([sr.apply(_orgs(actor)), sr.apply(_consortia(actor))], sr)
    chains = region_chains(r.region_id for r in rows if not isinstance(r, Consortium))
    resources = [m.consortium_organization(r) if isinstance(r, Consortium) else m.organization(r, chains)
                 for r in rows]
    return SearchResult(resources, total, has_next)


register("Organization", _("Member organisations of the visible consortia, and the consortia themselves "
                           "(type \"consortium\")."), ORGANIZATION_PARAMS, read_organization, search_organization,
         areas=(Action.VIEW_NETWORK,))


# --- Location: departments --------------------------------------------------------------------------

def _departments(actor: Actor) -> QuerySet[Any]:
    return (Department.objects.filter(organisation__in=visible_organisations(actor).values("pk"))
            .select_related("organisation").order_by("organisation__code", "code", "id"))


def read_location(actor: Actor, rid: str) -> dict[str, Any]:
    dept = _departments(actor).filter(pk=parse_uuid(rid)).first()
    if dept is None:
        raise NotFound()
    require(actor, Action.VIEW_NETWORK, dept)
    return m.location(dept)


def search_location(actor: Actor, sr: SearchRequest) -> SearchResult:
    rows, total, has_next = paginate(sr.apply(_departments(actor)), sr)
    return SearchResult([m.location(d) for d in rows], total, has_next)


register("Location", _("One Location per department of a visible organisation, with its beds and "
                       "appointment slots."), [
    id_param(),
    string_param("name", ["name"], _("Department name.")),
    reference_param("organization", "organisation_id", ["Organization"], _("The organisation.")),
    token_param("type", "specialty", _("The department's specialty (specialty code system)."),
                system=codes.CS_SPECIALTY),
], read_location, search_location, areas=(Action.VIEW_NETWORK,))


# --- Practitioner ------------------------------------------------------------------------------------

def read_practitioner(actor: Actor, rid: str) -> dict[str, Any]:
    return m.practitioner(access_practitioner(actor, rid))


def search_practitioner(actor: Actor, sr: SearchRequest) -> SearchResult:
    qs = (sr.apply(visible_practitioners(actor)).prefetch_related("licences")
          .order_by("name", "licence_number", "id"))
    rows, total, has_next = paginate(qs, sr)
    return SearchResult([m.practitioner(p) for p in rows], total, has_next)


register("Practitioner", _("Practitioners with a practice site at a visible organisation."), [
    id_param(),
    token_param("identifier", "licence_number", _("The practising licence number."), system=codes.LICENCE_NUMBER),
    string_param("name", ["name"], _("Name; starts with, or :contains / :exact.")),
    token_param("gender", "gender", _("male or female."), system="http://hl7.org/fhir/administrative-gender"),
    bool_param("active", lambda v: Q(active=v), _("true or false.")),
], read_practitioner, search_practitioner, areas=(Action.VIEW_NETWORK,))


# --- PractitionerRole: practice sites ------------------------------------------------------------------

def _sites(actor: Actor) -> QuerySet[Any]:
    return (PracticeSite.objects.filter(organisation__in=visible_organisations(actor).values("pk"))
            .select_related("practitioner", "organisation", "department")
            .prefetch_related(Prefetch("practitioner__specialties",
                                       queryset=PractitionerSpecialty.objects.order_by("specialty")))
            .order_by("organisation__code", "practitioner__name", "id"))


def _specialty(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    found = token_codes(values, codes.CS_SPECIALTY)
    if not found:
        return qs.none()
    return qs.filter(practitioner_id__in=PractitionerSpecialty.objects.filter(specialty__in=found)
                     .values("practitioner_id"))


def _site_active(value: bool) -> Q:
    on = Q(active=True, practitioner__active=True, organisation__active=True)
    return on if value else ~on


def read_practitioner_role(actor: Actor, rid: str) -> dict[str, Any]:
    site = _sites(actor).filter(pk=parse_uuid(rid)).first()
    if site is None:
        raise NotFound()
    require(actor, Action.VIEW_NETWORK, site)
    return m.practitioner_role(site)


def search_practitioner_role(actor: Actor, sr: SearchRequest) -> SearchResult:
    rows, total, has_next = paginate(sr.apply(_sites(actor)), sr)
    return SearchResult([m.practitioner_role(s) for s in rows], total, has_next)


register("PractitionerRole", _("One PractitionerRole per practice site (多点执业: a practitioner may practise "
                               "at several organisations)."), [
    id_param(),
    reference_param("practitioner", "practitioner_id", ["Practitioner"], _("The practitioner.")),
    reference_param("organization", "organisation_id", ["Organization"], _("The organisation.")),
    reference_param("location", "department_id", ["Location"], _("The department.")),
    Param("specialty", "token", _("A specialty of the practitioner (specialty code system)."), _specialty),
    token_param("role", "practitioner__title", _("The professional title (professional-title code system)."),
                system=codes.CS_TITLE),
    bool_param("active", _site_active, _("true or false.")),
], read_practitioner_role, search_practitioner_role, areas=(Action.VIEW_NETWORK,))
