"""Reviewing break-the-glass accesses by the clinicians of my consortia."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from medunion.access.actions import pending_reviews, review_break_glass
from medunion.audit.actions import Entry, record_many
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import DomainError

from .common import review_page


class ReviewForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Review note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


def _render(request: HttpRequest, *, failed: Any = None, failed_form: forms.Form | None = None,
            status: int = 200) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    grants = pending_reviews(actor)
    # Patient names are patient data: showing them to the reviewer is recorded, one row per patient.
    record_many(actor, [Entry(action="access.break_glass.review_list", verb=Verb.READ,
                              object_type="access.breakglassgrant", object_id=str(g.pk), patient_id=g.patient_id,
                              purpose="audit") for g in grants])
    now = clock.now()
    rows = [{"grant": g, "active": g.expires_at > now,
             "form": failed_form if failed_form is not None and str(g.pk) == str(failed)
             else ReviewForm(auto_id=f"id_{g.pk}_%s")}
            for g in grants]
    return render(request, "web/coordinator/break_glass.html", {"rows": rows, "nav": "break_glass"}, status=status)


@review_page
def break_glass(request: HttpRequest) -> HttpResponse:
    return _render(request)


@review_page
@require_POST
def break_glass_review(request: HttpRequest, grant_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            review_break_glass(acting=actor, grant_id=grant_id, note=form.cleaned_data["note"].strip())
        except DomainError as exc:
            if exc.status == 404:
                raise
            # Reviewed by someone else meanwhile: the grant has left the list; say so there.
            messages.warning(request, str(exc.message))
        else:
            messages.success(request, _("Access reviewed."))
        return redirect("web:coord:break_glass")
    return _render(request, failed=grant_id, failed_form=form, status=422)
