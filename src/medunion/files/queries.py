"""Reading stored files' bytes. Who may read them is decided by the record they are attached to
(the caller's access check and audit row); these functions only fetch."""

from __future__ import annotations

import hashlib
import logging
from typing import BinaryIO

from django.utils.translation import gettext_lazy as _

from medunion.core.errors import Unavailable

from .models import FileKind, StoredFile
from .storage import StorageError, get_storage

log = logging.getLogger(__name__)


def _open(key: str) -> BinaryIO:
    try:
        return get_storage().open(key)
    except (StorageError, OSError) as exc:
        log.error("stored file bytes missing or unreadable: %s", key)
        raise Unavailable(_("The file cannot be read at the moment.")) from exc


def open_bytes(stored: StoredFile) -> BinaryIO:
    """A stream of the original bytes (the caller closes it)."""
    return _open(stored.storage_key)


def read_bytes(stored: StoredFile) -> bytes:
    with open_bytes(stored) as fh:
        return fh.read()


def preview_content_type(stored: StoredFile) -> str | None:
    """The type of what :func:`read_preview` returns, or None when there is no preview."""
    if not stored.preview_key:
        return None
    return str(stored.meta.get("preview_content_type") or "image/png")


def read_preview(stored: StoredFile) -> bytes | None:
    """The rendered preview (PNG for DICOM; JPEG for large, rotated or HEIC photos), or None.
    Photos without one are shown as they are (see ``medunion.files.http.preview_response``)."""
    if not stored.preview_key:
        return None
    with _open(stored.preview_key) as fh:
        return fh.read()


def verify_checksum(stored: StoredFile) -> bool:
    """Whether the stored bytes still have the SHA-256 recorded when they were stored."""
    digest = hashlib.sha256()
    with open_bytes(stored) as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest() == stored.sha256


def is_photo(stored: StoredFile) -> bool:
    return stored.kind == FileKind.IMAGE
