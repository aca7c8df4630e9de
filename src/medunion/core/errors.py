"""Typed domain errors with stable codes (DESIGN §4.7).

Every surface maps a :class:`DomainError` once: problem+json on ``/api/v1``,
OperationOutcome on ``/fhir``, a readable page or form error in the UI.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "error"
    status = 400
    default_message: str | Promise = _("The request could not be completed.")

    def __init__(self, message: str | Promise | None = None, *, field: str | None = None, **details: Any):
        self.message = message if message is not None else self.default_message
        self.field = field
        self.details = details
        super().__init__(str(self.message))

    def as_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://medunion.invalid/problems/{self.code}",
            "title": str(self.message),
            "status": self.status,
            "code": self.code,
        }
        if self.field:
            body["field"] = self.field
        for key, value in self.details.items():
            body[key] = str(value) if isinstance(value, Promise) else value
        return body


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 422
    default_message = _("Some of the data is not valid.")

    def __init__(self, message: str | Promise | None = None, *, field: str | None = None,
                 errors: dict[str, list[str]] | None = None, **details: Any):
        super().__init__(message, field=field, **details)
        self.errors = errors or ({field: [str(self.message)]} if field else {})

    def __str__(self) -> str:
        if not self.errors:
            return str(self.message)
        return f"{self.message} " + "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in self.errors.items())

    def as_problem(self) -> dict[str, Any]:
        body = super().as_problem()
        if self.errors:
            body["errors"] = {k: [str(m) for m in v] for k, v in self.errors.items()}
        return body


class NotFound(DomainError):
    """Also what an actor gets for an object they may not see (DESIGN §4.2)."""

    code = "not_found"
    status = 404
    default_message = _("Not found.")


class PermissionDenied(DomainError):
    """For actions on objects the actor may see but may not change."""

    code = "forbidden"
    status = 403
    default_message = _("You are not allowed to do this.")


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401
    default_message = _("Please sign in.")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_message = _("This conflicts with the current state of the record.")


class Duplicate(Conflict):
    code = "duplicate"
    default_message = _("This record exists already.")


class Unavailable(DomainError):
    code = "unavailable"
    status = 503
    default_message = _("The service is temporarily unavailable; please try again.")


class DatabaseUnavailable(Unavailable):
    """The database could not be reached or dropped the connection (a restart, a broken network,
    a SQLite write lock held beyond the busy timeout). The transaction was rolled back by the
    database; the request may be sent again (with the same ``Idempotency-Key`` for a create)."""

    code = "database_unavailable"
    default_message = _("The database cannot be reached at the moment. Please try again in a few seconds.")


# Seconds a client should wait before sending a request that answered 503 again (Retry-After).
RETRY_AFTER_SECONDS = 5

# PostgreSQL error classes that mean the server (not the request) is the problem: connection
# exceptions, insufficient resources (too many connections), operator intervention (shutdown,
# terminated backend, the server starting up).
_PG_TRANSIENT = ("08", "53", "57P")
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def database_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """A :class:`DatabaseUnavailable` when ``exc`` (a Django database error) means the database
    is out of reach for the moment, else None (a programming error stays a 500)."""
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, InterfaceError):  # the connection is closed already
        return DatabaseUnavailable()
    if not isinstance(exc, OperationalError):
        return None
    cause = exc.__cause__
    sqlite_code = getattr(cause, "sqlite_errorcode", None)
    if sqlite_code is not None:  # sqlite3: only a lock held too long
        return DatabaseUnavailable() if (sqlite_code & 0xFF) in (_SQLITE_BUSY, _SQLITE_LOCKED) else None
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None or sqlstate.startswith(_PG_TRANSIENT):  # no SQLSTATE: the connection failed
        return DatabaseUnavailable()
    return None
