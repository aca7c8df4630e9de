"""Bulk import pages: the upload form, the progress fragment polled with htmx, the per-row report."""

from __future__ import annotations

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
