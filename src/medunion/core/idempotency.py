"""Idempotent creates (DESIGN §4.10): a retry after a dropped connection never duplicates.

A client names each create with an ``Idempotency-Key`` (any printable ASCII, at most 255
characters, unique per account and endpoint). :func:`once` inserts the key's record and performs
the create in ONE transaction, so a crash leaves neither. A second request with the same key

- while the first is still running waits for it (the unique index on PostgreSQL, the
  ``BEGIN IMMEDIATE`` write lock on SQLite) and then replays its stored result;
- after it committed replays the stored result (``Idempotent-Replayed: true`` on the API);
- with a different request body is refused (``idempotency_key_reused``, 422).

A :class:`DomainError` raised by the create rolls everything back, the key included, so a
corrected retry under the same key works. Keys expire after ``MEDUNION_IDEMPOTENCY_HOURS``
(24 h); :func:`purge_expired` deletes them (the background worker's housekeeping), and an expired
key sent again is deleted and used afresh. Nothing else is deleted in the create's transaction: on
SQLite it holds the database's one write lock, and an account's other keys are not its business.

The stored result holds only what replaying needs — a status and identifiers — never patient
data: the API re-reads the created record (an audited read) to answer a replay.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from . import clock
from .batches import delete_in_batches
from .errors import DomainError, Unavailable, ValidationFailed
from .models import IdempotencyRecord

if TYPE_CHECKING:
    from medunion.access.actor import Actor

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x21-\x7e][\x20-\x7e]{0,254}$"
_KEY = re.compile(KEY_PATTERN)


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422
    default_message = _("This Idempotency-Key was used already for a different request. "
                        "Use a new key for a new request.")


def ttl() -> dt.timedelta:
    return dt.timedelta(hours=getattr(settings, "MEDUNION_IDEMPOTENCY_HOURS", 24))


def clean_key(key: str | None) -> str:
    """The key as given, or a field error: printable ASCII, 1–255 characters, no leading space."""
    if key is None or not _KEY.match(key):
        raise ValidationFailed(
            _("The Idempotency-Key must be 1 to 255 printable ASCII characters (a UUID is a good choice)."),
            field="idempotency_key")
    return key


def owner_of(actor: Actor) -> str:
    if actor.user_id is not None:
        return str(actor.user_id)
    if actor.system:
        return actor.username[:200]
    raise ValidationFailed(_("Sign in to use an Idempotency-Key."), field="idempotency_key")


def canonical(data: Any) -> Any:
    """``data`` as plain JSON (UUIDs, dates and decimals as strings), as it is stored."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def fingerprint_of(data: Any) -> str:
    """SHA-256 of the canonical JSON of the request (sorted keys, no whitespace)."""
    body = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def once(*, actor: Actor, scope: str, key: str, fingerprint: str,
         perform: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """Run ``perform`` at most once per (actor, scope, key); return (result, replayed).

    ``perform`` returns a JSON-able dict (the result to replay); it runs inside the transaction
    that also stores the key, and its writes commit together with it.
    """
    key = clean_key(key)
    owner = owner_of(actor)
    with transaction.atomic():
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    # A concurrent request holding this key makes the insert wait for its outcome.
                    record = IdempotencyRecord.objects.create(owner=owner, scope=scope, key=key,
                                                              fingerprint=fingerprint,
                                                              expires_at=clock.now() + ttl())
                break
            except IntegrityError:
                existing = IdempotencyRecord.objects.filter(owner=owner, scope=scope, key=key).first()
                if existing is None:  # the holder rolled back meanwhile: try again
                    continue
                if existing.expires_at <= clock.now():
                    existing.delete()
                    continue
                if existing.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(field="idempotency_key") from None
                return existing.result, True
        else:  # pragma: no cover - only under pathological contention
            raise Unavailable()
        result = canonical(perform())
        record.result = result
        record.save(update_fields=["result"])
    return result, False


def purge_expired() -> int:
    """Delete expired keys, a batch per transaction; returns how many. Safe to run at any time
    (``ops.housekeeping`` does, from the background worker)."""
    return delete_in_batches(IdempotencyRecord.objects.filter(expires_at__lte=clock.now()))


# --- Django Ninja handlers ---------------------------------------------------------------------

def run_once(request: HttpRequest, response: HttpResponse, *, actor: Actor, scope: str, payload: Any,
             perform: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """For an API create: honour the request's ``Idempotency-Key`` header, if any.

    ``payload`` is what identifies the request (the parsed body and the path's identifiers);
    ``response`` is Ninja's temporal response, which gets ``Idempotent-Replayed: true`` on a
    replay. Without the header the create simply runs.
    """
    key = request.headers.get(HEADER)
    if key is None:
        with transaction.atomic():
            return canonical(perform()), False
    result, replayed = once(actor=actor, scope=scope, key=key, fingerprint=fingerprint_of(payload),
                            perform=perform)
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return result, replayed


IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": "Makes this create safe to retry: the same key and body within 24 hours replay the "
                   "first result (with `Idempotent-Replayed: true`) instead of creating again.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
}
REPLAYED_RESPONSE_HEADER: dict[str, Any] = {
    REPLAYED_HEADER: {"description": "`true` when this answer replays an earlier request with the same key.",
                      "schema": {"type": "string", "enum": ["true"]}},
}
