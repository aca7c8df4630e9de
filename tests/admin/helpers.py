"""Shared helpers of the back-office tests."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from medunion.audit.models import AuditEvent


def admin_url(model: str, view: str = "changelist", *args: Any) -> str:
    """``admin_url("network.organisation", "change", pk)`` → /admin/network/organisation/<pk>/change/"""
    app, name = model.split(".")
    return reverse(f"admin:{app}_{name}_{view}", args=args)


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def events_since(seq: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


def inline_management(prefix: str, total: int, initial: int) -> dict[str, str]:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    if value is None or value is False:
        return
    if value is True:
        data[key] = "on"
    elif isinstance(value, (list, tuple)):
        data[key] = [str(v) for v in value]
    else:
        data[key] = str(value)


def form_data(response: Any) -> dict[str, Any]:
    """What the browser would post back unchanged: the admin form's and every inline's values."""
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        if not field.disabled:
            _put(data, form.add_prefix(name), form[name].value())
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            _put(data, management.add_prefix(name), management[name].value())
        for f in formset.forms:
            for name, field in f.fields.items():
                if not field.disabled:
                    _put(data, f.add_prefix(name), f[name].value())
    return data
