"""Coded lists of the network: tiers, titles, specialties, consortium and team kinds.

Specialty codes follow the first-level clinical department list of China's
"医疗机构诊疗科目名录" (codes 01–50 abbreviated to stable mnemonic codes here).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.IntegerChoices):
    PROVINCE = 1, _("province")
    CITY = 2, _("city")
    COUNTY = 3, _("county / district")
    TOWNSHIP = 4, _("township / street")
    VILLAGE = 5, _("village / community")


class Tier(models.TextChoices):
    VILLAGE_CLINIC = "village_clinic", _("village clinic")
    TOWNSHIP_CENTRE = "township_centre", _("township health centre")
    COMMUNITY_CENTRE = "community_centre", _("community health centre")
    COUNTY_HOSPITAL = "county_hospital", _("county hospital")
    CITY_HOSPITAL = "city_hospital", _("city hospital")
    TERTIARY_HOSPITAL = "tertiary_hospital", _("tertiary hospital")
    SPECIALIST_CENTRE = "specialist_centre", _("specialist centre")
    IMAGING_HUB = "imaging_hub", _("imaging diagnostic hub")
    PATHOLOGY_HUB = "pathology_hub", _("pathology diagnostic hub")
    ECG_HUB = "ecg_hub", _("ECG diagnostic hub")


# Higher number: higher level of care. Hubs rank with the county hospital.
TIER_RANK = {
    Tier.VILLAGE_CLINIC: 1,
    Tier.TOWNSHIP_CENTRE: 2,
    Tier.COMMUNITY_CENTRE: 2,
    Tier.COUNTY_HOSPITAL: 3,
    Tier.IMAGING_HUB: 3,
    Tier.PATHOLOGY_HUB: 3,
    Tier.ECG_HUB: 3,
    Tier.CITY_HOSPITAL: 4,
    Tier.SPECIALIST_CENTRE: 5,
    Tier.TERTIARY_HOSPITAL: 5,
}


class ConsortiumKind(models.TextChoices):
    COUNTY_COMMUNITY = "county_community", _("county medical community")
    CITY_GROUP = "city_group", _("city medical group")
    SPECIALIST_ALLIANCE = "specialist_alliance", _("specialist alliance")
    TELEMEDICINE = "telemedicine", _("tele-medicine network")


class Title(models.TextChoices):
    VILLAGE_DOCTOR = "village_doctor", _("village doctor")
    RESIDENT = "resident", _("resident physician")
    ATTENDING = "attending", _("attending physician")
    ASSOCIATE_CHIEF = "associate_chief", _("associate chief physician")
    CHIEF = "chief", _("chief physician")


class Specialty(models.TextChoices):
    GENERAL_PRACTICE = "general_practice", _("general practice")
    INTERNAL_MEDICINE = "internal_medicine", _("internal medicine")
    CARDIOLOGY = "cardiology", _("cardiology")
    RESPIRATORY = "respiratory", _("respiratory medicine")
    GASTROENTEROLOGY = "gastroenterology", _("gastroenterology")
    NEPHROLOGY = "nephrology", _("nephrology")
    ENDOCRINOLOGY = "endocrinology", _("endocrinology")
    NEUROLOGY = "neurology", _("neurology")
    GENERAL_SURGERY = "general_surgery", _("general surgery")
    BREAST_SURGERY = "breast_surgery", _("breast surgery")
    ORTHOPAEDICS = "orthopaedics", _("orthopaedics")
    UROLOGY = "urology", _("urology")
    OBSTETRICS_GYNAECOLOGY = "obstetrics_gynaecology", _("obstetrics and gynaecology")
    PAEDIATRICS = "paediatrics", _("paediatrics")
    ONCOLOGY = "oncology", _("oncology")
    OPHTHALMOLOGY = "ophthalmology", _("ophthalmology")
    ENT = "ent", _("otorhinolaryngology")
    DERMATOLOGY = "dermatology", _("dermatology")
    PSYCHIATRY = "psychiatry", _("psychiatry")
    EMERGENCY = "emergency", _("emergency medicine")
    REHABILITATION = "rehabilitation", _("rehabilitation medicine")
    TCM = "tcm", _("traditional Chinese medicine")
    RADIOLOGY = "radiology", _("radiology")
    ULTRASOUND = "ultrasound", _("ultrasound")
    PATHOLOGY = "pathology", _("pathology")
    ELECTROCARDIOLOGY = "electrocardiology", _("electrocardiology")


# What clinicians type when they look for a department, besides its label: the everyday names
# (放射科 for 医学影像科, 心内 for 心血管内科, B超), the other spelling and the abbreviations. Search
# words, not display text, so not translated; both languages side by side.
SPECIALTY_ALIASES: dict[str, tuple[str, ...]] = {
    Specialty.GENERAL_PRACTICE: ("全科", "家庭医生", "GP", "family medicine"),
    Specialty.CARDIOLOGY: ("心内", "心脏", "心血管", "cardiac", "heart"),
    Specialty.RESPIRATORY: ("呼吸", "肺", "pulmonology", "chest"),
    Specialty.GASTROENTEROLOGY: ("消化", "胃肠", "GI"),
    Specialty.NEPHROLOGY: ("肾内", "肾病", "renal", "kidney"),
    Specialty.ENDOCRINOLOGY: ("内分泌", "糖尿病", "diabetes"),
    Specialty.NEUROLOGY: ("神内", "神经", "stroke", "卒中"),
    Specialty.GENERAL_SURGERY: ("普外", "外科", "surgery"),
    Specialty.BREAST_SURGERY: ("乳腺", "乳房", "breast"),
    Specialty.ORTHOPAEDICS: ("骨科", "骨伤", "orthopedics"),
    Specialty.UROLOGY: ("泌尿", "urology"),
    Specialty.OBSTETRICS_GYNAECOLOGY: ("妇科", "产科", "妇产", "OB/GYN", "obstetrics", "gynecology",
                                       "gynaecology"),
    Specialty.PAEDIATRICS: ("儿科", "小儿", "pediatrics"),
    Specialty.ONCOLOGY: ("肿瘤", "癌", "cancer"),
    Specialty.OPHTHALMOLOGY: ("眼科", "eye"),
    Specialty.ENT: ("耳鼻喉", "五官", "ENT", "ear nose throat"),
    Specialty.DERMATOLOGY: ("皮肤", "skin"),
    Specialty.PSYCHIATRY: ("精神", "心理", "mental health"),
    Specialty.EMERGENCY: ("急诊", "急救", "A&E"),
    Specialty.REHABILITATION: ("康复", "理疗", "physiotherapy"),
    Specialty.TCM: ("中医", "TCM"),
    Specialty.RADIOLOGY: ("放射", "影像", "CT", "MRI", "磁共振", "X光", "X线", "X-ray", "imaging"),
    Specialty.ULTRASOUND: ("B超", "彩超", "超声", "sonography"),
    Specialty.PATHOLOGY: ("病理", "biopsy"),
    Specialty.ELECTROCARDIOLOGY: ("心电", "ECG", "EKG"),
}


def specialties_matching(text: str) -> list[str]:
    """The specialty codes a search names: ``text`` within a specialty's label in any language the
    platform speaks, or within one of its aliases, or a Chinese alias within ``text`` (放射科 finds
    radiology through 放射; Chinese has no spaces between words, but a Latin alias inside a word is
    chance: GI in "imaging"); case does not matter. A Latin text that is exactly a label or an
    alias names that specialty alone (ENT, not also gastroENTerology); Chinese labels nest (内科
    within 心血管内科), so a Chinese text keeps every match. Empty for an empty ``text``."""
    from django.conf import settings
    from django.utils import translation

    wanted = text.strip().casefold()
    if not wanted:
        return []
    names: dict[str, set[str]] = {code: {code.replace("_", " ")} for code in Specialty.values}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for code, label in Specialty.choices:
                names[code].add(str(label).casefold())
    aliases = {code: {a.casefold() for a in SPECIALTY_ALIASES.get(code, ())} for code in Specialty.values}
    if not _chinese(wanted):
        exact = [code for code in Specialty.values if wanted in names[code] | aliases[code]]
        if exact:
            return exact
    return [code for code in Specialty.values
            if any(wanted in name for name in names[code] | aliases[code])
            or any(a in wanted for a in aliases[code] if _chinese(a))]


def _chinese(word: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in word)


class TeamKind(models.TextChoices):
    SPECIALTY = "specialty", _("specialty group")
    MDT = "mdt", _("multidisciplinary team (MDT)")
    FAMILY_DOCTOR = "family_doctor", _("family-doctor team")


class TeamRole(models.TextChoices):
    LEAD = "lead", _("lead")
    MEMBER = "member", _("member")


class CourseKind(models.TextChoices):
    REFERRAL = "referral", _("tiered-referral training")


class Privilege(models.TextChoices):
    TRANSFER_PATIENTS = "transfer_patients", _("transfer patients (tiered referral)")


# Which credentials a privilege needs: (training course, exam course, licence).
PRIVILEGE_REQUIREMENTS = {
    Privilege.TRANSFER_PATIENTS: CourseKind.REFERRAL,
}
