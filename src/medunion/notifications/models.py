"""In-app notifications (the inbox). SMS and e-mail are pluggable senders (``senders.py``).

Titles and bodies are rendered in the recipient's language when the notification is made and
never name a patient or hold an ID number: a title may travel by SMS. ``patient_id`` links the
notification to the patient's record for the audit trail and the inbox, and is never sent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from medunion.core.models import Entity


class Notification(Entity):
    # No index of its own: notification_inbox leads with the account, for the inbox, a cascade and
    # any look-up by account. A second, narrower index on the account alone let PostgreSQL's planner
    # count the badge through it and filter every notice the account has, read or not, when it
    # judged the unread index the larger (as it did with the aborted rows of a test run).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             db_index=False)
    kind = models.CharField(_("kind"), max_length=64)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(max_length=300, blank=True)
    consult = models.ForeignKey("consults.Consult", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.UUIDField(null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The unread ones only, by account and case: the badge counts an account's
            # (notifications.queries.unread_count), and a case page asks for its own
            # (notifications.actions.mark_all_read) on every view. With (user, read_at) SQLite's
            # planner took the inbox index for the case's and walked every notification of a busy
            # specialist's (3,000 on the province: 2.9 ms, now 0.1). read_at, always empty here,
            # is a column so that SQLite reads the count from the index alone (its planner does
            # not count a column the index's condition fixes): 1.2 -> 0.2 ms for 3,400 unread.
            models.Index(fields=["user", "consult", "read_at"], condition=models.Q(read_at__isnull=True),
                         name="notification_unread_case"),
            models.Index(fields=["user", "-created_at"], name="notification_inbox"),
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.title
