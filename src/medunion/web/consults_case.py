"""The case page: header, question, attachments, the answer, the MDT, the two conversations and
the steps the caller may take now; the fragment it polls to stay live; the MDT view; files.

What a patient is shown is decided by ``consults.queries.case_view`` (an allowlist); patients get
their own template (``consults_patient``), never this one.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import access_consult
from medunion.access.policy import Action, can, visible_practitioners
from medunion.consults import routing
from medunion.consults.actions_messages import CORRECTABLE_KINDS
from medunion.consults.models import Audience, MessageKind, ParticipantRole, TargetKind
from medunion.consults.queries import (
    CaseView,
    ConsultSummary,
    case_view,
    poll,
    system_text,
    unchanged_since,
    visible_attachment,
)
from medunion.consults.validation import VITALS
from medunion.core.errors import NotFound, PermissionDenied
from medunion.files.http import file_response, preview_response
from medunion.network.codes import specialties_matching
from medunion.notifications.actions import mark_all_read

from . import live as live_session
from .common import clinician_page, signed_in
from .consults_common import age, specialty_label, title_label
from .consults_forms import (
    ACCEPT,
    AnswerForm,
    ColleagueForm,
    ConfirmForm,
    InviteForm,
    MessageForm,
    ReasonForm,
    StepForm,
    TextStepForm,
)
from .forms import fresh_once

# The steps on a case, in the order the page offers them, and the form each one takes.
STEP_FORMS: dict[str, Any] = {
    "claim": StepForm, "assign": ColleagueForm, "provide_info": TextStepForm, "confirm": ConfirmForm,
    "answer": AnswerForm, "request_info": TextStepForm, "follow_up": TextStepForm, "amend_answer": AnswerForm,
    "hand_over": ColleagueForm, "decline": ReasonForm, "cancel": ReasonForm,
    "invite": InviteForm, "opinion": TextStepForm,
    "clinician_message": MessageForm, "patient_message": MessageForm,
}
INVITE_CHOICES_MAX = 200  # colleagues listed at once for an MDT invitation; a search finds the others
MAX_CHOSEN = 20
# What each step is called on the page, and its button.
STEP_TEXT: dict[str, tuple[Any, Any]] = {
    "claim": (_("Claim this case"), _("Claim this case")),
    "assign": (_("Assign to a colleague"), _("Assign")),
    "provide_info": (_("Provide the information"), _("Send the information")),
    "confirm": (_("Confirm the outcome and rate the answer"), _("Confirm and close the case")),
    "answer": (_("Answer"), _("Send the answer")),
    "request_info": (_("Ask for more information"), _("Send the request")),
    "follow_up": (_("Ask a follow-up question"), _("Send the question")),
    "amend_answer": (_("Amend the answer"), _("Save the amended answer")),
    "hand_over": (_("Hand over to a colleague"), _("Hand over")),
    "decline": (_("Decline the case"), _("Decline")),
    "cancel": (_("Cancel the case"), _("Cancel the case")),
    "invite": (_("Invite colleagues to a multidisciplinary consult"), _("Invite")),
    "opinion": (_("Give your MDT opinion"), _("Send your opinion")),
}
TEXT_LABELS = {"request_info": _("What do you need?"), "provide_info": _("The information"),
               "follow_up": _("Your question"), "opinion": _("Your opinion")}
FILE_STEPS = frozenset({"provide_info", "request_info", "follow_up", "opinion"})
DANGER_STEPS = frozenset({"decline", "cancel"})
OPEN_STEPS = frozenset({"provide_info", "confirm"})  # what the asker is waited on for
# New messages of these kinds change nothing else on the case page (an invitation's or an
# opinion's does: the people; a transition's bumps the version).
PLAIN_KINDS = frozenset({MessageKind.MESSAGE, MessageKind.INFO_REQUEST, MessageKind.INFO_REPLY})


# --- what the templates show ------------------------------------------------------------------

def message_item(actor: Actor, m: Any) -> dict[str, Any]:
    """A message as shown: who wrote it (the snapshot: name, title, specialty, organisation),
    its text (case events in words), and whether the reader may correct it."""
    system = m.kind == MessageKind.SYSTEM
    superseded = bool(getattr(m, "is_superseded", False))
    return {
        "m": m, "system": system, "text": system_text(m) if system else m.body,
        "title": title_label(m.author_title), "specialty": specialty_label(m.author_specialty),
        "superseded": superseded, "correction": m.supersedes_id is not None,
        "correctable": (not superseded and m.kind in CORRECTABLE_KINDS and actor.user_id is not None
                        and m.author_id == actor.user_id),
        "files": list(m.attachments.all()),
    }


def _vitals(values: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(str(VITALS[k][3]), values[k]) for k in VITALS if k in (values or {})]


def _colleagues(actor: Actor, consult: Any) -> list[tuple[str, str]]:
    """Who a case may be handed or assigned to: the eligible specialists of its pool, and the
    members of its target team (the action checks again)."""
    ids = set(routing.eligible_for(consult).exclude(pk=consult.assignee_id).values_list("pk", flat=True)[:200])
    if consult.target_kind == TargetKind.TEAM and consult.target_team_id:
        ids |= set(visible_practitioners(actor).filter(team_memberships__team_id=consult.target_team_id, active=True)
                   .exclude(pk__in=[consult.asker_id, consult.assignee_id]).values_list("pk", flat=True))
    people = visible_practitioners(actor).filter(pk__in=ids).order_by("name").only("name", "title")
    return [(str(p.pk), f"{p.name} · {title_label(p.title)}") for p in people]


def _invitable(actor: Actor, view: CaseView, search: str = "", chosen: list[str] | None = None,
               ) -> tuple[list[tuple[str, list[tuple[str, str]]]], bool]:
    """Colleagues of the consortium who could give an opinion, grouped by specialty: the first
    ``INVITE_CHOICES_MAX`` whose name or specialty matches ``search`` (a specialty in either
    language or by its everyday name: ``specialties_matching``), after those already
    ``chosen`` (kept across searches); and whether more match than are shown."""
    consult = view.consult
    busy = {consult.asker_id, consult.assignee_id} | {  # type: ignore[union-attr]
        p.practitioner_id for p in view.participants if p.role == ParticipantRole.MDT_MEMBER and p.left_at is None}
    rows = visible_practitioners(actor).filter(
        active=True, sites__active=True, sites__organisation__active=True,
        sites__organisation__memberships__consortium_id=consult.consortium_id,  # type: ignore[union-attr]
    ).exclude(pk__in=[b for b in busy if b]).exclude(specialties__specialty="general_practice") \
        .exclude(specialties__isnull=True)
    picked = [p for p in (chosen or ()) if _is_uuid(p)][:MAX_CHOSEN]
    search = search.strip()[:50]
    found = rows.exclude(pk__in=picked)
    if search:
        found = found.filter(Q(name__icontains=search) | Q(specialties__specialty__in=specialties_matching(search)))
    columns = ("specialties__specialty", "pk", "name", "title")
    listed = list(found.values_list(*columns).distinct().order_by("specialties__specialty", "name")
                  [:INVITE_CHOICES_MAX + 1])
    more = len(listed) > INVITE_CHOICES_MAX
    kept = list(rows.filter(pk__in=picked).values_list(*columns).distinct().order_by("name")) if picked else []
    groups: dict[str, list[tuple[str, str]]] = {}
    if kept:
        groups[str(_("Chosen"))] = list({str(pk): f"{name} · {title_label(title)}"
                                         for _specialty, pk, name, title in kept}.items())
    for specialty, pk, name, title in listed[:INVITE_CHOICES_MAX]:
        groups.setdefault(specialty_label(specialty), []).append((str(pk), f"{name} · {title_label(title)}"))
    return list(groups.items()), more


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _answer_initial(answer: Any) -> dict[str, Any]:
    if answer is None:
        return {}
    return {"assessment": answer.assessment, "recommendation": answer.recommendation, "plan": answer.plan,
            "examinations": "\n".join(answer.examinations or []), "referral_specialty": answer.referral_specialty,
            "referral_notes": answer.referral_notes, "consensus": answer.consensus}


def step_forms(actor: Actor, view: CaseView, bound: dict[str, Any] | None = None) -> dict[str, Any]:
    """A form for each step the caller may take now (``CaseView.events`` and ``acts``)."""
    consult = view.consult
    assert consult is not None
    initial = {"version": view.summary.version}
    colleagues: list[tuple[str, str]] | None = None
    has_mdt = any(p.role == ParticipantRole.MDT_MEMBER and p.left_at is None for p in view.participants)
    forms: dict[str, Any] = {}
    for key in [*view.events, *view.acts]:
        if key not in STEP_FORMS:
            continue
        if bound and key in bound:
            forms[key] = bound[key]
            continue
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if key in ("assign", "hand_over"):
            colleagues = _colleagues(actor, consult) if colleagues is None else colleagues
            kwargs["colleagues"] = colleagues
        elif key == "invite":
            kwargs["colleagues"] = []  # loaded when the step is opened (``invitable``)
        elif key == "amend_answer":
            extra = _answer_initial(view.answer)
        elif key in ("clinician_message", "patient_message"):
            extra = {"audience": Audience.CLINICIANS if key == "clinician_message" else Audience.PATIENT}
        forms[key] = STEP_FORMS[key](initial={**initial, **extra, "once": fresh_once()}, auto_id=f"id_{key}_%s",
                                     **kwargs)
    for key, form in forms.items():
        if key in TEXT_LABELS:
            form.fields["body"].label = TEXT_LABELS[key]
    for key in ("answer", "amend_answer"):
        if key in forms and not has_mdt and not forms[key].is_bound:
            del forms[key].fields["consensus"]
        if key == "answer" and key in forms and not forms[key].is_bound:
            del forms[key].fields["reason"]
    return forms


def steps_of(forms: dict[str, Any], consult_id: Any, *, open_step: str = "",
             file_errors: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """The steps shown in the actions card (not the conversations' forms), in table order."""
    return [{"key": key, "label": STEP_TEXT[key][0], "submit": STEP_TEXT[key][1], "form": forms[key],
             "url": reverse(f"web:consult_{key}", args=[consult_id]), "files": key in FILE_STEPS,
             "danger": key in DANGER_STEPS, "open": key == open_step or key in OPEN_STEPS,
             "file_errors": (file_errors or {}).get(key, [])}
            for key in STEP_TEXT if key in forms]


def case_context(request: HttpRequest, consult: Any, *, bound: dict[str, Any] | None = None,
                 conflict: str = "", file_errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    view = case_view(actor, consult)
    items = [message_item(actor, m) for m in view.messages]
    patient = consult.patient
    open_step = next(iter(bound), "") if bound else ""
    forms = step_forms(actor, view, bound)
    return {
        "view": view, "s": view.summary, "consult": consult, "nav": "consults",
        "patient": patient, "patient_age": age(patient.birth_date) if patient else None,
        "patient_link": patient is not None and can(actor, Action.VIEW_PATIENT, patient),
        "asker_title": title_label(consult.asker.title), "vitals": _vitals(consult.vitals),
        "clinician_thread": [i for i in items if i["m"].audience == Audience.CLINICIANS],
        "patient_thread": [i for i in items if i["m"].audience == Audience.PATIENT],
        "opinions": [i for i in items if i["m"].kind == MessageKind.OPINION],
        "answer": view.answer, "earlier_answers": list(reversed(view.answers[:-1])),
        "mdt": [p for p in view.participants if p.role == ParticipantRole.MDT_MEMBER],
        "assignees": [p for p in view.participants if p.role == ParticipantRole.ASSIGNEE],
        "forms": forms, "steps": steps_of(forms, consult.pk, open_step=open_step, file_errors=file_errors),
        "open_step": open_step, "conflict": conflict,
        "file_errors": file_errors or {}, "accept": ACCEPT, "after": view.last_seq, "version": view.summary.version,
        "live_every": live_session.POLL_SECONDS,
        "running": view.summary.state in ("requested", "in_progress"),
    }


# --- pages ----------------------------------------------------------------------------------

@signed_in
def case(request: HttpRequest, consult_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if actor.is_patient:
        from .consults_patient import patient_case

        return patient_case(request, consult_id)
    if not actor.is_practitioner:
        raise NotFound()
    consult = access_consult(actor, consult_id)  # the one audit row of this page view
    live_session.grant(request, consult.pk)  # its poll may say "nothing new" cheaply
    mark_all_read(acting=actor, consult_id=consult.pk)  # opening the case reads its notices
    return render(request, "web/consults/case.html", case_context(request, consult))


@clinician_page
def mdt(request: HttpRequest, consult_id: Any) -> HttpResponse:
    """The multidisciplinary view: who is invited, their opinions, and for the assigned
    specialist the form that records the consensus (an answer marked as the MDT's)."""
    consult = access_consult(request.actor, consult_id)  # type: ignore[attr-defined]
    context = case_context(request, consult)
    if "answer" in context["forms"] and context["mdt"]:
        form = AnswerForm(initial={"version": context["version"], "once": fresh_once(), "consensus": True},
                          auto_id="id_consensus_%s")
        del form.fields["reason"]
        context["consensus"] = form
    return render(request, "web/consults/mdt.html", context)


@clinician_page
def invitable(request: HttpRequest, consult_id: Any) -> HttpResponse:
    """The colleagues the specialist may invite to an MDT, loaded when the invitation is opened
    and as they type a name or a specialty (the list over a whole consortium is the slowest part
    of the case page). No patient data: the case is loaded to check the step, not audited."""
    actor = request.actor  # type: ignore[attr-defined]
    consult = access_consult(actor, consult_id, audit=False)
    view = case_view(actor, consult)
    if "invite" not in view.acts:
        raise PermissionDenied(_("You may not invite colleagues to this case."))
    groups, more = _invitable(actor, view, request.GET.get("q", ""), request.GET.getlist("practitioners"))
    chosen = set(request.GET.getlist("practitioners"))
    return render(request, "web/consults/_invite_choices.html",
                  {"groups": groups, "more": more, "limit": INVITE_CHOICES_MAX, "chosen": chosen})


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


def live(request: HttpRequest, consult_id: Any) -> HttpResponseBase:
    """What the open case page polls every ``web.live.POLL_SECONDS``: 204 when nothing changed — for a
    case this session was shown, one indexed query and nothing written (``web.live``) — else the
    new messages to append and the parts to refresh, loaded through the policy and audited."""
    if not request.user.is_authenticated:
        return live_session.signed_out(request)
    live_session.passive(request)
    after, seen = max(0, _int(request.GET.get("after"), 0)), _int(request.GET.get("v"), -1)
    if live_session.granted(request, consult_id) and unchanged_since(consult_id, after, seen):
        return HttpResponse(status=204)
    return _live_changes(request, consult_id, after, seen)


@signed_in
def _live_changes(request: HttpRequest, consult_id: Any, after: int, seen: int) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if not (actor.is_practitioner or actor.is_patient):
        raise NotFound()
    changes = poll(actor, consult_id, after)  # 404 unless visible; audited when something new is shown
    live_session.grant(request, consult_id)
    if changes.empty and changes.version == seen:
        return HttpResponse(status=204)
    consult = access_consult(actor, consult_id, audit=False)
    if not changes.empty:
        mark_all_read(acting=actor, consult_id=consult.pk)
    new = [message_item(actor, m) for m in changes.messages]
    context = {"new_clinicians": [i for i in new if i["m"].audience == Audience.CLINICIANS],
               "new_patient": [i for i in new if i["m"].audience == Audience.PATIENT],
               "corrected": [i["m"].supersedes_id for i in new if i["m"].supersedes_id],
               "state_changed": changes.version != seen, "answers_changed": bool(changes.answers),
               "after": changes.last_seq, "version": changes.version, "live_every": live_session.POLL_SECONDS}
    if actor.is_patient:
        from .consults_patient import patient_context

        return render(request, "web/consults/_patient_live.html", {**patient_context(request, consult), **context})
    if changes.version == seen and not changes.answers and all(m.kind in PLAIN_KINDS for m in changes.messages):
        # Only messages (nothing of the state, the answer or the people changed): they are all
        # the fragment carries, without the rest of the case page.
        return render(request, "web/consults/_live.html",
                      {**context, "s": ConsultSummary.of(consult), "messages_only": True})
    return render(request, "web/consults/_live.html", {**case_context(request, consult), **context})


def _file(request: HttpRequest, consult_id: Any, file_id: Any, *, preview: bool) -> HttpResponseBase:
    stored = visible_attachment(request.actor, consult_id, file_id, preview=preview)  # type: ignore[attr-defined]
    return preview_response(stored) if preview else file_response(stored, as_attachment=True)


@signed_in
def attachment(request: HttpRequest, consult_id: Any, file_id: Any) -> HttpResponseBase:
    """A file of the case, if the caller may see the message (or the request) it belongs to."""
    return _file(request, consult_id, file_id, preview=False)


@signed_in
def attachment_preview(request: HttpRequest, consult_id: Any, file_id: Any) -> HttpResponseBase:
    return _file(request, consult_id, file_id, preview=True)
