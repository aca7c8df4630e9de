"""Serving a stored file to a browser, safely. Access checks are the caller's: the page of the
record the file is attached to decides who may download it and writes the audit row."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase

from medunion.core.errors import NotFound

from .models import FileKind, StoredFile
from .queries import open_bytes, preview_content_type, read_preview
from .sniff import SERVABLE_TYPES


def content_disposition(filename: str, *, as_attachment: bool) -> str:
    """``attachment`` or ``inline`` with the name twice: an ASCII fallback for old clients and the
    exact UTF-8 name as ``filename*`` (RFC 6266 / RFC 5987)."""
    name = "".join(c for c in filename if unicodedata.category(c)[0] != "C") or "file"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;%' else "_" for c in name)
    value = f'{"attachment" if as_attachment else "inline"}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _secure(response: HttpResponseBase, content_type: str, sha256: str = "") -> None:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    if not content_type.startswith("image/"):
        # PDFs (and anything not a picture) open without scripts, forms or same-origin access.
        response["Content-Security-Policy"] = "sandbox"
    if sha256:
        response["ETag"] = f'"{sha256}"'


def file_response(stored: StoredFile, *, as_attachment: bool) -> FileResponse:
    """The original bytes, streamed, with the type sniffed when they were stored (never one a
    browser would run: anything unexpected goes out as an ``application/octet-stream`` download)."""
    content_type = stored.content_type if stored.content_type in SERVABLE_TYPES else "application/octet-stream"
    if content_type == "application/octet-stream" or stored.kind == FileKind.DICOM:
        as_attachment = True  # nothing a browser can show
    response = FileResponse(open_bytes(stored), content_type=content_type)
    response["Content-Length"] = str(stored.size)
    response["Content-Disposition"] = content_disposition(stored.filename, as_attachment=as_attachment)
    _secure(response, content_type, stored.sha256)
    return response


def preview_response(stored: StoredFile) -> HttpResponseBase:
    """The preview image to show inline: the rendered one, or a photo itself when it needs none.
    ``NotFound`` for files with nothing to show (PDFs, DICOM without pixels)."""
    preview_type = preview_content_type(stored)
    if preview_type is None:
        if stored.kind == FileKind.IMAGE and stored.content_type in SERVABLE_TYPES:
            return file_response(stored, as_attachment=False)
        raise NotFound()
    data = read_preview(stored) or b""
    response = HttpResponse(data, content_type=preview_type)
    stem = stored.filename.rsplit(".", 1)[0] if "." in stored.filename else stored.filename
    extension = ".png" if preview_type == "image/png" else ".jpg"
    response["Content-Disposition"] = content_disposition(f"{stem}{extension}", as_attachment=False)
    _secure(response, preview_type)
    return response
