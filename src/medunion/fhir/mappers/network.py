"""The network as FHIR: Organization (organisations and consortia), Location (departments),
Practitioner, PractitionerRole (practice sites) and CareTeam (network teams).

Each mapper takes a model row whose relations were fetched in bulk by the handler
(select_related / prefetch_related), so mapping a page costs no further queries."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from medunion.network.codes import ConsortiumKind, Specialty, TeamKind, TeamRole, Tier, Title
from medunion.network.models import (
    Consortium,
    Department,
    Organisation,
    PracticeSite,
    Practitioner,
    Team,
)

from .. import codes
from .common import Division, address, concept, human_name, meta, phone_telecom, ref


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def tier_concept(tier: str) -> dict[str, Any]:
    return concept(codes.CS_ORGANIZATION_TYPE, tier, _label(Tier, tier))


def specialty_concept(specialty: str) -> dict[str, Any]:
    return concept(codes.CS_SPECIALTY, specialty, _label(Specialty, specialty))


def title_concept(title: str) -> dict[str, Any]:
    return concept(codes.CS_TITLE, title, _label(Title, title))


def organization(org: Organisation, chains: dict[str, list[Division]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Organization",
        "id": str(org.pk),
        "meta": meta(org.created_at),
        "identifier": [{"system": codes.ORGANISATION_CODE, "value": org.code}],
        "active": org.active,
        "type": [tier_concept(org.tier)],
        "name": org.name,
    }
    if org.name_en:
        out["alias"] = [org.name_en]
    if org.phone:
        out["telecom"] = [phone_telecom(org.phone, "work")]
    addr = address(chains.get(org.region_id, []), org.address, use="work")
    if addr:
        out["address"] = [addr]
    if org.parent_id:
        out["partOf"] = ref("Organization", org.parent_id, org.parent.name if org.parent else None)
    return out


def consortium_organization(c: Consortium) -> dict[str, Any]:
    """A consortium (医联体) is served as an Organization of type "consortium"."""
    kind = concept(codes.CS_CONSORTIUM_KIND, c.kind, _label(ConsortiumKind, c.kind))
    out: dict[str, Any] = {
        "resourceType": "Organization",
        "id": str(c.pk),
        "meta": meta(c.created_at),
        "extension": [{"url": codes.EXT_CONSORTIUM_LEAD,
                       "valueReference": ref("Organization", c.lead_id, c.lead.name)}],
        "identifier": [{"system": codes.CONSORTIUM_CODE, "value": c.code}],
        "active": True,
        "type": [concept(codes.CS_ORGANIZATION_TYPE, "consortium", _("medical consortium")), kind],
        "name": c.name,
    }
    if c.name_en:
        out["alias"] = [c.name_en]
    return out


def location(dept: Department) -> dict[str, Any]:
    """A department (科室) is a Location of its organisation; its capacity is an extension and,
    readably, the description."""
    org = dept.organisation
    description = _("%(beds)d beds (%(gbeds)d reserved for the green channel); %(slots)d appointment slots a day "
                    "(%(gslots)d reserved for the green channel)") % {
        "beds": dept.beds, "gbeds": dept.green_channel_beds,
        "slots": dept.daily_slots, "gslots": dept.green_channel_slots}
    out: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(dept.pk),
        "meta": meta(dept.created_at),
        "extension": [{"url": codes.EXT_CAPACITY, "extension": [
            {"url": "beds", "valueUnsignedInt": dept.beds},
            {"url": "dailySlots", "valueUnsignedInt": dept.daily_slots},
            {"url": "greenChannelBeds", "valueUnsignedInt": dept.green_channel_beds},
            {"url": "greenChannelSlots", "valueUnsignedInt": dept.green_channel_slots},
        ]}],
        "identifier": [{"system": codes.DEPARTMENT_CODE, "value": f"{org.code}/{dept.code}"}],
        "status": "active" if org.active else "inactive",
        "name": dept.name,
        "description": description,
        "mode": "instance",
        "physicalType": concept(codes.LOCATION_PHYSICAL_TYPE, "wa", "Ward"),
        "managingOrganization": ref("Organization", org.pk, org.name),
    }
    if dept.specialty:
        out["type"] = [specialty_concept(dept.specialty)]
    return out


def practitioner(p: Practitioner) -> dict[str, Any]:
    """Expects ``licences`` prefetched."""
    qualifications: list[dict[str, Any]] = [{"code": title_concept(p.title)}]
    for lic in p.licences.all():
        period: dict[str, Any] = {"start": lic.valid_from.isoformat()}
        ends = [d for d in (lic.valid_until, lic.revoked_on) if d]
        if ends:
            period["end"] = min(ends).isoformat()
        text = _("practising licence") + (f" ({lic.scope})" if lic.scope else "")
        qualifications.append({
            "identifier": [{"system": codes.LICENCE_NUMBER, "value": lic.number}],
            "code": concept(codes.CS_QUALIFICATION, "practising-licence", _("practising licence"), text),
            "period": period,
        })
    out: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": str(p.pk),
        "meta": meta(p.created_at),
        "identifier": [{"system": codes.LICENCE_NUMBER, "value": p.licence_number}],
        "active": p.active,
        "name": [human_name(p.name)],
        "qualification": qualifications,
    }
    if p.phone:
        out["telecom"] = [phone_telecom(p.phone, "work")]
    if p.gender:
        out["gender"] = p.gender
    return out


def practitioner_role(site: PracticeSite) -> dict[str, Any]:
    """Expects practitioner, organisation and department selected, practitioner__specialties
    prefetched."""
    p, org = site.practitioner, site.organisation
    out: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": str(site.pk),
        "meta": meta(site.created_at),
        "active": bool(site.active and p.active and org.active),
        "practitioner": ref("Practitioner", p.pk, p.name),
        "organization": ref("Organization", org.pk, org.name),
        "code": [title_concept(p.title)],
    }
    specialties = [specialty_concept(s.specialty) for s in p.specialties.all()]
    if specialties:
        out["specialty"] = specialties
    if site.department_id and site.department:
        out["location"] = [ref("Location", site.department_id, site.department.name)]
    if p.phone:
        out["telecom"] = [phone_telecom(p.phone, "work")]
    return out


def team_care_team(team: Team) -> dict[str, Any]:
    """A network team (MDT, specialty group, family-doctor team). Expects consortium and
    organisation selected, members__practitioner prefetched."""
    category = [concept(codes.CS_TEAM_KIND, team.kind, _label(TeamKind, team.kind))]
    if team.specialty:
        category.append(specialty_concept(team.specialty))
    managing = [ref("Organization", team.consortium_id, team.consortium.name)]
    if team.organisation_id and team.organisation:
        managing.append(ref("Organization", team.organisation_id, team.organisation.name))
    participants = [{
        "role": [concept(codes.CS_TEAM_ROLE, m.role, _label(TeamRole, m.role))],
        "member": ref("Practitioner", m.practitioner_id, m.practitioner.name),
    } for m in sorted(team.members.all(), key=lambda m: (m.role != TeamRole.LEAD, m.created_at))]
    out: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": str(team.pk),
        "meta": meta(team.created_at),
        "status": "active" if team.active else "inactive",
        "category": category,
        "name": team.name,
        "managingOrganization": managing,
    }
    if participants:
        out["participant"] = participants
    return out
