"""What the consultation pages share: files sent with a form, errors put on forms, labels."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.forms import Form
from django.http import HttpRequest

from medunion.access.actor import Actor
from medunion.core import clock
from medunion.core.errors import DomainError, NotFound, ValidationFailed
from medunion.files.actions import store_upload
from medunion.network.codes import Specialty, Title

from .common import apply_error
from .consults_forms import vital_field

# The file inputs of every form that sends files: the camera and the general file picker.
FILE_INPUTS = ("photos", "files")
FILE_KEYS = ("attachments", "file")


def age(born: dt.date | None) -> int | None:
    if born is None:
        return None
    today = clock.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def uploads(request: HttpRequest) -> list[Any]:
    return [f for key in FILE_INPUTS for f in request.FILES.getlist(key)]


def upload_names(files: list[Any]) -> list[tuple[str, int]]:
    """What identifies the files of a submission (for the once token's fingerprint)."""
    return [(str(f.name), int(f.size or 0)) for f in files]


def store_files(actor: Actor, files: list[Any], patient_id: uuid.UUID | None) -> tuple[list[Any], list[str]]:
    """Check and store each file; returns the stored ones and one clear error per refused file
    ("ecg.jpg: The file is larger than …"). Call inside the transaction of the step: when the
    step fails, the stored rows go with it."""
    stored: list[Any] = []
    errors: list[str] = []
    for f in files:
        try:
            stored.append(store_upload(acting=actor, patient_id=patient_id, upload=f))
        except ValidationFailed as exc:
            messages = [str(m) for key in FILE_KEYS for m in exc.errors.get(key, [])] or [str(exc.message)]
            errors.extend(f"{f.name}: {m}" for m in messages)
    return stored, errors


def with_files(actor: Actor, files: list[Any], patient_id: uuid.UUID | None, step: Any) -> Any:
    """Store the files, then run ``step(stored)``; refused files and the step's own errors are
    reported together, and nothing is kept unless both succeed."""
    stored, file_errors = store_files(actor, files, patient_id)
    try:
        result = step(stored)
    except ValidationFailed as exc:
        if file_errors:
            errors = {k: list(v) for k, v in exc.errors.items()}
            errors.setdefault("attachments", []).extend(file_errors)
            raise ValidationFailed(exc.message, errors=errors) from exc
        raise
    if file_errors:
        raise ValidationFailed(errors={"attachments": file_errors})
    return result


def put_error(form: Form, exc: DomainError) -> list[str]:
    """Put a domain error on a consult form; returns the errors about files, which are shown
    next to the file inputs (a file input cannot keep its files)."""
    if not isinstance(exc, ValidationFailed) or not exc.errors:
        if exc.field in FILE_KEYS:
            return [str(exc.message)]
        apply_error(form, exc)
        return []
    file_errors: list[str] = []
    rest: dict[str, list[str]] = {}
    for key, messages in exc.errors.items():
        if key in FILE_KEYS:
            file_errors += [str(m) for m in messages]
            continue
        if key.startswith("vitals."):
            key = vital_field(key.split(".", 1)[1])
        elif key == "question" and "question" not in form.fields and "body" in form.fields:
            key = "body"
        elif key == "practitioners" and "practitioners" not in form.fields and "practitioner" in form.fields:
            key = "practitioner"
        if key in form.fields and form.fields[key].widget.is_hidden:
            key = "__all__"  # shown above the form: a hidden field shows no error of its own
        rest.setdefault(key, []).extend(str(m) for m in messages)
    if rest:
        apply_error(form, ValidationFailed(exc.message, errors=rest))
    return file_errors


def reraise_if_not_for_form(exc: DomainError) -> None:
    """403 and 404 are not form errors: not this person's to do, or nothing to see."""
    if exc.status in (403, 404) or isinstance(exc, NotFound):
        raise exc


def title_label(code: str) -> str:
    return str(Title(code).label) if code in Title.values else code


def specialty_label(code: str) -> str:
    return str(Specialty(code).label) if code in Specialty.values else code
