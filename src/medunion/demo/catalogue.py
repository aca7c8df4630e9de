"""The demo's hospitals, their departments (beds, daily slots, green-channel reserves) and
how many specialists of which titles work in each."""

from __future__ import annotations

import random
from dataclasses import dataclass

from medunion.network.codes import Specialty as S
from medunion.network.codes import Tier, Title


@dataclass(frozen=True)
class Dept:
    code: str
    name: str
    specialty: str
    beds: int
    slots: int
    doctors: int
    women: float = 0.45  # share of women among the department's doctors

    @property
    def green_beds(self) -> int:
        return self.beds // 10

    @property
    def green_slots(self) -> int:
        return self.slots // 10


@dataclass(frozen=True)
class Hospital:
    key: str
    code: str
    name: str
    name_en: str
    tier: str
    address: str
    phone: str
    departments: tuple[Dept, ...]


TERTIARY = Hospital(
    "tertiary", "XJTU-FAH", "西安交通大学第一附属医院", "The First Affiliated Hospital of Xi'an Jiaotong University",
    Tier.TERTIARY_HOSPITAL, "西安市雁塔区雁塔西路277号", "029-85323112", (
        Dept("CARD", "心血管内科", S.CARDIOLOGY, 120, 260, 15),
        Dept("ONCO", "肿瘤内科", S.ONCOLOGY, 110, 200, 13),
        Dept("BRST", "乳腺外科", S.BREAST_SURGERY, 80, 150, 9, 0.55),
        Dept("GSUR", "普通外科", S.GENERAL_SURGERY, 150, 220, 12, 0.2),
        Dept("OBGY", "妇产科", S.OBSTETRICS_GYNAECOLOGY, 120, 240, 12, 0.85),
        Dept("PAED", "儿科", S.PAEDIATRICS, 90, 220, 10, 0.6),
        Dept("NEPH", "肾脏内科", S.NEPHROLOGY, 60, 140, 7),
        Dept("RESP", "呼吸与危重症医学科", S.RESPIRATORY, 80, 180, 8),
        Dept("GAST", "消化内科", S.GASTROENTEROLOGY, 70, 180, 7),
        Dept("ENDO", "内分泌科", S.ENDOCRINOLOGY, 50, 160, 6, 0.6),
        Dept("NEUR", "神经内科", S.NEUROLOGY, 80, 180, 7),
        Dept("ORTH", "骨科", S.ORTHOPAEDICS, 100, 200, 8, 0.15),
        Dept("UROL", "泌尿外科", S.UROLOGY, 70, 150, 6, 0.1),
        Dept("EMER", "急诊科", S.EMERGENCY, 40, 300, 6),
        Dept("RADI", "医学影像科", S.RADIOLOGY, 0, 400, 9),
        Dept("ULTR", "超声医学科", S.ULTRASOUND, 0, 300, 5, 0.7),
        Dept("PATH", "病理科", S.PATHOLOGY, 0, 0, 6, 0.55),
    ))

COUNTY_HOSPITAL = Hospital(
    "county", "FP-XYY", "富平县医院", "Fuping County Hospital", Tier.COUNTY_HOSPITAL,
    "富平县城关街道东华路18号", "0913-8212120", (
        Dept("CARD", "心血管内科", S.CARDIOLOGY, 60, 120, 7),
        Dept("ONCO", "肿瘤科", S.ONCOLOGY, 40, 60, 4),
        Dept("BRST", "甲状腺乳腺外科", S.BREAST_SURGERY, 30, 50, 3, 0.5),
        Dept("GSUR", "普通外科", S.GENERAL_SURGERY, 60, 100, 7, 0.2),
        Dept("OBGY", "妇产科", S.OBSTETRICS_GYNAECOLOGY, 50, 90, 5, 0.85),
        Dept("PAED", "儿科", S.PAEDIATRICS, 40, 100, 4, 0.6),
        Dept("NEPH", "肾内科", S.NEPHROLOGY, 30, 50, 3),
        Dept("RESP", "呼吸内科", S.RESPIRATORY, 40, 90, 4),
        Dept("GAST", "消化内科", S.GASTROENTEROLOGY, 40, 80, 4),
        Dept("ENDO", "内分泌科", S.ENDOCRINOLOGY, 30, 70, 3),
        Dept("NEUR", "神经内科", S.NEUROLOGY, 40, 80, 4),
        Dept("ORTH", "骨科", S.ORTHOPAEDICS, 50, 90, 5, 0.1),
        Dept("EMER", "急诊科", S.EMERGENCY, 20, 150, 4),
        Dept("REHA", "康复医学科", S.REHABILITATION, 40, 60, 3),
        Dept("TCM", "中医科", S.TCM, 30, 80, 3),
    ))

MCH_HOSPITAL = Hospital(
    "mch", "FP-FYB", "富平县妇幼保健院", "Fuping County Maternal and Child Health Hospital", Tier.COUNTY_HOSPITAL,
    "富平县城关街道莲湖路6号", "0913-8218120", (
        Dept("OBGY", "妇产科", S.OBSTETRICS_GYNAECOLOGY, 60, 120, 6, 0.9),
        Dept("PAED", "儿科", S.PAEDIATRICS, 40, 100, 4, 0.7),
        Dept("BRST", "乳腺保健科", S.BREAST_SURGERY, 0, 40, 2, 0.9),
    ))

IMAGING_HUB = Hospital(
    "imaging_hub", "FP-YXZX", "富平县医学影像诊断中心", "Fuping County Medical Imaging Centre", Tier.IMAGING_HUB,
    "富平县城关街道东华路18号", "0913-8212135", (
        Dept("RADI", "影像诊断室", S.RADIOLOGY, 0, 300, 7),
        Dept("ULTR", "超声诊断室", S.ULTRASOUND, 0, 200, 3, 0.7),
    ))

PATHOLOGY_HUB = Hospital(
    "pathology_hub", "FP-BLZX", "富平县病理诊断中心", "Fuping County Pathology Centre", Tier.PATHOLOGY_HUB,
    "富平县城关街道东华路18号", "0913-8212136", (
        Dept("PATH", "病理诊断室", S.PATHOLOGY, 0, 0, 4, 0.5),
    ))

ECG_HUB = Hospital(
    "ecg_hub", "FP-XDZX", "富平县心电诊断中心", "Fuping County ECG Centre", Tier.ECG_HUB,
    "富平县城关街道东华路18号", "0913-8212137", (
        Dept("ECG", "心电诊断室", S.ELECTROCARDIOLOGY, 0, 200, 4, 0.6),
    ))

COUNTY_ORGS = (COUNTY_HOSPITAL, MCH_HOSPITAL, IMAGING_HUB, PATHOLOGY_HUB, ECG_HUB)

# Titles by kind of organisation: (title, share).
TITLE_MIX: dict[str, list[tuple[str, float]]] = {
    "tertiary": [(Title.CHIEF, 0.18), (Title.ASSOCIATE_CHIEF, 0.27), (Title.ATTENDING, 0.33), (Title.RESIDENT, 0.22)],
    "county": [(Title.CHIEF, 0.08), (Title.ASSOCIATE_CHIEF, 0.22), (Title.ATTENDING, 0.40), (Title.RESIDENT, 0.30)],
    "township": [(Title.ASSOCIATE_CHIEF, 0.05), (Title.ATTENDING, 0.40), (Title.RESIDENT, 0.55)],
}

# Years of independent practice by title: (low, high).
YEARS: dict[str, tuple[int, int]] = {
    Title.CHIEF: (18, 35), Title.ASSOCIATE_CHIEF: (12, 25), Title.ATTENDING: (5, 15),
    Title.RESIDENT: (1, 6), Title.VILLAGE_DOCTOR: (3, 40),
}


def titles_for(rng: random.Random, kind: str, n: int) -> list[str]:
    """``n`` titles following the mix, most senior first (a department's head comes first)."""
    mix = TITLE_MIX[kind]
    counts = [round(n * share) for _t, share in mix]
    counts[-1] += n - sum(counts)
    if counts[-1] < 0:
        counts[0] += counts[-1]
        counts[-1] = 0
    titles = [t for (t, _s), c in zip(mix, counts, strict=True) for _i in range(c)]
    if n and kind != "township" and titles[0] not in (Title.CHIEF, Title.ASSOCIATE_CHIEF):
        titles[0] = Title.ASSOCIATE_CHIEF
    return titles[:n]


# Specialists in the hospitals of the other alliance counties: breast surgeons.
PARTNER_BREAST_SURGEONS = 2
