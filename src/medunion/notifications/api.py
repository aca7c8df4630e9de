"""``/api/v1/notifications``: the caller's own in-app inbox. Titles never name a patient (they
may travel by SMS), so reading the inbox is not a read of patient data; another account's
notification answers 404."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from pydantic import field_validator

from medunion.api import api_actor, problems
from medunion.core import clock

from . import actions, queries
from .models import Notification

router = Router(tags=["notifications"])
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class NotificationOut(Schema):
    id: uuid.UUID
    kind: str = Field(description="What happened, e.g. consult.new, consult.answered, consult.message.")
    title: str
    body: str
    url: str = Field(description="The page it is about (path on this server).")
    consult_id: uuid.UUID | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class InboxOut(Schema):
    items: list[NotificationOut]
    next_before: dt.datetime | None = Field(description="Pass as `before` for the next (older) page; null at the end.")


class CountOut(Schema):
    count: int


class MarkedOut(Schema):
    marked: int = Field(description="How many notifications were marked read.")


class InboxFilters(Schema):
    unread: bool = Field(False, description="Only unread notifications.")
    limit: int = Field(50, ge=1, le=200)
    before: dt.datetime | None = Field(None, description="`next_before` of the previous page (ISO 8601).")

    @field_validator("before", mode="before")
    @classmethod
    def _iso_only(cls, value: Any) -> Any:
        # pydantic would otherwise read a bare number as seconds since 1970.
        if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
            raise ValueError(_("Use an ISO 8601 time, e.g. 2026-11-24T08:00:00+08:00."))
        return value

    @field_validator("before", mode="after")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return clock.in_utc(value)

    def before_aware(self) -> dt.datetime | None:
        b = self.before
        return timezone.make_aware(b, timezone.get_current_timezone()) if b and timezone.is_naive(b) else b


def _out(n: Notification) -> dict[str, object]:
    return {"id": n.pk, "kind": n.kind, "title": n.title, "body": n.body, "url": n.url, "consult_id": n.consult_id,
            "created_at": n.created_at, "read_at": n.read_at}


@router.get("", response=InboxOut, summary="My notifications, newest first")
def inbox(request: HttpRequest, filters: Query[InboxFilters]):
    rows = queries.inbox(api_actor(request), unread_only=filters.unread, limit=filters.limit, before=filters.before_aware())
    return {"items": [_out(n) for n in rows],
            "next_before": rows[-1].created_at if len(rows) == filters.limit else None}


@router.get("/unread-count", response=CountOut, summary="How many of my notifications are unread (one cheap query)")
def unread_count(request: HttpRequest):
    return {"count": queries.unread_count(api_actor(request))}


class ReadAllFilter(Schema):
    consult: uuid.UUID | None = Field(None, description="Only the notifications about this case.")


@router.post("/read-all", response=MarkedOut, summary="Mark all my notifications read (or those about one case)")
def read_all(request: HttpRequest, filters: Query[ReadAllFilter]):
    return {"marked": actions.mark_all_read(acting=api_actor(request), consult_id=filters.consult)}


@router.post("/{notification_id}/read", response=NotificationOut, summary="Mark one of my notifications read",
             openapi_extra=problems(404))
def read(request: HttpRequest, notification_id: uuid.UUID):
    return _out(actions.mark_read(acting=api_actor(request), notification_id=notification_id))
