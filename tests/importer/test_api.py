"""The import API: POST a file (202), GET the job with its row report, idempotent retries, 404s."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.network.models import ImportJob, Practitioner

from .files import csv_bytes, village_doctors, xlsx_bytes

URL = "/api/v1/imports"


def _post(client, world, content: bytes, name: str = "roster.csv", consortium=None, **headers):
    return client.post(URL, {"consortium_id": str((consortium or world.consortium).pk),
                             "file": SimpleUploadedFile(name, content)}, headers=headers)


def test_post_a_file_then_read_the_report(world, client_for):
    api = client_for("coordinator")
    rows = village_doctors(3)
    rows[2][3] = "院长"
    response = _post(api, world, xlsx_bytes(rows), "roster.xlsx")
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == f"{URL}/{body['id']}"
    assert body["consortium_code"] == "QX-YGT" and body["filename"] == "roster.xlsx" and body["total"] == 3
    assert body["status"] == "done"  # imports run synchronously in tests
    job = api.get(response["Location"]).json()
    assert job["summary"] == {"total": 3, "imported": 2, "updated": 0, "unchanged": 0, "error": 1}
    assert [r["status"] for r in job["rows"]] == ["imported", "imported", "error"]
    assert job["rows"][2]["reasons"] == ["Unknown professional title “院长”."]
    errors = api.get(response["Location"], {"status": "error"}).json()["rows"]
    assert [r["line"] for r in errors] == [4]
    assert api.get(response["Location"], {"status": "bogus"}).status_code == 422


def test_bad_files_and_bad_input_are_problems_not_500s(world, client_for):
    api = client_for("coordinator")
    response = _post(api, world, b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "photo.xlsx")
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert response.json()["field"] == "file" and "not an Excel workbook" in response.json()["title"]
    response = _post(api, world, csv_bytes([["a", "b"]], header=["姓名", "电话"]))
    assert response.status_code == 422 and response.json()["missing_columns"] == ["licence_number",
                                                                                   "organisation_code", "title"]
    response = api.post(URL, {"consortium_id": "nope", "file": SimpleUploadedFile("a.csv", b"x")})
    assert response.status_code == 422
    response = api.post(URL, {"consortium_id": str(world.consortium.pk)})
    assert response.status_code == 422
    assert not ImportJob.objects.exists()


def test_other_consortium_and_other_roles_get_404(world, client_for, other_coordinator):
    job_id = _post(client_for("coordinator"), world, csv_bytes(village_doctors(1))).json()["id"]
    other = client_for("coordinator_other")
    assert other.get(f"{URL}/{job_id}").status_code == 404
    assert _post(other, world, csv_bytes(village_doctors(1, start=9))).status_code == 404
    assert other.get(URL).json()["count"] == 0
    doctor = client_for("village_doctor_a")
    assert doctor.get(f"{URL}/{job_id}").status_code == 404
    assert _post(doctor, world, csv_bytes(village_doctors(1, start=9))).status_code == 403
    assert client_for("coordinator").get(f"{URL}/not-a-uuid").status_code == 404
    from django.test import Client

    assert Client().get(f"{URL}/{job_id}").status_code == 401


def test_an_idempotency_key_makes_a_retry_safe(world, client_for):
    api = client_for("coordinator")
    content = csv_bytes(village_doctors(2))
    first = _post(api, world, content, **{"Idempotency-Key": "upload-1"})
    again = _post(api, world, content, **{"Idempotency-Key": "upload-1"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert ImportJob.objects.count() == 1
    different = _post(api, world, csv_bytes(village_doctors(3)), **{"Idempotency-Key": "upload-1"})
    assert different.status_code == 422 and different.json()["code"] == "idempotency_key_reused"
    assert Practitioner.objects.filter(licence_number__startswith="VD").count() == 2


def test_the_list_of_jobs_is_paged_with_a_fixed_number_of_queries(world, client_for):
    api = client_for("coordinator")
    for i in range(3):
        _post(api, world, csv_bytes(village_doctors(1, start=i + 1)))
    with CaptureQueriesContext(connection) as few:
        listing = api.get(URL).json()
    assert listing["count"] == 3 and listing["items"][0]["summary"]["imported"] == 1
    assert "rows" not in listing["items"][0]
    for i in range(5):
        _post(api, world, csv_bytes(village_doctors(1, start=i + 10)))
    with CaptureQueriesContext(connection) as more:
        assert api.get(URL).json()["count"] == 8
    assert len(more) == len(few)
