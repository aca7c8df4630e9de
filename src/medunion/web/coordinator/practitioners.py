"""Practitioners: the searchable list, one practitioner's credentials and privileges, adding one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from medunion.access.actor import Actor
from medunion.access.loaders import access_practitioner
from medunion.access.policy import Action, visible_organisations, visible_practitioners
from medunion.core import clock
from medunion.core.errors import DomainError, NotFound, ValidationFailed
from medunion.network import actions as net
from medunion.network.codes import Privilege
from medunion.network.models import PracticeSite
from medunion.network.queries import privilege_status, search_practitioners

from .common import apply_error, coordinator_page, my_consortia, paginate, query_without_page
from .forms import (
    ExamForm,
    LicenceForm,
    PractitionerFilterForm,
    PractitionerForm,
    RevokeLicenceForm,
    SiteForm,
    TrainingForm,
)

CREDENTIAL_LABELS = {
    "training": gettext_lazy("training"),
    "exam": gettext_lazy("passed exam"),
    "licence": gettext_lazy("valid practising licence"),
}


@coordinator_page
def practitioners(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = PractitionerFilterForm(actor, request.GET or None)
    if form.is_bound and not form.is_valid():
        qs = visible_practitioners(actor).none()
    else:
        data = form.cleaned_data if form.is_bound else {}
        qs = search_practitioners(actor, q=data.get("q") or "", organisation_id=data.get("organisation") or None,
                                  specialty=data.get("specialty") or "", title=data.get("title") or "")
    page = paginate(request, qs)
    return render(request, "web/coordinator/practitioners.html", {
        "form": form, "page": page, "query": query_without_page(request.GET), "nav": "practitioners",
    })


def _practising_consortia(actor: Actor, p: Any) -> list[Any]:
    """My consortia in which the practitioner has an active site at a member organisation."""
    return list(my_consortia(actor).filter(
        memberships__organisation__practice_sites__practitioner=p,
        memberships__organisation__practice_sites__active=True).distinct())


def _privileges(p: Any, consortia: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for c in consortia:
        status = privilege_status(p.pk, c.pk, Privilege.TRANSFER_PATIENTS)
        help_texts = status.explain()
        rows.append({
            "consortium": c, "status": status, "label": Privilege.TRANSFER_PATIENTS.label,
            "missing": [{"key": m, "label": CREDENTIAL_LABELS[m], "help": h}
                        for m, h in zip(status.missing, help_texts, strict=True)],
        })
    return rows


def _record_site(actor: Actor, p: Any, data: dict[str, Any]) -> str:
    net.add_practice_site(acting=actor, practitioner_id=p.pk, organisation_id=data["organisation"],
                          primary=data["primary"])
    return _("Practice site added.")


def _record_training(actor: Actor, p: Any, data: dict[str, Any]) -> str:
    net.record_training(acting=actor, practitioner_id=p.pk, consortium_id=data["consortium"], course=data["course"],
                        completed_on=data["completed_on"], valid_until=data["valid_until"])
    return _("Training recorded.")


def _record_exam(actor: Actor, p: Any, data: dict[str, Any]) -> str:
    exam = net.record_exam(acting=actor, practitioner_id=p.pk, consortium_id=data["consortium"],
                           course=data["course"], taken_on=data["taken_on"], score=data["score"],
                           pass_mark=data["pass_mark"], valid_until=data["valid_until"])
    return _("Exam recorded (passed).") if exam.passed else _("Exam recorded (not passed).")


def _record_licence(actor: Actor, p: Any, data: dict[str, Any]) -> str:
    net.record_licence(acting=actor, practitioner_id=p.pk, number=data["number"], scope=data["scope"],
                       valid_from=data["valid_from"], valid_until=data["valid_until"])
    return _("Licence recorded.")


def _revoke_licence(actor: Actor, p: Any, data: dict[str, Any]) -> str:
    if not p.licences.filter(pk=data["licence"]).exists():
        raise NotFound()
    net.revoke_licence(acting=actor, licence_id=data["licence"], on=data["on"])
    return _("Licence revoked.")


# form name → (form class, takes the actor, action, anchor on the page)
FORMS: dict[str, tuple[type[Form], bool, Callable[[Actor, Any, dict[str, Any]], str], str]] = {
    "site": (SiteForm, True, _record_site, "sites"),
    "training": (TrainingForm, True, _record_training, "training"),
    "exam": (ExamForm, True, _record_exam, "exam"),
    "licence": (LicenceForm, False, _record_licence, "licence"),
    "revoke": (RevokeLicenceForm, False, _revoke_licence, "licences"),
}


def _form(name: str, actor: Actor, consortium_choices: list[tuple[str, str]], data: Any = None,
          initial: dict[str, Any] | None = None) -> Form:
    cls, with_actor, _do, _anchor = FORMS[name]
    kwargs = {"initial": initial, "auto_id": f"id_{name}_%s"}  # several forms on one page: distinct ids
    form = cls(actor, data, **kwargs) if with_actor else cls(data, **kwargs)  # type: ignore[call-arg,arg-type]
    if "consortium" in form.fields:
        form.fields["consortium"].choices = consortium_choices  # type: ignore[attr-defined]
    return form


@coordinator_page
def practitioner(request: HttpRequest, practitioner_id: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    p = access_practitioner(actor, practitioner_id, Action.MANAGE_NETWORK)
    consortia = _practising_consortia(actor, p) or list(my_consortia(actor))
    choices = [(str(c.pk), f"{c.name} ({c.code})") for c in consortia]
    today = clock.today()
    initial = {"training": {"completed_on": today}, "exam": {"taken_on": today}, "licence": {"valid_from": today}}
    forms = {name: _form(name, actor, choices, initial=initial.get(name)) for name in FORMS}
    status = 200
    posted = request.POST.get("form", "") if request.method == "POST" else ""
    if request.method == "POST":
        if posted not in FORMS:
            raise ValidationFailed(_("Unknown form."))
        form = forms[posted] = _form(posted, actor, choices, data=request.POST)
        if form.is_valid():
            _cls, _with_actor, do, anchor = FORMS[posted]
            try:
                message = do(actor, p, form.cleaned_data)
            except DomainError as exc:
                if exc.status == 404:
                    raise
                apply_error(form, exc)
            else:
                messages.success(request, message)
                return redirect(reverse("web:coord:practitioner", args=[p.pk]) + f"#{anchor}")
        status = 422
    mine = list(actor.coordinated_ids)
    sites = (PracticeSite.objects.filter(practitioner=p, organisation__in=visible_organisations(actor).values("pk"))
             .select_related("organisation", "department").order_by("-active", "-primary", "organisation__code"))
    return render(request, "web/coordinator/practitioner.html", {
        "p": p, "sites": sites, "specialties": [s.get_specialty_display() for s in p.specialties.all()],
        "trainings": p.trainings.filter(consortium_id__in=mine).select_related("consortium"),
        "exams": p.exams.filter(consortium_id__in=mine).select_related("consortium"),
        "licences": list(p.licences.all()), "today": today,
        "privileges": _privileges(p, consortia), "forms": forms, "posted": posted, "nav": "practitioners",
    }, status=status)


@coordinator_page
def practitioner_new(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    status = 200
    if request.method == "POST":
        form = PractitionerForm(actor, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                p = net.create_practitioner(acting=actor, name=data["name"], title=data["title"],
                                            licence_number=data["licence_number"].strip(),
                                            organisation_id=data["organisation"], specialties=data["specialties"],
                                            years_independent=data["years_independent"], gender=data["gender"],
                                            phone=data["phone"])
            except DomainError as exc:
                apply_error(form, exc)
            else:
                messages.success(request, _("Practitioner %(name)s added.") % {"name": p.name})
                return redirect("web:coord:practitioner", practitioner_id=p.pk)
        status = 422
    else:
        form = PractitionerForm(actor, initial={"organisation": request.GET.get("organisation", "")})
    return render(request, "web/coordinator/practitioner_new.html", {"form": form, "nav": "practitioners"},
                  status=status)
