"""Forms of the consultation pages. They parse input; the consult actions validate the rules
(and say what is wrong in words a clinician can act on), so most fields are optional here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from medunion.consults.models import Recommendation, TargetKind, Urgency
from medunion.consults.validation import VITALS
from medunion.network.codes import Specialty

from .forms import BLANK, OnceField

# What a phone's camera and file picker offer: photos, PDFs, DICOM files.
ACCEPT = "image/*,application/pdf,.dcm"
# The vital signs in the order a village doctor measures them, with the keyboard to open.
VITAL_INPUTS = (("systolic", "numeric"), ("diastolic", "numeric"), ("heart_rate", "numeric"),
                ("temperature", "decimal"), ("spo2", "numeric"), ("respiratory_rate", "numeric"),
                ("glucose", "decimal"), ("weight", "decimal"))
# Short labels for the compact inputs (the full ones, with units, are in VITALS).
VITAL_SHORT = {
    "systolic": _("Systolic"), "diastolic": _("Diastolic"), "heart_rate": _("Pulse"), "temperature": _("Temp. °C"),
    "spo2": _("SpO2 %"), "respiratory_rate": _("Resp. /min"), "glucose": _("Glucose mmol/L"), "weight": _("Weight kg"),
}
ASKABLE = [(k, v) for k, v in Specialty.choices if k != Specialty.GENERAL_PRACTICE]


class AnyChoiceField(forms.ChoiceField):
    """A choice offered from a list, checked by the action (which says what is wrong with it)."""

    def valid_value(self, value: Any) -> bool:
        return True


class AnyMultipleChoiceField(forms.MultipleChoiceField):
    def valid_value(self, value: Any) -> bool:
        return True


class NeededMixin:
    """A field the action requires: labelled as required (no "optional"), but an empty value is
    left for the action, which says what is missing in its own words."""

    empty_values: Any

    def validate(self, value: Any) -> None:
        if value in self.empty_values:
            return
        super().validate(value)  # type: ignore[misc]


class NeededCharField(NeededMixin, forms.CharField):
    pass


class NeededChoiceField(NeededMixin, forms.ChoiceField):
    pass


class NeededTypedChoiceField(NeededMixin, forms.TypedChoiceField):
    pass


class NeededAnyChoiceField(NeededMixin, AnyChoiceField):
    pass


def _text(rows: int, **attrs: Any) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, **attrs})


def vital_field(key: str) -> str:
    return f"v_{key}"


class AskForm(forms.Form):
    once = OnceField()
    patient = forms.UUIDField(required=False, widget=forms.HiddenInput)
    specialty = NeededChoiceField(label=_("Specialty"), choices=[*BLANK, *ASKABLE])
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.ROUTINE,
                                widget=forms.RadioSelect, required=False)
    question = NeededCharField(label=_("Your question"), max_length=4000,
                               widget=_text(3, placeholder=_("What do you need to know?")))
    history = forms.CharField(label=_("History"), required=False, max_length=8000, widget=_text(2))
    medication = forms.CharField(label=_("Current medication"), required=False, max_length=8000, widget=_text(2))
    target_kind = forms.ChoiceField(label=_("Send to"), choices=TargetKind.choices, initial=TargetKind.POOL,
                                    widget=forms.RadioSelect, required=False)
    target_team = AnyChoiceField(label=_("Team"), required=False)
    target_practitioner = AnyChoiceField(label=_("Specialist"), required=False)
    organisation = AnyChoiceField(label=_("Asking from"), required=False)
    consortium = AnyChoiceField(label=_("Consortium"), required=False)

    def __init__(self, *args: Any, teams: list[tuple[str, str]] | None = None,
                 specialists: list[tuple[str, str]] | None = None, organisations: list[tuple[str, str]] | None = None,
                 consortia: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for key, mode in VITAL_INPUTS:
            self.fields[vital_field(key)] = forms.CharField(
                label=VITAL_SHORT[key], required=False, max_length=10,
                widget=forms.TextInput(attrs={"inputmode": mode, "autocomplete": "off", "class": "vital",
                                              "title": str(VITALS[key][3])}))
        self.fields["target_team"].choices = BLANK + list(teams or [])  # type: ignore[attr-defined]
        self.fields["target_practitioner"].choices = BLANK + list(specialists or [])  # type: ignore[attr-defined]
        for name, choices in (("organisation", organisations), ("consortium", consortia)):
            if choices and len(choices) > 1:
                self.fields[name].choices = BLANK + list(choices)  # type: ignore[attr-defined]
            else:
                del self.fields[name]

    def vital_fields(self) -> list[Any]:
        return [self[vital_field(k)] for k, _mode in VITAL_INPUTS]

    def vitals(self) -> dict[str, str]:
        return {k: self.cleaned_data.get(vital_field(k), "").strip() for k, _mode in VITAL_INPUTS
                if self.cleaned_data.get(vital_field(k), "").strip()}


class FindPatientForm(forms.Form):
    find = forms.CharField(label=_("Find a patient"), max_length=100, required=False,
                           widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off",
                                                         "enterkeyhint": "search",
                                                         "placeholder": _("ID number, name or phone")}))


class QueueFilterForm(forms.Form):
    specialty = forms.ChoiceField(label=_("Specialty"), choices=[("", _("all specialties"))] + Specialty.choices,
                                  required=False)
    urgency = forms.ChoiceField(label=_("Urgency"), choices=[("", _("any urgency"))] + Urgency.choices,
                                required=False)
    state = forms.ChoiceField(label=_("State"), required=False)
    patient = forms.CharField(label=_("Patient"), max_length=100, required=False,
                              widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off",
                                                            "placeholder": _("name, ID number or phone")}))

    def __init__(self, *args: Any, **kwargs: Any):
        from medunion.consults.states import State

        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("any state"))] + State.choices  # type: ignore[attr-defined]


# --- on the case page --------------------------------------------------------------------------

class StepForm(forms.Form):
    """Every step on a case carries the version of the case the clinician saw (a stale form gets
    a clear 409) and a once token (a double tap does the step once)."""

    once = OnceField()
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)


class ReasonForm(StepForm):
    reason = NeededCharField(label=_("Reason"), max_length=1000, widget=_text(2))


class ColleagueForm(StepForm):
    practitioner = NeededAnyChoiceField(label=_("Colleague"))
    reason = forms.CharField(label=_("Note"), required=False, max_length=1000, widget=_text(2))

    def __init__(self, *args: Any, colleagues: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].choices = BLANK + list(colleagues or [])  # type: ignore[attr-defined]


class TextStepForm(StepForm):
    """Asking for information, giving it, a follow-up question: text and files."""

    body = NeededCharField(label=_("Text"), max_length=8000, widget=_text(3))


class AnswerForm(StepForm):
    assessment = NeededCharField(label=_("Assessment"), max_length=8000, widget=_text(4))
    recommendation = NeededChoiceField(label=_("Recommendation"), choices=Recommendation.choices,
                                       widget=forms.RadioSelect)
    plan = forms.CharField(label=_("Plan"), required=False, max_length=8000, widget=_text(3),
                           help_text=_("Required to manage the patient locally."))
    examinations = forms.CharField(label=_("Examinations"), required=False, max_length=4400, widget=_text(2),
                                   help_text=_("One per line."))
    referral_specialty = forms.ChoiceField(label=_("Refer to specialty"), choices=[*BLANK, *Specialty.choices],
                                           required=False)
    referral_notes = forms.CharField(label=_("Referral notes"), required=False, max_length=8000, widget=_text(2))
    consensus = forms.BooleanField(label=_("This answer records the MDT's consensus"), required=False)
    reason = forms.CharField(label=_("Why the answer is amended"), required=False, max_length=1000, widget=_text(2))

    def examination_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("examinations", "").splitlines() if line.strip()]


USEFUL = [("5", "5"), ("4", "4"), ("3", "3"), ("2", "2"), ("1", "1")]


class ConfirmForm(StepForm):
    useful = NeededTypedChoiceField(label=_("How useful was the answer? (5: very)"), choices=USEFUL, coerce=int,
                                    widget=forms.RadioSelect, empty_value=0)  # type: ignore[arg-type]
    avoided_referral = forms.BooleanField(label=_("It avoided a referral"), required=False)
    avoided_travel = forms.BooleanField(label=_("It spared the patient a journey"), required=False)
    comment = forms.CharField(label=_("Comment"), required=False, max_length=2000, widget=_text(2))


class InviteForm(StepForm):
    practitioners = AnyMultipleChoiceField(label=_("Colleagues"), required=False,
                                              widget=forms.SelectMultiple(attrs={"size": 6}))
    note = forms.CharField(label=_("Note to the colleagues"), required=False, max_length=1000, widget=_text(2))

    def __init__(self, *args: Any, colleagues: list[tuple[str, list[tuple[str, str]]]] | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["practitioners"].choices = list(colleagues or [])  # type: ignore[attr-defined]


class MessageForm(StepForm):
    body = NeededCharField(label=_("Message"), max_length=8000, widget=_text(2))
    audience = forms.CharField(widget=forms.HiddenInput, required=False, max_length=16)


class CorrectForm(forms.Form):
    once = OnceField()
    body = NeededCharField(label=_("Corrected text"), max_length=8000, widget=_text(3))


class TargetsForm(forms.Form):
    """A consortium's response targets, in minutes (the action checks the range and the order)."""

    emergency = forms.IntegerField(label=_("Emergency (minutes)"),
                                   widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    urgent = forms.IntegerField(label=_("Urgent (minutes)"),
                                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    routine = forms.IntegerField(label=_("Routine (minutes)"),
                                 widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
