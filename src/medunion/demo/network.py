"""Build steps for the network: regions, organisations with their departments, consortia."""

from __future__ import annotations

import datetime as dt

from medunion.network.codes import ConsortiumKind, RegionLevel, Tier
from medunion.network.models import Consortium, ConsortiumMembership, Department, Organisation, Region

from .catalogue import COUNTY_ORGS, TERTIARY, Hospital
from .places import (
    CAPITAL,
    CAPITAL_DISTRICT,
    CITY,
    COUNTY,
    COUNTY_POPULATION,
    PARTNER_COUNTIES,
    PROVINCE,
    plan_townships,
)
from .state import DemoState


def build_regions(state: DemoState) -> None:
    upper = [
        Region(code=PROVINCE[0], name=PROVINCE[1], name_en=PROVINCE[2], level=RegionLevel.PROVINCE,
               population=39_500_000),
        Region(code=CITY[0], name=CITY[1], name_en=CITY[2], level=RegionLevel.CITY, parent_id=CITY[3],
               population=4_690_000),
        Region(code=CAPITAL[0], name=CAPITAL[1], name_en=CAPITAL[2], level=RegionLevel.CITY, parent_id=CAPITAL[3],
               population=13_000_000),
        Region(code=CAPITAL_DISTRICT[0], name=CAPITAL_DISTRICT[1], name_en=CAPITAL_DISTRICT[2],
               level=RegionLevel.COUNTY, parent_id=CAPITAL_DISTRICT[3], population=1_200_000),
        Region(code=COUNTY[0], name=COUNTY[1], name_en=COUNTY[2], level=RegionLevel.COUNTY, parent_id=COUNTY[3],
               population=COUNTY_POPULATION),
    ]
    upper += [Region(code=code, name=name, name_en=name_en, level=RegionLevel.COUNTY, parent_id=parent,
                     population=population) for code, name, name_en, parent, population in PARTNER_COUNTIES]
    # A database that knows the province or city already (an earlier import) keeps its rows.
    Region.objects.bulk_create(upper, ignore_conflicts=True)
    state.townships = plan_townships(state.rng)
    local: list[Region] = []
    for t in state.townships:
        local.append(Region(code=t.code, name=t.name, name_en=t.name_en, level=RegionLevel.TOWNSHIP,
                            parent_id=COUNTY[0], population=t.population))
        local += [Region(code=v.code, name=v.name, name_en=v.name_en, level=RegionLevel.VILLAGE, parent_id=t.code,
                         population=v.population) for v in t.villages]
    Region.objects.bulk_create(local)
    state.regions = {r.code: r for r in upper + local}
    state.counts["regions"] = len(upper) + len(local)
    state.counts["townships"] = len(state.townships)
    state.counts["villages"] = sum(len(t.villages) for t in state.townships)


def _org(h: Hospital, region: str, parent: Organisation | None = None) -> Organisation:
    return Organisation(code=h.code, name=h.name, name_en=h.name_en, tier=h.tier, region_id=region, parent=parent,
                        address=h.address, phone=h.phone)


def build_organisations(state: DemoState) -> None:
    rng = state.rng
    tertiary = _org(TERTIARY, CAPITAL_DISTRICT[0])
    county = _org(COUNTY_ORGS[0], COUNTY[0])
    orgs = [tertiary, county] + [_org(h, COUNTY[0], parent=county) for h in COUNTY_ORGS[1:]]
    state.hospitals = {"tertiary": tertiary, "county": county}
    state.hospitals.update({h.key: o for h, o in zip(COUNTY_ORGS[1:], orgs[2:], strict=True)})
    for i, (code, name, name_en, _parent, _population) in enumerate(PARTNER_COUNTIES):
        hospital = Organisation(code=f"WN-XYY{i + 1:02d}", name=f"{name}医院", name_en=f"{name_en} Hospital",
                                tier=Tier.COUNTY_HOSPITAL, region_id=code, address=f"{name}城关街道人民路{rng.randint(1, 99)}号",
                                phone=f"0913-{rng.randint(2, 8)}{rng.randrange(10**6):06d}")
        state.partner_hospitals.append(hospital)
    orgs += state.partner_hospitals
    for t in state.townships:
        centre = Organisation(code=f"W{t.code[:9]}", name=f"{COUNTY[1]}{t.name}卫生院",
                              name_en=f"{t.name_en} Health Centre", tier=Tier.TOWNSHIP_CENTRE, region_id=t.code,
                              parent=county, address=f"{COUNTY[1]}{t.name}{rng.choice('东西南北中')}街{rng.randint(1, 60)}号",
                              phone=f"0913-8{rng.randrange(10**6):06d}")
        state.centres[t.code] = centre
        orgs.append(centre)
        for v in t.villages:
            clinic = Organisation(code=f"V{v.code}", name=f"{t.name}{v.name}卫生室",
                                  name_en=f"{v.name_en} Clinic, {t.name_en}", tier=Tier.VILLAGE_CLINIC,
                                  region_id=v.code, parent=centre, address=f"{COUNTY[1]}{t.name}{v.name}")
            state.clinics[v.code] = clinic
            orgs.append(clinic)
    Organisation.objects.bulk_create(orgs)
    state.counts["organisations"] = len(orgs)

    departments: list[Department] = []
    for h in (TERTIARY, *COUNTY_ORGS):
        org = state.hospitals[h.key]
        for d in h.departments:
            dept = Department(organisation=org, code=d.code, name=d.name, specialty=d.specialty, beds=d.beds,
                              daily_slots=d.slots, green_channel_beds=d.green_beds,
                              green_channel_slots=d.green_slots)
            state.departments[(h.key, d.code)] = dept
            departments.append(dept)
    for org in state.partner_hospitals:
        dept = Department(organisation=org, code="BRST", name="乳腺外科", specialty="breast_surgery", beds=30,
                          daily_slots=40, green_channel_beds=3, green_channel_slots=4)
        state.departments[(org.code, "BRST")] = dept
        departments.append(dept)
    Department.objects.bulk_create(departments)
    state.counts["departments"] = len(departments)


def build_consortia(state: DemoState) -> None:
    h = state.hospitals
    community = Consortium(code="FP-YGT", name=f"{COUNTY[1]}县域医共体", name_en=f"{COUNTY[2]} Medical Community",
                           kind=ConsortiumKind.COUNTY_COMMUNITY, lead=h["county"])
    alliance = Consortium(code="SX-RXXZ", name="陕西省乳腺疾病诊疗协作组",
                          name_en="Shaanxi Breast Disease Collaborative Group",
                          kind=ConsortiumKind.SPECIALIST_ALLIANCE, lead=h["tertiary"])
    telemedicine = Consortium(code="XJTU-YCYL", name="西安交大一附院远程医疗协作网",
                              name_en="XJTU First Affiliated Hospital Tele-medicine Network",
                              kind=ConsortiumKind.TELEMEDICINE, lead=h["tertiary"])
    Consortium.objects.bulk_create([community, alliance, telemedicine])
    state.consortia = {"community": community, "alliance": alliance, "telemedicine": telemedicine}

    founded = dt.date(2019, 6, 1)
    members: list[ConsortiumMembership] = []

    def join(consortium: Consortium, orgs: list[Organisation], on: dt.date) -> None:
        members.extend(ConsortiumMembership(consortium=consortium, organisation=o, joined_on=on) for o in orgs)

    county_orgs = [h[k] for k in ("county", "mch", "imaging_hub", "pathology_hub", "ecg_hub")]
    join(community, county_orgs + list(state.centres.values()) + list(state.clinics.values()), founded)
    join(community, [h["tertiary"]], dt.date(2020, 3, 1))  # the partner tertiary hospital
    join(alliance, [h["tertiary"], h["county"], h["mch"], h["imaging_hub"], h["pathology_hub"]],
         dt.date(2016, 1, 1))
    join(alliance, state.partner_hospitals, dt.date(2017, 5, 1))
    join(telemedicine, [h["tertiary"], h["county"], h["imaging_hub"], h["pathology_hub"], h["ecg_hub"]]
         + list(state.centres.values()), dt.date(2021, 9, 1))
    ConsortiumMembership.objects.bulk_create(members)
    state.counts["consortia"] = 3
    state.counts["memberships"] = len(members)
