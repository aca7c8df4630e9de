"""Forms of the remote-diagnosis pages (the requesting side). They parse input; the diagnosis
actions check the rules and say what is wrong in words a clinician can act on."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from medunion.consults.models import Urgency
from medunion.diagnostics.codes import BodySite, Modality

from .consults_forms import AnyChoiceField, NeededCharField, NeededChoiceField, StepForm, _text
from .forms import BLANK, OnceField


class ExaminationForm(forms.Form):
    once = OnceField()
    patient = forms.UUIDField(required=False, widget=forms.HiddenInput)
    modality = NeededChoiceField(label=_("Examination"), choices=Modality.choices, widget=forms.RadioSelect)
    body_site = NeededChoiceField(label=_("Body site"), choices=[*BLANK, *BodySite.choices])
    body_site_text = forms.CharField(label=_("Which body site"), required=False, max_length=100,
                                     widget=forms.TextInput(attrs={"autocomplete": "off"}),
                                     help_text=_("Needed when the body site is \"other\"."))
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.ROUTINE,
                                widget=forms.RadioSelect, required=False)
    question = NeededCharField(label=_("Clinical question"), max_length=4000, widget=_text(3, placeholder=_(
        "What should the reader answer? Symptoms, how long, what you suspect.")))
    organisation = AnyChoiceField(label=_("Requesting from"), required=False)
    consortium = AnyChoiceField(label=_("Read within"), required=False)
    # Set when the clinician, shown a recent signed report, says a new examination is needed.
    repeat = forms.BooleanField(required=False, widget=forms.HiddenInput)
    repeat_reason = forms.CharField(label=_("Why is a new examination needed?"), required=False, max_length=1000,
                                    widget=_text(2))

    def __init__(self, *args: Any, organisations: list[tuple[str, str]] | None = None,
                 consortia: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if organisations and len(organisations) > 1:
            self.fields["organisation"].choices = BLANK + list(organisations)  # type: ignore[attr-defined]
        else:
            del self.fields["organisation"]
        if consortia and len(consortia) > 1:
            self.fields["consortium"].choices = [  # type: ignore[attr-defined]
                ("", _("the usual hub (county medical community first)")), *consortia]
        else:
            del self.fields["consortium"]


class AcknowledgeForm(forms.Form):
    once = OnceField()


class UseReportForm(forms.Form):
    once = OnceField()
    organisation = forms.UUIDField(required=False, widget=forms.HiddenInput)


__all__ = ["AcknowledgeForm", "ExaminationForm", "StepForm", "UseReportForm"]
