"""The one clock. Aware datetimes only; tests freeze it with :func:`frozen`."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.utils import timezone

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    if _frozen is not None:
        return _frozen
    return timezone.now()


def today() -> dt.date:
    return timezone.localdate(now())


@contextlib.contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    if timezone.is_naive(at):
        raise ValueError("the clock only takes aware datetimes")
    global _frozen
    previous, _frozen = _frozen, at
    try:
        yield
    finally:
        _frozen = previous


def advance(delta: dt.timedelta) -> None:
    global _frozen
    if _frozen is None:
        raise RuntimeError("advance() needs a frozen clock")
    _frozen = _frozen + delta


def in_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time from a request, with an offset, as UTC: the database stores no offset beyond ±15:59
    (PostgreSQL refuses ``-20:13``, which Python accepts). ValueError past the calendar's ends, so a
    schema's validator answers 422."""
    if value is None or timezone.is_naive(value):
        return value
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("time out of range") from exc
