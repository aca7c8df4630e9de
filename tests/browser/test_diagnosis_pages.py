"""The pages' scripts in a real Chromium at phone size: requesting a CT, uploading its slices one
request at a time with progress (the connection dropping twice on the way: the files are sent
again and stored once), choosing the folder again after an interruption (what is stored is
skipped), sending it for reading; the viewer scrolled by keys, slider and swipe, a window preset
and zoom; acknowledging a critical finding. Screenshots go to $MEDUNION_SCREENSHOTS when set."""

from __future__ import annotations

import os

import pytest

from medunion.diagnostics.models import Examination, Instance
from tests.browser.conftest import sign_in, switch_user
from tests.diagnostics.conftest import build_diagnosis_world, ct_series, identity_of, signed_ct

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SHOTS = os.environ.get("MEDUNION_SCREENSHOTS", "")


def shot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"diagnosis-{name}.png"), full_page=True)


@pytest.fixture
def phone(browser, live_server):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN", base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def files(dw, n: int) -> list[dict]:
    data = ct_series(identity_of(dw.patient, dw.world.patients["patient_a_id_number"]), n)
    return [{"name": f"IM{i + 1:04d}", "mimeType": "application/dicom", "buffer": d} for i, d in enumerate(data)]


def test_request_upload_through_dropped_connections_and_view(world, phone):
    dw = build_diagnosis_world(world)
    page = phone
    sign_in(page, "township_doctor")
    page.goto(f"/examinations/new?patient={dw.patient.pk}")
    assert page.locator("[data-site-other]").is_hidden()  # the details field waits for "other"
    page.locator("label.seg", has=page.locator("input[value=CT]")).click()
    page.select_option("#id_body_site", "head")
    page.locator("label.seg", has=page.locator("input[name=urgency][value=urgent]")).click()
    page.fill("#id_question", "突发头痛伴呕吐2小时，排除颅内出血")
    shot(page, "new")
    page.click("[data-testid=exam-create]")
    page.wait_for_url("**/examinations/*")
    exam = Examination.objects.get()
    shot(page, "draft")

    # The connection drops on two requests: the script tries them again; each slice is kept once.
    dropped = {"n": 0}

    def flaky(route):
        if dropped["n"] < 2:
            dropped["n"] += 1
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/upload", flaky)
    slices = files(dw, 7)
    with page.expect_navigation():  # the page shows what is stored once everything is
        page.set_input_files("[data-testid=upload-files]", slices[:6])
    assert dropped["n"] == 2
    assert Instance.objects.filter(examination=exam).count() == 6
    assert page.locator("[data-testid=instance-count]").inner_text().startswith("6")
    page.unroute("**/upload")
    shot(page, "uploaded")

    # Choosing the same files again after an interruption sends nothing already stored.
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/upload") else None)
    with page.expect_navigation():
        page.set_input_files("[data-testid=upload-files]", slices)
    assert len(sent) == 1 and Instance.objects.filter(examination=exam).count() == 7

    page.click("[data-step=submit]")
    page.wait_for_selector("[data-testid=waiting]")
    exam.refresh_from_db()
    assert exam.state == "awaiting"

    # The viewer: the middle slice first; keys, slider and a swipe move through the slices.
    page.click("[data-testid=open-viewer]")
    # The click returns once the viewer's page has begun to load; its script (deferred) has
    # run only by the load event, and keys pressed before that are lost.
    page.wait_for_url("**/viewer**")
    page.wait_for_load_state("load")
    label = page.locator("[data-testid=slice-label]")
    assert label.inner_text() == "4 / 7"
    page.wait_for_function("document.querySelector('[data-image]').naturalWidth > 0")
    page.locator("[data-stage]").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert label.inner_text() == "6 / 7"
    page.locator("[data-slider]").fill("2")
    assert label.inner_text() == "2 / 7"
    page.wait_for_function("document.querySelector('[data-image]').src.includes('frame=0')")
    page.click("[data-preset=lung]")
    page.wait_for_function("document.querySelector('[data-image]').src.includes('preset=lung')")
    assert page.locator("[data-preset=lung]").get_attribute("aria-pressed") == "true"
    page.click("[data-zoom=in]")
    assert "scale(1.25)" in page.locator("[data-image]").get_attribute("style")
    page.click("[data-zoom=reset]")
    assert "scale(1)" in page.locator("[data-image]").get_attribute("style")
    box = page.locator("[data-stage]").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y - 60, steps=6)  # dragging up goes forward
    page.mouse.up()
    assert int(label.inner_text().split(" / ")[0]) > 2
    assert "slice=" in page.url and "preset=lung" in page.url  # a reload keeps the place
    shot(page, "viewer")


def test_the_requester_acknowledges_a_critical_finding(world, phone):
    dw = build_diagnosis_world(world)
    exam = signed_ct(dw, critical=True)
    page = phone
    sign_in(page, "township_doctor")
    page.goto(f"/examinations/{exam.pk}")
    assert page.locator("[data-testid=critical]").is_visible()
    shot(page, "critical")
    page.click("[data-testid=acknowledge]")
    page.wait_for_selector("[data-testid=acknowledged]")
    assert exam.critical_findings.get().acknowledged_by_name == "冯家医"
    shot(page, "acknowledged")
    page.goto("/examinations?list=reported")
    shot(page, "list")

    # At the county hospital, a new head CT for her: the recognised report comes first.
    switch_user(page, "county_doctor")
    page.goto(f"/patients/{dw.patient.pk}")
    page.click("[data-testid=examine-patient]")
    page.locator("label.seg", has=page.locator("input[value=CT]")).click()
    page.select_option("#id_body_site", "head")
    page.fill("#id_question", "头痛复查")
    page.click("[data-testid=exam-create]")
    page.wait_for_selector("[data-testid=recognition]")
    assert "右侧基底节区脑出血。" in page.locator("[data-testid=recent-report]").inner_text()
    shot(page, "recognition")
    page.click("[data-testid=use-report]")
    page.wait_for_url(f"**/examinations/{exam.pk}")
    assert Examination.objects.count() == 1
    shot(page, "reused")

    switch_user(page, "patient_a")
    page.click("[data-testid=my-reports-link]")
    page.click(f"a[href='/me/reports/{exam.pk}']")
    assert "右侧基底节区脑出血。" in page.locator("[data-testid=impression]").inner_text()
    shot(page, "patient")

