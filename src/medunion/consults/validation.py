"""What callers hand to the consult actions, and how it is checked.

Every check collects per-field errors and raises one :class:`ValidationFailed`, with messages a
clinician can act on, before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _

from medunion.core.errors import ValidationFailed
from medunion.network.codes import Specialty

from .models import Audience, Recommendation, TargetKind, Urgency

QUESTION_MAX, TEXT_MAX, MESSAGE_MAX, REASON_MAX = 4000, 8000, 8000, 1000
MAX_ATTACHMENTS = 10
MAX_EXAMINATIONS = 20

# Vital signs: key -> (low, high, decimals, label). Values outside are refused as implausible.
VITALS: dict[str, tuple[float, float, int, Any]] = {
    "systolic": (50, 300, 0, _("systolic blood pressure (mmHg)")),
    "diastolic": (20, 200, 0, _("diastolic blood pressure (mmHg)")),
    "heart_rate": (20, 300, 0, _("heart rate (per minute)")),
    "temperature": (30, 45, 1, _("temperature (°C)")),
    "spo2": (50, 100, 0, _("oxygen saturation SpO2 (%)")),
    "respiratory_rate": (4, 80, 0, _("respiratory rate (per minute)")),
    "glucose": (0.5, 50, 1, _("blood glucose (mmol/L)")),
    "weight": (0.3, 400, 1, _("weight (kg)")),
}


@dataclass
class ConsultInput:
    """A new case. ``target_kind`` is "pool", "team" (with ``target_team_id``) or
    "practitioner" (with ``target_practitioner_id``). ``organisation_id`` and ``consortium_id``
    may be left out when the asker practises at one organisation in one consortium."""

    specialty: str
    question: str
    urgency: str = Urgency.ROUTINE
    patient_id: uuid.UUID | str | None = None
    history: str = ""
    medication: str = ""
    vitals: dict[str, Any] = field(default_factory=dict)
    target_kind: str = TargetKind.POOL
    target_team_id: uuid.UUID | str | None = None
    target_practitioner_id: uuid.UUID | str | None = None
    organisation_id: uuid.UUID | str | None = None
    consortium_id: uuid.UUID | str | None = None


@dataclass
class AnswerInput:
    """A structured answer. ``plan`` is required to manage locally, ``examinations`` (at least
    one) for examinations, ``referral_specialty`` for a referral. ``consensus`` marks an MDT
    consensus, recorded by the assigned specialist."""

    assessment: str
    recommendation: str
    plan: str = ""
    examinations: Sequence[str] = ()
    referral_specialty: str = ""
    referral_notes: str = ""
    consensus: bool = False


@dataclass
class RatingInput:
    useful: int
    avoided_referral: bool = False
    avoided_travel: bool = False
    comment: str = ""


def add(errors: dict[str, list[str]], key: str, message: Any) -> None:
    errors.setdefault(key, []).append(str(message))


def text(errors: dict[str, list[str]], key: str, value: Any, limit: int, *, required: bool = False,
         missing: Any = None) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else None
    if value is None:
        add(errors, key, _("Enter text."))
        return ""
    if required and not value:
        add(errors, key, missing or _("This cannot be empty."))
    elif len(value) > limit:
        add(errors, key, _("At most %(limit)d characters.") % {"limit": limit})
    return value


def clean_vitals(errors: dict[str, list[str]], raw: Any) -> dict[str, float | int]:
    """Known keys only, numbers within plausible ranges, systolic above diastolic; empty values
    are left out."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        add(errors, "vitals", _("Vital signs are a set of named values."))
        return {}
    out: dict[str, float | int] = {}
    for key, value in raw.items():
        if key not in VITALS:
            add(errors, f"vitals.{key}", _("Unknown vital sign."))
            continue
        if value in (None, ""):
            continue
        low, high, decimals, label = VITALS[key]
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            number = Decimal(str(value).strip())
            if not number.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            add(errors, f"vitals.{key}", _("Enter a number for %(label)s.") % {"label": label})
            continue
        if not low <= number <= high:
            add(errors, f"vitals.{key}", _("%(label)s must be between %(low)s and %(high)s.")
                % {"label": label, "low": low, "high": high})
            continue
        rounded = round(float(number), decimals)
        out[key] = int(rounded) if decimals == 0 else rounded
    if "systolic" in out and "diastolic" in out and out["systolic"] <= out["diastolic"]:
        add(errors, "vitals.diastolic", _("The diastolic pressure must be below the systolic."))
    return out


def clean_choice(errors: dict[str, list[str]], key: str, value: Any, choices: list[str], message: Any) -> str:
    if value not in choices:
        add(errors, key, message)
        return ""
    return str(value)


def clean_consult(data: ConsultInput) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The plain fields of a new case; the references (patient, target, organisation) are
    checked by the action, which knows the actor."""
    errors: dict[str, list[str]] = {}
    out = {
        "specialty": clean_choice(errors, "specialty", data.specialty, Specialty.values, _("Choose a specialty.")),
        "urgency": clean_choice(errors, "urgency", data.urgency, Urgency.values,
                                _("Choose routine, urgent or emergency.")),
        "question": text(errors, "question", data.question, QUESTION_MAX, required=True,
                         missing=_("Write your question.")),
        "history": text(errors, "history", data.history, TEXT_MAX),
        "medication": text(errors, "medication", data.medication, TEXT_MAX),
        "vitals": clean_vitals(errors, data.vitals),
        "target_kind": clean_choice(errors, "target_kind", data.target_kind, TargetKind.values,
                                    _("Send the case to the specialty pool, a team or a named specialist.")),
    }
    return out, errors


def clean_answer(data: AnswerInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    rec = clean_choice(errors, "recommendation", data.recommendation, Recommendation.values,
                       _("Choose: manage locally, examinations or referral."))
    out: dict[str, Any] = {
        "assessment": text(errors, "assessment", data.assessment, TEXT_MAX, required=True,
                           missing=_("Write your assessment.")),
        "recommendation": rec,
        "plan": text(errors, "plan", data.plan, TEXT_MAX, required=rec == Recommendation.MANAGE_LOCALLY,
                     missing=_("Write the plan for managing the patient locally.")),
        "referral_notes": text(errors, "referral_notes", data.referral_notes, TEXT_MAX),
        "referral_specialty": "",
        "examinations": [],
        "consensus": bool(data.consensus),
    }
    exams = data.examinations or ()
    if isinstance(exams, str) or not all(isinstance(e, str) for e in exams):
        add(errors, "examinations", _("List the examinations, one per line."))
    else:
        cleaned = [e.strip() for e in exams if e.strip()]
        if len(cleaned) > MAX_EXAMINATIONS or any(len(e) > 200 for e in cleaned):
            add(errors, "examinations", _("At most %(n)d examinations of 200 characters each.")
                % {"n": MAX_EXAMINATIONS})
        out["examinations"] = cleaned
        if rec == Recommendation.EXAMINATIONS and not cleaned:
            add(errors, "examinations", _("Name the examinations to do."))
    if rec == Recommendation.REFERRAL:
        out["referral_specialty"] = clean_choice(errors, "referral_specialty", data.referral_specialty,
                                                 Specialty.values, _("Choose the specialty to refer to."))
    elif data.referral_specialty:
        add(errors, "referral_specialty", _("A specialty to refer to goes with a referral recommendation."))
    if errors:
        raise ValidationFailed(errors=errors)
    return out


def clean_rating(data: RatingInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    useful = data.useful
    if isinstance(useful, bool) or not isinstance(useful, int) or not 1 <= useful <= 5:
        add(errors, "useful", _("Rate the answer from 1 to 5."))
    comment = text(errors, "comment", data.comment, REASON_MAX * 2)
    if errors:
        raise ValidationFailed(errors=errors)
    return {"useful": useful, "avoided_referral": bool(data.avoided_referral),
            "avoided_travel": bool(data.avoided_travel), "comment": comment}


def clean_audience(value: Any) -> str:
    if value not in Audience.values:
        raise ValidationFailed(_("Choose who the message is for: clinicians only, or the patient and the "
                                 "care team."), field="audience")
    return str(value)


def clean_reason(value: Any, *, required: bool) -> str:
    errors: dict[str, list[str]] = {}
    reason = text(errors, "reason", value, REASON_MAX, required=required, missing=_("Give a reason."))
    if errors:
        raise ValidationFailed(errors=errors)
    return reason


def clean_body(value: Any, *, key: str = "body", missing: Any = None) -> str:
    errors: dict[str, list[str]] = {}
    body = text(errors, key, value, MESSAGE_MAX, required=True, missing=missing or _("Write a message."))
    if errors:
        raise ValidationFailed(errors=errors)
    return body
