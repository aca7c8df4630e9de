"""The province's clinicians: village doctors and township GPs, hospital specialists by department,
readers at the hubs; their specialties, practice sites, credentials (training, passed exam and
licence in every consortium they work in, so they hold the referral privilege), family-doctor
teams, and an account each.

Every generated account has the demo password. Its hash is computed ONCE and stored for all of
them: hashing thousands of passwords with Argon2 would take minutes, and sharing one salt is
acceptable only because this is a synthetic data set whose password is published anyway.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from medunion.accounts.models import User
from medunion.audit.models import Verb
from medunion.network.codes import CourseKind, TeamKind, TeamRole, Title
from medunion.network.codes import Specialty as S
from medunion.network.models import (
    ExamResult,
    Licence,
    PracticeSite,
    Practitioner,
    PractitionerSpecialty,
    Team,
    TeamMember,
    Training,
)

from ..catalogue import COUNTY_HOSPITAL, ECG_HUB, IMAGING_HUB, PATHOLOGY_HUB, TERTIARY, YEARS, titles_for
from ..names import person_name
from .bulk import SYSTEM, ActorRow
from .state import Clinician, Gen

# Usernames of the generated accounts, by kind: vd00001 (village doctor), gp00001 (township GP),
# sp00001 (hospital specialist), rd00001 (reader at a hub); patients are pt000001.
PREFIX = {"village": "vd", "township": "gp", "specialist": "sp", "reader": "rd"}
_CATALOGUE = {d.code: d for h in (TERTIARY, COUNTY_HOSPITAL, IMAGING_HUB, PATHOLOGY_HUB, ECG_HUB) for d in h.departments}


def _largest_remainder(total: int, weights: list[float], minimum: list[int]) -> list[int]:
    base = list(minimum)
    left = total - sum(base)
    if left <= 0:
        return base
    s = sum(weights) or 1
    shares = [left * w / s for w in weights]
    parts = [int(x) for x in shares]
    order = sorted(range(len(weights)), key=lambda i: shares[i] - parts[i], reverse=True)
    for i in order[:left - sum(parts)]:
        parts[i] += 1
    return [b + p for b, p in zip(base, parts, strict=True)]


def plan_staff(gen: Gen) -> tuple[int, int, list[int]]:
    """Village doctors per clinic, GPs per health centre, and clinicians per hospital department."""
    total = gen.targets["clinicians"]
    v, t = len(gen.villages), len(gen.townships)
    per_village = 2 if total >= 2 * v + 3 * t + 10 * len(gen.depts) // 4 else 1
    per_township = 3 if per_village == 2 else 1
    hospital = max(0, total - per_village * v - per_township * t)
    hub_tiers = {"imaging_hub", "pathology_hub", "ecg_hub"}
    weights = [float(_CATALOGUE[d.code].doctors) if d.code in _CATALOGUE else 1.0 for d in gen.depts]
    minimum = [1 if gen.orgs[d.org].tier in hub_tiers else 0 for d in gen.depts]
    return per_village, per_township, _largest_remainder(hospital, weights, minimum)


def build_people(gen: Gen) -> None:
    rng = gen.fork("people")
    at = gen.days_ago(380)
    per_village, per_township, per_dept = plan_staff(gen)

    def add(kind: str, title: str, org: int, dept: int, specialties: list[str], women: float = 0.45) -> int:
        male = rng.random() >= women
        years = rng.randint(*YEARS[title])
        n = len(gen.clinicians)
        c = Clinician(gen.ids.make("practitioner", n, at), "", title, kind, org, dept, specialties)
        c.name = person_name(rng, male, gen.now.year - 24 - years - rng.randint(0, 6))
        gen.clinicians.append(c)
        region6 = gen.orgs[org].region[:6]
        phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" if kind == "village" else ""
        gen.sink.add(Practitioner, {"id": c.id, "created_at": at, "name": c.name, "gender": "male" if male else "female",
                                    "title": title, "licence_number": f"P{region6}{n + 1:07d}",
                                    "years_independent": years, "phone": phone, "active": True})
        gen.audit.add(at, SYSTEM, "network.practitioner.create", Verb.CREATE, object_type="network.practitioner",
                      object_id=c.id)
        return n

    for village in gen.villages:
        for _i in range(per_village):
            extra = [S.TCM] if rng.random() < 0.2 else []
            village.doctors.append(add("village", Title.VILLAGE_DOCTOR, village.org, -1,
                                       [S.GENERAL_PRACTICE, *extra], women=0.3))
    for township in gen.townships:
        for title in titles_for(rng, "township", per_township):
            extra = [S.INTERNAL_MEDICINE] if rng.random() < 0.15 else []
            township.gps.append(add("township", title, township.org, -1, [S.GENERAL_PRACTICE, *extra]))
    for di, (d, n) in enumerate(zip(gen.depts, per_dept, strict=True)):
        org = gen.orgs[d.org]
        kind = "reader" if org.tier in ("imaging_hub", "pathology_hub", "ecg_hub") else "specialist"
        mix = "tertiary" if org.tier == "tertiary_hospital" else "county"
        women = _CATALOGUE[d.code].women if d.code in _CATALOGUE else 0.45
        for title in titles_for(rng, mix, n):
            codes = [d.specialty] + ([S.GENERAL_SURGERY] if d.code == "BRST" else [])
            add(kind, title, d.org, di, codes, women)
    _specialties_and_sites(gen, rng, at)
    _credentials(gen, rng, at)
    _teams(gen, at)
    _accounts(gen, at)
    gen.counts["practitioners"] = len(gen.clinicians)


def _specialties_and_sites(gen: Gen, rng: random.Random, at: dt.datetime) -> None:
    n_spec = n_site = 0
    for c in gen.clinicians:
        for s in dict.fromkeys(c.specialties):
            gen.sink.add(PractitionerSpecialty, {"practitioner_id": c.id, "specialty": s})
            n_spec += 1
        dept = gen.depts[c.dept].id if c.dept >= 0 else None
        sid = gen.ids.make("site", n_site, at)
        gen.sink.add(PracticeSite, {"id": sid, "created_at": at, "practitioner_id": c.id,
                                    "organisation_id": gen.orgs[c.org].id, "department_id": dept, "primary": True,
                                    "active": True})
        gen.audit.add(at, SYSTEM, "network.practice_site.add", Verb.CREATE, object_type="network.practicesite",
                      object_id=sid)
        n_site += 1
        # 多点执业: some senior tertiary specialists also hold clinics at a county hospital of their city.
        org = gen.orgs[c.org]
        city = gen.cities[org.city]
        if org.tier == "tertiary_hospital" and c.title in (Title.CHIEF, Title.ASSOCIATE_CHIEF) and city.counties \
                and rng.random() < 0.3:
            county = gen.counties[rng.choice(city.counties)]
            sid = gen.ids.make("site", n_site, at)
            gen.sink.add(PracticeSite, {"id": sid, "created_at": at, "practitioner_id": c.id,
                                        "organisation_id": gen.orgs[county.hospital].id, "department_id": None,
                                        "primary": False, "active": True})
            gen.audit.add(at, SYSTEM, "network.practice_site.add", Verb.CREATE, object_type="network.practicesite",
                          object_id=sid)
            n_site += 1
    gen.counts["practitioner specialties"] = n_spec
    gen.counts["practice sites"] = n_site


def _consortia_of(gen: Gen, c: Clinician) -> list[int]:
    org = gen.orgs[c.org]
    city = gen.cities[org.city]
    if org.county >= 0:
        found = [gen.counties[org.county].community]
        if org.tier == "county_hospital":
            found.append(city.network)
        return found
    return [gen.counties[k].community for k in city.counties] + [city.network]


def _credentials(gen: Gen, rng: random.Random, at: dt.datetime) -> None:
    n = {"training": 0, "exam_result": 0, "licence": 0}

    def nid(kind: str, when: dt.datetime) -> object:
        i = n[kind]
        n[kind] = i + 1
        return gen.ids.make(kind, i, when)

    for c in gen.clinicians:
        c.consortia = _consortia_of(gen, c)
        for k in c.consortia:
            consortium = gen.consortia[k].id
            done = gen.now.date() - dt.timedelta(days=rng.randint(30, 700))
            tid = nid("training", at)
            gen.sink.add(Training, {"id": tid, "created_at": at, "practitioner_id": c.id, "consortium_id": consortium,
                                    "course": CourseKind.REFERRAL, "completed_on": done,
                                    "valid_until": done + dt.timedelta(days=3 * 365)})
            gen.audit.add(at, SYSTEM, "network.training.record", Verb.CREATE, object_type="network.training",
                          object_id=tid)
            taken = done + dt.timedelta(days=rng.randint(3, 14))
            eid = nid("exam_result", at)
            gen.sink.add(ExamResult, {"id": eid, "created_at": at, "practitioner_id": c.id,
                                      "consortium_id": consortium, "course": CourseKind.REFERRAL, "taken_on": taken,
                                      "score": Decimal(rng.randint(120, 196)) / 2, "pass_mark": Decimal(60),
                                      "valid_until": taken + dt.timedelta(days=3 * 365)})
            gen.audit.add(at, SYSTEM, "network.exam.record", Verb.CREATE, object_type="network.examresult",
                          object_id=eid, detail={"passed": True})
        lid = nid("licence", at)
        if c.kind == "village":
            start = gen.now.date() - dt.timedelta(days=rng.randint(30, 1700))
            until: dt.date | None = start + dt.timedelta(days=5 * 365)
            scope = "乡村全科"
        else:
            start, until, scope = gen.now.date() - dt.timedelta(days=rng.randint(400, 9000)), None, "临床类别"
        gen.sink.add(Licence, {"id": lid, "created_at": at, "practitioner_id": c.id,
                               "number": f"L{c.id.hex[:12].upper()}", "scope": scope, "valid_from": start,
                               "valid_until": until})
        gen.audit.add(at, SYSTEM, "network.licence.record", Verb.CREATE, object_type="network.licence", object_id=lid)
    gen.counts["trainings"] = n["training"]
    gen.counts["exam results"] = n["exam_result"]
    gen.counts["licences"] = n["licence"]


def _teams(gen: Gen, at: dt.datetime) -> None:
    """Family-doctor teams: each township GP leads the village doctors of a share of the villages."""
    teams = members = 0
    for township in gen.townships:
        county = gen.counties[township.county]
        gps = township.gps or [0]
        share = -(-len(township.villages) // len(gps)) if township.villages else 0
        for k, gp in enumerate(township.gps):
            villages = township.villages[k * share:(k + 1) * share]
            if not villages:
                continue
            tid = gen.ids.make("team", teams, at)
            teams += 1
            gen.sink.add(Team, {"id": tid, "created_at": at, "name": f"{township.name}第{k + 1}家庭医生团队",
                                "kind": TeamKind.FAMILY_DOCTOR, "consortium_id": gen.consortia[county.community].id,
                                "organisation_id": gen.orgs[township.org].id, "specialty": S.GENERAL_PRACTICE,
                                "active": True})
            gen.audit.add(at, SYSTEM, "network.team.create", Verb.CREATE, object_type="network.team", object_id=tid)
            people = [gp] + [d for vi in villages for d in gen.villages[vi].doctors]
            for i, p in enumerate(people):
                mid = gen.ids.make("team_member", members, at)
                members += 1
                gen.sink.add(TeamMember, {"id": mid, "created_at": at, "team_id": tid,
                                          "practitioner_id": gen.clinicians[p].id,
                                          "role": TeamRole.LEAD if i == 0 else TeamRole.MEMBER})
                gen.audit.add(at, SYSTEM, "network.team_member.set", Verb.CREATE, object_type="network.teammember",
                              object_id=mid)
            for vi in villages:
                gen.villages[vi].team, gen.villages[vi].team_lead = tid, gp
    gen.counts["teams"] = teams
    gen.counts["team members"] = members


def _accounts(gen: Gen, at: dt.datetime) -> None:
    serial = dict.fromkeys(PREFIX, 0)
    for n, c in enumerate(gen.clinicians):
        serial[c.kind] += 1
        c.username = f"{PREFIX[c.kind]}{serial[c.kind]:05d}"
        c.user_id = gen.ids.make("user", n, at)
        gen.sink.add(User, {"id": c.user_id, "password": gen.password_hash, "username": c.username,
                            "is_superuser": False, "is_staff": False, "is_active": True, "date_joined": at,
                            "role": "practitioner", "display_name": c.name, "practitioner_id": c.id})
        gen.audit.add(at, SYSTEM, "account.create", Verb.CREATE, object_type="accounts.user", object_id=c.user_id,
                      detail={"role": "practitioner"})
    gen.counts["clinician accounts"] = len(gen.clinicians)


def actor_of(gen: Gen, clinician: int) -> ActorRow:
    return gen.clinicians[clinician].actor()
