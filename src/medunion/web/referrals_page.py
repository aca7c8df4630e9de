"""The referral page (its timeline, the steps the caller may take now, the follow-up tasks), the
steps themselves (each form posts here, calls one referral action and goes back), the slip PDF
and the files. A step the caller may not take is the error page (403, 404); a stale form or a step
lost to someone quicker shows the page again with what happened (409); bad input the form with
its errors (422). Patients get their own template (``referrals_patient``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from medunion.access.loaders import parse_uuid
from medunion.files.http import file_response
from medunion.referrals import actions as ra
from medunion.referrals import queries as rq
from medunion.referrals.machine import referral_url
from medunion.referrals.models import Audience
from medunion.referrals.slip import render_slip, slip_name
from medunion.referrals.states import State

from . import steps
from .common import signed_in
from .consults_common import age, with_files
from .consults_forms import ACCEPT, MessageForm, ReasonForm, StepForm
from .forms import fresh_once
from .referrals_common import destination_choices, entry_text, split_destination, state_label
from .referrals_forms import AcceptForm, OutcomeForm, RedirectForm, plan_items

STEP_FORMS: dict[str, Any] = {
    "accept": AcceptForm, "decline": ReasonForm, "redirect": RedirectForm, "cancel": ReasonForm,
    "check_in": StepForm, "return_outcome": OutcomeForm, "complete": StepForm, "reopen": StepForm,
    "interim_note": MessageForm, "clinician_message": MessageForm, "patient_message": MessageForm,
}
STEP_TEXT: dict[str, tuple[Any, Any]] = {
    "accept": (gettext_lazy("Accept"), gettext_lazy("Accept the referral")),
    "decline": (pgettext_lazy("referral", "Decline"), pgettext_lazy("referral", "Decline")),
    "redirect": (gettext_lazy("Redirect to another department or organisation"), gettext_lazy("Redirect")),
    "cancel": (gettext_lazy("Cancel the referral"), gettext_lazy("Cancel the referral")),
    "check_in": (gettext_lazy("Check the patient in"), gettext_lazy("Check the patient in")),
    "return_outcome": (gettext_lazy("Return the outcome"), gettext_lazy("Send the outcome")),
    "complete": (gettext_lazy("Close the loop"), gettext_lazy("Close the loop")),
    "reopen": (gettext_lazy("Undo the automatic close"), gettext_lazy("Reopen")),
    "interim_note": (gettext_lazy("Interim note to the referring clinician"), gettext_lazy("Send the note")),
}
URL_OF = {"accept": "accept", "decline": "decline", "redirect": "redirect", "cancel": "cancel",
          "check_in": "check-in", "return_outcome": "outcome", "complete": "complete", "reopen": "reopen",
          "interim_note": "notes"}
BUTTON_STEPS = frozenset({"check_in", "complete", "reopen"})
DANGER_STEPS = frozenset({"decline", "cancel"})
FILE_STEPS = frozenset({"return_outcome", "interim_note"})


def _redirect_choices(referral: Any) -> list[tuple[str, Any]]:
    return destination_choices(rq.redirect_destinations(referral))


def step_forms(actor: Any, view: rq.ReferralView, bound: dict[str, Any] | None = None) -> dict[str, Any]:
    r = view.referral
    initial = {"version": r.version}
    out: dict[str, Any] = {}
    keys = list(view.events) + [a for a in view.acts]
    for key in keys:
        if bound and key in bound:
            out[key] = bound[key]
            continue
        kwargs: dict[str, Any] = {}
        if key == "redirect":
            kwargs["destinations"] = _redirect_choices(r)
        form_initial = {**initial, "once": fresh_once()}
        if key == "accept":
            form_initial["admit_kind"] = "bed" if r.green_place == "bed" else "appointment"
        if key == "patient_message":
            form_initial["audience"] = Audience.PATIENT
        if key == "clinician_message":
            form_initial["audience"] = Audience.CLINICIANS
        out[key] = STEP_FORMS[key](initial=form_initial, **kwargs)
    return out


def _steps(view: rq.ReferralView, forms: dict[str, Any], file_errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    r = view.referral
    steps = []
    for key in [*view.events, "interim_note"]:
        if key not in forms or key not in STEP_TEXT:
            continue
        label, submit = STEP_TEXT[key]
        steps.append({"key": key, "form": forms[key], "label": label, "submit": submit,
                      "url": f"{referral_url(r.pk)}/{URL_OF[key]}", "files": key in FILE_STEPS,
                      "danger": key in DANGER_STEPS, "button": key in BUTTON_STEPS,
                      "open": bool(forms[key].errors) or key in ("accept", "check_in") and len(view.events) <= 3,
                      "file_errors": file_errors.get(key, [])})
    return steps


def page_context(request: HttpRequest, referral: Any, *, bound: dict[str, Any] | None = None, conflict: str = "",
                 file_errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    view = rq.referral_view(actor, referral)
    forms = step_forms(actor, view, bound)
    items: list[dict[str, Any]] = [{"e": e, "text": entry_text(e), "files": list(e.attachments.all())}
                                   for e in view.entries]
    return {
        "r": referral, "view": view, "state_label": state_label(referral.state), "age": age(referral.patient.birth_date),
        "clinician_items": [i for i in items if i["e"].audience == Audience.CLINICIANS],
        "patient_items": [i for i in items if i["e"].audience == Audience.PATIENT],
        "steps": _steps(view, forms, file_errors or {}), "forms": forms, "conflict": conflict, "accept": ACCEPT,
        "overdue": rq.is_overdue(referral), "outcome_missing": rq.outcome_missing(referral),
        "has_slip": referral.state in (State.ACCEPTED, State.ARRIVED) and bool(referral.checkin_code),
        "nav": "referrals",
    }


@signed_in
def referral_page(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    referral = rq.access_referral(actor, referral_id)
    if actor.is_patient:
        return redirect("web:my_referral", referral_id=referral.pk)
    return render(request, "web/referrals/referral.html", page_context(request, referral))


def show_again(request: HttpRequest, referral_id: Any, *, bound: dict[str, Any] | None = None, conflict: str = "",
               file_errors: dict[str, list[str]] | None = None, status: int = 422) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    referral = rq.access_referral(actor, referral_id)
    if actor.is_patient:
        from .referrals_patient import patient_context

        return render(request, "web/referrals/patient_referral.html",
                      patient_context(request, referral, bound=bound, conflict=conflict), status=status)
    return render(request, "web/referrals/referral.html",
                  page_context(request, referral, bound=bound, conflict=conflict, file_errors=file_errors),
                  status=status)


Perform = Callable[[Any, dict[str, Any], list[Any]], Any]


def run_step(request: HttpRequest, referral_id: Any, key: str, perform: Perform, done: str, *,
             form: Any = None, files: bool = False) -> HttpResponse:
    """Parse the step's form, run the action once per form token, and answer (``web.steps``)."""
    actor = request.actor  # type: ignore[attr-defined]
    rid = parse_uuid(referral_id)
    back = (lambda: redirect("web:my_referral", referral_id=rid)) if actor.is_patient \
        else (lambda: redirect(referral_url(rid)))
    return steps.run_step(
        request, rid, scope="referrals", key=key, form=form if form is not None else STEP_FORMS[key](request.POST),
        perform=perform, done=done, files=files, id_key="referral",
        show_again=lambda **kw: show_again(request, rid, **kw), back=back)


def _files(actor: Any, sent: list[Any], patient_id: Any, step: Callable[[list[Any]], Any]) -> Any:
    return with_files(actor, sent, patient_id, step) if sent else step([])


def _patient_of(rid: Any) -> Any:
    from medunion.referrals.models import Referral

    return Referral.objects.filter(pk=rid).values_list("patient_id", flat=True).first()


@signed_in
@require_POST
def accept(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, referral_id, "accept", lambda rid, d, _f: ra.accept_referral(
        acting=actor, referral_id=rid, expected_version=d.get("version"), data=ra.AcceptInput(
            admit_kind=d.get("admit_kind") or "", appointment_at=d.get("appointment_at"),
            location=d.get("location") or "", bring=d.get("bring") or "", note=d.get("note") or "")),
        _("Referral accepted. The patient has been told when and where to come."))


@signed_in
@require_POST
def decline(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, referral_id, "decline", lambda rid, d, _f: ra.decline_referral(
        acting=actor, referral_id=rid, reason=d.get("reason") or "", expected_version=d.get("version")),
        _("Referral declined."))


@signed_in
@require_POST
def redirect_step(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]

    def perform(rid: Any, d: dict[str, Any], _f: list[Any]) -> Any:
        org, dept = split_destination(d.get("destination") or "")
        return ra.redirect_referral(acting=actor, referral_id=rid, organisation_id=org or None,
                                    department_id=dept or None, reason=d.get("reason") or "",
                                    expected_version=d.get("version"))
    form = RedirectForm(request.POST)
    return run_step(request, referral_id, "redirect", perform, _("Referral redirected."), form=form)


@signed_in
@require_POST
def cancel(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, referral_id, "cancel", lambda rid, d, _f: ra.cancel_referral(
        acting=actor, referral_id=rid, reason=d.get("reason") or "", expected_version=d.get("version")),
        _("Referral cancelled."))


@signed_in
@require_POST
def check_in_step(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, referral_id, "check_in", lambda rid, d, _f: ra.check_in(
        acting=actor, referral_id=rid, expected_version=d.get("version")), _("The patient is checked in."))


@signed_in
@require_POST
def outcome(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]

    def perform(rid: Any, d: dict[str, Any], sent: list[Any]) -> Any:
        data = ra.OutcomeInput(summary=d.get("summary") or "", review_at=d.get("review_at"),
                               refer_down=bool(d.get("refer_down")), discharge_summary=d.get("discharge_summary") or "",
                               plan=plan_items(d))
        return _files(actor, sent, _patient_of(rid), lambda stored: ra.return_outcome(
            acting=actor, referral_id=rid, data=data, attachments=stored, expected_version=d.get("version")))
    return run_step(request, referral_id, "return_outcome", perform,
                    _("Outcome returned to the referring clinician."), files=True)


@signed_in
@require_POST
def complete(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, referral_id, "complete", lambda rid, d, _f: ra.complete_referral(
        acting=actor, referral_id=rid, expected_version=d.get("version")), _("The loop is closed."))


@signed_in
@require_POST
def reopen(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, referral_id, "reopen", lambda rid, d, _f: ra.reopen_referral(
        acting=actor, referral_id=rid, expected_version=d.get("version")), _("The referral is open again."))


@signed_in
@require_POST
def note(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return run_step(request, referral_id, "interim_note", lambda rid, d, sent: _files(
        actor, sent, _patient_of(rid), lambda stored: ra.post_interim_note(
            acting=actor, referral_id=rid, body=d.get("body") or "", attachments=stored)),
        _("Note sent."), files=True)


@signed_in
@require_POST
def message(request: HttpRequest, referral_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    audience = Audience.PATIENT if actor.is_patient or request.POST.get("audience") == Audience.PATIENT \
        else Audience.CLINICIANS
    key = "patient_message" if audience == Audience.PATIENT else "clinician_message"
    return run_step(request, referral_id, key, lambda rid, d, sent: _files(
        actor, sent, _patient_of(rid), lambda stored: ra.post_message(
            acting=actor, referral_id=rid, audience=audience, body=d.get("body") or "", attachments=stored)),
        _("Message sent."), files=True)


# --- the slip and the files ---------------------------------------------------------------------

@signed_in
def slip(request: HttpRequest, referral_id: Any) -> HttpResponse:
    """The printable slip (PDF, in the reader's language) of an accepted referral: for the
    patient and the clinicians who see it; the read is audited."""
    actor = request.actor  # type: ignore[attr-defined]
    referral = rq.access_slip(actor, referral_id)
    from django.utils import translation

    pdf = render_slip(referral, base_url=request.build_absolute_uri("/"), language=translation.get_language())
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{slip_name(referral)}"'
    response["Cache-Control"] = "no-store"
    return response


@signed_in
def attachment(request: HttpRequest, referral_id: Any, file_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    stored = rq.visible_attachment(actor, referral_id, file_id)
    return file_response(stored, as_attachment=request.GET.get("download") == "1")  # type: ignore[return-value]


