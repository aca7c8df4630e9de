"""Reading the inbox: the actor's own notifications only."""

from __future__ import annotations

from typing import Any

from django.db import connection

from medunion.access.actor import Actor

from .models import Notification

# SQLite's planner knows only averages: where the accounts with unread notices hold many more than
# accounts hold notices on average (a busy specialist with thousands unread, many accounts that
# have read theirs) it read the account's every notice through the inbox index instead (6 ms a
# page on the province, 0.2 through this one). So it is named; PostgreSQL picks it by itself.
_UNREAD_ON_SQLITE = ('SELECT count(*) FROM "notifications_notification" INDEXED BY "notification_unread_case" '
                     'WHERE "user_id" = %s AND "read_at" IS NULL')


def unread_count(actor: Actor) -> int:
    """One cheap query (index notification_unread_case) for the navigation badge."""
    if actor.user_id is None:
        return 0
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute(_UNREAD_ON_SQLITE, [Notification._meta.get_field("user").get_db_prep_value(
                actor.user_id, connection)])
            return int(cur.fetchone()[0])
    return Notification.objects.filter(user_id=actor.user_id, read_at__isnull=True).count()


def inbox(actor: Actor, *, unread_only: bool = False, limit: int = 50, before: Any = None) -> list[Notification]:
    """Newest first; ``before`` (a created_at) pages backwards. One query."""
    if actor.user_id is None:
        return []
    rows = Notification.objects.filter(user_id=actor.user_id)
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    if before is not None:
        rows = rows.filter(created_at__lt=before)
    return list(rows.order_by("-created_at", "-id")[:max(1, min(limit, 200))])
