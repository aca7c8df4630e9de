"""The patient's own referrals: where each stands, the appointment, where to go and what to bring,
the printable slip, and the patient conversation, where they may write. The content comes from
``referrals.queries.referral_view``, which selects what a patient sees by allowlist (the patient
audience); the templates are given no clinical record — not the clinical summary, not the
reason, not a clinician's note or file.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from medunion.referrals import queries as rq
from medunion.referrals.states import State

from .common import patient_page
from .consults_forms import ACCEPT, MessageForm
from .forms import fresh_once
from .referrals_common import entry_text, state_label


@patient_page
def my_referrals(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    rows = [{"r": r, "state_label": state_label(r.state)} for r in rq.patient_referrals(actor)]
    return render(request, "web/referrals/patient_list.html", {"rows": rows, "nav": "my_referrals"})


@patient_page
def my_referral(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    referral = rq.access_referral(actor, referral_id)
    return render(request, "web/referrals/patient_referral.html", patient_context(request, referral))


def patient_context(request: HttpRequest, referral: Any, *, bound: dict[str, Any] | None = None,
                    conflict: str = "") -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    view = rq.referral_view(actor, referral)
    if not view.is_patient or any(e.audience != "patient" for e in view.entries):  # pragma: no cover
        raise AssertionError("a patient must never be given the clinical record")
    form = None
    if "patient_message" in view.acts:
        form = (bound or {}).get("patient_message") or MessageForm(initial={"once": fresh_once(),
                                                                            "audience": "patient"})
    return {"r": referral, "state_label": state_label(referral.state), "form": form, "conflict": conflict,
            "thread": [{"e": e, "text": entry_text(e), "mine": e.author_id == actor.user_id} for e in view.entries],
            "tasks": view.tasks, "accept": ACCEPT, "nav": "my_referrals",
            "has_slip": referral.state in (State.ACCEPTED, State.ARRIVED) and bool(referral.checkin_code)}
