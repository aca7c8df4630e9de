"""``get_FOO_display`` of the project's models: the choice's label in the language active at the
call (the tables are kept per language), the value itself when it is not a choice — as Django's."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Model
from django.utils import translation

from medunion.accounts.models import User
from medunion.audit.models import AuditEvent
from medunion.core.models import ChoiceLabels
from medunion.diagnostics.codes import Modality
from medunion.diagnostics.models import Examination


def test_labels_follow_the_active_language():
    exam = Examination(modality=Modality.US)
    with translation.override("en"):
        assert exam.get_modality_display() == "ultrasound"
    with translation.override("zh-hans"):
        assert exam.get_modality_display() == "超声"
    with translation.override("en"):  # the first table is not reused for the other language
        assert exam.get_modality_display() == "ultrasound"


def test_a_value_that_is_no_choice_is_shown_as_it_is():
    with translation.override("en"):
        assert Examination(modality="XX").get_modality_display() == "XX"
        assert Examination(modality="").get_modality_display() == ""
        assert Examination(modality=None).get_modality_display() is None


def test_the_labels_are_django_s_own_for_every_choice_of_every_model():
    models_with_choices = [
        m for m in apps.get_models() if m.__module__.startswith("medunion.")
        and any(f.choices for f in m._meta.concrete_fields)]
    assert {Examination, User, AuditEvent} <= set(models_with_choices)
    checked = 0
    for model in models_with_choices:
        assert issubclass(model, ChoiceLabels), model
        for field in (f for f in model._meta.concrete_fields if f.choices):
            for language in ("en", "zh-hans"):
                with translation.override(language):
                    for value, _label in field.flatchoices:
                        obj = model(**{field.attname: value})
                        assert getattr(obj, f"get_{field.name}_display")() == Model._get_FIELD_display(obj, field)
                        checked += 1
    assert checked > 200
