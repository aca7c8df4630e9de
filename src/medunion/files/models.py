"""Files kept for clinical records: photos, PDFs, DICOM instances, with their checksum.

A stored file is immutable: its bytes live in the storage backend under ``storage_key``
(content-addressed by SHA-256 within the patient), never overwritten or deleted in place. Who may
read it is decided by the record it is attached to (a consultation, later an examination); this
table knows only the patient it belongs to (DESIGN §4.9) and what the bytes are.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from medunion.core.models import Entity


class FileKind(models.TextChoices):
    IMAGE = "image", _("photo")
    PDF = "pdf", _("PDF document")
    DICOM = "dicom", _("DICOM image")


class StoredFile(Entity):
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="files", db_index=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("file name"), max_length=255)
    kind = models.CharField(_("kind"), max_length=16, choices=FileKind.choices)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    storage_key = models.CharField(max_length=300)
    # A rendered preview (PNG) for DICOM and large photos; empty when none.
    preview_key = models.CharField(max_length=300, blank=True)
    # What was read from the file: image width/height; for DICOM the modality, study, series and
    # SOP instance UIDs, rows/columns, number of frames, transfer syntax (never the patient's name).
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["patient", "sha256"])]
        # The same bytes are stored once per patient (per uploader for files about no patient).
        constraints = [
            models.UniqueConstraint(fields=["patient", "sha256"], condition=models.Q(patient__isnull=False),
                                    name="files_once_per_patient"),
            models.UniqueConstraint(fields=["uploaded_by", "sha256"], condition=models.Q(patient__isnull=True),
                                    name="files_once_per_uploader"),
        ]
        verbose_name = _("stored file")
        verbose_name_plural = _("stored files")

    def __str__(self) -> str:
        return self.filename
