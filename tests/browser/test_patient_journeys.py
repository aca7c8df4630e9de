"""The acceptance journeys of the foundation in a real Chromium: a village doctor registers a
patient by ID number on a phone (a wrong check digit is refused clearly), and the patient, signed
in, sees that the village doctor accessed their record."""

from __future__ import annotations

import datetime as dt

import pytest

from medunion.patients.identity import make_resident_id
from medunion.patients.models import Patient
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_village_doctor_registers_a_patient_by_id_number_on_a_phone(world, phone, transactional_db):
    number = make_resident_id("610424", dt.date(1990, 4, 18), 55, male=False)
    wrong = number[:-1] + ("1" if number[-1] != "1" else "2")
    sign_in(phone, "village_doctor_a")
    assert "我的患者" in phone.content()  # Chinese for a zh-CN phone
    phone.get_by_role("link", name="登记患者").first.click()
    phone.fill("input[name=name]", "王春花")
    phone.fill("input[name=id_number]", wrong)
    phone.fill("input[name=phone]", "13700001111")
    phone.get_by_role("button", name="登记").click()
    error = phone.locator("#id_id_number_error")
    assert "校验码" in error.inner_text()
    assert not Patient.objects.filter(name="王春花").exists()
    # fixed, the same form goes through
    phone.fill("input[name=id_number]", number)
    phone.get_by_role("button", name="登记").click()
    phone.wait_for_url("**/patients/*")
    assert "王春花" in phone.locator("h1").inner_text()
    p = Patient.objects.get(name="王春花")
    assert p.sex == "female" and p.birth_date == dt.date(1990, 4, 18)
    # the phone layout: nothing wider than the screen
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_patient_sees_who_accessed_their_record(world, browser, live_server, transactional_db):
    pid = world.patients["patient_a"].pk
    doctor = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", base_url=live_server.url)
    page = doctor.new_page()
    sign_in(page, "village_doctor_a")
    page.goto(f"/patients/{pid}")
    assert "陈桂芳" in page.locator("h1").inner_text()
    doctor.close()

    patient = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB", base_url=live_server.url)
    page = patient.new_page()
    sign_in(page, "patient_a")
    page.get_by_role("link", name="Who accessed my record").first.click()
    log = page.get_by_test_id("access-log")
    first = log.locator("li").first.inner_text()
    assert "张卫国" in first and "viewed your record" in first
    assert "东村卫生室" in first
    patient.close()
