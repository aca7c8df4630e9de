"""Forms of the referral pages. They parse input; the referral actions check the rules and say
what is wrong in words a clinician can act on, so most fields are lenient here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from medunion.referrals.models import AdmitKind, Direction, GreenPlace, TaskKind, Urgency
from medunion.referrals.validation import PlanItem

from .consults_forms import (
    AnyChoiceField,
    NeededAnyChoiceField,
    NeededCharField,
    NeededMixin,
    StepForm,
    _text,
)
from .forms import BLANK, OnceField

PLAN_ROWS = 5


class NeededDateTimeField(NeededMixin, forms.DateTimeField):
    pass


def _plan_fields(form: forms.Form) -> None:
    """Five rows of a rehabilitation plan: what kind, in how many days, what to do."""
    for i in range(1, PLAN_ROWS + 1):
        form.fields[f"plan_kind_{i}"] = forms.ChoiceField(label=_("Kind"), choices=[*BLANK, *TaskKind.choices],
                                                          required=False)
        form.fields[f"plan_days_{i}"] = forms.IntegerField(
            label=_("In days"), required=False, min_value=0, max_value=365,
            widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "days"}))
        form.fields[f"plan_text_{i}"] = forms.CharField(label=_("What to do"), required=False, max_length=500)


def plan_rows(form: forms.Form) -> list[tuple[Any, Any, Any]]:
    return [(form[f"plan_kind_{i}"], form[f"plan_days_{i}"], form[f"plan_text_{i}"])
            for i in range(1, PLAN_ROWS + 1)]


def plan_items(data: dict[str, Any]) -> list[PlanItem]:
    """The filled rows of the plan (a row with nothing in it is skipped; a half-filled one is
    passed on, and the action says what is missing)."""
    items = []
    for i in range(1, PLAN_ROWS + 1):
        kind, days, what = data.get(f"plan_kind_{i}") or "", data.get(f"plan_days_{i}"), data.get(f"plan_text_{i}") or ""
        if kind or what or days is not None:
            items.append(PlanItem(kind=kind, description=what, due_in_days=days))
    return items


class ReferForm(forms.Form):
    once = OnceField()
    patient = forms.UUIDField(required=False, widget=forms.HiddenInput)
    consult = forms.UUIDField(required=False, widget=forms.HiddenInput)
    direction = forms.CharField(required=False, widget=forms.HiddenInput)
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.ROUTINE,
                                widget=forms.RadioSelect, required=False)
    destination = NeededAnyChoiceField(label=_("Refer to"))
    doctor = AnyChoiceField(label=_("Named doctor"), required=False)
    green_channel = forms.BooleanField(label=_("Use the green channel (a reserved place)"), required=False)
    green_place = forms.ChoiceField(label=_("Reserved place"), choices=GreenPlace.choices, initial=GreenPlace.BED,
                                    widget=forms.RadioSelect, required=False)
    reason = NeededCharField(label=_("Reason for the referral"), max_length=500, widget=_text(2))
    clinical_summary = NeededCharField(label=_("Clinical summary"), max_length=8000, widget=_text(5))
    requested_by = forms.DateField(label=_("To be seen by"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    discharge_summary = forms.CharField(label=_("Discharge summary"), required=False, max_length=8000,
                                        widget=_text(3))
    organisation = AnyChoiceField(label=_("Referring from"), required=False)

    def __init__(self, *args: Any, destinations: list[tuple[str, Any]] | None = None,
                 doctors: list[tuple[str, Any]] | None = None, organisations: list[tuple[str, str]] | None = None,
                 direction: str = Direction.UP, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["destination"].choices = BLANK + list(destinations or [])  # type: ignore[attr-defined]
        self.fields["doctor"].choices = BLANK + list(doctors or [])  # type: ignore[attr-defined]
        if organisations and len(organisations) > 1:
            self.fields["organisation"].choices = BLANK + list(organisations)  # type: ignore[attr-defined]
        else:
            del self.fields["organisation"]
        if direction == Direction.DOWN:
            _plan_fields(self)
            del self.fields["green_channel"], self.fields["green_place"]
        else:
            del self.fields["discharge_summary"]
            if direction != Direction.UP:
                del self.fields["green_channel"], self.fields["green_place"]

    def plan_rows(self) -> list[tuple[Any, Any, Any]]:
        return plan_rows(self) if "plan_kind_1" in self.fields else []


class AcceptForm(StepForm):
    admit_kind = forms.ChoiceField(label=_("Admission"), choices=AdmitKind.choices, initial=AdmitKind.APPOINTMENT,
                                   widget=forms.RadioSelect, required=False)
    appointment_at = NeededDateTimeField(label=_("Come on"),
                                         widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    location = NeededCharField(label=_("Where to go"), max_length=300,
                               widget=forms.TextInput(attrs={"placeholder": _("building, ward or room, bed")}))
    bring = forms.CharField(label=_("What to bring"), required=False, max_length=8000, widget=_text(2))
    note = forms.CharField(label=_("Note to the referring clinician"), required=False, max_length=8000,
                           widget=_text(2))


class RedirectForm(StepForm):
    destination = NeededAnyChoiceField(label=_("Send on to"))
    reason = NeededCharField(label=_("Reason"), max_length=1000, widget=_text(2))

    def __init__(self, *args: Any, destinations: list[tuple[str, Any]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["destination"].choices = BLANK + list(destinations or [])  # type: ignore[attr-defined]


class OutcomeForm(StepForm):
    summary = NeededCharField(label=_("Treatment summary"), max_length=8000, widget=_text(4))
    review_at = forms.DateTimeField(label=_("Review appointment"), required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    refer_down = forms.BooleanField(label=_("Send the patient back down for rehabilitation"), required=False)
    discharge_summary = forms.CharField(label=_("Discharge summary"), required=False, max_length=8000,
                                        widget=_text(3))

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _plan_fields(self)

    def plan_rows(self) -> list[tuple[Any, Any, Any]]:
        return plan_rows(self)


class TaskForm(forms.Form):
    once = OnceField()
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)
    result = NeededCharField(label=_("What you found"), max_length=8000, widget=_text(2))
    problem = forms.BooleanField(label=_("A problem: tell the hospital"), required=False)


class CheckinForm(forms.Form):
    code = forms.CharField(label=_("Code on the slip"), max_length=20,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                                         "placeholder": "XXXXX-XXXXX"}))


class CapacityForm(forms.Form):
    green_channel_beds = forms.IntegerField(label=_("Reserved beds"), min_value=0, max_value=100_000,
                                            widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    green_channel_slots = forms.IntegerField(label=_("Reserved slots per day"), min_value=0, max_value=100_000,
                                             widget=forms.NumberInput(attrs={"inputmode": "numeric"}))


class ClockForm(forms.Form):
    emergency_hours = forms.IntegerField(label=_("Emergency: answer within (hours)"))
    urgent_hours = forms.IntegerField(label=_("Urgent: answer within (hours)"))
    routine_hours = forms.IntegerField(label=_("Routine: answer within (hours)"))
    outcome_days = forms.IntegerField(label=_("Outcome expected within (days after arrival)"))
    close_after_days = forms.IntegerField(label=_("Close the loop automatically after (days)"))


class FiguresForm(forms.Form):
    by = forms.ChoiceField(label=_("Group by"), required=False, initial="month", choices=[
        ("month", _("month")), ("organisation", _("referring organisation")), ("consortium", _("consortium"))])
    consortium = AnyChoiceField(label=_("Consortium"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
