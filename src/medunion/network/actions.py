"""Coordinators manage the network within their own consortia. Every change is audited."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, require, visible_consortia, visible_organisations, visible_practitioners
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core.errors import Conflict, Duplicate, NotFound, ValidationFailed

from .codes import CourseKind, Specialty, TeamKind, TeamRole, Tier, Title
from .models import (
    Consortium,
    ConsortiumMembership,
    Department,
    ExamResult,
    Licence,
    Organisation,
    PracticeSite,
    Practitioner,
    PractitionerSpecialty,
    Region,
    Team,
    TeamMember,
    Training,
)

# 执业证书编码: 15 digits (physicians); village doctors' certificates vary by province, so
# 8–20 letters and digits are accepted for them.
LICENCE_RE = re.compile(r"^[0-9A-Za-z]{8,20}$")


def _consortium(actor: Actor, consortium_id: Any) -> Consortium:
    c = visible_consortia(actor).filter(pk=parse_uuid(consortium_id)).first()
    if c is None:
        raise NotFound()
    require(actor, Action.MANAGE_NETWORK, c)
    return c


def _organisation(actor: Actor, org_id: Any) -> Organisation:
    org = visible_organisations(actor).filter(pk=parse_uuid(org_id)).first()
    if org is None:
        raise NotFound()
    require(actor, Action.MANAGE_NETWORK, org)
    return org


def _practitioner(actor: Actor, practitioner_id: Any) -> Practitioner:
    p = visible_practitioners(actor).filter(pk=parse_uuid(practitioner_id)).first()
    if p is None:
        raise NotFound()
    require(actor, Action.MANAGE_NETWORK, p)
    return p


def create_organisation(*, acting: Actor, consortium_id: Any, code: str, name: str, tier: str,
                        region_code: str, parent_id: Any = None, name_en: str = "") -> Organisation:
    consortium = _consortium(acting, consortium_id)
    errors: dict[str, list[str]] = {}
    if not code.strip():
        errors["code"] = [str(_("Enter the organisation code."))]
    if not name.strip():
        errors["name"] = [str(_("Enter the name."))]
    if tier not in Tier.values:
        errors["tier"] = [str(_("Unknown tier."))]
    region = Region.objects.filter(pk=region_code).first()
    if region is None:
        errors["region"] = [str(_("Unknown region code."))]
    parent = None
    if parent_id:
        parent = visible_organisations(acting).filter(pk=parse_uuid(parent_id)).first()
        if parent is None:
            errors["parent"] = [str(_("Unknown parent organisation."))]
    if errors:
        raise ValidationFailed(errors=errors)
    try:
        with transaction.atomic():
            org = Organisation.objects.create(code=code.strip(), name=name.strip(), name_en=name_en.strip(),
                                              tier=tier, region=region, parent=parent)
            ConsortiumMembership.objects.create(consortium=consortium, organisation=org)
            record(acting, "network.organisation.create", Verb.CREATE, obj=org)
    except IntegrityError as exc:
        raise Duplicate(_("An organisation with this code exists already."), field="code") from exc
    return org


def add_member_organisation(*, acting: Actor, consortium_id: Any, organisation_id: Any) -> ConsortiumMembership:
    consortium = _consortium(acting, consortium_id)
    org = Organisation.objects.filter(pk=parse_uuid(organisation_id)).first()
    if org is None:
        raise ValidationFailed(_("Unknown organisation."), field="organisation")
    with transaction.atomic():
        m, created = ConsortiumMembership.objects.get_or_create(consortium=consortium, organisation=org)
        if created:
            record(acting, "network.membership.create", Verb.CREATE, obj=m)
    return m


def save_department(*, acting: Actor, organisation_id: Any, code: str, name: str, specialty: str = "",
                    beds: int = 0, daily_slots: int = 0, green_channel_beds: int = 0,
                    green_channel_slots: int = 0) -> Department:
    org = _organisation(acting, organisation_id)
    errors: dict[str, list[str]] = {}
    if not code.strip() or not name.strip():
        errors["name"] = [str(_("Enter the department's code and name."))]
    if specialty and specialty not in Specialty.values:
        errors["specialty"] = [str(_("Unknown specialty."))]
    numbers = {"beds": beds, "daily_slots": daily_slots, "green_channel_beds": green_channel_beds,
               "green_channel_slots": green_channel_slots}
    for key, value in numbers.items():
        if not isinstance(value, int) or value < 0 or value > 100_000:
            errors[key] = [str(_("Enter a whole number from 0 to 100000."))]
    if not errors and green_channel_beds > beds:
        errors["green_channel_beds"] = [str(_("Reserved beds cannot exceed the department's beds."))]
    if not errors and green_channel_slots > daily_slots:
        errors["green_channel_slots"] = [str(_("Reserved slots cannot exceed the daily slots."))]
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        dept, created = Department.objects.select_for_update().get_or_create(
            organisation=org, code=code.strip(), defaults={"name": name.strip()})
        dept.name, dept.specialty = name.strip(), specialty
        for key, value in numbers.items():
            setattr(dept, key, value)
        dept.save()
        record(acting, "network.department.create" if created else "network.department.update",
               Verb.CREATE if created else Verb.UPDATE, obj=dept, detail=numbers)
    return dept


def create_practitioner(*, acting: Actor, name: str, title: str, licence_number: str, organisation_id: Any,
                        specialties: list[str] | None = None, years_independent: int = 0, gender: str = "",
                        department_id: Any = None, phone: str = "") -> Practitioner:
    org = _organisation(acting, organisation_id)
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [str(_("Enter the name."))]
    if title not in Title.values:
        errors["title"] = [str(_("Unknown professional title."))]
    if not LICENCE_RE.match(licence_number or ""):
        errors["licence_number"] = [str(_("A licence number has 8 to 20 letters and digits."))]
    bad = [s for s in specialties or [] if s not in Specialty.values]
    if bad:
        errors["specialties"] = [str(_("Unknown specialty: %(codes)s") % {"codes": ", ".join(bad)})]
    if not 0 <= years_independent <= 70:
        errors["years_independent"] = [str(_("Enter the years of independent practice (0–70)."))]
    if errors:
        raise ValidationFailed(errors=errors)
    try:
        with transaction.atomic():
            p = Practitioner.objects.create(name=name.strip(), title=title, licence_number=licence_number,
                                            years_independent=years_independent, gender=gender, phone=phone)
            PractitionerSpecialty.objects.bulk_create(
                [PractitionerSpecialty(practitioner=p, specialty=s) for s in dict.fromkeys(specialties or [])])
            PracticeSite.objects.create(practitioner=p, organisation=org, primary=True,
                                        department_id=parse_uuid(department_id) if department_id else None)
            record(acting, "network.practitioner.create", Verb.CREATE, obj=p)
    except IntegrityError as exc:
        raise Duplicate(_("A practitioner with this licence number exists already."),
                        field="licence_number") from exc
    return p


def add_practice_site(*, acting: Actor, practitioner_id: Any, organisation_id: Any, primary: bool = False) -> PracticeSite:
    p = _practitioner(acting, practitioner_id)
    org = _organisation(acting, organisation_id)
    with transaction.atomic():
        site, created = PracticeSite.objects.get_or_create(practitioner=p, organisation=org,
                                                           defaults={"primary": primary})
        if not created and not site.active:
            site.active = True
            site.save(update_fields=["active"])
        record(acting, "network.practice_site.add", Verb.CREATE, obj=site)
    return site


def create_team(*, acting: Actor, consortium_id: Any, name: str, kind: str, specialty: str = "",
                organisation_id: Any = None) -> Team:
    consortium = _consortium(acting, consortium_id)
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [str(_("Enter the team's name."))]
    if kind not in TeamKind.values:
        errors["kind"] = [str(_("Unknown team kind."))]
    if specialty and specialty not in Specialty.values:
        errors["specialty"] = [str(_("Unknown specialty."))]
    org = visible_organisations(acting).filter(pk=parse_uuid(organisation_id)).first() if organisation_id else None
    if organisation_id and org is None:
        errors["organisation"] = [str(_("Unknown organisation."))]
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        team = Team.objects.create(consortium=consortium, name=name.strip(), kind=kind, specialty=specialty,
                                   organisation=org)
        record(acting, "network.team.create", Verb.CREATE, obj=team)
    return team


def set_team_member(*, acting: Actor, team_id: Any, practitioner_id: Any, role: str = TeamRole.MEMBER) -> TeamMember:
    team = Team.objects.filter(pk=parse_uuid(team_id)).first()
    if team is None:
        raise NotFound()
    require(acting, Action.MANAGE_NETWORK, team, visible=team.consortium_id in acting.coordinated_ids)
    p = _practitioner(acting, practitioner_id)
    if role not in TeamRole.values:
        raise ValidationFailed(_("Unknown team role."), field="role")
    with transaction.atomic():
        member, created = TeamMember.objects.select_for_update().get_or_create(team=team, practitioner=p,
                                                                               defaults={"role": role})
        if not created:
            member.role = role
            member.save(update_fields=["role"])
        record(acting, "network.team_member.set", Verb.CREATE if created else Verb.UPDATE, obj=member,
               detail={"role": role})
    return member


def remove_team_member(*, acting: Actor, team_id: Any, practitioner_id: Any) -> None:
    team = Team.objects.filter(pk=parse_uuid(team_id)).first()
    if team is None:
        raise NotFound()
    require(acting, Action.MANAGE_NETWORK, team, visible=team.consortium_id in acting.coordinated_ids)
    with transaction.atomic():
        n, _unused = TeamMember.objects.filter(team=team, practitioner_id=parse_uuid(practitioner_id)).delete()
        if not n:
            raise Conflict(_("This practitioner is not a member of the team."))
        record(acting, "network.team_member.remove", Verb.DELETE, object_type="network.teammember",
               object_id=str(practitioner_id))


def _date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed(_("Enter a date as YYYY-MM-DD."), field=field) from exc


def record_training(*, acting: Actor, practitioner_id: Any, consortium_id: Any, completed_on: Any,
                    course: str = CourseKind.REFERRAL, valid_until: Any = None) -> Training:
    consortium = _consortium(acting, consortium_id)
    p = _practitioner(acting, practitioner_id)
    if course not in CourseKind.values:
        raise ValidationFailed(_("Unknown course."), field="course")
    done = _date(completed_on, "completed_on")
    until = _date(valid_until, "valid_until") if valid_until else None
    if until and until < done:
        raise ValidationFailed(_("The end date is before the start date."), field="valid_until")
    with transaction.atomic():
        t = Training.objects.create(practitioner=p, consortium=consortium, course=course, completed_on=done,
                                    valid_until=until)
        record(acting, "network.training.record", Verb.CREATE, obj=t)
    return t


def record_exam(*, acting: Actor, practitioner_id: Any, consortium_id: Any, taken_on: Any, score: Any,
                course: str = CourseKind.REFERRAL, pass_mark: Any = 60, valid_until: Any = None) -> ExamResult:
    consortium = _consortium(acting, consortium_id)
    p = _practitioner(acting, practitioner_id)
    if course not in CourseKind.values:
        raise ValidationFailed(_("Unknown course."), field="course")
    try:
        score_d, mark_d = Decimal(str(score)), Decimal(str(pass_mark))
    except InvalidOperation as exc:
        raise ValidationFailed(_("Enter the score as a number."), field="score") from exc
    if not (0 <= score_d <= 100 and 0 <= mark_d <= 100):
        raise ValidationFailed(_("Scores run from 0 to 100."), field="score")
    with transaction.atomic():
        e = ExamResult.objects.create(practitioner=p, consortium=consortium, course=course,
                                      taken_on=_date(taken_on, "taken_on"), score=score_d, pass_mark=mark_d,
                                      valid_until=_date(valid_until, "valid_until") if valid_until else None)
        record(acting, "network.exam.record", Verb.CREATE, obj=e, detail={"passed": e.passed})
    return e


def record_licence(*, acting: Actor, practitioner_id: Any, number: str, valid_from: Any, valid_until: Any = None,
                   scope: str = "") -> Licence:
    p = _practitioner(acting, practitioner_id)
    if not LICENCE_RE.match(number or ""):
        raise ValidationFailed(_("A licence number has 8 to 20 letters and digits."), field="number")
    with transaction.atomic():
        lic = Licence.objects.create(practitioner=p, number=number, scope=scope,
                                     valid_from=_date(valid_from, "valid_from"),
                                     valid_until=_date(valid_until, "valid_until") if valid_until else None)
        record(acting, "network.licence.record", Verb.CREATE, obj=lic)
    return lic


def revoke_licence(*, acting: Actor, licence_id: Any, on: Any) -> Licence:
    lic = Licence.objects.filter(pk=parse_uuid(licence_id)).first()
    if lic is None:
        raise NotFound()
    _practitioner(acting, lic.practitioner_id)
    with transaction.atomic():
        lic.revoked_on = _date(on, "revoked_on")
        lic.save(update_fields=["revoked_on"])
        record(acting, "network.licence.revoke", Verb.UPDATE, obj=lic)
    return lic

