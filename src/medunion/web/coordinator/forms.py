"""Forms of the coordinator's pages. They parse input only; the actions validate the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from medunion.access.actor import Actor
from medunion.access.policy import visible_organisations
from medunion.network.actions import LICENCE_RE
from medunion.network.codes import CourseKind, Specialty, TeamKind, TeamRole, Tier, Title
from medunion.network.models import Region

from .common import consortium_choices

BLANK = [("", "—")]
# Region select: every division under the cities where the consortium's members sit.
REGION_CHOICE_LIMIT = 5000
INDENT = "\u3000"  # an ideographic space per level below the city


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _licence_number(value: str) -> str:
    """The action's rule, checked early so the form shows every problem at once."""
    value = value.strip()
    if not LICENCE_RE.match(value):
        raise forms.ValidationError(_("A licence number has 8 to 20 letters and digits."))
    return value


def organisation_choices(actor: Actor) -> list[tuple[str, str]]:
    rows = visible_organisations(actor).filter(active=True).order_by("code").values_list("pk", "code", "name")
    return [(str(pk), f"{name} ({code})") for pk, code, name in rows]


def region_choices(actor: Actor) -> list[tuple[str, str]]:
    codes = visible_organisations(actor).values_list("region_id", flat=True).distinct()
    prefixes = sorted({code[:4] for code in codes})
    if not prefixes:
        return []
    q = Q()
    for prefix in prefixes:
        q |= Q(code__startswith=prefix)
    rows = Region.objects.filter(q).order_by("code").values_list("code", "name", "level")[:REGION_CHOICE_LIMIT]
    return [(code, f"{INDENT * max(level - 2, 0)}{name} · {code}") for code, name, level in rows]


class ConsortiumField(forms.ChoiceField):
    def __init__(self, actor: Actor, **kwargs: Any):
        super().__init__(choices=consortium_choices(actor), label=_("Consortium"), **kwargs)


class OrganisationForm(forms.Form):
    consortium = forms.ChoiceField(label=_("Consortium"))
    code = forms.CharField(label=_("Organisation code"), max_length=32)
    name = forms.CharField(label=pgettext_lazy("of a thing, not a person", "Name"), max_length=200)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    tier = forms.ChoiceField(label=_("Tier"), choices=BLANK + list(Tier.choices))
    region = forms.ChoiceField(label=_("Region"))
    parent = forms.ChoiceField(label=_("Parent organisation"), required=False)

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["consortium"] = ConsortiumField(actor)
        self.fields["region"].choices = BLANK + region_choices(actor)  # type: ignore[attr-defined]
        self.fields["parent"].choices = BLANK + organisation_choices(actor)  # type: ignore[attr-defined]


class DepartmentForm(forms.Form):
    code = forms.CharField(label=_("Department code"), max_length=32)
    name = forms.CharField(label=pgettext_lazy("of a thing, not a person", "Name"), max_length=120)
    specialty = forms.ChoiceField(label=_("Specialty"), choices=BLANK + list(Specialty.choices), required=False)
    beds = forms.IntegerField(label=_("Beds"), min_value=0, max_value=100_000, initial=0)
    daily_slots = forms.IntegerField(label=_("Appointment slots per day"), min_value=0, max_value=100_000,
                                     initial=0)
    green_channel_beds = forms.IntegerField(label=_("Green-channel beds"), min_value=0, max_value=100_000,
                                            initial=0)
    green_channel_slots = forms.IntegerField(label=_("Green-channel slots per day"), min_value=0,
                                             max_value=100_000, initial=0)


class PractitionerForm(forms.Form):
    organisation = forms.ChoiceField(label=_("Organisation"))
    name = forms.CharField(label=_("Name"), max_length=100)
    gender = forms.ChoiceField(label=_("Sex"), required=False,
                               choices=BLANK + [("male", _("male")), ("female", _("female"))])
    title = forms.ChoiceField(label=_("Professional title"), choices=BLANK + list(Title.choices))
    licence_number = forms.CharField(label=_("Practising licence number"), max_length=32)
    specialties = forms.MultipleChoiceField(label=_("Specialties"), choices=Specialty.choices, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    years_independent = forms.IntegerField(label=_("Years of independent practice"), min_value=0, max_value=70,
                                           initial=0)
    phone = forms.CharField(label=_("Work phone"), max_length=32, required=False)

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = BLANK + organisation_choices(actor)  # type: ignore[attr-defined]

    def clean_licence_number(self) -> str:
        return _licence_number(self.cleaned_data["licence_number"])


class PractitionerFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or licence number"), required=False, max_length=100)
    organisation = forms.ChoiceField(label=_("Organisation"), required=False)
    specialty = forms.ChoiceField(label=_("Specialty"), choices=BLANK + list(Specialty.choices), required=False)
    title = forms.ChoiceField(label=_("Professional title"), choices=BLANK + list(Title.choices), required=False)

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = BLANK + organisation_choices(actor)  # type: ignore[attr-defined]


class SiteForm(forms.Form):
    organisation = forms.ChoiceField(label=_("Organisation"))
    primary = forms.BooleanField(label=_("Primary site"), required=False)

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = BLANK + organisation_choices(actor)  # type: ignore[attr-defined]


class TrainingForm(forms.Form):
    consortium = forms.ChoiceField(label=_("Consortium"))
    course = forms.ChoiceField(label=_("Course"), choices=CourseKind.choices)
    completed_on = forms.DateField(label=_("Completed on"), widget=DateInput())
    valid_until = forms.DateField(label=_("Valid until"), required=False, widget=DateInput())

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["consortium"] = ConsortiumField(actor)


class ExamForm(forms.Form):
    consortium = forms.ChoiceField(label=_("Consortium"))
    course = forms.ChoiceField(label=_("Course"), choices=CourseKind.choices)
    taken_on = forms.DateField(label=_("Taken on"), widget=DateInput())
    score = forms.DecimalField(label=_("Score"), min_value=0, max_value=100, decimal_places=1)
    pass_mark = forms.DecimalField(label=_("Pass mark"), min_value=0, max_value=100, decimal_places=1, initial=60)
    valid_until = forms.DateField(label=_("Valid until"), required=False, widget=DateInput())

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["consortium"] = ConsortiumField(actor)


class LicenceForm(forms.Form):
    number = forms.CharField(label=_("Licence number"), max_length=32)
    scope = forms.CharField(label=_("Scope of practice"), max_length=100, required=False)
    valid_from = forms.DateField(label=_("Valid from"), widget=DateInput())
    valid_until = forms.DateField(label=_("Valid until"), required=False, widget=DateInput())

    def clean_number(self) -> str:
        return _licence_number(self.cleaned_data["number"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", _("The end date is before the start date."))
        return data


class RevokeLicenceForm(forms.Form):
    licence = forms.UUIDField(widget=forms.HiddenInput)
    on = forms.DateField(label=_("Revoked on"), widget=DateInput())


class TeamForm(forms.Form):
    consortium = forms.ChoiceField(label=_("Consortium"))
    name = forms.CharField(label=pgettext_lazy("of a thing, not a person", "Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=BLANK + list(TeamKind.choices))
    specialty = forms.ChoiceField(label=_("Specialty"), choices=BLANK + list(Specialty.choices), required=False)
    organisation = forms.ChoiceField(label=_("Organisation"), required=False)

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["consortium"] = ConsortiumField(actor)
        self.fields["organisation"].choices = BLANK + organisation_choices(actor)  # type: ignore[attr-defined]


class TeamMemberForm(forms.Form):
    practitioner = forms.UUIDField(widget=forms.HiddenInput)
    role = forms.ChoiceField(label=_("Role"), choices=TeamRole.choices, initial=TeamRole.MEMBER)


class RemoveMemberForm(forms.Form):
    practitioner = forms.UUIDField(widget=forms.HiddenInput)
