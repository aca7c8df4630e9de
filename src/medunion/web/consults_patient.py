"""The patient's own consultations: their cases with where each stands, and the patient
conversation, where they may write. Nothing else of a case reaches these pages: the content
comes from ``consults.queries.case_view``, which selects what a patient sees by allowlist (the
patient audience), and the templates are given no clinical record at all — not the question,
not the answer, not a clinician's message or file.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from medunion.access.loaders import access_consult
from medunion.consults.queries import case_view, patient_consults
from medunion.consults.states import State
from medunion.notifications.actions import mark_all_read

from . import live as live_session
from .common import patient_page
from .consults_case import message_item
from .consults_forms import ACCEPT, MessageForm
from .forms import fresh_once


@patient_page
def my_consults(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return render(request, "web/consults/patient_list.html", {"cases": patient_consults(actor), "nav": "my_consults"})


@patient_page
def my_case(request: HttpRequest, consult_id: Any) -> HttpResponse:
    return patient_case(request, consult_id)


def patient_case(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    consult = access_consult(actor, consult_id)  # the one audit row of this page view
    live_session.grant(request, consult.pk)  # its poll may say "nothing new" cheaply
    mark_all_read(acting=actor, consult_id=consult.pk)
    return render(request, "web/consults/patient_case.html", patient_context(request, consult))


def patient_context(request: HttpRequest, consult: Any, *, bound: dict[str, Any] | None = None, conflict: str = "",
                    file_errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    view = case_view(actor, consult)
    if view.consult is not None:  # pragma: no cover - case_view gives a patient the summary only
        raise AssertionError("a patient must never be given the clinical record")
    form = None
    if "patient_message" in view.acts:
        form = (bound or {}).get("patient_message") or MessageForm(initial={"once": fresh_once(),
                                                                            "audience": "patient"})
    return {"s": view.summary, "thread": [message_item(actor, m) for m in view.messages], "form": form,
            "conflict": conflict, "file_errors": (file_errors or {}).get("patient_message", []), "accept": ACCEPT,
            "last_seq": view.last_seq, "live_every": live_session.POLL_SECONDS,
            "closed": view.summary.state in (State.COMPLETED, State.CANCELLED),
            "nav": "my_consults"}
