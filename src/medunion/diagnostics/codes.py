"""Coded lists of remote diagnosis: modalities, body sites, coded impressions, measurements.

Modalities use the DICOM codes (CID 29) where one exists; several DICOM codes can stand for one
MedUnion modality (a township's DR machine writes ``DX``, an older one ``CR``). Body sites carry
their SNOMED CT codes (as FHIR's ImagingStudy and Observation expect).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from medunion.network.codes import Specialty


class Modality(models.TextChoices):
    CT = "CT", _("CT")
    DX = "DX", _("DR / X-ray")
    MR = "MR", _("MR")
    US = "US", pgettext_lazy("modality", "ultrasound")
    ECG = "ECG", pgettext_lazy("modality", "ECG")
    SM = "SM", _("pathology (slide images)")
    ES = "ES", _("endoscopy")


# DICOM Modality (0008,0060) values accepted for each modality.
DICOM_MODALITIES: dict[str, frozenset[str]] = {
    Modality.CT: frozenset({"CT"}),
    Modality.DX: frozenset({"DX", "CR", "DR", "RG", "MG"}),
    Modality.MR: frozenset({"MR"}),
    Modality.US: frozenset({"US"}),
    Modality.ECG: frozenset({"ECG"}),
    Modality.SM: frozenset({"SM", "GM", "XC"}),
    Modality.ES: frozenset({"ES", "XC", "VL"}),
}
# What may be uploaded for each modality: DICOM always; photos and PDFs where the device
# exports them (an ECG machine's PDF, a scanner's slide photos, an ultrasound cart's JPEGs).
FILE_KINDS: dict[str, frozenset[str]] = {
    Modality.CT: frozenset({"dicom"}),
    Modality.DX: frozenset({"dicom"}),
    Modality.MR: frozenset({"dicom"}),
    Modality.US: frozenset({"dicom", "image"}),
    Modality.ECG: frozenset({"dicom", "image", "pdf"}),
    Modality.SM: frozenset({"dicom", "image", "pdf"}),
    Modality.ES: frozenset({"dicom", "image"}),
}
# The specialty that reads each modality at a hub.
READING_SPECIALTIES: dict[str, frozenset[str]] = {
    Modality.CT: frozenset({Specialty.RADIOLOGY}),
    Modality.DX: frozenset({Specialty.RADIOLOGY}),
    Modality.MR: frozenset({Specialty.RADIOLOGY}),
    Modality.US: frozenset({Specialty.ULTRASOUND, Specialty.RADIOLOGY}),
    Modality.ECG: frozenset({Specialty.ELECTROCARDIOLOGY, Specialty.CARDIOLOGY}),
    Modality.SM: frozenset({Specialty.PATHOLOGY}),
    Modality.ES: frozenset({Specialty.GASTROENTEROLOGY}),
}


def modalities_read_by(specialties: set[str] | frozenset[str]) -> list[str]:
    return [m for m, s in READING_SPECIALTIES.items() if s & set(specialties)]


def modality_of_dicom(code: str) -> str | None:
    """The MedUnion modality a DICOM Modality value belongs to, or None (unknown)."""
    code = (code or "").strip().upper()
    for modality, codes in DICOM_MODALITIES.items():
        if code in codes:
            return str(modality)
    return None


class BodySite(models.TextChoices):
    HEAD = "head", _("head")
    NECK = "neck", _("neck")
    CHEST = "chest", _("chest")
    HEART = "heart", _("heart")
    BREAST = "breast", _("breast")
    ABDOMEN = "abdomen", _("abdomen")
    LIVER = "liver", _("liver")
    PELVIS = "pelvis", _("pelvis")
    SPINE = "spine", _("spine")
    UPPER_LIMB = "upper_limb", _("upper limb")
    LOWER_LIMB = "lower_limb", _("lower limb")
    THYROID = "thyroid", _("thyroid")
    STOMACH = "stomach", _("stomach")
    COLON = "colon", _("colon")
    CERVIX = "cervix", _("cervix")
    OTHER = "other", _("other")


SNOMED = "http://snomed.info/sct"
BODY_SITE_SNOMED: dict[str, tuple[str, str]] = {
    BodySite.HEAD: ("69536005", "Head structure"),
    BodySite.NECK: ("45048000", "Neck structure"),
    BodySite.CHEST: ("51185008", "Thoracic structure"),
    BodySite.HEART: ("80891009", "Heart structure"),
    BodySite.BREAST: ("76752008", "Breast structure"),
    BodySite.ABDOMEN: ("818983003", "Abdomen"),
    BodySite.LIVER: ("10200004", "Liver structure"),
    BodySite.PELVIS: ("816092008", "Pelvis"),
    BodySite.SPINE: ("421060004", "Structure of vertebral column"),
    BodySite.UPPER_LIMB: ("53120007", "Upper limb structure"),
    BodySite.LOWER_LIMB: ("61685007", "Lower limb structure"),
    BodySite.THYROID: ("69748006", "Thyroid structure"),
    BodySite.STOMACH: ("69695003", "Stomach structure"),
    BodySite.COLON: ("71854001", "Colon structure"),
    BodySite.CERVIX: ("71252005", "Cervix uteri structure"),
}


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str
    label: object  # translatable


ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
# Impressions a reader can code (ICD-10), the common ones of grassroots imaging, ECG and pathology.
IMPRESSION_CODES: dict[str, Code] = {c.code: c for c in (
    Code(ICD10, "Z01.8", "Normal examination", _("no abnormality found")),
    Code(ICD10, "J18.9", "Pneumonia, unspecified", _("pneumonia")),
    Code(ICD10, "R91", "Abnormal findings on diagnostic imaging of lung", _("lung nodule / abnormal lung imaging")),
    Code(ICD10, "I61.9", "Intracerebral haemorrhage, unspecified", _("intracerebral haemorrhage")),
    Code(ICD10, "I63.9", "Cerebral infarction, unspecified", _("cerebral infarction")),
    Code(ICD10, "J93.9", "Pneumothorax, unspecified", _("pneumothorax")),
    Code(ICD10, "S72.0", "Fracture of neck of femur", _("fracture of the femoral neck")),
    Code(ICD10, "K80.2", "Calculus of gallbladder without cholecystitis", _("gallstones")),
    Code(ICD10, "K76.0", "Fatty liver", _("fatty liver")),
    Code(ICD10, "N63", "Unspecified lump in breast", _("breast lump")),
    Code(ICD10, "E04.1", "Nontoxic single thyroid nodule", _("thyroid nodule")),
    Code(ICD10, "I21.9", "Acute myocardial infarction, unspecified", _("acute myocardial infarction")),
    Code(ICD10, "I48", "Atrial fibrillation and flutter", _("atrial fibrillation")),
    Code(ICD10, "C50.9", "Malignant neoplasm of breast, unspecified", _("breast cancer")),
    Code(ICD10, "C16.9", "Malignant neoplasm of stomach, unspecified", _("stomach cancer")),
    Code(ICD10, "K29.7", "Gastritis, unspecified", _("gastritis")),
)}


@dataclass(frozen=True)
class Measure:
    code: str  # LOINC
    display: str
    unit: str  # UCUM
    label: object
    low: float
    high: float


# Measurements a report can carry; each becomes a FHIR Observation.
MEASUREMENTS: dict[str, Measure] = {m.code: m for m in (
    Measure("21889-1", "Size Tumor", "mm", _("lesion size (mm)"), 0.1, 500),
    Measure("8867-4", "Heart rate", "/min", _("heart rate (/min)"), 10, 300),
    Measure("8625-6", "P-R Interval", "ms", _("PR interval (ms)"), 20, 600),
    Measure("8633-0", "QRS duration", "ms", _("QRS duration (ms)"), 20, 400),
    Measure("8636-3", "Q-T interval corrected", "ms", _("QTc interval (ms)"), 100, 800),
    Measure("10230-1", "Left ventricular Ejection fraction", "%", _("left-ventricular ejection fraction (%)"),
            1, 99),
)}
