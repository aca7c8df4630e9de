"""Serving stored files: the type from the row, a safe name, nosniff, PDFs sandboxed."""

from __future__ import annotations

import pytest

from medunion.core.errors import NotFound
from medunion.files.actions import store_upload
from medunion.files.http import content_disposition, file_response, preview_response

from .conftest import dicom_bytes, pdf_bytes, photo_bytes, upload


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _stored(doctor, patient, name, data, **kw):
    return store_upload(acting=doctor, patient_id=patient.pk, upload=upload(name, data), **kw)


def test_photo_inline(doctor, patient):
    data = photo_bytes("PNG")
    stored = _stored(doctor, patient, "rash.png", data)
    response = file_response(stored, as_attachment=False)
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="rash.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Length"] == str(len(data))
    assert "Content-Security-Policy" not in response
    assert _body(response) == data


def test_pdf_is_sandboxed_and_the_chinese_name_survives(doctor, patient):
    data = pdf_bytes()
    stored = _stored(doctor, patient, "心电图 报告\"2026\".pdf", data)
    response = file_response(stored, as_attachment=True)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Security-Policy"] == "sandbox"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    assert "filename*=UTF-8''%E5%BF%83%E7%94%B5%E5%9B%BE%20%E6%8A%A5%E5%91%8A%222026%22.pdf" in disposition
    assert '"' not in disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert _body(response) == data


def test_dicom_always_downloads_and_previews_as_png(doctor, patient):
    stored = _stored(doctor, patient, "CT.dcm", dicom_bytes("CT_small.dcm"))
    response = file_response(stored, as_attachment=False)
    assert response["Content-Type"] == "application/dicom"
    assert response["Content-Disposition"].startswith("attachment;")
    preview = preview_response(stored)
    assert preview["Content-Type"] == "image/png"
    assert preview["Content-Disposition"] == 'inline; filename="CT.png"'
    assert preview["X-Content-Type-Options"] == "nosniff"
    assert preview.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_preview_of_a_small_photo_is_the_photo(doctor, patient):
    data = photo_bytes("JPEG")
    stored = _stored(doctor, patient, "small.jpg", data)
    assert _body(preview_response(stored)) == data


def test_nothing_to_preview_in_a_pdf(doctor, patient):
    stored = _stored(doctor, patient, "a.pdf", pdf_bytes())
    with pytest.raises(NotFound):
        preview_response(stored)


def test_never_an_html_content_type(doctor, patient):
    stored = _stored(doctor, patient, "rash.png", photo_bytes("PNG"))
    stored.content_type = "text/html"  # a row altered behind the platform's back
    response = file_response(stored, as_attachment=False)
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize(("name", "expected"), [
    ("a.pdf", 'inline; filename="a.pdf"'),
    ('x";y.pdf', "inline; filename=\"x__y.pdf\"; filename*=UTF-8''x%22%3By.pdf"),
    ("报告.pdf", "inline; filename=\"__.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf"),
    ("a\r\nSet-Cookie: x.pdf", 'inline; filename="aSet-Cookie: x.pdf"'),
])
def test_content_disposition(name, expected):
    assert content_disposition(name, as_attachment=False) == expected
