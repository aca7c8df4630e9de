"""The closed referral loop in a real Chromium: a licensed village doctor on a phone refers a
patient up through the green channel; the department's capacity drops by one; the tertiary
cardiologist at a desk accepts with a bed; the patient opens their referral and its slip; the
receiving desk opens the slip's QR address and checks the patient in; the cardiologist returns the
outcome with a rehabilitation plan, which goes back down; the village doctor sees the follow-up
tasks and completes the first. An unlicensed colleague is refused, the missing credentials named.

Selectors are by name, test id and data attribute, so the test reads the same in both languages.
"""

from __future__ import annotations

import io
import os
import re

import pytest
from pypdf import PdfReader

from medunion.network.models import Department
from medunion.referrals.models import FollowUpTask, Referral
from tests.browser.conftest import sign_in
from tests.referrals.conftest import build_referral_world

pytestmark = pytest.mark.django_db(transaction=True)

REASON = "不稳定型心绞痛，需急诊冠脉造影"
SUMMARY = "胸痛反复发作三天，心电图ST段压低，肌钙蛋白轻度升高。"
OUTCOME = "冠脉造影示前降支狭窄90%，已植入支架一枚，术后恢复好。"
SHOTS = os.environ.get("MEDUNION_SCREENSHOTS", "")


def shot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"referral-{name}.png"), full_page=True)


def opened(page, step: str) -> None:
    """Open a step's form (the page may have opened it already)."""
    details = page.locator(f"details[data-step={step}]")
    if details.get_attribute("open") is None:
        details.locator("summary").click()


def test_the_closed_loop_up_and_back_down(world, browser, live_server, transactional_db):
    rw = build_referral_world(world)
    pid = rw.patient.pk
    contexts = []

    def phone() -> object:
        contexts.append(browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                            locale="zh-CN", base_url=live_server.url))
        return contexts[-1].new_page()

    def desk() -> object:
        contexts.append(browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                            base_url=live_server.url))
        return contexts[-1].new_page()

    # An unlicensed colleague is refused, the missing credentials named.
    colleague = phone()
    sign_in(colleague, "village_doctor_b")
    colleague.goto(f"/referrals/new?patient={pid}")
    refusal = colleague.locator("[data-testid=privilege-refused]")
    assert refusal.is_visible()
    missing = sorted(refusal.locator("[data-missing]").evaluate_all("els => els.map(e => e.dataset.missing)"))
    assert missing == ["exam", "licence"]
    shot(colleague, "refused-zh")
    colleague.close()

    # The village doctor refers the patient up through the green channel, from a phone.
    doctor = phone()
    sign_in(doctor, "village_doctor_a")
    doctor.goto(f"/referrals/new?patient={pid}&direction=up")
    doctor.check("input[name=urgency][value=urgent]")
    dest = f"{rw.orgs['tertiary'].pk}/{rw.cardiology.pk}"
    doctor.select_option("select[name=destination]", dest)
    doctor.wait_for_selector("[data-testid=availability][data-beds-free='4']")
    doctor.check("input[name=green_channel]")
    doctor.check("input[name=green_place][value=bed]")
    doctor.fill("textarea[name=reason]", REASON)
    doctor.fill("textarea[name=clinical_summary]", SUMMARY)
    shot(doctor, "refer-zh")
    doctor.click("[data-testid=refer-form] button[type=submit]")
    doctor.wait_for_url(re.compile(r"/referrals/[0-9a-f-]{36}$"))
    referral = Referral.objects.get(patient_id=pid, direction="up")
    assert referral.green_held and referral.state == "requested"
    assert doctor.locator("[data-testid=referral-state]").get_attribute("class").endswith("state--requested")
    # The department's reserved beds in use went up by one, and the refer form says so live.
    assert Department.objects.get(pk=rw.cardiology.pk).green_channel_beds_in_use == 1
    doctor.goto(f"/referrals/new?patient={rw.world.patients['patient_a'].pk}&direction=up")
    assert doctor.locator("[data-testid=live-referral]").is_visible()  # one live referral: track it

    # The tertiary cardiologist accepts with a bed, at a desk, in English.
    cardio = desk()
    sign_in(cardio, "cardiologist_tertiary")
    cardio.goto("/referrals?list=incoming")
    cardio.click(f"[data-referral='{referral.pk}'] a")
    cardio.wait_for_url(f"**/referrals/{referral.pk}")
    opened(cardio, "accept")
    cardio.check("input[name=admit_kind][value=bed]")
    cardio.fill("input[name=appointment_at]", "2030-01-15T09:30")
    cardio.fill("input[name=location]", "Inpatient building, floor 5, cardiology, bed 12")
    cardio.fill("textarea[name=bring]", "ID card, insurance card, previous ECGs")
    shot(cardio, "accept-en")
    cardio.locator("details[data-step=accept] button[type=submit]").click()
    cardio.wait_for_selector("[data-testid=referral-state].state--accepted")
    referral.refresh_from_db()
    assert referral.receiver_id == rw.pid("cardiologist_tertiary")

    # The patient sees where and when to go, and gets the slip with its check-in code.
    patient_page = phone()
    sign_in(patient_page, "patient_a")
    patient_page.goto("/me/referrals")
    patient_page.click(f"a[href='/me/referrals/{referral.pk}']")
    assert "2030-01-15 09:30" in patient_page.locator("[data-testid=appointment]").inner_text()
    assert SUMMARY not in patient_page.content()  # the clinical summary is for clinicians
    shot(patient_page, "patient-zh")
    pdf = patient_page.request.get(f"/referrals/{referral.pk}/slip.pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    address = re.search(r"https?://\S+/referrals/checkin/[A-Z0-9]+", text)
    assert address, text
    assert referral.checkin_code in address.group(0)

    # The receiving desk scans the QR code (its address) and checks the patient in.
    reception = phone()
    sign_in(reception, "cardiologist_b")
    reception.goto(address.group(0))
    shot(reception, "checkin-zh")
    reception.click("[data-testid=checkin-button]")
    reception.wait_for_selector("[data-testid=referral-state].state--arrived")
    assert Referral.objects.get(pk=referral.pk).state == "arrived"

    # The outcome goes back with a rehabilitation plan for the village doctor.
    cardio.reload()
    opened(cardio, "return_outcome")
    cardio.fill("details[data-step=return_outcome] textarea[name=summary]", OUTCOME)
    cardio.check("details[data-step=return_outcome] input[name=refer_down]")
    cardio.fill("details[data-step=return_outcome] textarea[name=discharge_summary]", "PCI, stable, discharged.")
    cardio.select_option("select[name=plan_kind_1]", "visit")
    cardio.fill("input[name=plan_days_1]", "0")
    cardio.fill("input[name=plan_text_1]", "Home visit: blood pressure, heart rate, wound")
    cardio.select_option("select[name=plan_kind_2]", "medication_review")
    cardio.fill("input[name=plan_days_2]", "14")
    cardio.fill("input[name=plan_text_2]", "Check adherence to aspirin and clopidogrel")
    cardio.locator("details[data-step=return_outcome] button[type=submit]").click()
    cardio.wait_for_selector("[data-testid=referral-state].state--outcome_returned")
    shot(cardio, "outcome-en")
    assert Department.objects.get(pk=rw.cardiology.pk).green_channel_beds_in_use == 0  # discharged: bed back
    down = Referral.objects.get(patient_id=pid, direction="down")
    assert down.parent_id == referral.pk and down.target_practitioner_id == rw.pid("village_doctor_a")

    # The village doctor sees the follow-up tasks and completes the first.
    doctor.goto("/referrals/tasks")
    tasks = doctor.locator("[data-testid=tasks] [data-task]")
    assert tasks.count() == 2
    first = tasks.first
    first.locator("summary").click()
    first.locator("textarea").fill("血压128/78，心率72，伤口愈合好。")
    shot(doctor, "tasks-zh")
    first.locator("[data-testid=task-done]").click()
    doctor.wait_for_selector("[data-testid=tasks-done]")
    assert doctor.locator("[data-testid=tasks] [data-task]").count() == 1
    states = sorted(FollowUpTask.objects.filter(referral=down).values_list("state", flat=True))
    assert states == ["done", "scheduled"]

    for context in contexts:
        context.close()
