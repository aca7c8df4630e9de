"""The master patient index: patients, check-in QR tokens, consent, care teams.

The resident ID number and phone are encrypted at rest (AES-GCM); the ID number is found
through a keyed hash (``id_number_hash``), which is also what keeps it unique.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _

from medunion.core import clock
from medunion.core.crypto import EncryptedTextField
from medunion.core.models import Entity


class Sex(models.TextChoices):
    MALE = "male", _("male")
    FEMALE = "female", _("female")
    UNKNOWN = "unknown", _("unknown")


class Patient(Entity):
    name = models.CharField(_("name"), max_length=100)
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices)
    birth_date = models.DateField(_("date of birth"))
    id_number = EncryptedTextField(_("resident ID number"), blank=True, default="")
    id_number_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    id_number_last4 = models.CharField(max_length=4, blank=True)
    phone = EncryptedTextField(_("phone"), blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    region = models.ForeignKey("network.Region", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="patients", verbose_name=_("address region"))
    address = EncryptedTextField(_("address"), blank=True, default="")
    registered_at = models.ForeignKey("network.Organisation", on_delete=models.PROTECT, related_name="patients",
                                      verbose_name=_("registered at"), db_index=False)
    registered_by = models.ForeignKey("network.Practitioner", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="registered_patients")
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["registered_at", "name"])]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")

    @property
    def patient_id(self):  # every patient-data row answers patient_id (DESIGN §4.9)
        return self.id

    @property
    def masked_id_number(self) -> str:
        return f"{'*' * 14}{self.id_number_last4}" if self.id_number_last4 else ""

    def __str__(self) -> str:
        return self.name


class QrToken(Entity):
    """A check-in token: random, reveals nothing about the patient, revocable."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="qr_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    token = EncryptedTextField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient"], condition=models.Q(revoked_at__isnull=True),
                                    name="one_live_qr_token_per_patient"),
        ]


class ConsentScope(models.TextChoices):
    SHARE_RECORDS = "share_records", _("share my records within the consortium")
    TELECONSULTATION = "teleconsultation", _("teleconsultation about my case")
    REFERRAL = "referral", _("referral to another organisation")
    REMOTE_DIAGNOSIS = "remote_diagnosis", _("remote reading of my examinations")
    RESEARCH = "research", _("use of de-identified data for research")


class Consent(Entity):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    scope = models.CharField(_("what is shared"), max_length=32, choices=ConsentScope.choices)
    permit = models.BooleanField(_("permitted"), default=True)
    consortium = models.ForeignKey("network.Consortium", on_delete=models.PROTECT, null=True, blank=True,
                                   verbose_name=_("with consortium"))
    organisation = models.ForeignKey("network.Organisation", on_delete=models.PROTECT, null=True, blank=True,
                                     verbose_name=_("with organisation"))
    valid_from = models.DateField(_("from"))
    valid_until = models.DateField(_("until"), null=True, blank=True)
    recorded_by = models.ForeignKey("network.Practitioner", on_delete=models.SET_NULL, null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("consent")


class CareRole(models.TextChoices):
    REGISTERING = "registering", _("registering clinician")
    FAMILY_DOCTOR = "family_doctor", _("family doctor")
    CONSULT = "consult", _("consultation")
    REFERRAL = "referral", _("referral")
    ATTENDING = "attending", _("attending clinician")


class CareTeamLinks(models.QuerySet["CareTeamMember"]):
    def live(self, at: dt.datetime) -> CareTeamLinks:
        """The links not ended by ``at`` (``until`` unset or later): links are made as they begin."""
        return self.filter(models.Q(until__isnull=True) | models.Q(until__gt=at))


class CareTeamMember(Entity):
    """Who is looking after this patient: a practitioner or a whole team, for a reason."""

    objects = CareTeamLinks.as_manager()

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team")
    # Indexed by the covering indexes below (which lead with them), not by indexes of their own.
    practitioner = models.ForeignKey("network.Practitioner", on_delete=models.CASCADE, null=True, blank=True,
                                     related_name="care_of", db_index=False)
    team = models.ForeignKey("network.Team", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="care_of", db_index=False)
    role = models.CharField(_("role"), max_length=16, choices=CareRole.choices)
    source_type = models.CharField(max_length=32, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    since = models.DateTimeField(default=clock.now)
    until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(practitioner__isnull=False, team__isnull=True)
                | models.Q(practitioner__isnull=True, team__isnull=False),
                name="care_member_is_practitioner_or_team"),
        ]
        # Covering a clinician's care-team patients (``access.policy.care_team_patients``: every live
        # link of a practitioner or a team, read from the index alone) and a link to one patient.
        indexes = [models.Index(fields=["practitioner", "patient", "until"], name="care_member_practitioner"),
                   models.Index(fields=["team", "patient", "until"], name="care_member_team")]
