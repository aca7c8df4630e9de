"""Read and search of remote diagnosis: ImagingStudy, DiagnosticReport and Observation — within the
same policy as the pages and the JSON API (``visible_examinations``, ``Action.VIEW_EXAMINATION``),
and every resource served is an audited read of patient data.

What is served, by ALLOWLIST:

- DiagnosticReport and Observation: signed reports only (the version in force, its addenda in the
  PDF); a draft never appears. Clinicians who may see the examination once it is reported; the
  patient their own.
- ImagingStudy: the studies of examinations sent for reading (never one still being uploaded or
  cancelled), to the clinicians who may see them. Not the patient (the type answers 404 to every
  role but clinicians).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.diagnostics import visible_examinations, visible_reports
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can
from medunion.audit.actions import Entry, record, record_many
from medunion.audit.models import Outcome, Verb
from medunion.core.errors import NotFound
from medunion.diagnostics.models import Examination, Instance, Report, ReportKind, ReportStatus, Series, Study
from medunion.diagnostics.report_pdf import current_and_addenda, render_report
from medunion.diagnostics.states import State

from .. import codes
from ..mappers import diagnostics as m
from ..mappers.common import as_uuid
from ..registry import register
from ..search import (
    Param,
    SearchRequest,
    SearchResult,
    date_param,
    id_param,
    paginate,
    reference_param,
    token_codes,
)
from .patients import audit_served

EXAM_RELATED = ("patient", "requester", "requesting_organisation", "hub", "reader")
STUDY_STATES = (State.AWAITING, State.IN_READING, State.REPORTED)


def _clinician(actor: Actor) -> bool:
    return actor.is_practitioner or actor.system


def _reported(actor: Actor) -> QuerySet[Examination]:
    """The examinations whose signed report the actor may read: a patient their own."""
    return visible_reports(actor)


def _authorise(actor: Actor, exam: Examination | None, action: str, *, states: tuple[str, ...],
               obj: Any = None, **detail: Any) -> Examination:
    """404 unless the actor may see the examination and it is in ``states`` (a refused look at a
    real one is recorded as denied); else the read's one audit row."""
    if exam is None:
        raise NotFound()
    if not can(actor, Action.VIEW_EXAMINATION, exam):
        if actor.user_id is not None:
            record(actor, action, Verb.READ, obj=obj or exam, patient_id=exam.patient_id, outcome=Outcome.DENIED)
        raise NotFound()
    if exam.state not in states:
        raise NotFound()
    record(actor, action, Verb.READ, obj=obj or exam, patient_id=exam.patient_id, detail=detail)
    return exam


def _entries(action: str, object_type: str, rows: list[tuple[Any, Any]], by: list[str],
             extra: list[dict[str, Any]] | None = None) -> list[Entry]:
    return [Entry(action=action, verb=Verb.SEARCH, object_type=object_type, object_id=str(oid), patient_id=pid,
                  detail={"by": by, **((extra or [])[i] if extra else {})}) for i, (oid, pid) in enumerate(rows)]


def _study_ids(exam_ids: list[Any]) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = defaultdict(list)
    for exam_id, pk in Study.objects.filter(examination_id__in=exam_ids).order_by("created_at").values_list(
            "examination_id", "pk"):
        out[exam_id].append(pk)
    return out


def _patients(doc: Any) -> list[Param]:
    return [reference_param("patient", "patient_id", ["Patient"], doc),
            reference_param("subject", "patient_id", ["Patient"], _("Same as patient."))]


# --- ImagingStudy ----------------------------------------------------------------------------------

def _studies(actor: Actor) -> QuerySet[Study]:
    exams = visible_examinations(actor).filter(state__in=list(STUDY_STATES)).values("pk")
    return (Study.objects.filter(examination_id__in=exams)
            .select_related("examination__requester", "examination__reader").order_by("-created_at", "-id"))


def _series_of(study_ids: list[Any]) -> dict[Any, list[tuple[Series, list[Instance]]]]:
    """Each study's series with their instances, in order: two queries for any number of studies."""
    instances: dict[Any, list[Instance]] = defaultdict(list)
    for inst in (Instance.objects.filter(series__study_id__in=study_ids)
                 .only("id", "series_id", "sop_instance_uid", "sop_class_uid", "number")
                 .order_by("number", "slice_location", "created_at")):
        instances[inst.series_id].append(inst)
    out: dict[Any, list[tuple[Series, list[Instance]]]] = defaultdict(list)
    for s in Series.objects.filter(study_id__in=study_ids).order_by("number", "created_at"):
        out[s.study_id].append((s, instances.get(s.pk, [])))
    return out


def _modality(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    wanted = [c.upper() for c in token_codes(values, codes.DICOM)]
    if not wanted:
        return qs.none()
    return qs.filter(Exists(Series.objects.filter(study_id=OuterRef("pk"), modality__in=wanted)))


def _identifier(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    """The Study Instance UID (system urn:dicom:uid, or none), or the accession number (no system)."""
    uids = [c.removeprefix("urn:oid:") for c in token_codes(values, m.DICOM_UID)]
    accessions = token_codes(values, None)
    return qs.filter(Q(study_instance_uid__in=uids) | Q(examination__accession__in=accessions)) if uids else qs.none()


IMAGING_STUDY_PARAMS = [
    id_param(),
    *_patients(_("The patient examined.")),
    Param("modality", "token", _("A series' DICOM modality (CT, DX, CR, MR, US, ECG, SM, ES …; system "
                                 "http://dicom.nema.org/resources/ontology/DCM)."), _modality),
    Param("identifier", "token", _("The Study Instance UID (urn:dicom:uid|urn:oid:…), or the accession number."),
          _identifier),
    date_param("started", "examination__submitted_at", _("When the examination was sent for reading.")),
]


def _serve_studies(rows: list[Study]) -> list[dict[str, Any]]:
    series = _series_of([s.pk for s in rows])
    return [m.imaging_study(s, series.get(s.pk, [])) for s in rows]


def read_imaging_study(actor: Actor, rid: str) -> dict[str, Any]:
    if not _clinician(actor):
        raise NotFound()
    study = (Study.objects.select_related("examination__requester", "examination__reader")
             .filter(pk=parse_uuid(rid)).first())
    _authorise(actor, study.examination if study else None, "examination.imaging_study.read", states=STUDY_STATES,
               obj=study)
    assert study is not None
    return _serve_studies([study])[0]


def search_imaging_study(actor: Actor, sr: SearchRequest) -> SearchResult:
    if not _clinician(actor):
        raise NotFound()
    rows, total, has_next = paginate(sr.apply(_studies(actor)), sr)
    audit_served(actor, "examination.imaging_study.search", "diagnostics.study", [(s.pk, s.patient_id) for s in rows],
                 sr)
    return SearchResult(_serve_studies(rows), total, has_next)


register("ImagingStudy", _("The DICOM studies of the examinations sent for reading that the clinician may see: "
                           "series, instances, modality, body site. Clinicians only. Every study served is recorded "
                           "in the audit log."),
         IMAGING_STUDY_PARAMS, read_imaging_study, search_imaging_study, areas=(Action.CREATE_EXAMINATION,),
         patient_data=True)


# --- DiagnosticReport -------------------------------------------------------------------------------

def _modalities(table: dict[str, tuple[str, str]], codes_wanted: list[str]) -> list[str]:
    return [modality for modality, (code, _display) in table.items() if code in codes_wanted]


def _category(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    found = _modalities(m.CATEGORY, token_codes(values, m.V2_0074))
    return qs.filter(modality__in=found) if found else qs.none()


def _code(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    found = _modalities(m.REPORT_CODE, token_codes(values, codes.LOINC))
    return qs.filter(modality__in=found) if found else qs.none()


DIAGNOSTIC_REPORT_PARAMS = [
    id_param(_("The report's id: the examination's.")),
    *_patients(_("The patient examined.")),
    Param("category", "token", _("RAD, EC (ECG), PAT (pathology) or OTH (endoscopy) (HL7 v2 table 0074)."), _category),
    Param("code", "token", _("The LOINC study report code: 18747-6 CT, 18748-4 DR/X-ray, 18755-9 MR, 18760-9 US, "
                             "11524-6 ECG, 11526-1 pathology, 18751-8 endoscopy."), _code),
    date_param("date", "submitted_at", _("The effective time: when the examination was sent for reading.")),
    date_param("issued", "signed_at", _("When the report was first signed.")),
]


def _serve_reports(exams: list[Examination]) -> list[dict[str, Any]]:
    ids = [e.pk for e in exams]
    reports: dict[Any, list[Report]] = defaultdict(list)
    for r in Report.objects.filter(examination_id__in=ids, status=ReportStatus.SIGNED):
        reports[r.examination_id].append(r)
    studies = _study_ids(ids)
    out = []
    for exam in exams:
        current, addenda = current_and_addenda(reports[exam.pk])
        if current is None:  # reported always has one; a broken row is left out
            continue
        pdf = render_report(exam, reports[exam.pk], language=m.PDF_LANGUAGE)
        out.append(m.diagnostic_report(exam, current, addenda, studies.get(exam.pk, []), pdf))
    return out


def read_diagnostic_report(actor: Actor, rid: str) -> dict[str, Any]:
    exam = Examination.objects.select_related(*EXAM_RELATED).filter(pk=parse_uuid(rid)).first()
    _authorise(actor, exam, "examination.diagnostic_report.read", states=(State.REPORTED,))
    assert exam is not None
    served = _serve_reports([exam])
    if not served:
        raise NotFound()
    return served[0]


def search_diagnostic_report(actor: Actor, sr: SearchRequest) -> SearchResult:
    qs = sr.apply(_reported(actor).select_related(*EXAM_RELATED).order_by("-signed_at", "-id"))
    rows, total, has_next = paginate(qs, sr)
    audit_served(actor, "examination.diagnostic_report.search", "diagnostics.examination",
                 [(e.pk, e.patient_id) for e in rows], sr)
    return SearchResult(_serve_reports(rows), total, has_next)


register("DiagnosticReport", _("The signed report of each examination the actor may see (a patient: their own), with "
                               "the printable PDF as presentedForm; drafts never appear. Every report served is "
                               "recorded in the audit log."),
         DIAGNOSTIC_REPORT_PARAMS, read_diagnostic_report, search_diagnostic_report,
         areas=(Action.SEARCH_PATIENTS,), patient_data=True)


# --- Observation ------------------------------------------------------------------------------------

def _current_reports(actor: Actor) -> QuerySet[Report]:
    """The signed version in force of each reported examination the actor may read."""
    newer = (Report.objects.filter(examination=OuterRef("examination"), status=ReportStatus.SIGNED,
                                   version__gt=OuterRef("version")).exclude(kind=ReportKind.ADDENDUM))
    return (Report.objects.filter(examination_id__in=_reported(actor).values("pk"), status=ReportStatus.SIGNED)
            .exclude(kind=ReportKind.ADDENDUM).filter(~Exists(newer)))


def _parse_observation_id(value: str) -> tuple[uuid.UUID, int] | None:
    head, _sep, tail = value.rpartition("-")
    pk = as_uuid(head)
    if pk is None or not tail.isdigit() or not 1 <= int(tail) <= 1000:
        return None
    return pk, int(tail)


OBSERVATION_PARAMS = [
    Param("_id", "token", _("The observation's id: the report's id, a hyphen and the measurement's number.")),
    *_patients(_("The patient examined.")),
    Param("code", "token", _("The LOINC code of the measurement (21889-1, 8867-4, 8625-6, 8633-0, 8636-3, "
                             "10230-1).")),
    Param("category", "token", _("imaging or procedure (ECG) (observation-category).")),
    date_param("date", "examination__submitted_at", _("The effective time: when the examination was sent for "
                                                      "reading.")),
]


def _wanted(sr: SearchRequest) -> tuple[list[set[str]], list[set[tuple[uuid.UUID, int]]], list[set[str]]]:
    """The criteria read here (AND between repeats, OR within one)."""
    code_sets = [set(token_codes(v, codes.LOINC)) for v in sr.values("code")]
    id_sets = [{p for p in (_parse_observation_id(x) for x in v) if p} for v in sr.values("_id")]
    categories = [set(token_codes(v, m.OBSERVATION_CATEGORY)) for v in sr.values("category")]
    return code_sets, id_sets, categories


def _serve_observations(items: list[tuple[Report, int]]) -> list[dict[str, Any]]:
    studies = _study_ids(list({r.examination_id for r, _i in items}))
    return [m.observation(r.examination, r, i, studies.get(r.examination_id, [])) for r, i in items]


def read_observation(actor: Actor, rid: str) -> dict[str, Any]:
    parsed = _parse_observation_id(rid)
    if parsed is None:
        raise NotFound()
    pk, index = parsed
    report = Report.objects.select_related("examination").filter(pk=pk, status=ReportStatus.SIGNED).exclude(
        kind=ReportKind.ADDENDUM).first()
    if report is None or not 1 <= index <= len(report.measurements or []):
        raise NotFound()
    newer = Report.objects.filter(examination_id=report.examination_id, status=ReportStatus.SIGNED,
                                  version__gt=report.version).exclude(kind=ReportKind.ADDENDUM)
    if newer.exists():
        raise NotFound()  # superseded by an amended version: its measurements are the new version's
    _authorise(actor, report.examination, "examination.observation.read", states=(State.REPORTED,), obj=report,
               observation=rid)
    return _serve_observations([(report, index)])[0]


def search_observation(actor: Actor, sr: SearchRequest) -> SearchResult:
    qs = sr.apply(_current_reports(actor)).order_by("-signed_at", "-id")
    code_sets, id_sets, categories = _wanted(sr)
    matches: list[tuple[Any, int]] = []
    for pk, measurements, modality in qs.values_list("pk", "measurements", "examination__modality"):
        kind = "procedure" if modality == "ECG" else "imaging"
        for i, item in enumerate(measurements or [], start=1):
            if all(item.get("code") in s for s in code_sets) and all((pk, i) in s for s in id_sets) \
                    and all(kind in s for s in categories):
                matches.append((pk, i))
    page = matches[sr.offset:sr.offset + sr.count]
    has_next = sr.offset + sr.count < len(matches)
    if has_next:
        total = None if sr.total == "none" else len(matches)
    else:
        total = sr.offset + len(page) if page or sr.offset == 0 else None
    reports = {r.pk: r for r in Report.objects.select_related("examination").filter(pk__in={pk for pk, _i in page})}
    items = [(reports[pk], i) for pk, i in page]
    record_many(actor, _entries("examination.observation.search", "diagnostics.report",
                                [(r.pk, r.patient_id) for r, _i in items], sorted({c.param.name for c in sr.criteria}),
                                [{"observation": m.observation_id(r, i)} for r, i in items]))
    return SearchResult(_serve_observations(items), total, has_next)


register("Observation", _("The measurements of each signed report in force the actor may see (a patient: their own): "
                          "LOINC code, value with its UCUM unit. Every observation served is recorded in the audit "
                          "log."),
         OBSERVATION_PARAMS, read_observation, search_observation, areas=(Action.SEARCH_PATIENTS,), patient_data=True)
