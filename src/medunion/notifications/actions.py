"""Making notifications and marking them read.

:func:`notify` writes the inbox rows in the caller's transaction and queues the senders with
``transaction.on_commit``: nothing leaves the platform unless the action's work is committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.functional import Promise

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.core import clock
from medunion.core.errors import NotFound

from .models import Notification
from .senders import deliver

Text = str | Promise


def _render(text: Text, params: dict[str, Any], language: str) -> str:
    with translation.override(language):
        rendered = {k: str(v) for k, v in params.items()}
        return str(text) % rendered if rendered else str(text)


def notify(users: Iterable[Any], *, kind: str, title: Text, body: Text = "", url: str = "",
           params: dict[str, Any] | None = None, consult: Any = None, obj: Any = None,
           patient_id: uuid.UUID | None = None, exclude: Iterable[Any] = ()) -> list[Notification]:
    """Notify accounts (User objects or ids; inactive ones and ``exclude`` are skipped).

    ``title`` (and ``body`` when translatable) are texts with ``%(name)s`` placeholders filled from
    ``params`` (whose values may be translatable too), rendered in each recipient's language; a
    plain-string ``body`` is someone's own words and is kept as written.
    They must not name the patient: titles may be sent by SMS."""
    from medunion.accounts.models import User

    skip = {getattr(u, "pk", u) for u in exclude}
    ids = [i for i in dict.fromkeys(getattr(u, "pk", u) for u in users) if i is not None and i not in skip]
    if not ids:
        return []
    recipients = User.objects.filter(pk__in=ids, is_active=True).only("pk", "language")
    params = params or {}
    object_type = obj._meta.label_lower if obj is not None else ""
    object_id = str(obj.pk) if obj is not None else ""
    # Rendered once per language, not per recipient: a new case is announced to up to 200
    # specialists, inside the create's transaction.
    texts: dict[str, tuple[str, str]] = {}
    rows = []
    for user in recipients:
        language = user.language or settings.LANGUAGE_CODE
        if language not in texts:
            # A translatable body is a template; a plain one is someone's own words (a note, a
            # reason), kept as written: a "%" in it is text, not a placeholder.
            texts[language] = (
                _render(title, params, language)[:200],
                (_render(body, params, language) if isinstance(body, Promise) else str(body)) if body else "")
        rendered_title, rendered_body = texts[language]
        rows.append(Notification(
            user_id=user.pk, kind=kind, title=rendered_title, body=rendered_body, url=url, consult=consult,
            object_type=object_type, object_id=object_id, patient_id=patient_id))
    Notification.objects.bulk_create(rows)
    created = [n.pk for n in rows]
    # The senders configured now, when the event happens (not when the transaction commits).
    paths = tuple(getattr(settings, "MEDUNION_NOTIFY_SENDERS", ()))
    transaction.on_commit(lambda: deliver(created, paths))
    return rows


def mark_read(*, acting: Actor, notification_id: Any) -> Notification:
    """Mark one of the actor's own notifications read (someone else's: 404)."""
    if acting.user_id is None:
        raise NotFound()
    n = Notification.objects.filter(pk=parse_uuid(notification_id), user_id=acting.user_id).first()
    if n is None:
        raise NotFound()
    if n.read_at is None:
        n.read_at = clock.now()
        Notification.objects.filter(pk=n.pk, read_at__isnull=True).update(read_at=n.read_at)
    return n


def mark_all_read(*, acting: Actor, consult_id: Any = None) -> int:
    """Mark all the actor's unread notifications read (or those about one consult).

    Asked first, written only if there are some: opening a case page calls this every time, and on
    SQLite an UPDATE takes the database's one write lock even when it changes no row, so a page
    view would have written twice (its audit row, then this)."""
    if acting.user_id is None:
        return 0
    rows = Notification.objects.filter(user_id=acting.user_id, read_at__isnull=True)
    if consult_id is not None:
        rows = rows.filter(consult_id=parse_uuid(consult_id))
    if not rows.exists():
        return 0
    return rows.update(read_at=clock.now())
