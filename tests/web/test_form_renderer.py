"""medunion.web.forms.FormRenderer: the widgets, labels and error lists in Django's Jinja2 templates,
the same HTML as Django's template language gives (but for blank lines); a field without errors
renders no error-list template; a field with errors renders Django's list as before."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.template.backends.jinja2 import Jinja2

from medunion.web.forms import ERROR_TEMPLATES, DateInput, FormRenderer


class _Form(forms.Form):
    name = forms.CharField()
    age = forms.IntegerField()


class _Spy(FormRenderer):
    """Records the templates the renderer asks its engine for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def get_template(self, template_name: str) -> Any:
        self.asked.append(template_name)
        return super().get_template(template_name)


class _EveryWidget(forms.Form):
    """A field of each widget the project's forms use, with help texts, choices and attributes."""

    once = forms.CharField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label="姓名 <b>", max_length=100, help_text="18 位 & more",
                           widget=forms.TextInput(attrs={"autocomplete": "off", "class": "code"}))
    password = forms.CharField(widget=forms.PasswordInput)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    born = forms.DateField(widget=DateInput(), required=False)
    seen = forms.DateTimeField(widget=forms.DateTimeInput, required=False)
    count = forms.IntegerField(widget=forms.NumberInput(attrs={"min": 0}), min_value=0)
    score = forms.DecimalField(min_value=0, max_value=100, decimal_places=1)
    sex = forms.ChoiceField(choices=[("", "—"), ("male", "男"), ("female", "女")], required=False)
    decision = forms.ChoiceField(choices=[("local", "在基层管理"), ("refer", "转诊")], widget=forms.RadioSelect)
    codes = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B & C")], required=False,
                                      widget=forms.CheckboxSelectMultiple)
    teams = forms.MultipleChoiceField(choices=[("t1", "心内科"), ("t2", "影像")], required=False,
                                      widget=forms.SelectMultiple)
    critical = forms.BooleanField(required=False)
    file = forms.FileField(required=False, widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}))


def _same(html: str) -> str:
    """The HTML with its whitespace between and inside tags made uniform, and the two characters
    whose entities Jinja2 (MarkupSafe) and Django spell differently spelt Django's way."""
    html = html.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()


def test_the_settings_renderer_is_this_one_on_jinja2():
    renderer = get_default_renderer()
    assert isinstance(renderer, FormRenderer)
    assert isinstance(renderer.engine, Jinja2)


def test_an_empty_error_list_renders_no_template():
    spy = _Spy()
    form = _Form({"name": "张", "age": "40"}, renderer=spy)
    assert form.is_valid()
    html = str(form["name"].errors) + str(form.errors)
    widgets = str(form["name"]) + str(form["age"])
    assert html == "" and 'value="张"' in widgets
    assert spy.asked and not [n for n in spy.asked if n.startswith(ERROR_TEMPLATES)]


def test_errors_render_as_django_renders_them():
    spy = _Spy()
    form = _Form({"name": "", "age": "x"}, renderer=spy)
    assert not form.is_valid()
    html = str(form["age"].errors)
    assert [n for n in spy.asked if n.startswith(ERROR_TEMPLATES)]  # Django's own template
    assert html.startswith('<ul class="errorlist"') and str(form.errors["age"][0]) in html
    assert str(form["name"].errors).count("<li>") == 1
    assert _same(html) == _same(str(_Form({"name": "", "age": "x"}, renderer=DjangoTemplates())["age"].errors))


def test_every_widget_renders_as_djangos_own_templates_render_it():
    hostile = '<script>alert("x")</script> & \'quoted\''
    forms_ = [
        lambda renderer: _EveryWidget(renderer=renderer, initial={"count": 3, "decision": "local"}),
        lambda renderer: _EveryWidget({"name": hostile, "note": hostile, "count": "-1", "score": "x",
                                       "decision": "refer", "codes": ["a", "b"], "teams": ["t2"], "critical": "on",
                                       "sex": "female", "born": "2026-02-30", "once": hostile}, renderer=renderer),
    ]
    for make in forms_:
        ours, djangos = make(FormRenderer()), make(DjangoTemplates())
        ours.is_valid(), djangos.is_valid()
        html = ours.as_div()
        assert _same(html) == _same(djangos.as_div())
        for name in ours.fields:
            assert _same(str(ours[name])) == _same(str(djangos[name]))
            assert _same(ours[name].label_tag()) == _same(djangos[name].label_tag())
        assert "<script>" not in html and 'alert("x")' not in html and "姓名 &lt;b&gt;" in html
    assert 'type="date"' in html and 'checked' in html and 'class="errorlist"' in html


def test_a_widget_template_outside_djangos_form_templates_renders_in_djangos_template_language():
    """The admin's widgets have no Jinja2 templates; they render as Django's renderer renders them."""
    from django.contrib.admin.widgets import AdminDateWidget, AdminFileWidget

    class _Admin(forms.Form):
        when = forms.DateField(widget=AdminDateWidget)
        file = forms.FileField(widget=AdminFileWidget, required=False)

    ours, djangos = _Admin(renderer=FormRenderer()), _Admin(renderer=DjangoTemplates())
    html = ours.as_div()
    assert 'class="vDateField"' in html and 'type="file"' in html
    assert _same(html) == _same(djangos.as_div())
