"""The steps taken on a case page: each form posts here, calls one consult action and goes back
to the case. A step the caller may not take is the error page (403, or 404 for a case they may
not see); a stale form or a step lost to someone quicker shows the case again with what happened
("This case was taken by Dr X at 10:42", 409); bad input shows the form with its errors (422).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from medunion.access.loaders import access_consult, parse_uuid
from medunion.consults import actions as ca
from medunion.consults.machine import case_url
from medunion.consults.models import Audience
from medunion.core.errors import Conflict, DomainError, NotFound

from . import steps
from .common import clinician_page, signed_in
from .consults_case import STEP_FORMS, case_context
from .consults_common import reraise_if_not_for_form, with_files
from .consults_forms import CorrectForm
from .once import run_once

Perform = Callable[[Any, dict[str, Any], list[Any]], Any]


def _back(request: HttpRequest, consult_id: Any, anchor: str = "") -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    url = f"/me/consults/{consult_id}" if actor.is_patient else case_url(consult_id)
    return redirect(url + (f"#{anchor}" if anchor else ""))


def show_again(request: HttpRequest, consult_id: Any, *, bound: dict[str, Any] | None = None, conflict: str = "",
               file_errors: dict[str, list[str]] | None = None, status: int = 422) -> HttpResponse:
    """The case page again, with the step's form and its errors, or what happened meanwhile."""
    actor = request.actor  # type: ignore[attr-defined]
    try:
        consult = access_consult(actor, consult_id)
    except NotFound:
        if not conflict:
            raise
        # Lost to someone quicker and no longer one's to see (a pool case taken by a colleague).
        return render(request, "web/consults/conflict.html", {"conflict": conflict, "nav": "consults"}, status=409)
    if actor.is_patient:
        from .consults_patient import patient_context

        return render(request, "web/consults/patient_case.html", {
            **patient_context(request, consult, bound=bound, conflict=conflict, file_errors=file_errors)},
            status=status)
    return render(request, "web/consults/case.html", case_context(
        request, consult, bound=bound, conflict=conflict, file_errors=file_errors), status=status)


def run_step(request: HttpRequest, consult_id: Any, key: str, perform: Perform, done: str, *,
             form: Any = None, files: bool = False, anchor: str = "") -> HttpResponse:
    """Parse the step's form, run the action once per form token, and answer (``web.steps``)."""
    cid = parse_uuid(consult_id)
    return steps.run_step(
        request, cid, scope="consults", key=key, form=form if form is not None else step_form(request, key),
        perform=perform, done=done, files=files, id_key="consult",
        show_again=lambda **kw: show_again(request, cid, **kw), back=lambda: _back(request, cid, anchor))


def step_form(request: HttpRequest, key: str) -> Any:
    return STEP_FORMS[key](request.POST, auto_id=f"id_{key}_%s")


def _files_then(actor: Any, action: Callable[..., Any], text_key: str, **fixed: Any) -> Perform:
    """A step with text and files: the files are stored for the case's patient first."""
    def perform(cid: Any, data: dict[str, Any], sent: list[Any]) -> Any:
        consult = access_consult(actor, cid, audit=False)
        return with_files(actor, sent, consult.patient_id, lambda stored: action(
            acting=actor, consult_id=cid, attachments=stored, **{text_key: data.get("body") or ""},
            **_versioned(action, data), **fixed))
    return perform


def _versioned(action: Callable[..., Any], data: dict[str, Any]) -> dict[str, Any]:
    if action in (ca.give_opinion, ca.post_message):
        return {}
    return {"expected_version": data.get("version")}


# --- the transitions --------------------------------------------------------------------------

@clinician_page
@require_POST
def claim(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "claim", lambda cid, d, _f: ca.claim_consult(
        acting=actor, consult_id=cid, expected_version=d.get("version")), _("You took the case."))


@clinician_page
@require_POST
def assign(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "assign", lambda cid, d, _f: ca.assign_consult(
        acting=actor, consult_id=cid, practitioner_id=d.get("practitioner"), reason=d.get("reason") or "",
        expected_version=d.get("version")), _("The case is assigned."))


@clinician_page
@require_POST
def decline(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "decline", lambda cid, d, _f: ca.decline_consult(
        acting=actor, consult_id=cid, reason=d.get("reason") or "", expected_version=d.get("version")),
        _("You declined the case; it waits for another specialist."))


@clinician_page
@require_POST
def hand_over(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "hand_over", lambda cid, d, _f: ca.hand_over_consult(
        acting=actor, consult_id=cid, practitioner_id=d.get("practitioner"), reason=d.get("reason") or "",
        expected_version=d.get("version")), _("The case is handed over."))


@clinician_page
@require_POST
def request_info(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "request_info", _files_then(actor, ca.request_info, "question"),
                    _("Your request is sent; the case waits for the asker."), files=True)


@clinician_page
@require_POST
def provide_info(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "provide_info", _files_then(actor, ca.provide_info, "body"),
                    _("The information is sent to the specialist."), files=True)


@clinician_page
@require_POST
def follow_up(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "follow_up", _files_then(actor, ca.follow_up_consult, "question"),
                    _("Your follow-up question is sent."), files=True)


def _answer_input(d: dict[str, Any], form: Any) -> ca.AnswerInput:
    return ca.AnswerInput(assessment=d.get("assessment") or "", recommendation=d.get("recommendation") or "",
                          plan=d.get("plan") or "", examinations=form.examination_list(),
                          referral_specialty=d.get("referral_specialty") or "",
                          referral_notes=d.get("referral_notes") or "", consensus=bool(d.get("consensus")))


@clinician_page
@require_POST
def answer(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = step_form(request, "answer")
    return run_step(request, consult_id, "answer", lambda cid, d, _f: ca.answer_consult(
        acting=actor, consult_id=cid, data=_answer_input(d, form), expected_version=d.get("version")),
        _("Your answer is sent to the asker."), form=form)


@clinician_page
@require_POST
def amend(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = step_form(request, "amend_answer")
    return run_step(request, consult_id, "amend_answer", lambda cid, d, _f: ca.amend_answer(
        acting=actor, consult_id=cid, data=_answer_input(d, form), reason=d.get("reason") or "",
        expected_version=d.get("version")), _("The answer is amended; the earlier version is kept."), form=form)


@clinician_page
@require_POST
def confirm(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "confirm", lambda cid, d, _f: ca.confirm_consult(
        acting=actor, consult_id=cid, rating=ca.RatingInput(
            useful=d.get("useful") or 0, avoided_referral=bool(d.get("avoided_referral")),
            avoided_travel=bool(d.get("avoided_travel")), comment=d.get("comment") or ""),
        expected_version=d.get("version")), _("Thank you: the case is closed."))


@clinician_page
@require_POST
def cancel(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "cancel", lambda cid, d, _f: ca.cancel_consult(
        acting=actor, consult_id=cid, reason=d.get("reason") or "", expected_version=d.get("version")),
        _("The case is cancelled."))


# --- the MDT and the conversations ------------------------------------------------------------

@clinician_page
@require_POST
def invite(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "invite", lambda cid, d, _f: ca.invite_to_consult(
        acting=actor, consult_id=cid, practitioner_ids=d.get("practitioners") or [], note=d.get("note") or ""),
        _("Your colleagues are invited to give their opinion."), anchor="mdt")


@clinician_page
@require_POST
def opinion(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, consult_id, "opinion", _files_then(actor, ca.give_opinion, "body"),
                    _("Your opinion is recorded."), files=True, anchor="mdt")


@signed_in
@require_POST
def message(request: HttpRequest, consult_id: Any) -> HttpResponse:
    """Write in a conversation. A patient writes in theirs, whatever the form says."""
    actor = request.actor  # type: ignore[attr-defined]
    if not (actor.is_practitioner or actor.is_patient):
        raise NotFound()
    audience = Audience.PATIENT if actor.is_patient else (request.POST.get("audience") or Audience.CLINICIANS)
    key = "patient_message" if audience == Audience.PATIENT else "clinician_message"
    form = step_form(request, key)
    thread = "thread-patient" if audience == Audience.PATIENT else "thread-clinicians"
    return run_step(request, consult_id, key, _files_then(actor, ca.post_message, "body", audience=audience),
                    _("Your message is sent."), form=form, files=True, anchor=thread)


@signed_in
@require_POST
def correct(request: HttpRequest, consult_id: Any, message_id: Any) -> HttpResponse:
    """The author corrects their message: a new version; the old one stays for clinicians."""
    actor = request.actor  # type: ignore[attr-defined]
    if not (actor.is_practitioner or actor.is_patient):
        raise NotFound()
    cid = parse_uuid(consult_id)
    form = CorrectForm(request.POST)
    if not form.is_valid():
        return show_again(request, cid)
    data = form.cleaned_data
    try:
        result, replayed = run_once(request, actor, "consults.correct", data.get("once") or "",
                                    {**data, "message": str(message_id)}, lambda: {
                                        "consult": str(ca.correct_message(acting=actor, message_id=message_id,
                                                                          body=data.get("body") or "").consult_id)})
    except Conflict as exc:
        return show_again(request, cid, conflict=str(exc.message), status=409)
    except DomainError as exc:
        reraise_if_not_for_form(exc)
        return show_again(request, cid, conflict=str(exc.message))
    if not replayed:
        messages.success(request, _("Your correction is saved; the earlier version is kept."))
    return _back(request, result["consult"])
