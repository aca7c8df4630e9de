"""Teleconsultation: a grassroots clinician's case, its two conversations, the structured answer,
the close-out rating, MDT participants and the consortium's response targets.

Every table holding patient data carries ``patient_id`` (DESIGN §4.9); a general question has
none. Messages and answers are never edited or deleted: a correction is a new row whose
``supersedes`` names the old one (DESIGN §4.5). Each consult keeps its own event counter
(``last_seq``): every message and answer takes the next number, which is what the live case page
asks for (``queries.changes_since``); it is per consult, not a global counter (DESIGN §7).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from medunion.core.models import Entity
from medunion.network.codes import Specialty

from .states import State


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("routine")
    URGENT = "urgent", _("urgent")
    EMERGENCY = "emergency", _("emergency")


class TargetKind(models.TextChoices):
    POOL = "pool", _("specialty pool of the consortium")
    TEAM = "team", _("team")
    PRACTITIONER = "practitioner", _("named specialist")


class Audience(models.TextChoices):
    """Who a message is for (DESIGN §4.3). A patient is shown ``PATIENT_AUDIENCES`` only."""

    CLINICIANS = "clinicians", _("clinicians only")
    PATIENT = "patient", _("patient and care team")


# The allowlists: what each kind of reader is shown. Nothing is selected by exclusion.
PATIENT_AUDIENCES: tuple[str, ...] = (Audience.PATIENT,)
CLINICIAN_AUDIENCES: tuple[str, ...] = (Audience.CLINICIANS, Audience.PATIENT)


class MessageKind(models.TextChoices):
    MESSAGE = "message", _("message")
    INFO_REQUEST = "info_request", _("request for information")
    INFO_REPLY = "info_reply", _("information provided")
    OPINION = "opinion", _("MDT opinion")
    SYSTEM = "system", _("case event")


class Recommendation(models.TextChoices):
    MANAGE_LOCALLY = "manage_locally", _("manage locally")
    EXAMINATIONS = "examinations", _("examinations to do")
    REFERRAL = "referral", _("referral")


class ParticipantRole(models.TextChoices):
    ASSIGNEE = "assignee", _("assigned specialist")
    MDT_MEMBER = "mdt_member", _("MDT member")


class EscalationLevel(models.IntegerChoices):
    NONE = 0, _("not escalated")
    TEAM_LEAD = 1, _("escalated to the team lead")
    COORDINATOR = 2, _("escalated to the coordinator")


class ConsultPolicy(Entity):
    """A consortium's response targets, in minutes per urgency. Without a row the defaults of
    ``targets.DEFAULT_MINUTES`` apply."""

    consortium = models.OneToOneField("network.Consortium", on_delete=models.CASCADE, related_name="consult_policy")
    emergency_minutes = models.PositiveIntegerField(_("emergency: answer within (minutes)"), default=30)
    urgent_minutes = models.PositiveIntegerField(_("urgent: answer within (minutes)"), default=240)
    routine_minutes = models.PositiveIntegerField(_("routine: answer within (minutes)"), default=2880)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("consultation response targets")
        verbose_name_plural = _("consultation response targets")


class Consult(Entity):
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="consults", verbose_name=_("patient"),
                                db_index=False)  # consult_patient_newest leads with it
    consortium = models.ForeignKey("network.Consortium", on_delete=models.PROTECT, related_name="consults",
                                   db_index=False)
    asker = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="consults_asked",
                              verbose_name=_("asked by"), db_index=False)
    asker_organisation = models.ForeignKey("network.Organisation", on_delete=models.PROTECT, related_name="+",
                                           verbose_name=_("from"))
    # The asker organisation's tier rank when the case was sent: eligible specialists practise
    # at a higher rank (network.codes.TIER_RANK). Kept on the row so the pool is one query.
    asker_tier_rank = models.PositiveSmallIntegerField(default=0)
    specialty = models.CharField(_("specialty"), max_length=32, choices=Specialty.choices)
    urgency = models.CharField(_("urgency"), max_length=16, choices=Urgency.choices, default=Urgency.ROUTINE)
    question = models.TextField(_("question"))
    history = models.TextField(_("history"), blank=True)
    medication = models.TextField(_("current medication"), blank=True)
    vitals = models.JSONField(_("vital signs"), default=dict, blank=True)

    target_kind = models.CharField(_("sent to"), max_length=16, choices=TargetKind.choices)
    target_practitioner = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                            related_name="consults_targeted", verbose_name=_("named specialist"),
                                            db_index=False)
    target_team = models.ForeignKey("network.Team", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="consults", verbose_name=_("team"))
    assignee = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="consults_assigned", verbose_name=_("specialist"),
                                 db_index=False)
    assigned_at = models.DateTimeField(null=True, blank=True)

    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.REQUESTED)
    version = models.PositiveIntegerField(default=0)  # bumped by every transition
    last_seq = models.PositiveIntegerField(default=0)  # the last message/answer number on this case

    # Response target: minutes allowed (from the consortium's policy when sent) and the moment it
    # falls due. Time on hold does not count: providing the information moves due_at forward.
    target_minutes = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(_("answer due by"))
    on_hold_since = models.DateTimeField(null=True, blank=True)
    asker_replied_at = models.DateTimeField(null=True, blank=True)  # the ball is back with the assignee
    escalation_level = models.PositiveSmallIntegerField(_("escalation"), choices=EscalationLevel.choices,
                                                        default=EscalationLevel.NONE)
    escalate_at = models.DateTimeField(null=True, blank=True)  # when the next level is due
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    close_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The pool: requested cases of a specialty in a consortium, oldest due first.
            models.Index(fields=["consortium", "specialty", "state", "due_at"], name="consult_pool"),
            models.Index(fields=["assignee", "state", "due_at"], name="consult_assignee"),
            # Partial: most cases go to a pool or a colleague, not a team. Over every row, SQLite's
            # statistics call the index useless (all NULL) and its planner scans the whole table for
            # a clinician's team clause (200,000 cases: 65 ms warm, seconds cold); the NULLs left out,
            # ``target_team_id IN (…)`` uses it (it implies NOT NULL).
            models.Index(fields=["target_team", "state", "due_at"], name="consult_team_open",
                         condition=Q(target_team__isnull=False)),
            models.Index(fields=["target_practitioner", "state"], name="consult_target"),
            models.Index(fields=["asker", "state", "created_at"], name="consult_asker"),
            # Covering the every-case list's care-team clause: the cases of a clinician's care-team
            # patients, newest first, without reading their rows.
            models.Index(fields=["patient", "created_at", "id"], name="consult_patient_newest"),
            models.Index(fields=["state", "escalate_at"], name="consult_escalation"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(target_kind="pool", target_team__isnull=True, target_practitioner__isnull=True)
                           | Q(target_kind="team", target_team__isnull=False, target_practitioner__isnull=True)
                           | Q(target_kind="practitioner", target_team__isnull=True,
                               target_practitioner__isnull=False)),
                name="consult_target_matches_kind"),
            models.CheckConstraint(condition=Q(state="requested") | Q(assignee__isnull=False)
                                   | Q(state="cancelled"),
                                   name="consult_worked_case_has_assignee"),
        ]
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")

    def __str__(self) -> str:
        return f"{self.get_specialty_display()} · {self.created_at:%Y-%m-%d}"


class ConsultDecline(Entity):
    """Who declined a case and why; the case does not come back to their pool queue."""

    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="declines")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    practitioner = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="+",
                                     db_index=False)
    reason = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["practitioner", "consult"])]


class ConsultParticipant(Entity):
    """Who worked on a case: each assignee in turn, and the members of an MDT consult."""

    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="participants")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    practitioner = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="consult_roles",
                                     db_index=False)
    role = models.CharField(_("role"), max_length=16, choices=ParticipantRole.choices)
    invited_by = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    invited_at = models.DateTimeField()
    opinion_given_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)  # an assignee who declined or handed over

    class Meta:
        ordering = ["invited_at"]
        constraints = [
            models.UniqueConstraint(fields=["consult", "practitioner", "role"], condition=Q(left_at__isnull=True),
                                    name="consult_participant_once"),
        ]
        indexes = [models.Index(fields=["practitioner", "role"])]


class ConsultMessage(Entity):
    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="messages", db_index=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    seq = models.PositiveIntegerField()
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=MessageKind.choices, default=MessageKind.MESSAGE)
    # For system messages: the event (states.Event, or "create", "escalate", "invite" …).
    event = models.CharField(max_length=32, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+")
    author_practitioner = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                            related_name="+")
    # Who wrote it, as they were at the time: the page shows these without joins, and they stay
    # true when people change title, specialty or organisation.
    author_name = models.CharField(max_length=200, blank=True)
    author_title = models.CharField(max_length=32, blank=True)
    author_specialty = models.CharField(max_length=32, blank=True)
    author_organisation = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    supersedes = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="superseded_by")

    class Meta:
        ordering = ["consult", "seq"]
        constraints = [models.UniqueConstraint(fields=["consult", "seq"], name="consult_message_seq_unique")]
        verbose_name = _("consultation message")
        verbose_name_plural = _("consultation messages")

    def __str__(self) -> str:
        return f"{self.consult_id} #{self.seq}"


class ConsultAttachment(Entity):
    """A stored file (with its checksum) attached to a case: to the request itself (``message``
    empty) or to a message. ``audience`` is the message's (the request's: clinicians)."""

    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(ConsultMessage, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="attachments")
    file = models.ForeignKey("files.StoredFile", on_delete=models.PROTECT, related_name="consult_attachments")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.CLINICIANS)

    class Meta:
        ordering = ["created_at"]


class ConsultAnswer(Entity):
    """The structured answer. Amendments are new versions; the latest version is the answer."""

    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="answers")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    seq = models.PositiveIntegerField()
    author = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=200, blank=True)
    author_title = models.CharField(max_length=32, blank=True)
    author_organisation = models.CharField(max_length=200, blank=True)
    assessment = models.TextField(_("assessment"))
    recommendation = models.CharField(_("recommendation"), max_length=16, choices=Recommendation.choices)
    plan = models.TextField(_("plan"), blank=True)
    examinations = models.JSONField(_("examinations"), default=list, blank=True)
    # A self-contained pre-fill for the referral workflow to act on.
    referral_specialty = models.CharField(_("refer to specialty"), max_length=32, choices=Specialty.choices,
                                          blank=True)
    referral_notes = models.TextField(_("referral notes"), blank=True)
    consensus = models.BooleanField(_("MDT consensus"), default=False)
    amendment_reason = models.TextField(blank=True)
    supersedes = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="superseded_by")

    class Meta:
        ordering = ["consult", "seq"]
        verbose_name = _("consultation answer")
        verbose_name_plural = _("consultation answers")


class ConsultRating(Entity):
    """The asker's close-out survey."""

    consult = models.OneToOneField(Consult, on_delete=models.CASCADE, related_name="rating")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    rated_by = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="+")
    useful = models.PositiveSmallIntegerField(_("how useful was the answer (1–5)"))
    avoided_referral = models.BooleanField(_("avoided a referral"), default=False)
    avoided_travel = models.BooleanField(_("spared the patient a journey"), default=False)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(useful__gte=1, useful__lte=5), name="rating_useful_1_5")]
