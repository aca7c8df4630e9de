"""The inbox: one's own notifications, newest first, unread ones highlighted; marking them read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from medunion.notifications.actions import mark_all_read, mark_read
from medunion.notifications.queries import inbox as inbox_rows

from .common import signed_in

PAGE = 50


def _before(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@signed_in
def inbox(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    unread_only = request.GET.get("show") == "unread"
    rows = inbox_rows(actor, unread_only=unread_only, limit=PAGE + 1, before=_before(request.GET.get("before", "")))
    older = rows[PAGE - 1].created_at.isoformat() if len(rows) > PAGE else ""
    return render(request, "web/inbox.html", {"rows": rows[:PAGE], "older": older, "unread_only": unread_only,
                                              "nav": "inbox"})


def _local(request: HttpRequest, url: str) -> bool:
    return bool(url) and url.startswith("/") and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure())


@signed_in
@require_POST
def read(request: HttpRequest, notification_id: Any) -> HttpResponse:
    """Mark one notification read (someone else's: 404); with ``open``, go where it points."""
    n = mark_read(acting=request.actor, notification_id=notification_id)  # type: ignore[attr-defined]
    if request.POST.get("open") and _local(request, n.url):
        return redirect(n.url)
    return redirect("web:inbox")


@signed_in
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    mark_all_read(acting=request.actor)  # type: ignore[attr-defined]
    return redirect("web:inbox")
