"""Remote diagnosis as FHIR R4: ImagingStudy (one per DICOM study of an examination),
DiagnosticReport (one per examination with a signed report; its id is the examination's) and
Observation (one per measurement of the report in force).

Only signed content is ever mapped: a draft report never leaves the domain. The handlers decide
who is served what (and audit it); these functions only build the dicts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from medunion.diagnostics.codes import BODY_SITE_SNOMED, SNOMED, BodySite, Modality
from medunion.diagnostics.models import Examination, Instance, Report, ReportKind, Series, Study

from .. import codes
from .common import coding, concept, instant, ref

V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"
URI = "urn:ietf:rfc:3986"
DICOM_UID = "urn:dicom:uid"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
PDF_LANGUAGE = "zh-hans"  # the presentedForm is the Chinese report (language zh-CN)

# The diagnostic service section of each modality (DiagnosticReport.category, HL7 v2 table 0074).
CATEGORY: dict[str, tuple[str, str]] = {
    Modality.CT: ("RAD", "Radiology"), Modality.DX: ("RAD", "Radiology"), Modality.MR: ("RAD", "Radiology"),
    Modality.US: ("RAD", "Radiology"), Modality.ECG: ("EC", "Electrocardiac (e.g., EKG, EEC, Holter)"),
    Modality.SM: ("PAT", "Pathology (gross & histopath, not surgical)"), Modality.ES: ("OTH", "Other"),
}
# The report's LOINC code (DiagnosticReport.code): the study report of each modality.
REPORT_CODE: dict[str, tuple[str, str]] = {
    Modality.CT: ("18747-6", "CT Study report"), Modality.DX: ("18748-4", "Diagnostic imaging study"),
    Modality.MR: ("18755-9", "MR Study report"), Modality.US: ("18760-9", "US Study report"),
    Modality.ECG: ("11524-6", "EKG study"), Modality.SM: ("11526-1", "Pathology study"),
    Modality.ES: ("18751-8", "Endoscopy study"),
}


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _oid(uid: str) -> str:
    return f"urn:oid:{uid}"


def body_site(exam: Examination) -> dict[str, Any] | None:
    found = BODY_SITE_SNOMED.get(exam.body_site)
    return coding(SNOMED, found[0], found[1]) if found else None


def _accession(exam: Examination) -> dict[str, Any]:
    return {"type": concept(codes.V2_0203, "ACSN", "Accession ID"), "value": exam.accession}


def _effective(exam: Examination) -> dt.datetime:
    return exam.submitted_at or exam.created_at


# --- ImagingStudy --------------------------------------------------------------------------------

def imaging_study(study: Study, series: list[tuple[Series, list[Instance]]]) -> dict[str, Any]:
    """One DICOM study, its series and instances. Expects the study's examination loaded with
    requester and reader."""
    exam = study.examination
    site = body_site(exam)
    out_series = []
    for s, instances in series:
        item: dict[str, Any] = {"uid": s.series_instance_uid}
        if s.number is not None and s.number >= 0:
            item["number"] = s.number
        item["modality"] = coding(codes.DICOM, s.modality or "OT")
        if s.description:
            item["description"] = s.description
        item["numberOfInstances"] = len(instances)
        if site:
            item["bodySite"] = site
        item["instance"] = []
        for inst in instances:
            entry: dict[str, Any] = {"uid": inst.sop_instance_uid,
                                     "sopClass": coding(URI, _oid(inst.sop_class_uid or SECONDARY_CAPTURE))}
            if inst.number is not None and inst.number >= 0:
                entry["number"] = inst.number
            item["instance"].append(entry)
        out_series.append(item)
    modalities = list(dict.fromkeys(s.modality or "OT" for s, _i in series))
    out: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": str(study.pk),
        "meta": {"lastUpdated": instant(exam.signed_at or _effective(exam))},
        "identifier": [{"system": DICOM_UID, "value": _oid(study.study_instance_uid)}, _accession(exam)],
        "status": "available",
    }
    if modalities:
        out["modality"] = [coding(codes.DICOM, m) for m in modalities]
    out["subject"] = ref("Patient", exam.patient_id)
    out["started"] = study.study_date.isoformat() if study.study_date else instant(_effective(exam))
    out["referrer"] = ref("Practitioner", exam.requester_id, exam.requester.name)
    if exam.reader_id and exam.reader is not None:
        out["interpreter"] = [ref("Practitioner", exam.reader_id, exam.reader.name)]
    out["numberOfSeries"] = len(series)
    out["numberOfInstances"] = sum(len(i) for _s, i in series)
    out["reasonCode"] = [{"text": exam.question}]
    out["description"] = study.description or \
        f"{_label(Modality, exam.modality)} / {_label(BodySite, exam.body_site)}"
    if out_series:
        out["series"] = out_series
    return out


# --- DiagnosticReport ----------------------------------------------------------------------------

def report_status(current: Report, addenda: list[Report]) -> str:
    """appended: addenda were added to the version in force; amended: it is a later version;
    final otherwise."""
    if addenda:
        return "appended"
    return "amended" if current.version > 1 or current.kind == ReportKind.AMENDED else "final"


def issued(current: Report, addenda: list[Report]) -> dt.datetime:
    times = [r.signed_at for r in [current, *addenda] if r.signed_at is not None]
    return max(times) if times else current.created_at


def observation_id(report: Report, index: int) -> str:
    """The id of the ``index``-th (from 1) measurement of a signed report."""
    return f"{report.pk}-{index}"


def report_code(exam: Examination) -> dict[str, Any]:
    code, display = REPORT_CODE[exam.modality]
    return {"coding": [coding(codes.LOINC, code, display)],
            "text": _("%(modality)s examination report") % {"modality": _label(Modality, exam.modality)}}


def category(modality: str) -> dict[str, Any]:
    code, display = CATEGORY[modality]
    return concept(V2_0074, code, display, text=_label(Modality, modality))


def diagnostic_report(exam: Examination, current: Report, addenda: list[Report], study_ids: list[Any],
                      pdf: bytes) -> dict[str, Any]:
    """The signed report of an examination (the version in force, with its addenda in the PDF).
    Expects the examination loaded with hub; ``pdf`` is ``report_pdf.render_report``'s."""
    when = issued(current, addenda)
    author = ref("Practitioner", current.author_id, current.author_name or None)
    with translation.override(PDF_LANGUAGE):
        title = _("%(modality)s examination report") % {"modality": _label(Modality, exam.modality)}
    out: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": str(exam.pk),
        "meta": {"lastUpdated": instant(when)},
        "identifier": [_accession(exam)],
        "status": report_status(current, addenda),
        "category": [category(exam.modality)],
        "code": report_code(exam),
        "subject": ref("Patient", exam.patient_id),
        "effectiveDateTime": instant(_effective(exam)),
        "issued": instant(when),
        "performer": [ref("Organization", exam.hub_id, exam.hub.name), author],
        "resultsInterpreter": [author],
    }
    if current.measurements:
        count = len(current.measurements)
        out["result"] = [ref("Observation", observation_id(current, i)) for i in range(1, count + 1)]
    if study_ids:
        out["imagingStudy"] = [ref("ImagingStudy", pk) for pk in study_ids]
    if current.impression:
        out["conclusion"] = current.impression
    if current.codes:
        out["conclusionCode"] = [concept(c["system"], c["code"], c.get("display")) for c in current.codes]
    out["presentedForm"] = [{
        "contentType": "application/pdf", "language": "zh-CN", "data": base64.b64encode(pdf).decode(),
        "size": len(pdf), "hash": base64.b64encode(hashlib.sha1(pdf, usedforsecurity=False).digest()).decode(),
        "title": f"{title} {exam.accession}", "creation": instant(when)}]
    return out


# --- Observation ---------------------------------------------------------------------------------

def observation(exam: Examination, report: Report, index: int, study_ids: list[Any]) -> dict[str, Any]:
    """The ``index``-th (from 1) measurement of the report in force. Linked from the
    DiagnosticReport's ``result``; ``derivedFrom`` names the images measured (R4 does not allow a
    DiagnosticReport there)."""
    m = report.measurements[index - 1]
    kind = "procedure" if exam.modality == Modality.ECG else "imaging"
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": observation_id(report, index),
        "meta": {"lastUpdated": instant(report.signed_at or report.created_at)},
        "status": "amended" if report.version > 1 else "final",
        "category": [concept(OBSERVATION_CATEGORY, kind, "Imaging" if kind == "imaging" else "Procedure")],
        "code": {"coding": [coding(codes.LOINC, m["code"], m.get("display"))], "text": m.get("display") or m["code"]},
        "subject": ref("Patient", exam.patient_id),
        "effectiveDateTime": instant(_effective(exam)),
        "issued": instant(report.signed_at or report.created_at),
        "performer": [ref("Practitioner", report.author_id, report.author_name or None)],
        "valueQuantity": {"value": m["value"], "unit": m.get("unit", ""), "system": UCUM, "code": m.get("unit", "")},
    }
    site = body_site(exam)
    if site:
        out["bodySite"] = {"coding": [site], "text": site["display"]}
    if study_ids:
        out["derivedFrom"] = [ref("ImagingStudy", pk) for pk in study_ids]
    return out
