"""medunion.web.forms.FormRenderer: a field without errors renders no error-list template; a field
with errors renders Django's list as before."""

from __future__ import annotations

from django import forms
from django.test.signals import template_rendered

from medunion.web.forms import ERROR_TEMPLATES


class _Form(forms.Form):
    name = forms.CharField()
    age = forms.IntegerField()


def _rendered(render) -> tuple[str, list[str]]:
    names: list[str] = []

    def seen(sender, template, context, **kwargs):
        names.append(template.name)

    template_rendered.connect(seen)
    try:
        html = render()
    finally:
        template_rendered.disconnect(seen)
    return html, [n for n in names if n and n.startswith(ERROR_TEMPLATES)]


def test_an_empty_error_list_renders_no_template():
    form = _Form({"name": "张", "age": "40"})
    assert form.is_valid()
    html, error_templates = _rendered(lambda: str(form["name"].errors) + str(form.errors))
    assert html == "" and error_templates == []


def test_errors_render_as_django_renders_them():
    form = _Form({"name": "", "age": "x"})
    assert not form.is_valid()
    html, error_templates = _rendered(lambda: str(form["age"].errors))
    assert error_templates  # Django's own template
    assert html.startswith('<ul class="errorlist"') and str(form.errors["age"][0]) in html
    assert str(form["name"].errors).count("<li>") == 1
