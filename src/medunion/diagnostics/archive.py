"""Where DICOM instances' bytes are kept: the local file store (default) or a PACS over DICOMweb.

``settings.MEDUNION_DICOM_ARCHIVE`` names the archive: ``local`` keeps each instance as a
``files.StoredFile`` (checked, checksummed, with a preview); ``orthanc`` sends it to an Orthanc
server by STOW-RS and fetches it back by WADO-RS (``diagnostics.dicomweb``). Whichever archive
stored an instance is recorded on it (``Instance.archive``), so changing the setting does not
strand what was stored before.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import setting_changed
from django.dispatch import receiver

from medunion.access.actor import Actor


@dataclass(frozen=True)
class Stored:
    archive: str
    file_id: Any = None  # the StoredFile (local archive)


class Archive(Protocol):
    name: str

    def put(self, *, acting: Actor, patient_id: Any, data: bytes, filename: str, meta: dict[str, Any]) -> Stored:
        """Keep one instance's bytes; all or nothing; the same instance twice is kept once."""

    def get(self, instance: Any) -> bytes:
        """The bytes of a stored ``Instance``."""


class LocalArchive:
    name = "local"

    def put(self, *, acting: Actor, patient_id: Any, data: bytes, filename: str, meta: dict[str, Any]) -> Stored:
        from medunion.files.actions import store_upload

        upload = SimpleUploadedFile(filename or "image.dcm", data, content_type="application/dicom")
        row = store_upload(acting=acting, patient_id=patient_id, upload=upload, allowed_kinds={"dicom"},
                           require_preview=True)
        return Stored(archive=self.name, file_id=row.pk)

    def get(self, instance: Any) -> bytes:
        from medunion.files.storage import get_storage

        with get_storage().open(instance.file.storage_key) as fh:
            return fh.read()


@functools.cache
def _archives() -> dict[str, Archive]:
    found: dict[str, Archive] = {"local": LocalArchive()}
    if settings.MEDUNION_DICOMWEB_URL:
        from .dicomweb import DicomWebArchive

        found["orthanc"] = DicomWebArchive(settings.MEDUNION_DICOMWEB_URL, settings.MEDUNION_DICOMWEB_USER,
                                           settings.MEDUNION_DICOMWEB_PASSWORD)
    return found


def get_archive(name: str | None = None) -> Archive:
    """The configured archive (``name=None``) or the one an instance was stored in."""
    wanted = name or settings.MEDUNION_DICOM_ARCHIVE or "local"
    archives = _archives()
    if wanted not in archives:
        from medunion.core.errors import Unavailable

        raise Unavailable(f"the DICOM archive {wanted!r} is not configured")
    return archives[wanted]


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("MEDUNION_DICOM"):
        _archives.cache_clear()
