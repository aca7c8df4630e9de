"""Pluggable senders: ``settings.MEDUNION_NOTIFY_SENDERS`` lists dotted paths of classes with
``send(notification, user)``. They run after the transaction that made the notification has
committed (a rolled-back action sends nothing); a sender that fails is logged and does not
disturb the request or the other senders.

What a sender may put on the wire: the title, the body and the link. These never name a patient
(``notifications.models``). A deployment adds its SMS gateway by subclassing :class:`SmsSender`
and implementing :meth:`SmsSender.deliver`.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from .models import Notification

log = logging.getLogger("medunion.notifications")


class Sender(Protocol):
    def send(self, notification: Notification, user: Any) -> None: ...


class ConsoleSender:
    """The default: one line per notification on standard output, for development and demos."""

    def send(self, notification: Notification, user: Any) -> None:
        title = " ".join(notification.title.split())
        sys.stdout.write(f"[notify] to={user.username} kind={notification.kind} {title} {notification.url}\n")
        sys.stdout.flush()


class EmailSender:
    """Sends through Django's e-mail backend (EMAIL_* settings) to accounts with an address; the
    optional setting MEDUNION_PUBLIC_URL (e.g. https://medunion.example) makes the link absolute."""

    def send(self, notification: Notification, user: Any) -> None:
        from django.core.mail import send_mail

        if not user.email:
            return
        base = getattr(settings, "MEDUNION_PUBLIC_URL", "").rstrip("/")
        link = f"\n\n{base}{notification.url}" if notification.url and base else ""
        send_mail(notification.title, f"{notification.body}{link}".strip() or notification.title,
                  None, [user.email])


class SmsSender:
    """Base for an SMS gateway: finds the clinician's work phone and calls :meth:`deliver` with
    the title only (short, no patient data)."""

    def send(self, notification: Notification, user: Any) -> None:
        phone = getattr(getattr(user, "practitioner", None), "phone", "")
        if phone:
            self.deliver(phone, notification.title)

    def deliver(self, phone: str, text: str) -> None:
        raise NotImplementedError("subclass SmsSender for your SMS gateway")


@functools.cache
def _load(paths: tuple[str, ...]) -> list[tuple[str, Sender]]:
    return [(path, import_string(path)()) for path in paths]


def configured_senders() -> list[tuple[str, Sender]]:
    return _load(tuple(getattr(settings, "MEDUNION_NOTIFY_SENDERS", ())))


def deliver(notification_ids: list[Any], paths: tuple[str, ...] | None = None) -> int:
    """Hand the notifications to every configured sender (or to those of ``paths``, the senders
    configured when they were made); returns how many sends succeeded."""
    try:
        senders = configured_senders() if paths is None else _load(paths)
    except Exception:  # noqa: BLE001 - a misconfigured sender must not break the request
        log.exception("notification senders could not be loaded")
        return 0
    if not senders or not notification_ids:
        return 0
    ok = 0
    rows = Notification.objects.filter(pk__in=notification_ids).select_related("user", "user__practitioner")
    for n in rows:
        for path, sender in senders:
            try:
                sender.send(n, n.user)
                ok += 1
            except Exception:  # noqa: BLE001 - logged; the other senders and the request go on
                log.exception("notification sender %s failed for notification %s", path, n.pk)
    return ok
