"""Remote diagnosis (远程诊断): examinations done at the grassroots, read at a regional hub,
reports recognised region-wide.

Every table carries ``patient_id`` (DESIGN §4.9). Images are DICOM instances grouped as study /
series / instance (``Study``, ``Series``, ``Instance``), their bytes kept by the archive
(``diagnostics.archive``: the local file store, or a PACS over DICOMweb); photos and PDFs (an ECG
tracing, slide photos) are ``ExamAttachment`` rows. Reports are immutable once signed (DESIGN
§4.5): an amendment is a new ``Report`` version, an addendum a new row; nothing signed is
changed in place (``Report.save`` refuses).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from medunion.consults.models import Urgency
from medunion.core.models import Entity

from .codes import BodySite, Modality
from .states import State


class ReadingRoute(Entity):
    """Which hub reads a modality for a consortium (set by its coordinators)."""

    consortium = models.ForeignKey("network.Consortium", on_delete=models.CASCADE, related_name="reading_routes",
                                   verbose_name=_("consortium"), db_index=False)
    modality = models.CharField(_("modality"), max_length=8, choices=Modality.choices)
    hub = models.ForeignKey("network.Organisation", on_delete=models.PROTECT, related_name="reading_routes",
                            verbose_name=_("reading hub"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consortium", "modality"], name="reading_route_once")]
        verbose_name = _("reading route")
        verbose_name_plural = _("reading routes")

    def __str__(self) -> str:
        return f"{self.consortium_id} {self.modality} → {self.hub_id}"


class Examination(Entity):
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="examinations",
                                db_index=False)
    consortium = models.ForeignKey("network.Consortium", on_delete=models.PROTECT, related_name="+")
    accession = models.CharField(_("accession number"), max_length=20, unique=True)
    requester = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("requesting clinician"), db_index=False)
    requesting_organisation = models.ForeignKey("network.Organisation", on_delete=models.PROTECT,
                                                related_name="+", verbose_name=_("requesting organisation"),
                                                db_index=False)
    hub = models.ForeignKey("network.Organisation", on_delete=models.PROTECT, related_name="+",
                            verbose_name=_("reading hub"), db_index=False)
    modality = models.CharField(_("modality"), max_length=8, choices=Modality.choices)
    body_site = models.CharField(_("body site"), max_length=16, choices=BodySite.choices)
    body_site_text = models.CharField(_("body site (details)"), max_length=100, blank=True)
    question = models.TextField(_("clinical question"))
    urgency = models.CharField(_("urgency"), max_length=16, choices=Urgency.choices, default=Urgency.ROUTINE)
    urgency_rank = models.PositiveSmallIntegerField(default=2)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    version = models.PositiveIntegerField(default=1)
    reader = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("reader"))
    submitted_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    # Asked for although a recent signed report of the same modality and site existed.
    repeat_reason = models.TextField(_("why a new examination is needed"), blank=True)
    instance_count = models.PositiveIntegerField(default=0)
    attachment_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Covers the worklist's keys (its WHERE and its order): the page's keys come from the
            # index alone (diagnostics.queries.list_page, core.planner.rows_by_key).
            models.Index(fields=["hub", "state", "urgency_rank", "submitted_at", "id", "modality"],
                         name="exam_worklist"),
            models.Index(fields=["patient", "modality", "body_site", "signed_at"], name="exam_recognition"),
            models.Index(fields=["requester", "state"], name="exam_requester"),
            models.Index(fields=["requesting_organisation", "state"], name="exam_requesting_org"),
        ]
        verbose_name = _("examination")
        verbose_name_plural = _("examinations")

    def __str__(self) -> str:
        return self.accession


class Study(Entity):
    examination = models.ForeignKey(Examination, on_delete=models.CASCADE, related_name="studies",
                                    db_index=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    study_instance_uid = models.CharField(max_length=64)
    study_date = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["examination", "study_instance_uid"], name="study_once")]


class Series(Entity):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    examination = models.ForeignKey(Examination, on_delete=models.CASCADE, related_name="series",
                                    db_index=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    series_instance_uid = models.CharField(max_length=64)
    modality = models.CharField(max_length=16)
    number = models.IntegerField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    instance_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["number", "created_at"]
        constraints = [models.UniqueConstraint(fields=["examination", "series_instance_uid"], name="series_once")]


class Instance(Entity):
    """One DICOM instance. ``file`` is its stored file in the local archive; in a DICOMweb
    archive the bytes are at the PACS, found by the three UIDs."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    examination = models.ForeignKey(Examination, on_delete=models.CASCADE, related_name="instances",
                                    db_index=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+",
                                db_index=False)
    sop_instance_uid = models.CharField(max_length=64)
    sop_class_uid = models.CharField(max_length=64, blank=True)
    number = models.IntegerField(null=True, blank=True)
    slice_location = models.FloatField(null=True, blank=True)
    frames = models.PositiveIntegerField(default=1)
    archive = models.CharField(max_length=16, default="local")
    file = models.ForeignKey("files.StoredFile", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    original_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    # Rows, columns, transfer syntax, window: what rendering needs (never the patient's name).
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["number", "slice_location", "created_at"]
        constraints = [models.UniqueConstraint(fields=["examination", "sop_instance_uid"], name="instance_once")]
        indexes = [models.Index(fields=["patient", "sop_instance_uid"], name="instance_by_patient_uid")]


class ExamAttachment(Entity):
    """A photo or PDF of an examination (an ECG tracing, slide photos, ultrasound images)."""

    examination = models.ForeignKey(Examination, on_delete=models.CASCADE, related_name="attachments",
                                    db_index=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    file = models.ForeignKey("files.StoredFile", on_delete=models.PROTECT, related_name="+")
    original_name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["examination", "file"], name="exam_attachment_once")]


class ReportKind(models.TextChoices):
    ORIGINAL = "original", _("report")
    AMENDED = "amended", _("amended report")
    ADDENDUM = "addendum", _("addendum")


class ReportStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SIGNED = "signed", _("signed")


class ImmutableReport(Exception):
    """A signed report was about to be changed in place (a programming error)."""


class Report(Entity):
    """One version of an examination's report, or an addendum to it.

    ``version`` counts the original and its amendments (1, 2, …); an addendum carries the version
    it was added to. ``findings``, ``impression`` and ``recommendation`` are the structured
    sections; ``codes`` the coded impressions (``codes.IMPRESSION_CODES``); ``measurements`` the
    measured values (``codes.MEASUREMENTS``), each a FHIR Observation."""

    examination = models.ForeignKey(Examination, on_delete=models.CASCADE, related_name="reports")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+",
                                db_index=False)
    kind = models.CharField(_("kind"), max_length=16, choices=ReportKind.choices, default=ReportKind.ORIGINAL)
    status = models.CharField(_("status"), max_length=16, choices=ReportStatus.choices, default=ReportStatus.DRAFT)
    version = models.PositiveIntegerField(default=1)
    findings = models.TextField(_("findings"), blank=True)
    impression = models.TextField(_("impression"), blank=True)
    recommendation = models.TextField(_("recommendation"), blank=True)
    codes = models.JSONField(default=list, blank=True)
    measurements = models.JSONField(default=list, blank=True)
    critical = models.BooleanField(_("critical finding"), default=False)
    critical_note = models.TextField(_("critical finding"), blank=True)
    reason = models.TextField(_("reason for the amendment"), blank=True)
    author = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=200, blank=True)
    author_organisation = models.CharField(max_length=200, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    second_read_requested = models.BooleanField(_("second read requested"), default=False)

    class Meta:
        ordering = ["version", "created_at"]
        constraints = [
            # One draft at a time; versions are unique among originals and amendments.
            models.UniqueConstraint(fields=["examination"], condition=Q(status="draft"), name="report_one_draft"),
            models.UniqueConstraint(fields=["examination", "version"], condition=~Q(kind="addendum"),
                                    name="report_version_once"),
        ]
        indexes = [models.Index(fields=["patient", "status"], name="report_by_patient")]
        verbose_name = _("report")
        verbose_name_plural = _("reports")

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and self.pk and \
                Report.objects.filter(pk=self.pk, status=ReportStatus.SIGNED).exists():
            raise ImmutableReport(f"report {self.pk} is signed and cannot be changed")
        super().save(*args, **kwargs)


class Verdict(models.TextChoices):
    AGREE = "agree", _("agree")
    MINOR = "minor", _("minor discrepancy")
    MAJOR = "major", _("major discrepancy (amendment needed)")


class SecondRead(Entity):
    """A senior reader's quality-control read of a signed report."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="second_reads")
    examination = models.ForeignKey(Examination, on_delete=models.CASCADE, related_name="second_reads")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="+")
    reviewer_name = models.CharField(max_length=200, blank=True)
    verdict = models.CharField(_("verdict"), max_length=16, choices=Verdict.choices)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["report"], name="second_read_once")]


class CriticalFinding(Entity):
    """A critical finding (危急值) flagged by a signed report: the requester must acknowledge it;
    unacknowledged, the worker escalates it to the requesting organisation and the coordinators."""

    examination = models.ForeignKey(Examination, on_delete=models.CASCADE, related_name="critical_findings")
    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="critical_finding")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    note = models.TextField(_("critical finding"))
    raised_by = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+")
    acknowledged_by_name = models.CharField(max_length=200, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["acknowledged_at", "escalated_at", "created_at"], name="critical_open")]


class Decision(models.TextChoices):
    REUSED = "reused", _("the recent report was used (repeat avoided)")
    REPEATED = "repeated", _("a new examination was requested anyway")


class Recognition(Entity):
    """A clinician shown a recent signed report when asking for the same examination, and what
    they decided: these rows count the avoided repeats."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    examination = models.ForeignKey(Examination, on_delete=models.CASCADE, related_name="recognitions",
                                    help_text="the examination whose report was recognised")
    new_examination = models.ForeignKey(Examination, on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+")
    decided_by = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey("network.Organisation", on_delete=models.PROTECT, related_name="+")
    consortium = models.ForeignKey("network.Consortium", on_delete=models.PROTECT, related_name="+",
                                   db_index=False)
    modality = models.CharField(max_length=8, choices=Modality.choices)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["consortium", "decision", "created_at"], name="recognition_figures")]
