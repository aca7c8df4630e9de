"""Asking a specialist from a phone: few fields, a photo, one case per tap; clear errors, one per
field and per file, and nothing saved when the case is refused."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from medunion.audit.models import AuditEvent
from medunion.consults.models import Consult, ConsultAttachment
from medunion.files.models import StoredFile
from tests.files.conftest import dicom_bytes, pdf_bytes

from .conftest import jpeg, page, token

QUESTION = "胸闷两天，心电图ST段压低，是否需要转诊？"


def _ask(c, **data):
    html = page(c.get("/consults/new"))
    files = {k: data.pop(k) for k in ("photos", "files") if k in data}
    body = {"once": token(html), "specialty": "cardiology", "urgency": "urgent", "question": QUESTION,
            "target_kind": "pool", **data, **files}
    return c.post("/consults/new", body)


def test_the_ask_page_is_short_on_a_phone_and_offers_the_camera(cw, client_for):
    html = page(client_for("village_doctor_a").get(f"/consults/new?patient={cw.patient.pk}"))
    assert "陈桂芳" in html  # the patient chosen on their page
    assert 'capture="environment"' in html and 'accept="image/*,application/pdf,.dcm"' in html
    assert html.count('type="file"') == 2 and html.count(" multiple") >= 2
    assert 'inputmode="numeric"' in html and 'inputmode="decimal"' in html  # compact vital-sign inputs
    assert 'value="routine" checked' in html.replace("\n", " ") or 'checked value="routine"' in html or \
        'value="routine"' in html  # urgency defaults to routine
    assert 'value="pool"' in html  # to the specialty pool by default


def test_a_village_doctor_sends_a_case_with_a_photo(cw, client_for):
    doctor = client_for("village_doctor_a")
    response = _ask(doctor, patient=str(cw.patient.pk), photos=jpeg("ecg.jpg"), v_systolic="150",
                    v_diastolic="95", v_heart_rate="88", v_temperature="36.8")
    assert response.status_code == 302, page(response)
    consult = Consult.objects.get()
    assert response["Location"] == f"/consults/{consult.pk}"
    assert (consult.patient_id, consult.specialty, consult.urgency, consult.target_kind) == (
        cw.patient.pk, "cardiology", "urgent", "pool")
    assert consult.vitals == {"systolic": 150, "diastolic": 95, "heart_rate": 88, "temperature": 36.8}
    attachment = ConsultAttachment.objects.get(consult=consult)
    assert attachment.file.filename == "ecg.jpg" and attachment.file.patient_id == cw.patient.pk
    assert AuditEvent.objects.filter(action="consult.create", patient_id=cw.patient.pk).count() == 1
    html = page(doctor.get(response["Location"]))
    assert "Your case is sent" in html and QUESTION in html and "ecg.jpg" in html


def test_a_double_tap_sends_one_case(cw, client_for):
    doctor = client_for("village_doctor_a")
    html = page(doctor.get("/consults/new"))
    body = {"once": token(html), "specialty": "cardiology", "urgency": "routine", "question": QUESTION,
            "patient": str(cw.patient.pk)}
    first = doctor.post("/consults/new", {**body, "photos": jpeg()})
    second = doctor.post("/consults/new", {**body, "photos": jpeg()})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Consult.objects.count() == 1 and StoredFile.objects.count() == 1


def test_a_general_question_has_no_patient(cw, client_for):
    response = _ask(client_for("village_doctor_a"), question="妊娠期高血压的首选用药？")
    assert response.status_code == 302
    assert Consult.objects.get().patient_id is None


def test_field_errors_are_clear_and_nothing_is_saved(cw, client_for):
    response = _ask(client_for("village_doctor_a"), patient=str(cw.patient.pk), specialty="", question="  ",
                    v_systolic="abc", v_heart_rate="900", photos=jpeg())
    assert response.status_code == 422
    html = page(response)
    for message in ("Choose a specialty.", "Write your question.", "Enter a number for systolic blood pressure",
                    "heart rate (per minute) must be between 20 and 300"):
        assert message in html, message
    assert 'id="id_v_systolic"' in html and "field--error" in html
    assert Consult.objects.count() == 0 and StoredFile.objects.count() == 0


def test_each_bad_file_gets_its_own_error_and_the_case_is_not_sent(cw, client_for, settings, tmp_path):
    settings.MEDUNION_MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.pdf", pdf_bytes()[:-10] + b"\0" * (1024 * 1024 + 10), content_type="application/pdf")
    disguised = SimpleUploadedFile("report.jpg", pdf_bytes(), content_type="image/jpeg")
    corrupt = SimpleUploadedFile("MR_truncated.dcm", dicom_bytes("MR_truncated.dcm"), content_type="application/dicom")
    response = _ask(client_for("village_doctor_a"), patient=str(cw.patient.pk),
                    photos=jpeg("good.jpg"), files=[big, disguised, corrupt])
    assert response.status_code == 422
    html = page(response)
    assert "big.pdf: The file is larger than the limit of 1.0" in html
    assert "report.jpg: " in html and "labelled as" in html
    assert "MR_truncated.dcm: The DICOM file is damaged or incomplete and cannot be read." in html
    assert "good.jpg" not in html.split('data-testid="ask-file-errors"')[1].split("</ul>")[0]
    assert "Attach the files again" in html
    # The good photo was stored on the way, and rolled back with the case.
    assert Consult.objects.count() == 0 and StoredFile.objects.count() == 0


def test_a_named_specialist_outside_the_consortium_is_refused(cw, client_for):
    outsider = cw.pid("outsider")
    response = _ask(client_for("village_doctor_a"), target_kind="practitioner", target_practitioner=str(outsider))
    assert response.status_code == 422
    assert "This specialist is not in the consortium." in page(response)
    assert Consult.objects.count() == 0


def test_to_a_named_specialist_and_to_a_team(cw, client_for):
    doctor = client_for("village_doctor_a")
    assert _ask(doctor, target_kind="practitioner", target_practitioner=str(cw.pid("cardiologist_b"))) \
        .status_code == 302
    assert _ask(doctor, target_kind="team", target_team=str(cw.team.pk)).status_code == 302
    kinds = sorted(Consult.objects.values_list("target_kind", flat=True))
    assert kinds == ["practitioner", "team"]


def test_choosing_the_specialty_offers_its_teams_and_specialists(cw, client_for):
    doctor = client_for("village_doctor_a")
    html = page(doctor.get("/consults/new", {"part": "targets", "specialty": "cardiology"}, headers={"HX-Request": "true"}))
    assert html.lstrip().startswith('<fieldset id="ask-targets"')
    for name in ("王建生", "周心怡", "吴县心", "心血管会诊团队"):
        assert name in html, name
    assert "孙立" not in html  # the outsider's consortium
    html = page(doctor.get("/consults/new", {"part": "targets", "specialty": "oncology"},
                           headers={"HX-Request": "true"}))
    assert "郑肿瘤" in html and "王建生" not in html and "心血管会诊团队" not in html


def test_a_patient_one_may_not_see_cannot_be_asked_about(cw, client_for):
    assert client_for("village_doctor_b").get(f"/consults/new?patient={cw.patient.pk}").status_code == 404
    response = _ask(client_for("village_doctor_b"), patient=str(cw.patient.pk), photos=jpeg())
    assert response.status_code == 422 and "Unknown patient." in page(response)
    assert Consult.objects.count() == 0 and StoredFile.objects.count() == 0


def test_finding_the_patient_on_the_ask_page(cw, client_for):
    doctor = client_for("village_doctor_a")
    html = page(doctor.post("/consults/new", {"find": "陈桂"}))
    assert f'href="?patient={cw.patient.pk}"' in html
    html = page(client_for("village_doctor_b").post("/consults/new", {"find": "陈桂"}))
    assert str(cw.patient.pk) not in html and "No patient in your care matches." in html


def test_only_clinicians_ask(cw, client_for):
    for persona in ("patient_a", "coordinator", "commission_viewer", "sysadmin"):
        assert client_for(persona).get("/consults/new").status_code == 404, persona


def test_the_patient_page_offers_to_ask_a_specialist(cw, client_for):
    html = page(client_for("village_doctor_a").get(f"/patients/{cw.patient.pk}"))
    assert f"/consults/new?patient={cw.patient.pk}" in html


def test_files_of_a_refused_case_leave_only_bytes_for_the_sweep(cw, client_for, tmp_path):
    _ask(client_for("village_doctor_a"), patient=str(cw.patient.pk), question="", photos=jpeg())
    assert StoredFile.objects.count() == 0
    root = Path(tmp_path / "files")
    leftovers = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    assert len(leftovers) <= 1  # written before the row; files.actions.sweep_orphans removes them
