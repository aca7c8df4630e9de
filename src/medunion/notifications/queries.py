"""Reading the inbox: the actor's own notifications only."""

from __future__ import annotations

from typing import Any

from medunion.access.actor import Actor

from .models import Notification


def unread_count(actor: Actor) -> int:
    """One cheap query (index notification_unread_case) for the navigation badge."""
    if actor.user_id is None:
        return 0
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
