"""Accounts: one role per account; practitioners and patients link to their records.

Administrative duties are split as MLPS level 3 (等保三级) asks: the system administrator,
security administrator and audit administrator are three roles that cannot do each
other's work, and none of them sees patient data by virtue of the role.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, Self

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from medunion.core import clock
from medunion.core.crypto import EncryptedTextField
from medunion.core.ids import uuid7
from medunion.core.models import ChoiceLabels, Entity


class Role(models.TextChoices):
    PRACTITIONER = "practitioner", _("clinician")
    COORDINATOR = "coordinator", _("coordinator")
    COMMISSION = "commission", _("health-commission viewer")
    PATIENT = "patient", _("patient")
    SYSADMIN = "sysadmin", _("system administrator")
    SECADMIN = "secadmin", _("security administrator")
    AUDITADMIN = "auditadmin", _("audit administrator")


ADMIN_ROLES = {Role.SYSADMIN, Role.SECADMIN, Role.AUDITADMIN}
MFA_REQUIRED_ROLES = ADMIN_ROLES | {Role.COORDINATOR}


class User(ChoiceLabels, AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    practitioner = models.OneToOneField("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="user")
    patient = models.OneToOneField("patients.Patient", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="user")
    # Health-commission viewers see figures for their region and below.
    region = models.ForeignKey("network.Region", on_delete=models.PROTECT, null=True, blank=True)
    totp_secret = EncryptedTextField(_("second-factor secret"), blank=True, default="")
    totp_confirmed_at = models.DateTimeField(null=True, blank=True)
    totp_last_step = models.BigIntegerField(default=0)
    language = models.CharField(_("language"), max_length=8, blank=True)

    objects: ClassVar[UserManager[Self]] = UserManager()

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(totp_confirmed_at__isnull=True) | ~models.Q(totp_secret=""),
                name="confirmed_second_factor_has_secret"),
            models.CheckConstraint(
                condition=~models.Q(role="practitioner") | models.Q(practitioner__isnull=False),
                name="practitioner_account_has_practitioner"),
            models.CheckConstraint(
                condition=~models.Q(role="patient") | models.Q(patient__isnull=False),
                name="patient_account_has_patient"),
        ]

    @property
    def has_mfa(self) -> bool:
        """A confirmed second factor. A confirmed one always has its secret (the constraint
        ``confirmed_second_factor_has_secret``), so the secret is not read (nor decrypted) to
        answer: every API and FHIR request of an account that must have one asks."""
        return self.totp_confirmed_at is not None

    @property
    def mfa_required(self) -> bool:
        return self.role in MFA_REQUIRED_ROLES

    def __str__(self) -> str:
        return self.display_name or self.username


class ApiToken(Entity):
    """A bearer token for the API. Only its SHA-256 is stored; revocable and expiring."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    label = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @property
    def live(self) -> bool:
        return self.revoked_at is None and self.expires_at > clock.now()


class PlatformSetting(models.Model):
    """Platform settings the system administrator manages (not accounts, not patient data)."""

    key = models.CharField(max_length=64, primary_key=True)
    value = models.CharField(max_length=500)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("platform setting")
        verbose_name_plural = _("platform settings")

    def __str__(self) -> str:
        return self.key
