"""What every page shares: who may open it, form errors from domain errors, paging."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.forms import Form
from django.http import HttpRequest, QueryDict
from django.http.response import HttpResponseBase

from medunion.access.actor import Actor, actor_for
from medunion.core.errors import DomainError, NotFound, ValidationFailed

View = Callable[..., HttpResponseBase]


def guarded(allowed: Callable[[Actor], bool]) -> Callable[[View], View]:
    """Sign-in required; anyone the page is not for gets 404, exactly like a missing page.

    The actor is built afresh for every request, so role and team changes apply at once."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            actor = actor_for(request.user, "page")
            if not allowed(actor):
                raise NotFound()
            request.actor = actor  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


signed_in = guarded(lambda a: a.user_id is not None)
clinician_page = guarded(lambda a: a.is_practitioner)
patient_page = guarded(lambda a: a.is_patient)


def field_errors(exc: DomainError) -> dict[str, list[str]]:
    """A domain error's messages by field name (empty when it names no field)."""
    if isinstance(exc, ValidationFailed) and exc.errors:
        return {k: [str(m) for m in v] for k, v in exc.errors.items()}
    if exc.field:
        return {exc.field: [str(exc.message)]}
    return {}


def apply_error(form: Form, exc: DomainError) -> None:
    """Put a domain error on the form: on its field when the form has one, else on the form."""
    errors = field_errors(exc)
    if not errors:
        form.add_error(None, str(exc.message))
        return
    for field, messages in errors.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)


def paginate(request: HttpRequest, qs: Any, per_page: int | None = None) -> Page:
    paginator = Paginator(qs, per_page or settings.MEDUNION_PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


@dataclass(frozen=True)
class ListWindow:
    """Which rows a clinician's list page shows: page ``page`` (from 1) of ``size`` rows."""

    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def fetch_stop(self) -> int:
        """Where to stop fetching: one row past the page tells whether a next page follows."""
        return self.offset + self.size + 1


def list_window(request: HttpRequest) -> ListWindow:
    """The page of a clinician's list (queues, worklist, referrals, examinations) that ``?page=``
    asks for (the first when missing or nonsense), of ``MEDUNION_LIST_PAGE_SIZE`` rows."""
    raw = request.GET.get("page", "")
    page = int(raw) if raw.isdigit() and 0 < int(raw) < 10_000 else 1
    return ListWindow(page, settings.MEDUNION_LIST_PAGE_SIZE)


def query_without_page(params: QueryDict) -> str:
    """The current filters as a query string, for pagination links."""
    q = params.copy()
    q.pop("page", None)
    return q.urlencode()
