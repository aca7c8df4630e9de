"""Bulk import pages: the upload form, the progress fragment polled with htmx, the per-row report."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from .helpers import url


def _upload(coord, world, name: str, content: bytes, consortium=None):
    return coord.post(url("import"), {"consortium": str(consortium or world.consortium.pk),
                                      "file": SimpleUploadedFile(name, content)})


def test_the_upload_page_explains_the_format(world, coord):
    html = coord.get(url("import")).content.decode()
    assert world.consortium.name in html and world.other_consortium.name not in html
    assert "licence_number" in html and 'accept=".csv,.xlsx"' in html


def test_upload_form_errors(world, coord):
    response = _upload(coord, world, "staff.pdf", b"%PDF-1.4")
    assert response.status_code == 422 and "Upload a .csv or .xlsx file" in response.content.decode()
    response = _upload(coord, world, "staff.csv", b"")
    assert response.status_code == 422
    response = _upload(coord, world, "staff.csv", b"name\n", consortium=world.other_consortium.pk)
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    response = coord.post(url("import"), {"consortium": str(world.consortium.pk)})
    assert response.status_code == 422 and "This field is required" in response.content.decode()


@pytest.fixture(autouse=True)
def _sync_imports(settings):
    settings.MEDUNION_IMPORT_SYNC = True


ROWS = "\r\n".join([
    "姓名,执业证书编码,机构编码,职称,专业,执业年限,性别,电话",
    "新村医,V610424300001,V001,乡村医生,全科,3,男,13800000011",
    "无机构,V610424300002,ZZZ9,乡村医生,全科,3,男,",
    "张卫国,V610424000001,V001,乡村医生,全科,9,,",
    "重复,V610424300001,V002,乡村医生,全科,3,男,",
]).encode("gb18030")


def test_upload_then_job_page_then_status_fragment_then_report(world, coord):
    response = _upload(coord, world, "村医花名册.csv", ROWS)
    assert response.status_code == 302
    job_url = response["Location"]
    job_id = job_url.rstrip("/").rsplit("/", 1)[-1]
    assert job_url == url("import_job", job_id)
    page = coord.get(job_url)
    html = page.content.decode()
    assert page.status_code == 200 and "村医花名册.csv" in html and world.consortium.name in html
    fragment = coord.get(url("import_status", job_id), headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert fragment.status_code == 200 and 'data-status="done"' in body and "hx-get" not in body
    assert 'data-count="imported">1<' in body and 'data-count="updated">1<' in body
    assert 'data-count="error">2<' in body
    # The rows to act on, with their reasons; the unchanged and imported ones one click away.
    assert 'data-line="3"' in body and "Unknown organisation code “ZZZ9”" in body
    assert 'data-line="5"' in body and "appears already on row 2" in body
    assert 'data-line="4"' in body and "years of independent practice" in body
    assert 'data-line="2"' not in body and "Show all 4 rows" in body
    everything = coord.get(job_url + "?rows=all").content.decode()
    assert 'data-line="2"' in everything
    # The upload page lists the job.
    assert "村医花名册.csv" in coord.get(url("import")).content.decode()


def test_a_running_job_polls_and_shows_progress(world, coord, settings):
    settings.MEDUNION_IMPORT_SYNC = False  # queued: no commit in this test, so no thread starts
    response = _upload(coord, world, "roster.csv", ROWS)
    job_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    fragment = coord.get(url("import_status", job_id)).content.decode()
    assert f'hx-get="{url("import_status", job_id)}"' in fragment and 'hx-trigger="every 1s"' in fragment
    assert "4 rows waiting to be imported" in fragment
    from medunion.network.models import ImportJob

    ImportJob.objects.filter(pk=job_id).update(status="running", processed=2)
    fragment = coord.get(url("import_status", job_id)).content.decode()
    assert "2 of 4 rows checked" in fragment and 'value="50"' in fragment


def test_file_problems_show_on_the_form(world, coord):
    response = _upload(coord, world, "roster.xlsx", b"not a workbook at all")
    assert response.status_code == 422 and "is not an Excel workbook" in response.content.decode()
    response = _upload(coord, world, "roster.csv", "姓名,电话\r\n张三,1\r\n".encode())
    html = response.content.decode()
    assert response.status_code == 422 and "licence_number" in html and "执业证书编码" in html


def test_the_job_pages_of_another_consortium_are_404(world, coord, client_for):
    from .helpers import other_coordinator

    job_id = _upload(coord, world, "roster.csv", ROWS)["Location"].rstrip("/").rsplit("/", 1)[-1]
    other_coordinator(world)
    other = client_for("coordinator_other")
    assert other.get(url("import_job", job_id)).status_code == 404
    assert other.get(url("import_status", job_id)).status_code == 404
    assert client_for("village_doctor_a").get(url("import_job", job_id)).status_code == 404
