"""The append-only, hash-chained audit log (DESIGN §4.4).

Rows are ordered by ``seq``; each row's ``hash`` is SHA-256 over its own canonical content
and the previous row's hash, so changing, inserting or deleting a row breaks the chain at
that point. Database triggers (migration 0002) refuse UPDATE and DELETE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from medunion.core import clock
from medunion.core.ids import uuid7
from medunion.core.models import ChoiceLabels


class Outcome(models.TextChoices):
    SUCCESS = "success", _("success")
    DENIED = "denied", _("denied")
    FAILURE = "failure", _("failure")


class Verb(models.TextChoices):
    CREATE = "create", _("create")
    READ = "read", _("read")
    UPDATE = "update", _("update")
    DELETE = "delete", _("delete")
    SEARCH = "search", _("search")
    EXECUTE = "execute", _("execute")
    LOGIN = "login", _("login")
    EXPORT = "export", _("export")


class AuditEvent(ChoiceLabels):
    seq = models.BigAutoField(primary_key=True)
    uid = models.UUIDField(default=uuid7, unique=True, editable=False)
    at = models.DateTimeField(default=clock.now, db_index=True)
    actor_id = models.UUIDField(null=True, blank=True)
    actor_display = models.CharField(max_length=200, blank=True)
    actor_role = models.CharField(max_length=32, blank=True)
    on_behalf_of = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64)
    verb = models.CharField(max_length=16, choices=Verb.choices)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.UUIDField(null=True, blank=True)
    purpose = models.CharField(max_length=32, blank=True)
    surface = models.CharField(max_length=16, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        # Every read of patient data inserts a row, and each index costs every insert: one index
        # for each way the events are looked up. A patient's or an actor's events are read newest
        # first, paged by ``seq`` (the patient's access log, the audit searches): their index by
        # ``seq`` serves the filter, the order and the page without a sort. Actions are matched
        # whole or by prefix ("patient."): on PostgreSQL the pattern operator class serves both,
        # where a plain index on the field would need a second one for the prefix.
        indexes = [models.Index(fields=["patient_id", "seq"], name="audit_patient_seq"),
                   models.Index(fields=["actor_id", "seq"], name="audit_actor_seq"),
                   models.Index(fields=["action"], name="audit_action", opclasses=["varchar_pattern_ops"])]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def canonical(self) -> dict[str, Any]:
        return {
            "uid": str(self.uid),
            "at": self.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor_id": str(self.actor_id) if self.actor_id else "",
            "actor_display": self.actor_display,
            "actor_role": self.actor_role,
            "on_behalf_of": self.on_behalf_of,
            "action": self.action,
            "verb": self.verb,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "patient_id": str(self.patient_id) if self.patient_id else "",
            "purpose": self.purpose,
            "surface": self.surface,
            "request_id": self.request_id,
            "outcome": self.outcome,
            "detail": self.detail,
        }

    def body(self) -> str:
        """The canonical content as the text the hash covers (with the previous row's hash)."""
        return json.dumps(self.canonical(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def compute_hash(self) -> str:
        return hashlib.sha256((self.prev_hash + "\n" + self.body()).encode()).hexdigest()


GENESIS = "0" * 64
