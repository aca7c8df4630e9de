"""Break-the-glass grants: time-limited, with a reason, flagged for review."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from medunion.core.models import Entity


class BreakGlassGrant(Entity):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass",
                             db_index=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="break_glass")
    reason = models.TextField(_("reason"))
    expires_at = models.DateTimeField(_("expires at"))
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "patient", "expires_at"])]
        verbose_name = _("break-the-glass access")
        verbose_name_plural = _("break-the-glass accesses")
