"""Build steps for the people of the network: practitioners with their specialties and practice
sites, their credentials (training, exam, licence) and their teams."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from medunion.network.codes import CourseKind, TeamKind, TeamRole, Title
from medunion.network.codes import Specialty as S
from medunion.network.models import (
    Consortium,
    Department,
    ExamResult,
    Licence,
    Organisation,
    PracticeSite,
    Practitioner,
    PractitionerSpecialty,
    Team,
    TeamMember,
    Training,
)

from .catalogue import COUNTY_ORGS, PARTNER_BREAST_SURGEONS, TERTIARY, YEARS, titles_for
from .places import CAPITAL_DISTRICT, COUNTY6
from .state import DemoState, Staff

# Tertiary departments whose senior doctors also practise at the county hospital (多点执业).
_OUTREACH = {"CARD", "ONCO", "BRST", "GSUR", "NEPH", "PAED", "OBGY", "RESP", "NEUR"}


def build_practitioners(state: DemoState) -> None:
    rng = state.rng
    people: list[Practitioner] = []
    specialties: list[PractitionerSpecialty] = []
    sites: list[PracticeSite] = []

    def add(p: Practitioner, org: Organisation, codes: Sequence[str], department: Department | None = None) -> None:
        people.append(p)
        specialties.extend(PractitionerSpecialty(practitioner=p, specialty=c) for c in dict.fromkeys(codes))
        sites.append(PracticeSite(practitioner=p, organisation=org, department=department, primary=True))

    for t in state.townships:
        for v in t.villages:
            doctors = []
            for _i in range(rng.choices([3, 4, 5], weights=[35, 40, 25])[0]):
                p = state.practitioner(title=Title.VILLAGE_DOCTOR, years=rng.randint(*YEARS[Title.VILLAGE_DOCTOR]),
                                       licence_region6=COUNTY6, village_doctor=True, women=0.3)
                add(p, state.clinics[v.code], [S.GENERAL_PRACTICE] + ([S.TCM] if rng.random() < 0.2 else []))
                doctors.append(p)
            state.village_doctors[v.code] = doctors
        gps = []
        for title in titles_for(rng, "township", {"subdistrict": 5, "town": 4, "township": 3}[t.kind]):
            p = state.practitioner(title=title, years=rng.randint(*YEARS[title]), licence_region6=COUNTY6)
            extra = rng.choices([[], [S.INTERNAL_MEDICINE], [S.TCM]], weights=[75, 15, 10])[0]
            add(p, state.centres[t.code], [S.GENERAL_PRACTICE, *extra])
            gps.append(p)
        state.township_gps[t.code] = gps

    for h in (TERTIARY, *COUNTY_ORGS):
        org = state.hospitals[h.key]
        region6 = CAPITAL_DISTRICT[0][:6] if h is TERTIARY else COUNTY6
        for d in h.departments:
            dept = state.departments[(h.key, d.code)]
            staff = []
            for title in titles_for(rng, "tertiary" if h is TERTIARY else "county", d.doctors):
                p = state.practitioner(title=title, years=rng.randint(*YEARS[title]), licence_region6=region6,
                                       women=d.women)
                # The county's thyroid-and-breast surgeons are general surgeons too.
                codes = [d.specialty] + ([S.GENERAL_SURGERY] if d.code == "BRST" and h.key == "county" else [])
                add(p, org, codes, dept)
                staff.append(Staff(p, h.key, d.specialty, dept))
            state.specialists[(h.key, d.code)] = staff
    for org in state.partner_hospitals:
        staff = []
        for title in titles_for(rng, "county", PARTNER_BREAST_SURGEONS):
            p = state.practitioner(title=title, years=rng.randint(*YEARS[title]), licence_region6=org.region_id[:6],
                                   women=0.5)
            add(p, org, [S.BREAST_SURGERY, S.GENERAL_SURGERY], state.departments[(org.code, "BRST")])
            staff.append(Staff(p, org.code, S.BREAST_SURGERY, state.departments[(org.code, "BRST")]))
        state.specialists[(org.code, "BRST")] = staff

    # Second practice sites: senior tertiary specialists hold clinics at the county hospital,
    # and some hub readers also report for the county hospital.
    county = state.hospitals["county"]
    for (key, code), staff in state.specialists.items():
        for s in staff:
            senior = s.practitioner.title in (Title.CHIEF, Title.ASSOCIATE_CHIEF)
            if key == "tertiary" and code in _OUTREACH and senior and rng.random() < 0.4:
                sites.append(PracticeSite(practitioner=s.practitioner, organisation=county,
                                          department=state.departments.get(("county", code))))
            elif key == "imaging_hub" and rng.random() < 0.5:
                sites.append(PracticeSite(practitioner=s.practitioner, organisation=county))

    v0 = state.townships[0].villages[0].code
    state.personas = {
        "village": state.village_doctors[v0][0],
        "township": state.township_gps[state.townships[0].code][0],
        "cardio": state.specialists[("tertiary", "CARD")][3].practitioner,
        "breast": state.specialists[("tertiary", "BRST")][1].practitioner,
        "radiology": state.specialists[("imaging_hub", "RADI")][1].practitioner,
    }
    state.missing_exam = state.village_doctors[v0][1]

    Practitioner.objects.bulk_create(people)
    PractitionerSpecialty.objects.bulk_create(specialties)
    PracticeSite.objects.bulk_create(sites)
    state.counts["practitioners"] = len(people)
    state.counts["village doctors"] = sum(len(d) for d in state.village_doctors.values())
    state.counts["township GPs"] = sum(len(g) for g in state.township_gps.values())
    state.counts["specialists"] = len(state.all_specialists())
    state.counts["practice sites"] = len(sites)


# --- credentials ------------------------------------------------------------------------------

_FULL, _TRAINED, _FAILED, _NONE = "full", "trained", "failed", "none"


class _Credentials:
    def __init__(self, state: DemoState):
        self.state = state
        self.trainings: list[Training] = []
        self.exams: list[ExamResult] = []
        self.licences: list[Licence] = []

    def course(self, p: Practitioner, consortium: Consortium, outcome: str) -> None:
        if outcome == _NONE:
            return
        rng, today = self.state.rng, self.state.today
        done = today - dt.timedelta(days=rng.randint(20, 900))
        self.trainings.append(Training(practitioner=p, consortium=consortium, course=CourseKind.REFERRAL,
                                       completed_on=done, valid_until=done + dt.timedelta(days=3 * 365)))
        if outcome == _TRAINED:
            return
        taken = min(today, done + dt.timedelta(days=rng.randint(3, 14)))
        score = rng.uniform(60, 98) if outcome == _FULL else rng.uniform(35, 59)
        self.exams.append(ExamResult(practitioner=p, consortium=consortium, course=CourseKind.REFERRAL,
                                     taken_on=taken, score=Decimal(round(score * 2) / 2).quantize(Decimal("0.1")),
                                     pass_mark=Decimal(60), valid_until=taken + dt.timedelta(days=3 * 365)))

    def licence(self, p: Practitioner, *, expired: bool = False) -> None:
        rng, today = self.state.rng, self.state.today
        if p.title == Title.VILLAGE_DOCTOR:  # village doctors' certificates are renewed every five years
            start = today - dt.timedelta(days=5 * 365 + rng.randint(30, 400) if expired else rng.randint(30, 1700))
            until: dt.date | None = start + dt.timedelta(days=5 * 365)
            scope = "乡村全科"
        else:
            start = today - dt.timedelta(days=365 * p.years_independent + rng.randint(0, 300))
            until, scope = None, "临床类别"
        self.licences.append(Licence(practitioner=p, number=p.licence_number, scope=scope, valid_from=start,
                                     valid_until=until))


def build_credentials(state: DemoState) -> None:
    rng = state.rng
    creds = _Credentials(state)
    c = state.consortia
    forced = {id(p) for p in state.personas.values()} | {id(state.missing_exam)}

    def pick(weights: list[int]) -> str:
        return rng.choices([_FULL, _TRAINED, _FAILED, _NONE], weights=weights)[0]

    for doctors in state.village_doctors.values():
        for p in doctors:
            if id(p) in forced:
                continue
            creds.course(p, c["community"], pick([70, 10, 8, 12]))
            creds.licence(p, expired=rng.random() < 0.03)
    for gps in state.township_gps.values():
        for p in gps:
            if id(p) in forced:
                continue
            creds.course(p, c["community"], pick([85, 5, 5, 5]))
            creds.course(p, c["telemedicine"], pick([50, 10, 0, 40]))
            creds.licence(p)
    alliance_specialties = {S.BREAST_SURGERY, S.ONCOLOGY, S.RADIOLOGY, S.PATHOLOGY, S.ULTRASOUND}
    for s in state.all_specialists():
        p = s.practitioner
        if id(p) in forced:
            continue
        if s.org_key in state.hospitals:
            creds.course(p, c["community"], pick([75, 10, 3, 12]))
            if s.org_key in ("tertiary", "county", "imaging_hub", "pathology_hub", "ecg_hub"):
                creds.course(p, c["telemedicine"], pick([55, 10, 0, 35]))
        if s.specialty in alliance_specialties:
            creds.course(p, c["alliance"], pick([80, 8, 2, 10]))
        creds.licence(p)

    personas = state.personas
    for key, consortia in (("village", ["community"]), ("township", ["community", "telemedicine"]),
                           ("cardio", ["community", "telemedicine"]), ("breast", ["alliance", "community"]),
                           ("radiology", ["community", "alliance", "telemedicine"])):
        for name in consortia:
            creds.course(personas[key], c[name], _FULL)
        creds.licence(personas[key])
    assert state.missing_exam is not None
    creds.course(state.missing_exam, c["community"], _FAILED)  # trained, failed the exam: no privilege
    creds.licence(state.missing_exam)

    Training.objects.bulk_create(creds.trainings)
    ExamResult.objects.bulk_create(creds.exams)
    Licence.objects.bulk_create(creds.licences)
    state.counts["trainings"] = len(creds.trainings)
    state.counts["exam results"] = len(creds.exams)
    state.counts["licences"] = len(creds.licences)


# --- teams ------------------------------------------------------------------------------------

def build_teams(state: DemoState) -> None:
    c, h = state.consortia, state.hospitals
    teams: list[Team] = []
    members: list[TeamMember] = []

    def team(name: str, kind: str, consortium: Consortium, org: Organisation, specialty: str,
             people: list[Practitioner]) -> Team:
        t = Team(name=name, kind=kind, consortium=consortium, organisation=org, specialty=specialty)
        teams.append(t)
        for i, p in enumerate(dict.fromkeys(people)):
            members.append(TeamMember(team=t, practitioner=p, role=TeamRole.LEAD if i == 0 else TeamRole.MEMBER))
        return t

    def staff(key: str, code: str, n: int | None = None) -> list[Practitioner]:
        people = [s.practitioner for s in state.specialists.get((key, code), [])]
        return people if n is None else people[:n]

    # Family-doctor teams: each township GP leads the village doctors of a share of its villages.
    for t in state.townships:
        gps = state.township_gps[t.code]
        share = -(-len(t.villages) // len(gps))
        for k, gp in enumerate(gps):
            villages = t.villages[k * share:(k + 1) * share]
            if not villages:
                continue
            doctors = [d for v in villages for d in state.village_doctors[v.code]]
            ft = team(f"{t.name}第{k + 1}家庭医生团队", TeamKind.FAMILY_DOCTOR, c["community"], state.centres[t.code],
                      S.GENERAL_PRACTICE, [gp, *doctors])
            for v in villages:
                state.family_teams[v.code] = ft

    # Specialty groups of the county medical community: tertiary and county specialists together.
    for d in TERTIARY.departments:
        county_staff = staff("county", d.code)
        if county_staff:
            team(f"{d.name}专科协作组", TeamKind.SPECIALTY, c["community"], h["tertiary"], d.specialty,
                 staff("tertiary", d.code) + county_staff)
    breast_people = staff("tertiary", "BRST") + staff("county", "BRST") + staff("mch", "BRST")
    for org in state.partner_hospitals:
        breast_people += staff(org.code, "BRST")
    team("乳腺疾病协作组专家组", TeamKind.SPECIALTY, c["alliance"], h["tertiary"], S.BREAST_SURGERY, breast_people)
    team("远程影像诊断组", TeamKind.SPECIALTY, c["telemedicine"], h["imaging_hub"], S.RADIOLOGY,
         staff("imaging_hub", "RADI") + staff("tertiary", "RADI", 4) + staff("imaging_hub", "ULTR"))
    team("远程病理诊断组", TeamKind.SPECIALTY, c["telemedicine"], h["pathology_hub"], S.PATHOLOGY,
         staff("pathology_hub", "PATH") + staff("tertiary", "PATH", 3))
    team("远程心电诊断组", TeamKind.SPECIALTY, c["telemedicine"], h["ecg_hub"], S.ELECTROCARDIOLOGY,
         staff("ecg_hub", "ECG") + staff("tertiary", "CARD", 2))

    # Multidisciplinary teams.
    p = state.personas
    team("乳腺疾病多学科诊疗团队（MDT）", TeamKind.MDT, c["alliance"], h["tertiary"], S.BREAST_SURGERY,
         staff("tertiary", "BRST", 1) + [p["breast"]] + staff("tertiary", "ONCO", 2) + staff("tertiary", "RADI", 2)
         + [p["radiology"]] + staff("tertiary", "PATH", 2) + staff("pathology_hub", "PATH", 1))
    team("胸痛中心多学科团队（MDT）", TeamKind.MDT, c["community"], h["county"], S.CARDIOLOGY,
         staff("county", "CARD", 3) + [p["cardio"]] + staff("county", "EMER", 2) + staff("imaging_hub", "RADI", 2)
         + staff("ecg_hub", "ECG", 2))
    team("肺结节多学科诊疗团队（MDT）", TeamKind.MDT, c["telemedicine"], h["tertiary"], S.RESPIRATORY,
         staff("tertiary", "RESP", 2) + staff("tertiary", "GSUR", 2) + staff("tertiary", "ONCO", 2)
         + staff("tertiary", "RADI", 2) + staff("tertiary", "PATH", 1))

    Team.objects.bulk_create(teams)
    TeamMember.objects.bulk_create(members)
    state.counts["teams"] = len(teams)
    state.counts["team members"] = len(members)
