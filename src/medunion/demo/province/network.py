"""The province's network beyond the demo county: cities with a tertiary hospital and imaging,
pathology and ECG hubs; counties with a county hospital, township health centres and village
clinics; a county medical community per county and a tele-medicine network per city, with their
reading routes. Real division codes for cities and counties (python-stdnum knows them, so the
residents' ID numbers validate); townships and villages are numbered under them."""

from __future__ import annotations

import datetime as dt
import random

from medunion.audit.models import Verb
from medunion.diagnostics.models import ReadingRoute
from medunion.network.codes import ConsortiumKind, RegionLevel, Tier
from medunion.network.models import Consortium, ConsortiumMembership, Department, Organisation, Region

from ..catalogue import COUNTY_HOSPITAL, ECG_HUB, IMAGING_HUB, PATHOLOGY_HUB, TERTIARY, Hospital
from ..places import PROVINCE, _Names
from .bulk import SYSTEM
from .state import City, ConsortiumRow, County, Dept, Gen, Org, Township, Village

# (code, name, English name, tertiary hospital, its English name, counties: (code6, name, English name))
CITIES = [
    ("610300000000", "宝鸡市", "Baoji City", "宝鸡市中心医院", "Baoji Central Hospital", [
        ("610302", "渭滨区", "Weibin District"), ("610303", "金台区", "Jintai District"),
        ("610304", "陈仓区", "Chencang District"), ("610323", "岐山县", "Qishan County"),
        ("610324", "扶风县", "Fufeng County"), ("610326", "眉县", "Mei County"), ("610327", "陇县", "Long County"),
        ("610328", "千阳县", "Qianyang County")]),
    ("610400000000", "咸阳市", "Xianyang City", "咸阳市中心医院", "Xianyang Central Hospital", [
        ("610402", "秦都区", "Qindu District"), ("610404", "渭城区", "Weicheng District"),
        ("610422", "三原县", "Sanyuan County"), ("610423", "泾阳县", "Jingyang County"), ("610424", "乾县", "Qian County"),
        ("610425", "礼泉县", "Liquan County"), ("610481", "兴平市", "Xingping City"),
        ("610426", "永寿县", "Yongshou County")]),
    ("610700000000", "汉中市", "Hanzhong City", "汉中市中心医院", "Hanzhong Central Hospital", [
        ("610702", "汉台区", "Hantai District"), ("610722", "城固县", "Chenggu County"), ("610723", "洋县", "Yang County"),
        ("610724", "西乡县", "Xixiang County"), ("610725", "勉县", "Mian County"), ("610728", "镇巴县", "Zhenba County"),
        ("610729", "留坝县", "Liuba County"), ("610730", "佛坪县", "Foping County")]),
]
HUBS = (("imaging", IMAGING_HUB, "医学影像诊断中心", "Medical Imaging Centre", Tier.IMAGING_HUB),
        ("pathology", PATHOLOGY_HUB, "病理诊断中心", "Pathology Centre", Tier.PATHOLOGY_HUB),
        ("ecg", ECG_HUB, "心电诊断中心", "ECG Centre", Tier.ECG_HUB))
# Which hub reads which modality.
ROUTES = {"CT": "imaging", "DX": "imaging", "MR": "imaging", "US": "imaging", "ECG": "ecg", "SM": "pathology"}


def plan_sizes(total: int) -> tuple[int, int, list[int]]:
    """How ``total`` organisations split: cities (each a tertiary hospital and three hubs),
    counties, and per county its organisations (a hospital, townships and villages)."""
    cities = 1 if total < 200 else len(CITIES)
    rest = max(0, total - 4 * cities)
    counties = max(1, min(cities * 8, round(rest / 100)))
    per = [rest // counties + (1 if i < rest % counties else 0) for i in range(counties)]
    return cities, counties, per


def build_network(gen: Gen) -> None:
    rng = gen.fork("network")
    at = gen.days_ago(400)
    n_cities, n_counties, per_county = plan_sizes(gen.targets["organisations"])
    regions: list[dict[str, object]] = []
    for c in range(n_cities):
        code, name, name_en, *_rest = CITIES[c]
        gen.cities.append(City(code, name, name_en))
        regions.append({"code": code, "name": name, "name_en": name_en, "level": RegionLevel.CITY,
                        "parent_id": PROVINCE[0]})
    for k in range(n_counties):
        city = k % n_cities
        code6, name, name_en = CITIES[city][5][k // n_cities]
        county = County(f"{code6}000000", name, name_en, city)
        gen.counties.append(county)
        gen.cities[city].counties.append(k)
        regions.append({"code": county.code, "name": name, "name_en": name_en, "level": RegionLevel.COUNTY,
                        "parent_id": gen.cities[city].code})
        _plan_county(gen, rng, k, per_county[k], regions)
    gen.sink.add_many(Region, regions)
    _organisations(gen, rng, at)
    _consortia(gen, at)
    gen.counts["regions"] = len(regions)


def _plan_county(gen: Gen, rng: random.Random, k: int, budget: int, regions: list[dict[str, object]]) -> None:
    county = gen.counties[k]
    townships = max(1, (budget - 1) // 10)
    villages = max(0, budget - 1 - townships)
    names = _Names(rng)
    for t in range(townships):
        short, short_en = names.township()
        code = f"{county.code[:6]}{101 + t:03d}000"
        ti = len(gen.townships)
        gen.townships.append(Township(code, f"{short}镇", k))
        county.townships.append(ti)
        regions.append({"code": code, "name": f"{short}镇", "name_en": f"{short_en} Town",
                        "level": RegionLevel.TOWNSHIP, "parent_id": county.code})
    for v in range(villages):
        ti = county.townships[v % townships]
        township = gen.townships[ti]
        vname, vname_en = names.village()
        code = f"{township.code[:9]}{201 + len(township.villages):03d}"
        vi = len(gen.villages)
        gen.villages.append(Village(code, f"{vname}村", ti, rng.randint(600, 3000)))
        township.villages.append(vi)
        regions.append({"code": code, "name": f"{vname}村", "name_en": f"{vname_en} Village",
                        "level": RegionLevel.VILLAGE, "parent_id": township.code})


def _org(gen: Gen, at: dt.datetime, code: str, name: str, name_en: str, tier: str, region: str, city: int, *,
         county: int = -1, township: int = -1, parent: int = -1, phone: str = "") -> int:
    n = len(gen.orgs)
    org = Org(gen.ids.make("org", n, at), code, name, tier, region, city, county, township)
    gen.orgs.append(org)
    gen.sink.add(Organisation, {"id": org.id, "created_at": at, "code": code, "name": name, "name_en": name_en,
                                "tier": tier, "region_id": region,
                                "parent_id": gen.orgs[parent].id if parent >= 0 else None,
                                "address": name, "phone": phone, "active": True})
    gen.audit.add(at, SYSTEM, "network.organisation.create", Verb.CREATE, object_type="network.organisation",
                  object_id=org.id)
    return n


def _departments(gen: Gen, at: dt.datetime, org: int, hospital: Hospital) -> None:
    for d in hospital.departments:
        n = len(gen.depts)
        dept = Dept(gen.ids.make("department", n, at), org, d.code, d.name, d.specialty, d.beds, d.slots,
                    d.green_beds, d.green_slots)
        gen.depts.append(dept)
        gen.sink.add(Department, {"id": dept.id, "created_at": at, "organisation_id": gen.orgs[org].id,
                                  "code": d.code, "name": d.name, "specialty": d.specialty, "beds": d.beds,
                                  "daily_slots": d.slots, "green_channel_beds": d.green_beds,
                                  "green_channel_slots": d.green_slots})
        gen.audit.add(at, SYSTEM, "network.department.create", Verb.CREATE, object_type="network.department",
                      object_id=dept.id)


def _organisations(gen: Gen, rng: random.Random, at: dt.datetime) -> None:
    for c, city in enumerate(gen.cities):
        code6, tname, tname_en = city.code[:6], CITIES[c][3], CITIES[c][4]
        city.tertiary = _org(gen, at, f"PV-{code6}-T", tname, tname_en, Tier.TERTIARY_HOSPITAL, city.code, c,
                             phone=f"0917-{rng.randrange(10**7):07d}")
        _departments(gen, at, city.tertiary, TERTIARY)
        for key, hub, suffix, suffix_en, tier in HUBS:
            city.hubs[key] = _org(gen, at, f"PV-{code6}-{key[:3].upper()}", f"{city.name}{suffix}",
                                  f"{city.name_en} {suffix_en}", tier, city.code, c, parent=city.tertiary)
            _departments(gen, at, city.hubs[key], hub)
    for k, county in enumerate(gen.counties):
        short = county.name[:-1] if len(county.name) > 2 else county.name
        county.hospital = _org(gen, at, f"PV-{county.code[:6]}-H", f"{short}人民医院",
                               f"{county.name_en} People's Hospital", Tier.COUNTY_HOSPITAL, county.code, county.city,
                               county=k, phone=f"0917-{rng.randrange(10**7):07d}")
        _departments(gen, at, county.hospital, COUNTY_HOSPITAL)
        for ti in county.townships:
            t = gen.townships[ti]
            t.org = _org(gen, at, f"PV-{t.code[:9]}", f"{county.name}{t.name}卫生院", f"{t.name} Health Centre",
                         Tier.TOWNSHIP_CENTRE, t.code, county.city, county=k, township=ti, parent=county.hospital)
            for vi in t.villages:
                v = gen.villages[vi]
                v.org = _org(gen, at, f"PV-{v.code}", f"{t.name}{v.name}卫生室", f"{v.name} Clinic",
                             Tier.VILLAGE_CLINIC, v.code, county.city, county=k, township=ti, parent=t.org)
    gen.counts["organisations"] = len(gen.orgs)
    gen.counts["departments"] = len(gen.depts)


def _consortium(gen: Gen, at: dt.datetime, code: str, name: str, name_en: str, kind: str, lead: int, county: int,
                city: int, members: list[int]) -> int:
    n = len(gen.consortia)
    row = ConsortiumRow(gen.ids.make("consortium", n, at), code, county, city, members)
    gen.consortia.append(row)
    gen.sink.add(Consortium, {"id": row.id, "created_at": at, "code": code, "name": name, "name_en": name_en,
                              "kind": kind, "lead_id": gen.orgs[lead].id})
    for org in members:
        m = gen.counts.get("memberships", 0)
        mid = gen.ids.make("membership", m, at)
        gen.sink.add(ConsortiumMembership, {"id": mid, "created_at": at, "consortium_id": row.id,
                                            "organisation_id": gen.orgs[org].id, "joined_on": at.date()})
        gen.audit.add(at, SYSTEM, "network.membership.create", Verb.CREATE, object_type="network.consortiummembership",
                      object_id=mid)
        gen.counts["memberships"] = m + 1
    city_row = gen.cities[city]
    for modality, hub in ROUTES.items():
        r = gen.counts.get("reading routes", 0)
        gen.sink.add(ReadingRoute, {"id": gen.ids.make("route", r, at), "created_at": at, "consortium_id": row.id,
                                    "modality": modality, "hub_id": gen.orgs[city_row.hubs[hub]].id})
        gen.counts["reading routes"] = r + 1
    gen.audit.add(at, SYSTEM, "reading_route.create", Verb.CREATE, object_type="network.consortium",
                  object_id=row.id, detail={"routes": len(ROUTES)})
    return n


def _consortia(gen: Gen, at: dt.datetime) -> None:
    for k, county in enumerate(gen.counties):
        city = gen.cities[county.city]
        members = [county.hospital, city.tertiary, *city.hubs.values()]
        for ti in county.townships:
            members.append(gen.townships[ti].org)
            members += [gen.villages[vi].org for vi in gen.townships[ti].villages]
        county.community = _consortium(
            gen, at, f"PV-{county.code[:6]}-YGT", f"{county.name}县域医共体", f"{county.name_en} Medical Community",
            ConsortiumKind.COUNTY_COMMUNITY, county.hospital, k, county.city, members)
    for c, city in enumerate(gen.cities):
        members = [city.tertiary, *city.hubs.values(), *(gen.counties[k].hospital for k in city.counties)]
        city.network = _consortium(
            gen, at, f"PV-{city.code[:6]}-YCYL", f"{gen.orgs[city.tertiary].name}远程医疗协作网",
            f"{CITIES[c][4]} Tele-medicine Network", ConsortiumKind.TELEMEDICINE, city.tertiary, -1, c, members)
    gen.counts["consortia"] = len(gen.consortia)
