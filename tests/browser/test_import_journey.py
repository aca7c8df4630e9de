"""The coordinator's bulk import in a real Chromium: a file with good and bad rows, the progress
polled by the page, and the per-row report with the reasons."""

from __future__ import annotations

import pytest

from medunion.network.models import Practitioner
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

CSV = """姓名,执业证书编码,机构编码,职称,专业
王小明,V610424000301,V001,乡村医生,全科医学
李红,V610424000302,V002,village_doctor,general_practice
张三,12,V001,village_doctor,general_practice
赵四,V610424000304,NOPE,village_doctor,general_practice
王小明二,V610424000301,V002,village_doctor,general_practice
"""


def test_coordinator_imports_a_file_with_bad_rows_and_sees_the_report(world, desktop, tmp_path, transactional_db):
    path = tmp_path / "村医名单.csv"
    path.write_text(CSV, encoding="utf-8")
    page = desktop
    sign_in(page, "coordinator")
    page.goto("/network/import/")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url("**/network/import/*")
    # the page polls the job until it has finished, without a reload
    page.wait_for_selector("#import-progress[data-status=done]", timeout=30_000)
    progress = page.locator("#import-progress")
    assert progress.locator("[data-count=imported]").inner_text() == "2"
    assert progress.locator("[data-count=error]").inner_text() == "3"
    report = progress.locator("table.co-report")
    assert "licence number" in report.locator("tr[data-line='4']").inner_text().lower()
    assert "NOPE" in report.locator("tr[data-line='5']").inner_text()
    assert "line 2" in report.locator("tr[data-line='6']").inner_text().lower() or \
        "row 2" in report.locator("tr[data-line='6']").inner_text().lower()
    assert Practitioner.objects.filter(licence_number__in=["V610424000301", "V610424000302"]).count() == 2
    assert not Practitioner.objects.filter(name="张三").exists()
