"""The consortium network: regions, organisations, consortia, practitioners, teams, credentials."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from medunion.core.models import ChoiceLabels, Entity

from .codes import (
    ConsortiumKind,
    CourseKind,
    RegionLevel,
    Specialty,
    TeamKind,
    TeamRole,
    Tier,
    Title,
)


class Region(ChoiceLabels):
    """An administrative division; ``code`` is the 12-digit statistical division code."""

    code = models.CharField(_("code"), max_length=12, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    level = models.PositiveSmallIntegerField(_("level"), choices=RegionLevel.choices)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name


class Organisation(Entity):
    code = models.CharField(_("organisation code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    tier = models.CharField(_("tier"), max_length=32, choices=Tier.choices)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="organisations", verbose_name=_("region"))
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name=_("parent organisation"))
    address = models.CharField(_("address"), max_length=300, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class Department(Entity):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="departments",
                                     verbose_name=_("organisation"), db_index=False)
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=120)
    specialty = models.CharField(_("specialty"), max_length=32, choices=Specialty.choices, blank=True)
    beds = models.PositiveIntegerField(_("beds"), default=0)
    daily_slots = models.PositiveIntegerField(_("appointment slots per day"), default=0)
    green_channel_beds = models.PositiveIntegerField(_("beds reserved for the green channel"), default=0)
    green_channel_slots = models.PositiveIntegerField(_("slots reserved for the green channel"), default=0)
    # Reserved places held by live green-channel referrals (referrals.capacity): taken and given
    # back with conditional UPDATEs, so a department never goes over what it reserved.
    green_channel_beds_in_use = models.PositiveIntegerField(_("green-channel beds in use"), default=0)
    green_channel_slots_in_use = models.PositiveIntegerField(_("green-channel slots in use"), default=0)

    class Meta:
        ordering = ["organisation", "code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="department_code_unique_in_org"),
            models.CheckConstraint(condition=Q(green_channel_beds__lte=models.F("beds")),
                                   name="department_reserved_beds_within_beds"),
            models.CheckConstraint(condition=Q(green_channel_slots__lte=models.F("daily_slots")),
                                   name="department_reserved_slots_within_slots"),
            models.CheckConstraint(condition=Q(green_channel_beds_in_use__lte=models.F("green_channel_beds")),
                                   name="department_green_beds_in_use_within_reserved"),
            models.CheckConstraint(condition=Q(green_channel_slots_in_use__lte=models.F("green_channel_slots")),
                                   name="department_green_slots_in_use_within_reserved"),
        ]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return f"{self.organisation.name} · {self.name}"


class Consortium(Entity):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("type"), max_length=32, choices=ConsortiumKind.choices)
    lead = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="led_consortia",
                             verbose_name=_("lead organisation"))
    members = models.ManyToManyField(Organisation, through="ConsortiumMembership", related_name="consortia")

    class Meta:
        ordering = ["code"]
        verbose_name = _("consortium")
        verbose_name_plural = _("consortia")

    def __str__(self) -> str:
        return self.name


class ConsortiumMembership(Entity):
    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="memberships",
                                   db_index=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    joined_on = models.DateField(_("joined on"), null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consortium", "organisation"], name="membership_unique")]


class Practitioner(Entity):
    name = models.CharField(_("name"), max_length=100)
    gender = models.CharField(_("sex"), max_length=8, choices=[("male", _("male")), ("female", _("female"))],
                              blank=True)
    title = models.CharField(_("professional title"), max_length=32, choices=Title.choices)
    licence_number = models.CharField(_("practising licence number"), max_length=32, unique=True)
    years_independent = models.PositiveSmallIntegerField(_("years of independent practice"), default=0)
    phone = models.CharField(_("work phone"), max_length=32, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name", "licence_number"]
        verbose_name = _("practitioner")
        verbose_name_plural = _("practitioners")

    def __str__(self) -> str:
        return self.name


class PractitionerSpecialty(ChoiceLabels):
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="specialties",
                                     db_index=False)
    specialty = models.CharField(_("specialty"), max_length=32, choices=Specialty.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practitioner", "specialty"], name="pract_specialty_unique")]

    def __str__(self) -> str:
        return self.specialty


class PracticeSite(Entity):
    """Where a practitioner practises (多点执业: one practitioner, several organisations)."""

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="sites",
                                     db_index=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="practice_sites")
    department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="practice_sites")
    primary = models.BooleanField(_("primary site"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practitioner", "organisation"], name="site_unique")]
        verbose_name = _("practice site")
        verbose_name_plural = _("practice sites")


class Team(Entity):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=TeamKind.choices)
    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="teams")
    organisation = models.ForeignKey(Organisation, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="teams")
    specialty = models.CharField(_("specialty"), max_length=32, choices=Specialty.choices, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class TeamMember(Entity):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members", db_index=False)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="team_memberships")
    role = models.CharField(_("role"), max_length=16, choices=TeamRole.choices, default=TeamRole.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "practitioner"], name="team_member_unique")]


class Training(Entity):
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="trainings")
    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="trainings")
    course = models.CharField(_("course"), max_length=32, choices=CourseKind.choices)
    completed_on = models.DateField(_("completed on"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        ordering = ["-completed_on"]
        verbose_name = _("training")


class ExamResult(Entity):
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="exams")
    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="exams")
    course = models.CharField(_("course"), max_length=32, choices=CourseKind.choices)
    taken_on = models.DateField(_("taken on"))
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=1)
    pass_mark = models.DecimalField(_("pass mark"), max_digits=5, decimal_places=1, default=60)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        ordering = ["-taken_on"]
        verbose_name = _("exam result")

    @property
    def passed(self) -> bool:
        return self.score >= self.pass_mark


class Licence(Entity):
    """A practising licence (执业证书) held by a practitioner."""

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="licences")
    number = models.CharField(_("licence number"), max_length=32)
    scope = models.CharField(_("scope of practice"), max_length=100, blank=True)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    revoked_on = models.DateField(_("revoked on"), null=True, blank=True)

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("licence")


class CoordinatorAssignment(Entity):
    """Which consortium a coordinator account manages."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coordinates",
                             db_index=False)
    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="coordinators")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "consortium"], name="coordinator_unique")]


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class ImportJob(Entity):
    """One bulk import of practitioners (medunion.network.importer). The uploaded file is kept
    in ``content`` only until the job has run; ``report`` holds the result of every row."""

    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="import_jobs",
                                   verbose_name=_("consortium"), db_index=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("started by"))
    created_by_display = models.CharField(_("started by"), max_length=200, blank=True)
    surface = models.CharField(_("started from"), max_length=16, blank=True)
    filename = models.CharField(_("file name"), max_length=255)
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices,
                              default=ImportStatus.QUEUED, db_index=True)
    total = models.PositiveIntegerField(_("rows"), default=0)
    processed = models.PositiveIntegerField(_("rows checked"), default=0)
    report = models.JSONField(_("report"), default=list, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    content = models.BinaryField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["consortium", "created_at"])]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        return self.filename
