"""The one way a step form on a record page (a consultation, a referral) is run: parse the form,
run the action once per form token, and answer — the record again with what happened when the
step lost to someone quicker (409), the form with its errors when the input is wrong (422), 403
and 404 as themselves, or back to the record with a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse

from medunion.core.errors import Conflict, DomainError

from .consults_common import put_error, reraise_if_not_for_form, upload_names, uploads
from .once import run_once

# perform(record id, cleaned data, uploaded files) -> the object made or changed
Perform = Callable[[Any, dict[str, Any], list[Any]], Any]
# show_again(bound forms by key, conflict message, file errors by key, status) -> the record page
ShowAgain = Callable[..., HttpResponse]


def run_step(request: HttpRequest, record_id: Any, *, scope: str, key: str, form: Any, perform: Perform, done: str,
             show_again: ShowAgain, back: Callable[[], HttpResponse], files: bool = False,
             id_key: str = "record") -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    sent = uploads(request) if files else []
    if not form.is_valid():
        return show_again(bound={key: form})
    data = form.cleaned_data
    fingerprint = {**data, id_key: str(record_id), "files": upload_names(sent)}
    try:
        _result, replayed = run_once(request, actor, f"{scope}.{key}", data.get("once") or "", fingerprint,
                                     lambda: {"id": str(getattr(perform(record_id, data, sent), "pk", record_id))})
    except Conflict as exc:
        return show_again(conflict=str(exc.message), status=409)
    except DomainError as exc:
        reraise_if_not_for_form(exc)
        file_errors = put_error(form, exc)
        return show_again(bound={key: form}, file_errors={key: file_errors})
    if not replayed:
        messages.success(request, done)
    return back()
