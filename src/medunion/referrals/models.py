"""Tiered referral (分级诊疗): a patient sent up (to a higher tier), down (back to a township
health centre or village clinic for rehabilitation) or across, and the closed loop around it.

Every table carries ``patient_id`` (DESIGN §4.9). The timeline (``ReferralEntry``) is
append-only: state changes, interim notes, messages and the documents (referral letter, outcome,
discharge summary, rehabilitation plan) are rows with an audience, never edited (DESIGN §4.5).
Each referral keeps its own entry counter (``last_seq``), as consults do.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from medunion.consults.models import Audience, Urgency
from medunion.core.crypto import EncryptedTextField
from medunion.core.models import Entity

from .states import LIVE_STATES, State

__all__ = ["Audience", "Urgency", "Direction", "GreenPlace", "AdmitKind", "EntryKind", "Referral",
           "ReferralEntry", "ReferralAttachment", "TaskKind", "TaskState", "FollowUpTask", "ReferralPolicy"]


class Direction(models.TextChoices):
    UP = "up", _("up (to a higher tier)")
    DOWN = "down", _("down (for rehabilitation and follow-up)")
    ACROSS = "across", _("across (same tier)")


class GreenPlace(models.TextChoices):
    """The kind of reserved place a green-channel referral holds at the receiving department."""

    BED = "bed", _("bed")
    SLOT = "slot", _("appointment slot")


class AdmitKind(models.TextChoices):
    BED = "bed", _("admission to a bed")
    APPOINTMENT = "appointment", _("outpatient appointment")


class EntryKind(models.TextChoices):
    SYSTEM = "system", _("referral event")
    MESSAGE = "message", _("message")
    INTERIM_NOTE = "interim_note", _("interim note")
    # Documents (FHIR DocumentReference).
    REFERRAL_LETTER = "referral_letter", _("referral letter")
    OUTCOME = "outcome", _("treatment summary")
    DISCHARGE_SUMMARY = "discharge_summary", _("discharge summary")
    REHAB_PLAN = "rehab_plan", _("rehabilitation plan")


DOCUMENT_KINDS = (EntryKind.REFERRAL_LETTER, EntryKind.OUTCOME, EntryKind.DISCHARGE_SUMMARY,
                  EntryKind.REHAB_PLAN, EntryKind.INTERIM_NOTE)


class ReferralPolicy(Entity):
    """A consortium's referral clock. Without a row the defaults of ``policy.DEFAULTS`` apply."""

    consortium = models.OneToOneField("network.Consortium", on_delete=models.CASCADE, related_name="referral_policy")
    emergency_hours = models.PositiveIntegerField(_("emergency: answer within (hours)"), default=1)
    urgent_hours = models.PositiveIntegerField(_("urgent: answer within (hours)"), default=4)
    routine_hours = models.PositiveIntegerField(_("routine: answer within (hours)"), default=48)
    outcome_days = models.PositiveIntegerField(_("outcome expected within (days after arrival)"), default=30)
    close_after_days = models.PositiveIntegerField(_("close the loop automatically after (days)"), default=14)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("referral clock")
        verbose_name_plural = _("referral clocks")


class Referral(Entity):
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="referrals",
                                verbose_name=_("patient"), db_index=False)
    consortium = models.ForeignKey("network.Consortium", on_delete=models.PROTECT, related_name="referrals",
                                   db_index=False)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    urgency = models.CharField(_("urgency"), max_length=16, choices=Urgency.choices, default=Urgency.ROUTINE)
    sender = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, related_name="referrals_sent",
                               verbose_name=_("referred by"), db_index=False)
    sender_organisation = models.ForeignKey("network.Organisation", on_delete=models.PROTECT, related_name="+",
                                            verbose_name=_("from"))
    target_organisation = models.ForeignKey("network.Organisation", on_delete=models.PROTECT,
                                            related_name="referrals_received", verbose_name=_("to"),
                                            db_index=False)
    target_department = models.ForeignKey("network.Department", on_delete=models.PROTECT, null=True, blank=True,
                                          related_name="referrals", verbose_name=_("department"))
    target_practitioner = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                            related_name="referrals_targeted", verbose_name=_("named doctor"))
    reason = models.CharField(_("reason"), max_length=500)
    clinical_summary = models.TextField(_("clinical summary"))
    requested_by = models.DateField(_("to be seen by"), null=True, blank=True)
    consult = models.ForeignKey("consults.Consult", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="referrals", verbose_name=_("consultation"))
    # A downward referral made when the outcome of an upward one went back: its parent.
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")

    # The green channel: the kind of reserved place asked for, and whether one is held now (at
    # ``target_department``). The place goes back when the referral is declined, redirected
    # away or cancelled, when a slot's patient arrives, or when a bed's patient is discharged.
    green_channel = models.BooleanField(_("green channel"), default=False)
    green_place = models.CharField(_("reserved place"), max_length=8, choices=GreenPlace.choices, blank=True)
    green_held = models.BooleanField(default=False)

    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.REQUESTED)
    version = models.PositiveIntegerField(default=0)
    last_seq = models.PositiveIntegerField(default=0)
    status_reason = models.TextField(_("reason for the state"), blank=True)
    redirect_count = models.PositiveSmallIntegerField(default=0)

    receiver = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="referrals_accepted", verbose_name=_("accepted by"),
                                 db_index=False)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    admit_kind = models.CharField(_("admission"), max_length=16, choices=AdmitKind.choices, blank=True)
    appointment_at = models.DateTimeField(_("appointment"), null=True, blank=True)
    location = models.CharField(_("where to go"), max_length=300, blank=True)
    bring = models.TextField(_("what to bring"), blank=True)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    outcome_at = models.DateTimeField(_("outcome returned at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_automatically = models.BooleanField(default=False)
    declined_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    # The clocks (policy.py): an unanswered referral escalates at ``escalate_at``; an arrived
    # patient's outcome is due by ``outcome_due_at`` (flagged once past it); a returned outcome
    # closes the loop at ``close_at``.
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalate_at = models.DateTimeField(null=True, blank=True)
    outcome_due_at = models.DateTimeField(null=True, blank=True)
    outcome_flagged_at = models.DateTimeField(null=True, blank=True)
    close_at = models.DateTimeField(null=True, blank=True)

    # A review appointment the receiving side set when returning the outcome: the loop closes
    # by itself ``close_after_days`` after the later of it and the outcome.
    review_at = models.DateTimeField(_("review appointment"), null=True, blank=True)

    # The slip's check-in code (issued on acceptance): encrypted, and as a keyed hash
    # (core.crypto.lookup_hash) for the desk that scans or types it.
    checkin_code = EncryptedTextField(blank=True, default="")
    checkin_hash = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["target_organisation", "state", "created_at"], name="referral_inbox"),
            models.Index(fields=["sender", "state", "created_at"], name="referral_sender"),
            models.Index(fields=["receiver", "state"], name="referral_receiver"),
            models.Index(fields=["patient", "created_at"], name="referral_patient"),
            models.Index(fields=["consortium", "created_at"], name="referral_consortium"),
            models.Index(fields=["state", "escalate_at"], name="referral_escalation"),
            models.Index(fields=["state", "outcome_due_at"], name="referral_outcome_due"),
            models.Index(fields=["state", "close_at"], name="referral_close"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["patient", "direction"], condition=Q(state__in=sorted(LIVE_STATES)),
                                    name="referral_one_live_per_patient_direction"),
            models.CheckConstraint(condition=Q(green_channel=False) | Q(green_place__in=["bed", "slot"]),
                                   name="referral_green_channel_has_place"),
            models.CheckConstraint(condition=Q(green_held=False) | Q(target_department__isnull=False),
                                   name="referral_green_place_at_a_department"),
            models.CheckConstraint(condition=Q(state__in=["requested", "declined", "cancelled"])
                                   | Q(receiver__isnull=False), name="referral_accepted_has_receiver"),
        ]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")

    def __str__(self) -> str:
        return f"{self.get_direction_display()} · {self.created_at:%Y-%m-%d}"


class ReferralEntry(Entity):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="entries", db_index=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveIntegerField()
    kind = models.CharField(_("kind"), max_length=20, choices=EntryKind.choices)
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    event = models.CharField(max_length=32, blank=True)  # states.Event, or "create", "escalate" …
    detail = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+")
    author_practitioner = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True,
                                            blank=True, related_name="+")
    author_name = models.CharField(max_length=200, blank=True)
    author_organisation = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["referral", "seq"]
        constraints = [models.UniqueConstraint(fields=["referral", "seq"], name="referral_entry_seq_unique")]
        indexes = [models.Index(fields=["referral", "kind"], name="referral_entry_kind")]
        verbose_name = _("referral entry")
        verbose_name_plural = _("referral entries")


class ReferralAttachment(Entity):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="attachments")
    entry = models.ForeignKey(ReferralEntry, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="attachments")
    file = models.ForeignKey("files.StoredFile", on_delete=models.PROTECT, related_name="referral_attachments")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.CLINICIANS)

    class Meta:
        ordering = ["created_at"]


class TaskKind(models.TextChoices):
    VISIT = "visit", _("home or clinic visit")
    CHECK = "check", _("check (vital signs, tests)")
    MEDICATION_REVIEW = "medication_review", _("medication review")
    OTHER = "other", _("other")


class TaskState(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    DONE = "done", _("done")
    PROBLEM = "problem", _("done: problem found, escalated")
    CANCELLED = "cancelled", _("cancelled")


class FollowUpTask(Entity):
    """A step of a downward referral's rehabilitation plan, for the grassroots clinician."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="tasks")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey("network.Organisation", on_delete=models.PROTECT, related_name="+",
                                     db_index=False)
    assignee = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="follow_up_tasks", verbose_name=_("assigned to"),
                                 db_index=False)
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("kind"), max_length=20, choices=TaskKind.choices)
    description = models.CharField(_("what to do"), max_length=500)
    due_on = models.DateField(_("due on"))
    state = models.CharField(_("state"), max_length=16, choices=TaskState.choices, default=TaskState.SCHEDULED)
    version = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey("network.Practitioner", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    result = models.TextField(_("result"), blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "position"]
        indexes = [
            models.Index(fields=["assignee", "state", "due_on"], name="followup_assignee"),
            models.Index(fields=["organisation", "state", "due_on"], name="followup_org"),
            models.Index(fields=["state", "due_on", "reminded_at"], name="followup_reminder"),
        ]
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
