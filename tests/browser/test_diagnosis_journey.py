"""The acceptance journey of remote diagnosis (issue 5), as people do it in Chromium:

a township GP, on a phone, records a head CT for patient_a and uploads its series (real DICOM:
pydicom's CT file, one slice per file, restamped with her identity as the scanner's worklist
writes it) and sends it for reading; the imaging hub's radiologist, at a desk in English, finds it
in the worklist, claims it, scrolls through it in the viewer, writes a structured report with a
critical finding and signs it; the GP acknowledges the critical finding; a county-hospital
clinician who asks for a new head CT for her is shown the recognised report first and uses it
(an avoided repeat). Screenshots go to $MEDUNION_SCREENSHOTS when set.
"""

from __future__ import annotations

import os

import pytest

from medunion.audit.models import AuditEvent
from medunion.diagnostics.models import CriticalFinding, Examination, Instance, Recognition, Report
from tests.browser.conftest import sign_in, switch_user
from tests.diagnostics.conftest import build_diagnosis_world, ct_series, identity_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SHOTS = os.environ.get("MEDUNION_SCREENSHOTS", "")
SLICES = 12


def shot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"diagnosis-journey-{name}.png"), full_page=True)


def test_township_ct_read_at_the_hub_critical_acknowledged_and_recognised_at_the_county(world, phone, desktop):
    dw = build_diagnosis_world(world)
    patient = dw.patient

    # 1. The township GP records the examination and uploads the series from a phone.
    gp = phone
    sign_in(gp, "township_doctor")
    gp.goto(f"/patients/{patient.pk}")
    gp.click("[data-testid=examine-patient]")
    gp.locator("label.seg", has=gp.locator("input[value=CT]")).click()
    gp.select_option("#id_body_site", "head")
    gp.locator("label.seg", has=gp.locator("input[name=urgency][value=emergency]")).click()
    gp.fill("#id_question", "突发头痛伴呕吐2小时，左侧肢体无力，排除颅内出血")
    gp.click("[data-testid=exam-create]")
    gp.wait_for_url("**/examinations/*")
    exam = Examination.objects.get()
    assert (exam.modality, exam.body_site, exam.urgency, exam.state) == ("CT", "head", "emergency", "draft")
    assert exam.hub_id == dw.orgs["imaging_hub"].pk  # routed to the county's imaging hub

    data = ct_series(identity_of(patient, dw.world.patients["patient_a_id_number"]), SLICES)
    files = [{"name": f"IM{i + 1:04d}.dcm", "mimeType": "application/dicom", "buffer": d} for i, d in enumerate(data)]
    with gp.expect_navigation(timeout=60_000):  # the page reloads once every file is stored
        gp.set_input_files("[data-testid=upload-files]", files)
    assert Instance.objects.filter(examination=exam).count() == SLICES
    assert gp.locator("[data-testid=instance-count]").inner_text().startswith(str(SLICES))
    shot(gp, "uploaded")
    gp.click("[data-step=submit]")
    gp.wait_for_selector("[data-testid=waiting]")
    exam.refresh_from_db()
    assert exam.state == "awaiting"

    # 2. The hub radiologist: worklist, claim, viewer, report with a critical finding, sign.
    reader = desktop
    sign_in(reader, "hub_radiologist")
    reader.goto("/reading")
    row = reader.locator("[data-testid=worklist] li", has=reader.locator(f"[data-claim='{exam.pk}']"))
    assert "CT" in row.inner_text()
    shot(reader, "worklist")
    row.locator(f"[data-claim='{exam.pk}']").click()
    reader.wait_for_url(f"**/examinations/{exam.pk}/report")
    exam.refresh_from_db()
    assert exam.state == "in_reading" and exam.reader_id == dw.pid("hub_radiologist")

    reader.goto(f"/examinations/{exam.pk}/viewer")
    label = reader.locator("[data-testid=slice-label]")
    reader.wait_for_function("document.querySelector('[data-image]').naturalWidth > 0")
    start = int(label.inner_text().split(" / ")[0])
    assert label.inner_text().endswith(f"/ {SLICES}")
    reader.locator("[data-stage]").focus()
    for _ in range(3):
        reader.keyboard.press("ArrowDown")
    assert int(label.inner_text().split(" / ")[0]) == start + 3
    reader.click("[data-preset=brain]")
    reader.wait_for_function("document.querySelector('[data-image]').src.includes('preset=brain')")
    reader.wait_for_function("document.querySelector('[data-image]').naturalWidth > 0")
    shot(reader, "viewer")
    assert AuditEvent.objects.filter(action="examination.image.read", actor_id=dw.actor("hub_radiologist").user_id,
                                     patient_id=patient.pk).exists()

    reader.goto(f"/examinations/{exam.pk}/report")
    reader.fill("#id_report_findings", "右侧基底节区见类圆形高密度影，约 25 mm，周围少许水肿带，中线结构无移位。")
    reader.fill("#id_report_impression", "右侧基底节区急性脑出血。")
    reader.fill("#id_report_recommendation", "立即转上级医院神经外科。")
    reader.locator("details.report-codes summary").click()
    reader.check("input[name=codes][value='I61.9']")
    reader.select_option("#id_report_m0_code", "21889-1")
    reader.fill("#id_report_m0_value", "25")
    reader.check("#id_report_critical")
    reader.fill("#id_report_critical_note", "右侧基底节区急性脑出血，需立即处理")
    reader.check("#id_report_confirm")
    shot(reader, "editor")
    reader.click("[data-testid=sign]")
    reader.wait_for_selector("[data-testid=signed-report]")
    exam.refresh_from_db()
    report = Report.objects.get(examination=exam)
    assert exam.state == "reported" and report.status == "signed" and report.critical
    assert report.codes[0]["code"] == "I61.9" and report.measurements[0]["value"] == 25
    finding = CriticalFinding.objects.get(examination=exam)
    assert finding.acknowledged_at is None
    shot(reader, "signed")

    # 3. The GP acknowledges the critical finding.
    gp.goto(f"/examinations/{exam.pk}")
    assert gp.locator("[data-testid=critical]").is_visible()
    gp.click("[data-testid=acknowledge]")
    gp.wait_for_selector("[data-testid=acknowledged]")
    finding.refresh_from_db()
    assert finding.acknowledged_by_id == dw.pid("township_doctor")
    shot(gp, "acknowledged")

    # 4. At the county hospital: a new head CT for her? The recognised report comes first.
    county = gp
    switch_user(county, "county_doctor")
    county.goto(f"/examinations/new?patient={patient.pk}")
    county.locator("label.seg", has=county.locator("input[value=CT]")).click()
    county.select_option("#id_body_site", "head")
    county.fill("#id_question", "脑出血后复查")
    county.click("[data-testid=exam-create]")
    county.wait_for_selector("[data-testid=recognition]")
    assert "右侧基底节区急性脑出血。" in county.locator("[data-testid=recent-report]").inner_text()
    shot(county, "recognition")
    county.click("[data-testid=use-report]")
    county.wait_for_url(f"**/examinations/{exam.pk}")
    assert Examination.objects.count() == 1  # no repeat scan
    assert Recognition.objects.get().decision == "reused"
    assert "右侧基底节区急性脑出血。" in county.locator("[data-testid=report-card]").inner_text()
    shot(county, "recognised")
