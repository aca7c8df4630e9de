"""Forms of the clinician and patient pages. They parse input; the actions validate the rules."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.forms.renderers import DjangoTemplates, Jinja2
from django.utils.translation import gettext_lazy as _

from medunion.patients.models import ConsentScope, Sex

BLANK = [("", "—")]

DJANGO_FORMS = "django/forms/"
ERROR_TEMPLATES = "django/forms/errors/"


class FormRenderer(Jinja2):
    """The form renderer (settings.FORM_RENDERER): Django's widget, label and error templates
    (``django/forms/…``) in their Jinja2 versions, which Django ships beside the others and which
    give the same HTML (fewer blank lines) faster. Widgets with their options and attributes were
    a fifth of a case page in Django's template language; the case page is ≈12 % faster with these,
    the pool's queue with its filters ≈20 % (benchmarks/README.md, "The limit"). Any other
    template a widget names (the admin's, a custom widget's under ``templates/``) is rendered in
    Django's template language, as Django's own renderer would. And an empty error list is not
    rendered: Django renders its template for every field shown, errors or not, and each of those
    templates renders nothing without errors."""

    def __init__(self) -> None:
        super().__init__()
        self.django = DjangoTemplates()

    def get_template(self, template_name: str) -> Any:
        if template_name.startswith(DJANGO_FORMS):
            return super().get_template(template_name)
        return self.django.get_template(template_name)

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        if template_name.startswith(ERROR_TEMPLATES) and not context.get("errors"):
            return ""
        return super().render(template_name, context, request=request)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class OnceField(forms.CharField):
    """A hidden token that makes a form's submission idempotent: a double tap or a resend after a
    dropped connection carries the same token and is answered with the first result."""

    def __init__(self, **kwargs: Any):
        super().__init__(widget=forms.HiddenInput, required=False, max_length=64, **kwargs)


def fresh_once() -> str:
    return uuid.uuid4().hex


class PatientForm(forms.Form):
    once = OnceField()
    name = forms.CharField(label=_("Name"), max_length=100,
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    id_number = forms.CharField(
        label=_("Resident ID number"), max_length=22, required=False,
        help_text=_("18 characters. Sex and date of birth are read from it."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                      "class": "code"}))
    sex = forms.ChoiceField(label=_("Sex"), required=False, choices=BLANK + list(Sex.choices),
                            help_text=_("Only without an ID number (a child, a foreigner)."))
    birth_date = forms.DateField(label=_("Date of birth"), required=False, widget=DateInput(),
                                 help_text=_("Only without an ID number."))
    phone = forms.CharField(label=_("Mobile phone"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}))
    region = forms.ChoiceField(label=_("Village or township of residence"), required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    organisation = forms.ChoiceField(label=_("Registered at"), required=False)

    def __init__(self, *args: Any, regions: list[Any] | None = None, organisations: list[Any] | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        regions = regions or []
        self.fields["region"].choices = BLANK + [(r.code, _region_label(r)) for r in regions]  # type: ignore[attr-defined]
        organisations = organisations or []
        if len(organisations) > 1:
            self.fields["organisation"].choices = [(str(o.pk), o.name) for o in organisations]  # type: ignore[attr-defined]
            self.fields["organisation"].required = True
        else:
            del self.fields["organisation"]

    def clean_id_number(self) -> str:
        return self.cleaned_data["id_number"].strip().replace(" ", "").upper()


def _region_label(region: Any) -> str:
    return f"{'　' if region.level >= 5 else ''}{region.name}"


class PatientEditForm(PatientForm):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields.pop("organisation", None)
        self.fields["id_number"].help_text = _("Leave empty to keep the number on record; enter one to link it.")


class SearchForm(forms.Form):
    q = forms.CharField(label=_("ID number, name, phone or check-in code"), max_length=100, required=False,
                        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "autofocus": True,
                                                      "enterkeyhint": "search"}))


class BreakGlassForm(forms.Form):
    once = OnceField()
    id_number = forms.CharField(widget=forms.HiddenInput, max_length=22)
    reason = forms.CharField(label=_("Clinical reason"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("Recorded and reviewed by your coordinator; the patient sees that their "
                                         "record was opened in an emergency."))


class ConsentForm(forms.Form):
    once = OnceField()
    scope = forms.ChoiceField(label=_("What is shared"), choices=ConsentScope.choices)
    permit = forms.TypedChoiceField(label=_("Decision"), coerce=lambda v: v == "1", initial="1",
                                    choices=[("1", _("agrees")), ("0", _("refuses"))])
    consortium = forms.ChoiceField(label=_("With consortium"), required=False)
    valid_until = forms.DateField(label=_("Until"), required=False, widget=DateInput())

    def __init__(self, *args: Any, consortia: list[Any] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["consortium"].choices = BLANK + [(str(c.pk), c.name) for c in consortia or []]  # type: ignore[attr-defined]


class CareTeamForm(forms.Form):
    team = forms.ChoiceField(label=_("Family-doctor team"))

    def __init__(self, *args: Any, teams: list[Any] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = BLANK + [(str(t.pk), t.name) for t in teams or []]  # type: ignore[attr-defined]
