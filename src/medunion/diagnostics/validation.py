"""What callers hand to the diagnosis actions, and how it is checked: per-field errors collected
into one ``ValidationFailed`` before anything is written."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from medunion.consults.models import Urgency
from medunion.consults.validation import add, clean_choice, text
from medunion.core.errors import Conflict, ValidationFailed

from .codes import IMPRESSION_CODES, MEASUREMENTS, BodySite, Modality

QUESTION_MAX, SECTION_MAX, NOTE_MAX, REASON_MAX = 4000, 8000, 2000, 1000
MAX_CODES, MAX_MEASUREMENTS = 10, 20


class RecentReportExists(Conflict):
    """A signed report of the same modality and body site exists within the recognition window:
    the clinician is asked to use it, or to say why a new examination is needed."""

    code = "recent_report_exists"
    default_message = _("A signed report of this examination from the last %(days)d days exists. Use it, or "
                        "give the reason why a new examination is needed.")


@dataclass
class ExaminationInput:
    patient_id: uuid.UUID | str | None
    modality: str
    body_site: str
    question: str
    urgency: str = Urgency.ROUTINE
    body_site_text: str = ""
    organisation_id: uuid.UUID | str | None = None
    consortium_id: uuid.UUID | str | None = None
    # Given when the clinician was shown a recent report and still needs a new examination.
    repeat_reason: str = ""


@dataclass
class Measurement:
    code: str
    value: float | str


@dataclass
class ReportInput:
    findings: str = ""
    impression: str = ""
    recommendation: str = ""
    codes: list[str] = field(default_factory=list)
    measurements: list[Measurement | dict[str, Any]] = field(default_factory=list)
    critical: bool = False
    critical_note: str = ""
    second_read: bool = False


def clean_examination(data: ExaminationInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    out = {
        "modality": clean_choice(errors, "modality", data.modality, Modality.values,
                                 _("Choose a modality (CT, DR/X-ray, MR, ultrasound, ECG, pathology, endoscopy).")),
        "body_site": clean_choice(errors, "body_site", data.body_site, BodySite.values, _("Choose a body site.")),
        "urgency": clean_choice(errors, "urgency", data.urgency, Urgency.values, _("Choose an urgency.")),
        "question": text(errors, "question", data.question, QUESTION_MAX, required=True,
                         missing=_("Say what the reader should answer.")),
        "body_site_text": text(errors, "body_site_text", data.body_site_text, 100),
        "repeat_reason": text(errors, "repeat_reason", data.repeat_reason, REASON_MAX),
    }
    if out["body_site"] == BodySite.OTHER and not out["body_site_text"] and "body_site_text" not in errors:
        add(errors, "body_site_text", _("Say which body site."))
    if errors:
        raise ValidationFailed(errors=errors)
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip().replace(",", "."))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def clean_report(data: ReportInput, *, final: bool) -> dict[str, Any]:
    """The report's fields; ``final`` (signing) also requires findings and an impression."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {
        "findings": text(errors, "findings", data.findings, SECTION_MAX, required=final,
                         missing=_("Describe the findings before signing.")),
        "impression": text(errors, "impression", data.impression, SECTION_MAX, required=final,
                           missing=_("Give the impression before signing.")),
        "recommendation": text(errors, "recommendation", data.recommendation, SECTION_MAX),
        "critical_note": text(errors, "critical_note", data.critical_note, NOTE_MAX),
        "critical": bool(data.critical),
        "second_read_requested": bool(data.second_read),
    }
    codes = [str(c).strip() for c in (data.codes or []) if str(c).strip()]
    unknown = [c for c in codes if c not in IMPRESSION_CODES]
    if unknown:
        add(errors, "codes", _("Unknown diagnosis code: %(codes)s.") % {"codes": ", ".join(unknown[:5])})
    if len(codes) > MAX_CODES:
        add(errors, "codes", _("At most %(n)d codes.") % {"n": MAX_CODES})
    out["codes"] = [{"system": IMPRESSION_CODES[c].system, "code": c, "display": IMPRESSION_CODES[c].display}
                    for c in dict.fromkeys(codes) if c in IMPRESSION_CODES]
    measures: list[dict[str, Any]] = []
    for item in (data.measurements or [])[:MAX_MEASUREMENTS + 1]:
        code = str(getattr(item, "code", None) or (item.get("code") if isinstance(item, dict) else "") or "").strip()
        raw = getattr(item, "value", None) if not isinstance(item, dict) else item.get("value")
        if not code and raw in (None, ""):
            continue
        measure = MEASUREMENTS.get(code)
        value = _number(raw)
        if measure is None:
            add(errors, "measurements", _("Unknown measurement: %(code)s.") % {"code": code[:20]})
        elif value is None or not measure.low <= value <= measure.high:
            add(errors, "measurements", _("%(what)s must be a number from %(low)s to %(high)s.")
                % {"what": measure.label, "low": f"{measure.low:g}", "high": f"{measure.high:g}"})
        else:
            measures.append({"code": code, "display": measure.display, "value": value, "unit": measure.unit})
    if len(data.measurements or []) > MAX_MEASUREMENTS:
        add(errors, "measurements", _("At most %(n)d measurements.") % {"n": MAX_MEASUREMENTS})
    out["measurements"] = measures
    if out["critical"] and not out["critical_note"] and "critical_note" not in errors:
        add(errors, "critical_note", _("Say what the critical finding is."))
    if errors:
        raise ValidationFailed(errors=errors)
    return out
