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
