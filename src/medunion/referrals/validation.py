"""What callers hand to the referral actions, and how it is checked: per-field errors collected
into one :class:`ValidationFailed`, with messages a clinician can act on, before anything is
written."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from medunion.consults.validation import add, clean_choice, text
from medunion.core import clock
from medunion.core.errors import Conflict, ValidationFailed

from .models import AdmitKind, Direction, GreenPlace, TaskKind, Urgency

REASON_MAX, SUMMARY_MAX, NOTE_MAX, PLACE_MAX = 500, 8000, 8000, 300
MAX_PLAN_ITEMS = 20


class GreenChannelFull(Conflict):
    code = "green_channel_full"


@dataclass
class PlanItem:
    """One step of a rehabilitation plan: what, when (days after the patient is back, or a
    date), and its kind."""

    kind: str
    description: str
    due_in_days: int | None = None
    due_on: dt.date | str | None = None


@dataclass
class ReferralInput:
    """A new referral. ``organisation_id`` (where the sender practises) and ``consortium_id``
    may be left out when there is only one choice. A downward referral may carry a discharge
    summary and a rehabilitation plan (``plan``), which become follow-up tasks."""

    patient_id: uuid.UUID | str | None
    direction: str
    target_organisation_id: uuid.UUID | str | None
    reason: str
    clinical_summary: str
    urgency: str = Urgency.ROUTINE
    target_department_id: uuid.UUID | str | None = None
    target_practitioner_id: uuid.UUID | str | None = None
    requested_by: dt.date | str | None = None
    consult_id: uuid.UUID | str | None = None
    green_channel: bool = False
    green_place: str = ""
    organisation_id: uuid.UUID | str | None = None
    consortium_id: uuid.UUID | str | None = None
    discharge_summary: str = ""
    plan: list[PlanItem] = field(default_factory=list)


@dataclass
class AcceptInput:
    admit_kind: str
    appointment_at: dt.datetime | str | None
    location: str
    bring: str = ""
    note: str = ""


@dataclass
class OutcomeInput:
    """The treatment summary. With ``refer_down`` (or a plan), the patient goes back down to the
    referring organisation with a discharge summary and a rehabilitation plan."""

    summary: str
    review_at: dt.datetime | str | None = None
    refer_down: bool = False
    discharge_summary: str = ""
    plan: list[PlanItem] = field(default_factory=list)


def as_uuid(errors: dict[str, list[str]], key: str, value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        add(errors, key, _("Not a valid identifier."))
        return None


def as_date(errors: dict[str, list[str]], key: str, value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    parsed = parse_date(str(value)) if isinstance(value, str) else None
    if parsed is None:
        add(errors, key, _("Enter a date (YYYY-MM-DD)."))
    return parsed


def as_datetime(errors: dict[str, list[str]], key: str, value: Any) -> dt.datetime | None:
    from django.utils import timezone

    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        parsed: dt.datetime | None = value
    else:
        try:
            parsed = parse_datetime(str(value)) if isinstance(value, str) else None
        except ValueError:
            parsed = None
    if parsed is None:
        add(errors, key, _("Enter a date and time."))
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def clean_plan(errors: dict[str, list[str]], items: Any, *, key: str = "plan") -> list[dict[str, Any]]:
    """The rehabilitation plan as rows: kind, description, due date (from today)."""
    items = list(items or [])
    if len(items) > MAX_PLAN_ITEMS:
        add(errors, key, _("At most %(n)d steps in a plan.") % {"n": MAX_PLAN_ITEMS})
        return []
    today = clock.today()
    rows = []
    for i, item in enumerate(items, start=1):
        raw = item if isinstance(item, dict) else vars(item) if hasattr(item, "__dict__") else {}
        kind = raw.get("kind") or ""
        description = (raw.get("description") or "").strip() if isinstance(raw.get("description"), str) else ""
        problems: list[Any] = []
        if kind not in TaskKind.values:
            problems.append(_("choose what kind of step it is"))
        if not description or len(description) > REASON_MAX:
            problems.append(_("say what to do (at most %(n)d characters)") % {"n": REASON_MAX})
        days, on = raw.get("due_in_days"), raw.get("due_on")
        due: dt.date | None = None
        if on not in (None, ""):
            sub: dict[str, list[str]] = {}
            due = as_date(sub, key, on)
            if due is None or due < today:
                problems.append(_("give a due date from today on"))
        elif isinstance(days, int) and not isinstance(days, bool) and 0 <= days <= 365:
            due = today + dt.timedelta(days=days)
        else:
            problems.append(_("give a due date or a number of days from 0 to 365"))
        if problems:
            add(errors, key, _("Step %(i)d: %(problems)s.") % {"i": i, "problems": "; ".join(map(str, problems))})
        else:
            rows.append({"kind": kind, "description": description, "due_on": due, "position": i})
    return rows


def clean_referral(data: ReferralInput) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The referral's own fields; the places (organisations, department, doctor, patient,
    consult) are checked by the action, which knows the actor."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {
        "direction": clean_choice(errors, "direction", data.direction, Direction.values,
                                  _("Choose up, down or across.")),
        "urgency": clean_choice(errors, "urgency", data.urgency, Urgency.values, _("Choose an urgency.")),
        "reason": text(errors, "reason", data.reason, REASON_MAX, required=True,
                       missing=_("Give the reason for the referral.")),
        "clinical_summary": text(errors, "clinical_summary", data.clinical_summary, SUMMARY_MAX, required=True,
                                 missing=_("Write a clinical summary for the receiving doctor.")),
    }
    requested_by = as_date(errors, "requested_by", data.requested_by)
    if requested_by is not None and requested_by < clock.today():
        add(errors, "requested_by", _("The date to be seen by cannot be in the past."))
    fields["requested_by"] = requested_by
    green = bool(data.green_channel)
    fields["green_channel"] = green
    fields["green_place"] = ""
    if green:
        if fields["direction"] and fields["direction"] != Direction.UP:
            add(errors, "green_channel", _("The green channel is for upward referrals only."))
        if fields["urgency"] == Urgency.ROUTINE:
            add(errors, "green_channel", _("The green channel is for urgent and emergency referrals only."))
        fields["green_place"] = clean_choice(errors, "green_place", data.green_place or "", GreenPlace.values,
                                             _("Choose a reserved bed or appointment slot."))
    discharge = text(errors, "discharge_summary", data.discharge_summary, SUMMARY_MAX)
    plan = clean_plan(errors, data.plan)
    if (discharge or plan) and fields["direction"] and fields["direction"] != Direction.DOWN:
        add(errors, "plan", _("A discharge summary and a rehabilitation plan go with a downward referral."))
    fields["_discharge_summary"], fields["_plan"] = discharge, plan
    return fields, errors


def clean_accept(data: AcceptInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    kind = clean_choice(errors, "admit_kind", data.admit_kind, AdmitKind.values,
                        _("Choose admission to a bed or an outpatient appointment."))
    at = as_datetime(errors, "appointment_at", data.appointment_at)
    if at is None and "appointment_at" not in errors:
        add(errors, "appointment_at", _("Give the date and time the patient should come."))
    elif at is not None and at < clock.now() - dt.timedelta(hours=1):
        add(errors, "appointment_at", _("The appointment cannot be in the past."))
    location = text(errors, "location", data.location, PLACE_MAX, required=True,
                    missing=_("Say where the patient should go (building, ward or room, bed)."))
    bring = text(errors, "bring", data.bring, NOTE_MAX)
    note = text(errors, "note", data.note, NOTE_MAX)
    if errors:
        raise ValidationFailed(errors=errors)
    return {"admit_kind": kind, "appointment_at": at, "location": location, "bring": bring, "note": note}


def clean_outcome(data: OutcomeInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    summary = text(errors, "summary", data.summary, SUMMARY_MAX, required=True,
                   missing=_("Write the treatment summary for the referring clinician."))
    review = as_datetime(errors, "review_at", data.review_at)
    if review is not None and review < clock.now():
        add(errors, "review_at", _("The review appointment cannot be in the past."))
    discharge = text(errors, "discharge_summary", data.discharge_summary, SUMMARY_MAX)
    plan = clean_plan(errors, data.plan)
    down = bool(data.refer_down or plan)
    if down and not discharge:
        add(errors, "discharge_summary", _("Write a discharge summary for the clinician who takes the patient back."))
    if errors:
        raise ValidationFailed(errors=errors)
    return {"summary": summary, "review_at": review, "refer_down": down, "discharge_summary": discharge,
            "plan": plan}
