"""The teleconsultation journey in a real Chromium, two people at once: a village doctor on a
phone sends a case with a photo to the cardiology pool; a cardiologist at a desk sees it appear in
the pool without reloading, claims it and asks for an ECG; the doctor sees the request without
reloading and attaches the ECG; the cardiologist answers "manage locally" with a plan; the doctor
sees the answer without reloading and rates it. Then the patient, signed in, sees the patient
conversation and not a single clinician message.

Selectors are by name, test id and data attribute, so the test reads the same in both languages.
"""

from __future__ import annotations

import re

import pytest

from medunion.consults.models import Consult, ConsultMessage
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "胸闷两天，活动后加重，心电图ST段压低，是否需要转诊？"
REQUEST = "请补做十二导联心电图并上传。"
PLAN = "阿司匹林 100mg qd，阿托伐他汀 20mg qn，两周后复查心电图。"
TO_PATIENT = "请按时服药，胸痛加重请立即就医。"
LIVE = 20_000  # the pages poll every 3 to 5 seconds


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path):
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(tmp_path / "files")}}


def picture(path, colour: tuple[int, int, int], label: str) -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (800, 600), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    for x in range(0, 800, 40):
        draw.line([(x, 300), (x + 10, 300), (x + 15, 200), (x + 20, 380), (x + 25, 300), (x + 40, 300)],
                  fill=colour, width=3)
    draw.text((20, 20), label, fill=(0, 0, 0))
    image.save(path, "JPEG", quality=85)
    return str(path)


def test_a_case_from_a_phone_to_a_cardiologist_and_back(world, browser, live_server, tmp_path, transactional_db):
    pid = world.patients["patient_a"].pk
    photo = picture(tmp_path / "chest.jpg", (200, 30, 30), "chest")
    ecg = picture(tmp_path / "ecg-12-lead.jpg", (30, 30, 200), "ECG")

    desk = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB", base_url=live_server.url)
    cardio = desk.new_page()
    cardio.set_default_timeout(LIVE)
    sign_in(cardio, "cardiologist_tertiary")
    cardio.goto("/consults?queue=pool")
    assert cardio.locator("[data-testid=queue] [data-consult]").count() == 0
    cardio.evaluate("window.notReloaded = true")  # gone if the page were loaded again

    mobile = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                 locale="zh-CN", base_url=live_server.url)
    doctor = mobile.new_page()
    doctor.set_default_timeout(LIVE)
    sign_in(doctor, "village_doctor_a")
    # From the patient's page, "Ask a specialist".
    doctor.goto(f"/patients/{pid}")
    doctor.locator(f"a[href='/consults/new?patient={pid}']").click()
    doctor.wait_for_selector("[data-testid=ask-patient]")
    assert doctor.evaluate("document.documentElement.scrollWidth") <= 390
    form = doctor.locator("[data-testid=ask-form]")
    form.locator("select[name=specialty]").select_option("cardiology")
    form.locator("label.seg--urgent").click()
    form.locator("textarea[name=question]").fill(QUESTION)
    form.locator("[data-testid=ask-camera]").set_input_files(photo)
    form.locator("button[type=submit]").last.click()
    doctor.wait_for_url(re.compile(r"/consults/[0-9a-f-]{36}$"))
    consult = Consult.objects.get()
    assert (consult.patient_id, consult.specialty, consult.urgency) == (pid, "cardiology", "urgent")
    assert consult.attachments.get().file.filename == "chest.jpg"
    assert doctor.evaluate("document.documentElement.scrollWidth") <= 390
    doctor.evaluate("window.notReloaded = true")

    # The cardiologist's pool shows the case without reloading.
    row = cardio.locator(f"[data-testid=queue] [data-consult='{consult.pk}']")
    row.wait_for()
    assert "陈桂芳" in row.inner_text() and cardio.evaluate("window.notReloaded === true")
    row.locator("a").click()
    cardio.wait_for_url(f"**/consults/{consult.pk}")
    assert QUESTION in cardio.get_by_test_id("question").inner_text()
    assert cardio.locator("img.thumb").count() == 1
    cardio.locator("button[data-step=claim]").click()
    cardio.wait_for_selector("[data-step=request_info]")
    step = cardio.locator("details[data-step=request_info]")
    step.locator("summary").click()
    step.locator("textarea[name=body]").fill(REQUEST)
    step.locator("button[type=submit]").click()
    cardio.wait_for_selector("[data-testid=case-state]")
    assert Consult.objects.get().state == "on_hold"

    # The doctor's page shows the request without reloading, and the step to answer it.
    doctor.get_by_test_id("thread-clinicians").locator(".msg-body", has_text=REQUEST).wait_for()
    provide = doctor.locator("details[data-step=provide_info]")
    provide.wait_for()
    assert doctor.locator("#case-head").get_attribute("data-state") == "on_hold"
    assert doctor.evaluate("window.notReloaded === true")
    provide.locator("textarea[name=body]").fill("心电图已上传：V4-V6 ST段压低0.1mV。")
    provide.locator("input[name=files]").set_input_files(ecg)
    provide.locator("button[type=submit]").click()
    # The click returns once the new page has begun to load, perhaps before its header is parsed.
    doctor.wait_for_function("document.querySelector('#case-head')?.dataset.state === 'in_progress'")
    assert ConsultMessage.objects.get(kind="info_reply").attachments.get().file.filename == "ecg-12-lead.jpg"
    doctor.evaluate("window.notReloaded = true")

    # The cardiologist sees the ECG come in, answers, and writes to the patient.
    cardio.get_by_test_id("thread-clinicians").locator("img.thumb").wait_for()
    answer = cardio.locator("details[data-step=answer]")
    answer.wait_for()
    answer.locator("summary").click()
    answer.locator("textarea[name=assessment]").fill("稳定型心绞痛可能性大，目前无急诊转诊指征。")
    answer.locator("input[name=recommendation][value=manage_locally]").check()
    answer.locator("textarea[name=plan]").fill(PLAN)
    answer.locator("button[type=submit]").click()
    cardio.wait_for_function("document.querySelector('#case-head')?.dataset.state === 'answered'")
    compose = cardio.locator("#compose-patient")
    compose.locator("textarea[name=body]").fill(TO_PATIENT)
    compose.locator("button[type=submit]").click()
    cardio.get_by_test_id("thread-patient").locator(".msg-body", has_text=TO_PATIENT).wait_for()

    # The doctor sees the answer without reloading, and rates it.
    doctor.get_by_test_id("answer").get_by_text(PLAN).wait_for()
    assert doctor.get_by_test_id("recommendation").inner_text()
    assert doctor.evaluate("window.notReloaded === true")
    doctor.get_by_test_id("thread-patient").locator(".msg-body", has_text=TO_PATIENT).wait_for()
    confirm = doctor.locator("details[data-step=confirm]")
    confirm.wait_for()
    confirm.locator("input[name=useful][value='5']").check()
    confirm.locator("input[name=avoided_referral]").check()
    confirm.locator("button[type=submit]").click()
    doctor.get_by_test_id("rating").wait_for()
    consult.refresh_from_db()
    assert consult.state == "completed" and consult.rating.useful == 5 and consult.rating.avoided_referral
    assert doctor.evaluate("document.documentElement.scrollWidth") <= 390
    mobile.close()
    desk.close()

    # The patient sees the patient conversation, and not a single clinician message.
    own = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN",
                              base_url=live_server.url)
    patient = own.new_page()
    patient.set_default_timeout(LIVE)
    sign_in(patient, "patient_a")
    patient.goto("/me/consults")
    patient.locator(f"a[href='/me/consults/{consult.pk}']").click()
    patient.get_by_test_id("thread-patient").locator(".msg-body", has_text=TO_PATIENT).wait_for()
    html = patient.content()
    for secret in (QUESTION, REQUEST, PLAN, "ST段压低", "稳定型心绞痛", "chest.jpg", "ecg-12-lead.jpg"):
        assert secret not in html, secret
    clinical = ConsultMessage.objects.filter(consult=consult, audience="clinicians").values_list("pk", flat=True)
    assert clinical and not any(str(pk) in html for pk in clinical)
    own.close()
