"""Remote diagnosis over FHIR: ImagingStudy, DiagnosticReport (with the PDF as presentedForm) and
Observation — read and search within the same policy as the pages and the JSON API, every
resource served one audit row, everything valid R4 (fhir.resources R4B), drafts never served, the
patient served only their own signed reports."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent, Outcome, Verb
from medunion.diagnostics import actions as da
from medunion.diagnostics import actions_reading as dr
from medunion.diagnostics.models import Examination, ReadingRoute, Report, Study
from medunion.diagnostics.validation import ReportInput
from tests.consults.conftest import add_practitioner
from tests.diagnostics.conftest import (
    DiagnosisWorld,
    build_diagnosis_world,
    ct_series,
    identity_of,
    new_ct,
    upload,
)
from tests.fhir.conftest import get, ids, validate
from tests.pins import AUDIT

DCM = "http://dicom.nema.org/resources/ontology/DCM"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
DRAFT = "草稿：尚未签发的内容"
FINDINGS = "右侧基底节区见类圆形高密度影，约 25 mm。"
IMPRESSION = "右侧基底节区脑出血。"
REQUIRED = {
    "ImagingStudy": {"status": {"registered", "available", "cancelled", "entered-in-error", "unknown"}},
    "DiagnosticReport": {"status": {"registered", "partial", "preliminary", "final", "amended", "corrected",
                                    "appended", "cancelled", "entered-in-error", "unknown"}},
    "Observation": {"status": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                               "entered-in-error", "unknown"}},
}


def check(resource: dict[str, Any]) -> dict[str, Any]:
    """Valid R4B, with the required bindings fhir.resources does not check; Bundles entry by entry."""
    validate(resource)
    entries = [e["resource"] for e in resource.get("entry", [])] if resource["resourceType"] == "Bundle" \
        else [resource]
    for r in entries:
        for element, allowed in REQUIRED.get(r["resourceType"], {}).items():
            assert r[element] in allowed, (r["resourceType"], element, r[element])
    return resource


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    from medunion.diagnostics.render import clear_caches

    settings.MEDUNION_DICOM_ARCHIVE = "local"
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(tmp_path / "files")}}
    clear_caches()


@dataclass
class Reading:
    dw: DiagnosisWorld
    ct: Examination  # signed, critical, a measurement, coded
    amended: Examination  # signed, then amended (version 2, another measurement)
    appended: Examination  # signed, then an addendum
    ecg: Examination  # a PDF tracing, signed with heart rate and QTc
    waiting: Examination  # sent, not read
    reading: Examination  # claimed, with a saved draft
    draft: Examination  # still being uploaded


def client(dw: DiagnosisWorld, persona: str) -> Client:
    c = Client(headers={"accept-language": "en"})
    c.force_login(dw.users.get(persona) or dw.world.users[persona])
    return c


def _exam(dw: DiagnosisWorld, site: str, slices: int = 2, submit: bool = True, **kw: Any) -> Examination:
    exam = new_ct(dw, body_site=site, **kw)
    identity = identity_of(dw.patient, dw.world.patients["patient_a_id_number"])
    for i, data in enumerate(ct_series(identity, slices)):
        da.upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk, upload=upload(f"IM{i}.dcm", data))
    if submit:
        da.submit(acting=dw.actor("township_doctor"), examination_id=exam.pk)
    return exam


def _sign(dw: DiagnosisWorld, exam: Examination, **report: Any) -> None:
    reader = dw.actor("hub_radiologist")
    dr.claim(acting=reader, examination_id=exam.pk)
    data = {"findings": FINDINGS, "impression": IMPRESSION, "codes": ["I61.9"],
            "measurements": [{"code": "21889-1", "value": 25}], **report}
    dr.sign(acting=reader, examination_id=exam.pk, data=ReportInput(**data))


def _pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, "12-lead ECG")
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture
def reading(world) -> Reading:
    dw = build_diagnosis_world(world)
    add_practitioner(world, dw.users, "hub_ecg", "周心电", "imaging_hub", "110610424000031", ["electrocardiology"])
    ReadingRoute.objects.create(consortium=world.consortium, modality="ECG", hub=world.orgs["imaging_hub"])
    ct = _exam(dw, "head")
    _sign(dw, ct, critical=True, critical_note="急性脑出血")
    amended = _exam(dw, "chest")
    _sign(dw, amended, impression="右肺结节。", codes=["R91"], measurements=[{"code": "21889-1", "value": 8}])
    dr.amend(acting=dw.actor("hub_radiologist"), examination_id=amended.pk, reason="测量有误",
             data=ReportInput(findings="右肺上叶结节。", impression="右肺结节，较前增大。", codes=["R91"],
                              measurements=[{"code": "21889-1", "value": 12}]))
    appended = _exam(dw, "abdomen")
    _sign(dw, appended, impression="脂肪肝。", codes=["K76.0"], measurements=[])
    dr.add_addendum(acting=dw.actor("hub_radiologist"), examination_id=appended.pk, text="补充：胆囊未见结石。")
    ecg = new_ct(dw, modality="ECG", body_site="heart", question="胸闷心悸")
    da.upload_file(acting=dw.actor("township_doctor"), examination_id=ecg.pk,
                   upload=upload("ecg.pdf", _pdf(), "application/pdf"))
    da.submit(acting=dw.actor("township_doctor"), examination_id=ecg.pk)
    dr.claim(acting=dw.actor("hub_ecg"), examination_id=ecg.pk)
    dr.sign(acting=dw.actor("hub_ecg"), examination_id=ecg.pk, data=ReportInput(
        findings="窦性心律。", impression="正常心电图。", codes=["Z01.8"],
        measurements=[{"code": "8867-4", "value": 72}, {"code": "8636-3", "value": 410}]))
    waiting = _exam(dw, "pelvis", slices=1)
    in_reading = _exam(dw, "spine", slices=1)
    dr.claim(acting=dw.actor("hub_radiologist"), examination_id=in_reading.pk)
    dr.save_draft(acting=dw.actor("hub_radiologist"), examination_id=in_reading.pk,
                  data=ReportInput(findings=DRAFT, impression=DRAFT, measurements=[{"code": "21889-1", "value": 3}]))
    draft = _exam(dw, "neck", slices=1, submit=False)
    fresh = {e.pk: e for e in Examination.objects.all()}
    return Reading(dw, fresh[ct.pk], fresh[amended.pk], fresh[appended.pk], fresh[ecg.pk], fresh[waiting.pk],
                   fresh[in_reading.pk], fresh[draft.pk])


def ok(c: Client, path: str, **params: Any) -> dict[str, Any]:
    status, body, _r = get(c, path, **params)
    assert status == 200, (path, body)
    return check(body)


def rows_since(before: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("seq")[before:])


def study_of(exam: Examination) -> Study:
    return Study.objects.get(examination=exam)


# --- ImagingStudy ----------------------------------------------------------------------------------

def test_imaging_study_read(reading):
    dw, ct = reading.dw, reading.ct
    study = study_of(ct)
    before = AuditEvent.objects.count()
    res = ok(client(dw, "township_doctor"), f"ImagingStudy/{study.pk}")
    assert res["status"] == "available" and res["subject"] == {"reference": f"Patient/{dw.patient.pk}"}
    assert res["identifier"][0] == {"system": "urn:dicom:uid", "value": f"urn:oid:{study.study_instance_uid}"}
    assert res["identifier"][1]["value"] == ct.accession
    assert res["identifier"][1]["type"]["coding"][0]["code"] == "ACSN"
    assert res["modality"] == [{"system": DCM, "code": "CT"}]
    assert (res["numberOfSeries"], res["numberOfInstances"]) == (1, 2)
    [series] = res["series"]
    assert series["modality"] == {"system": DCM, "code": "CT"} and series["numberOfInstances"] == 2
    assert series["bodySite"] == {"system": "http://snomed.info/sct", "code": "69536005", "display": "Head structure"}
    assert [i["number"] for i in series["instance"]] == [1, 2]
    assert series["instance"][0]["sopClass"] == {"system": "urn:ietf:rfc:3986",
                                                 "code": "urn:oid:1.2.840.10008.5.1.4.1.1.2"}  # CT Image Storage
    assert res["referrer"]["reference"] == f"Practitioner/{dw.pid('township_doctor')}"
    assert res["interpreter"][0]["reference"] == f"Practitioner/{dw.pid('hub_radiologist')}"
    assert "basedOn" not in res and "endpoint" not in res
    assert [(r.action, r.verb, r.object_id, r.patient_id, r.surface, r.outcome) for r in rows_since(before)] == [
        ("examination.imaging_study.read", Verb.READ, str(study.pk), dw.patient.pk, "fhir", Outcome.SUCCESS)]
    # Sent for reading, not read yet: served; still being uploaded: not.
    assert "interpreter" not in ok(client(dw, "hub_radiologist"), f"ImagingStudy/{study_of(reading.waiting).pk}")
    status, body, _r = get(client(dw, "township_doctor"), f"ImagingStudy/{study_of(reading.draft).pk}")
    assert status == 404
    check(body)


def test_imaging_study_search(reading):
    dw = reading.dw
    c = client(dw, "township_doctor")
    everything = ok(c, "ImagingStudy", patient=f"Patient/{dw.patient.pk}")
    served = {study_of(e).pk for e in (reading.ct, reading.amended, reading.appended, reading.waiting, reading.reading)}
    assert set(ids(everything)) == {str(pk) for pk in served} and everything["total"] == 5  # no draft, no ECG
    assert set(ids(ok(c, "ImagingStudy", patient=str(dw.patient.pk), modality="CT"))) == {str(pk) for pk in served}
    assert ok(c, "ImagingStudy", patient=str(dw.patient.pk), modality=f"{DCM}|MR")["total"] == 0
    uid = study_of(reading.ct).study_instance_uid
    assert ids(ok(c, "ImagingStudy", identifier=f"urn:dicom:uid|urn:oid:{uid}")) == [str(study_of(reading.ct).pk)]
    assert ids(ok(c, "ImagingStudy", identifier=reading.ct.accession)) == [str(study_of(reading.ct).pk)]
    assert ids(ok(c, "ImagingStudy", _id=str(study_of(reading.appended).pk))) == [str(study_of(reading.appended).pk)]
    assert ok(c, "ImagingStudy", started="lt2000")["total"] == 0
    before = AuditEvent.objects.count()
    ok(c, "ImagingStudy")
    assert sorted(r.action for r in rows_since(before)) == ["examination.imaging_study.search"] * 5


def test_the_patient_and_outsiders_get_no_imaging_study(reading):
    dw = reading.dw
    study = study_of(reading.ct)
    for persona in ("patient_a", "coordinator", "commission_viewer", "sysadmin"):
        for path in (f"ImagingStudy/{study.pk}", "ImagingStudy"):
            status, body, _r = get(client(dw, persona), path)
            assert status == 404, (persona, path)
            check(body)
    before = AuditEvent.objects.count()
    for persona in ("village_doctor_b", "outsider"):
        status, _body, _r = get(client(dw, persona), f"ImagingStudy/{study.pk}")
        assert status == 404
        assert "entry" not in ok(client(dw, persona), "ImagingStudy")
    assert {r.outcome for r in rows_since(before)} == {Outcome.DENIED}


# --- DiagnosticReport ------------------------------------------------------------------------------

def _pdf_text(report: dict[str, Any]) -> str:
    from pypdf import PdfReader

    [form] = report["presentedForm"]
    assert (form["contentType"], form["language"]) == ("application/pdf", "zh-CN")
    data = base64.b64decode(form["data"])
    assert data.startswith(b"%PDF") and form["size"] == len(data)
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_diagnostic_report_read(reading):
    dw, ct = reading.dw, reading.ct
    current = Report.objects.get(examination=ct)
    before = AuditEvent.objects.count()
    res = ok(client(dw, "county_doctor"), f"DiagnosticReport/{ct.pk}")  # the care team: recognised region-wide
    assert (res["status"], res["id"]) == ("final", str(ct.pk))
    assert res["category"][0]["coding"][0] == {"system": V2_0074, "code": "RAD", "display": "Radiology"}
    assert res["code"]["coding"][0] == {"system": "http://loinc.org", "code": "18747-6", "display": "CT Study report"}
    assert res["subject"] == {"reference": f"Patient/{dw.patient.pk}"}
    assert res["effectiveDateTime"] and res["issued"]
    assert [p["reference"] for p in res["performer"]] == [f"Organization/{dw.orgs['imaging_hub'].pk}",
                                                           f"Practitioner/{dw.pid('hub_radiologist')}"]
    assert res["resultsInterpreter"][0]["reference"] == f"Practitioner/{dw.pid('hub_radiologist')}"
    assert res["conclusion"] == IMPRESSION
    assert res["conclusionCode"][0]["coding"][0] == {"system": "http://hl7.org/fhir/sid/icd-10", "code": "I61.9",
                                                     "display": "Intracerebral haemorrhage, unspecified"}
    assert res["imagingStudy"] == [{"reference": f"ImagingStudy/{study_of(ct).pk}"}]
    assert res["result"] == [{"reference": f"Observation/{current.pk}-1"}]
    text = _pdf_text(res)
    assert IMPRESSION in text and ct.accession in text and "急性脑出血" in text
    assert [(r.action, r.object_id, r.outcome) for r in rows_since(before)] == [
        ("examination.diagnostic_report.read", str(ct.pk), Outcome.SUCCESS)]


def test_amended_appended_and_ecg_reports(reading):
    dw = reading.dw
    c = client(dw, "township_doctor")
    amended = ok(c, f"DiagnosticReport/{reading.amended.pk}")
    v2 = Report.objects.get(examination=reading.amended, version=2)
    assert amended["status"] == "amended" and amended["conclusion"] == "右肺结节，较前增大。"
    assert amended["result"] == [{"reference": f"Observation/{v2.pk}-1"}]
    assert "测量有误" in _pdf_text(amended)
    appended = ok(c, f"DiagnosticReport/{reading.appended.pk}")
    assert appended["status"] == "appended" and "result" not in appended
    assert "胆囊未见结石" in _pdf_text(appended)
    ecg = ok(c, f"DiagnosticReport/{reading.ecg.pk}")
    assert ecg["category"][0]["coding"][0]["code"] == "EC" and ecg["code"]["coding"][0]["code"] == "11524-6"
    assert "imagingStudy" not in ecg and len(ecg["result"]) == 2
    assert ecg["performer"][1]["reference"] == f"Practitioner/{dw.pid('hub_ecg')}"


def test_diagnostic_report_search(reading):
    dw = reading.dw
    c = client(dw, "township_doctor")
    signed = {str(e.pk) for e in (reading.ct, reading.amended, reading.appended, reading.ecg)}
    everything = ok(c, "DiagnosticReport", patient=f"Patient/{dw.patient.pk}")
    assert set(ids(everything)) == signed and everything["total"] == 4
    assert set(ids(ok(c, "DiagnosticReport", category="RAD"))) == signed - {str(reading.ecg.pk)}
    assert ids(ok(c, "DiagnosticReport", category=f"{V2_0074}|EC")) == [str(reading.ecg.pk)]
    assert ids(ok(c, "DiagnosticReport", code="http://loinc.org|11524-6")) == [str(reading.ecg.pk)]
    assert ok(c, "DiagnosticReport", code="18755-9")["total"] == 0  # MR
    assert ok(c, "DiagnosticReport", subject=str(dw.patient.pk), date="ge2000")["total"] == 4
    assert ok(c, "DiagnosticReport", date="lt2000")["total"] == 0
    assert ok(c, "DiagnosticReport", issued="ge2000")["total"] == 4
    assert ids(ok(c, "DiagnosticReport", _id=str(reading.ct.pk))) == [str(reading.ct.pk)]
    first = ok(c, "DiagnosticReport", _count="3")
    second = ok(c, "DiagnosticReport", _count="3", _offset="3")
    assert first["total"] == 4 and set(ids(first) + ids(second)) == signed
    # Neither an examination being read (its draft) nor one not yet read is a DiagnosticReport.
    for exam in (reading.reading, reading.waiting, reading.draft):
        status, _body, _r = get(c, f"DiagnosticReport/{exam.pk}")
        assert status == 404
    before = AuditEvent.objects.count()
    ok(c, "DiagnosticReport")
    assert sorted(r.object_id for r in rows_since(before)) == sorted(signed)


# --- Observation -----------------------------------------------------------------------------------

def test_observations(reading):
    dw = reading.dw
    c = client(dw, "township_doctor")
    ct_report = Report.objects.get(examination=reading.ct)
    obs = ok(c, f"Observation/{ct_report.pk}-1")
    assert obs["status"] == "final" and obs["category"][0]["coding"][0]["code"] == "imaging"
    assert obs["code"]["coding"][0] == {"system": "http://loinc.org", "code": "21889-1", "display": "Size Tumor"}
    assert obs["valueQuantity"] == {"value": 25.0, "unit": "mm", "system": "http://unitsofmeasure.org", "code": "mm"}
    assert obs["derivedFrom"] == [{"reference": f"ImagingStudy/{study_of(reading.ct).pk}"}]
    assert obs["subject"] == {"reference": f"Patient/{dw.patient.pk}"} and obs["issued"]
    v1, v2 = Report.objects.filter(examination=reading.amended).order_by("version")
    assert ok(c, f"Observation/{v2.pk}-1")["status"] == "amended"
    assert ok(c, f"Observation/{v2.pk}-1")["valueQuantity"]["value"] == 12.0
    ecg = Report.objects.get(examination=reading.ecg)
    heart = ok(c, f"Observation/{ecg.pk}-1")
    assert heart["category"][0]["coding"][0]["code"] == "procedure" and "derivedFrom" not in heart
    assert heart["valueQuantity"]["code"] == "/min"
    draft = Report.objects.get(examination=reading.reading)
    for gone in (f"{v1.pk}-1", f"{ct_report.pk}-2", f"{ct_report.pk}-0", f"{draft.pk}-1", "nonsense",
                 f"{ct_report.pk}"):
        status, body, _r = get(c, f"Observation/{gone}")
        assert status == 404, gone
        check(body)

    everything = ok(c, "Observation", patient=f"Patient/{dw.patient.pk}")
    expected = {f"{ct_report.pk}-1", f"{v2.pk}-1", f"{ecg.pk}-1", f"{ecg.pk}-2"}
    assert set(ids(everything)) == expected and everything["total"] == 4
    assert set(ids(ok(c, "Observation", code="http://loinc.org|8867-4,8636-3"))) == {f"{ecg.pk}-1", f"{ecg.pk}-2"}
    assert set(ids(ok(c, "Observation", category="procedure"))) == {f"{ecg.pk}-1", f"{ecg.pk}-2"}
    assert ids(ok(c, "Observation", _id=f"{v2.pk}-1")) == [f"{v2.pk}-1"]
    assert ok(c, "Observation", date="lt2000")["total"] == 0
    page = ok(c, "Observation", _count="3")
    rest = ok(c, "Observation", _count="3", _offset="3")
    assert page["total"] == 4 and len(page["entry"]) == 3 and set(ids(page) + ids(rest)) == expected
    past = ok(c, "Observation", _count="3", _offset="9")
    assert "total" not in past and "entry" not in past
    before = AuditEvent.objects.count()
    ok(c, "Observation")
    rows = rows_since(before)
    assert {r.action for r in rows} == {"examination.observation.search"} and len(rows) == 4
    assert sorted(r.detail["observation"] for r in rows) == sorted(expected)


# --- who is served what ----------------------------------------------------------------------------

def test_the_patient_reads_only_their_own_signed_reports(reading):
    from medunion.patients.actions import PatientInput, register_patient
    from medunion.patients.identity import make_resident_id

    dw = reading.dw
    number = make_resident_id("610424", dt.date(1980, 5, 6), 33, male=True)
    other = register_patient(acting=dw.actor("township_doctor"), data=PatientInput(
        name="欧阳明远", id_number=number, region_code="610424100202"))
    exam = new_ct(dw, patient_id=other.pk, body_site="head")
    for i, data in enumerate(ct_series({**identity_of(other, number), "PatientName": "OUYANG^MINGYUAN"}, 1)):
        da.upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk, upload=upload(f"B{i}.dcm", data))
    da.submit(acting=dw.actor("township_doctor"), examination_id=exam.pk)
    _sign(dw, exam)

    c = client(dw, "patient_a")
    mine = {str(e.pk) for e in (reading.ct, reading.amended, reading.appended, reading.ecg)}
    reports = ok(c, "DiagnosticReport")
    assert set(ids(reports)) == mine
    observations = ok(c, "Observation")
    assert len(ids(observations)) == 4
    assert ok(c, f"DiagnosticReport/{reading.ct.pk}")["conclusion"] == IMPRESSION
    other_report = Report.objects.get(examination=exam)
    for path in (f"DiagnosticReport/{exam.pk}", f"Observation/{other_report.pk}-1",
                 f"DiagnosticReport/{reading.reading.pk}", f"ImagingStudy/{study_of(reading.ct).pk}"):
        status, body, _r = get(c, path)
        assert status == 404, path
        check(body)
    served = json.dumps([reports, observations], ensure_ascii=False)
    assert DRAFT not in served and str(exam.pk) not in served
    # The clinicians are never served the draft either.
    for persona in ("township_doctor", "hub_radiologist", "county_doctor"):
        everything = json.dumps([ok(client(dw, persona), t) for t in ("DiagnosticReport", "Observation")],
                                ensure_ascii=False)
        assert DRAFT not in everything and str(reading.reading.pk) not in everything


@pytest.mark.parametrize("persona", ["village_doctor_b", "outsider", "cardiologist_tertiary", "coordinator",
                                     "commission_viewer", "sysadmin", "auditadmin"])
def test_those_outside_get_nothing(reading, persona):
    dw, ct = reading.dw, reading.ct
    c = client(dw, persona)
    report = Report.objects.get(examination=ct)
    before = AuditEvent.objects.count()
    for path in (f"DiagnosticReport/{ct.pk}", f"Observation/{report.pk}-1", f"ImagingStudy/{study_of(ct).pk}"):
        status, body, _r = get(c, path)
        assert status == 404, path
        check(body)
    assert not [r for r in rows_since(before) if r.outcome == Outcome.SUCCESS]
    for kind in ("DiagnosticReport", "Observation", "ImagingStudy"):
        status, body, _r = get(c, kind)
        assert status == 404 or "entry" not in body, (kind, body)


def test_the_capability_statement_lists_them(reading):
    status, body, _r = get(Client(), "metadata")
    check(body)
    types = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert {p["name"] for p in types["ImagingStudy"]["searchParam"]} >= {"patient", "modality", "identifier"}
    assert {p["name"] for p in types["DiagnosticReport"]["searchParam"]} >= {"patient", "category", "code", "date"}
    assert {p["name"] for p in types["Observation"]["searchParam"]} >= {"patient", "code"}


# --- bounded searches ------------------------------------------------------------------------------

SEARCH_QUERIES = 16  # 8 of them: the session, the account, the actor, the audit savepoints


def _queries(c: Client, path: str, **params: Any) -> tuple[dict[str, Any], int]:
    get(c, path, **params)
    with CaptureQueriesContext(connection) as ctx:
        body = ok(c, path, **params)
    return body, len(ctx.captured_queries)


def test_searches_do_not_grow_with_the_rows(reading):
    dw = reading.dw
    c = client(dw, "township_doctor")
    small = {kind: _queries(c, kind, patient=str(dw.patient.pk)) for kind in ("ImagingStudy", "DiagnosticReport",
                                                                                "Observation")}
    for site in ("upper_limb", "lower_limb", "thyroid"):
        exam = _exam(dw, site, slices=3)
        _sign(dw, exam, measurements=[{"code": "21889-1", "value": 5}, {"code": "21889-1", "value": 6}])
    limit = SEARCH_QUERIES + AUDIT
    for kind, (body, n) in small.items():
        bigger, m = _queries(c, kind, patient=str(dw.patient.pk))
        assert len(bigger["entry"]) > len(body["entry"]), kind
        assert m == n <= limit, (kind, n, m)
