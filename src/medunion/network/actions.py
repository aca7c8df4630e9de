"""Coordinators manage the network within their own consortia. Every change is audited."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import (
    Action,
    require,
    visible_consortia,
    visible_organisations,
    visible_practitioners,
    visible_teams,
)
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
    if errors or region is None:
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
        held = {"green_channel_beds": dept.green_channel_beds_in_use,
                "green_channel_slots": dept.green_channel_slots_in_use}
        short = {k: [str(_("%(n)d reserved places are held by live referrals; reserve at least that many.")
                         % {"n": held[k]})] for k in held if numbers[k] < held[k]}
        if short:
            raise ValidationFailed(errors=short)
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
    if gender not in ("", "male", "female"):
        errors["gender"] = [str(_("Unknown sex."))]
    if department_id and not Department.objects.filter(pk=parse_uuid(department_id), organisation=org).exists():
        errors["department"] = [str(_("Unknown department at this organisation."))]
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
    require(acting, Action.MANAGE_NETWORK, team, visible=visible_teams(acting).filter(pk=team.pk).exists())
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
    require(acting, Action.MANAGE_NETWORK, team, visible=visible_teams(acting).filter(pk=team.pk).exists())
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
    start = _date(valid_from, "valid_from")
    until = _date(valid_until, "valid_until") if valid_until else None
    if until and until < start:
        raise ValidationFailed(_("The end date is before the start date."), field="valid_until")
    with transaction.atomic():
        lic = Licence.objects.create(practitioner=p, number=number, scope=scope[:100], valid_from=start,
                                     valid_until=until)
        record(acting, "network.licence.record", Verb.CREATE, obj=lic)
    return lic


def revoke_licence(*, acting: Actor, licence_id: Any, on: Any) -> Licence:
    lic = Licence.objects.filter(pk=parse_uuid(licence_id)).first()
    if lic is None:
        raise NotFound()
    _practitioner(acting, lic.practitioner_id)
    revoked_on = _date(on, "revoked_on")
    with transaction.atomic():
        # Revoked once, for good: a second revocation must not move the date (and so bring a lapsed
        # privilege back for the days in between).
        n = Licence.objects.filter(pk=lic.pk, revoked_on__isnull=True).update(revoked_on=revoked_on)
        if not n:
            raise Conflict(_("This licence was revoked already."))
        lic.revoked_on = revoked_on
        record(acting, "network.licence.revoke", Verb.UPDATE, obj=lic)
    return lic



# --- edits the back office offers (organisation, practitioner, team) ---------------------------
# ``changes`` names only the fields to change; the audit row lists the fields that did change.

def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, str)) else str(value)


def _text(errors: dict[str, list[str]], changes: dict[str, Any], key: str, max_length: int, *,
          required: bool = False) -> str:
    value = str(changes[key] or "").strip()
    if required and not value:
        errors[key] = [str(_("This field is required."))]
    elif len(value) > max_length:
        errors[key] = [str(_("At most %(n)d characters.") % {"n": max_length})]
    return value


def _only(changes: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValidationFailed(_("These fields cannot be changed here: %(fields)s") % {"fields": ", ".join(unknown)})


def _apply(acting: Actor, obj: Any, values: dict[str, Any], action: str, also: dict[str, Any] | None = None) -> Any:
    """Write the values that differ and record them in one row (``also``: other changes made in
    the same transaction); nothing changed, nothing written."""
    changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(obj, key, value)
        obj.save(update_fields=list(changed))
    detail = {k.removesuffix("_id"): _plain(v) for k, v in changed.items()} | (also or {})
    if detail:
        record(acting, action, Verb.UPDATE, obj=obj, detail={"changed": detail})
    return obj


ORGANISATION_CHANGES = ("name", "name_en", "tier", "region", "parent", "address", "phone", "active")


def update_organisation(*, acting: Actor, organisation_id: Any, changes: dict[str, Any]) -> Organisation:
    """Rename, re-tier, move, re-parent or (de)activate an organisation; its code stays. ``region``
    is a division code, ``parent`` an organisation id or empty. A deactivated organisation's
    practitioners no longer practise there (their actors drop it on the next request)."""
    org = _organisation(acting, organisation_id)
    _only(changes, ORGANISATION_CHANGES)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for key, length in (("name", 200), ("name_en", 200), ("address", 300), ("phone", 32)):
        if key in changes:
            values[key] = _text(errors, changes, key, length, required=key == "name")
    if "tier" in changes:
        if changes["tier"] not in Tier.values:
            errors["tier"] = [str(_("Unknown tier."))]
        values["tier"] = changes["tier"]
    if "region" in changes:
        region = Region.objects.filter(pk=str(changes["region"] or "")).first()
        if region is None:
            errors["region"] = [str(_("Unknown region code."))]
        else:
            values["region_id"] = region.pk
    if "parent" in changes:
        values["parent_id"] = _parent(errors, acting, org, changes["parent"])
    if "active" in changes:
        values["active"] = bool(changes["active"])
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        org = Organisation.objects.select_for_update().get(pk=org.pk)
        return _apply(acting, org, values, "network.organisation.update")


def _parent(errors: dict[str, list[str]], acting: Actor, org: Organisation, parent_id: Any) -> Any:
    if parent_id in (None, ""):
        return None
    parent = None
    try:
        parent = visible_organisations(acting).filter(pk=parse_uuid(getattr(parent_id, "pk", parent_id))).first()
    except NotFound:
        pass
    if parent is None:
        errors["parent"] = [str(_("Unknown parent organisation."))]
        return None
    ancestor, seen = parent, set()
    while ancestor is not None and ancestor.pk not in seen:
        if ancestor.pk == org.pk:
            errors["parent"] = [str(_("An organisation cannot sit under itself or one of its own units."))]
            return None
        seen.add(ancestor.pk)
        ancestor = ancestor.parent
    return parent.pk


PRACTITIONER_CHANGES = ("name", "gender", "title", "years_independent", "phone", "active", "specialties")


def update_practitioner(*, acting: Actor, practitioner_id: Any, changes: dict[str, Any]) -> Practitioner:
    """Correct a practitioner's details, replace their specialties, or (de)activate them; the
    licence number is their identity and stays. Their account is the security administrator's."""
    p = _practitioner(acting, practitioner_id)
    _only(changes, PRACTITIONER_CHANGES)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for key, length in (("name", 100), ("phone", 32)):
        if key in changes:
            values[key] = _text(errors, changes, key, length, required=key == "name")
    if "gender" in changes:
        if changes["gender"] not in ("", "male", "female"):
            errors["gender"] = [str(_("Unknown sex."))]
        values["gender"] = changes["gender"]
    if "title" in changes:
        if changes["title"] not in Title.values:
            errors["title"] = [str(_("Unknown professional title."))]
        values["title"] = changes["title"]
    if "years_independent" in changes:
        years = changes["years_independent"]
        if isinstance(years, bool) or not isinstance(years, int) or not 0 <= years <= 70:
            errors["years_independent"] = [str(_("Enter the years of independent practice (0–70)."))]
        values["years_independent"] = years
    if "active" in changes:
        values["active"] = bool(changes["active"])
    wanted: list[str] | None = None
    if "specialties" in changes:
        wanted = list(dict.fromkeys(changes["specialties"] or []))
        bad = [s for s in wanted if s not in Specialty.values]
        if bad:
            errors["specialties"] = [str(_("Unknown specialty: %(codes)s") % {"codes": ", ".join(bad)})]
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        p = Practitioner.objects.select_for_update().get(pk=p.pk)
        also: dict[str, Any] = {}
        if wanted is not None:
            had = set(p.specialties.values_list("specialty", flat=True))
            if had != set(wanted):
                p.specialties.exclude(specialty__in=wanted).delete()
                PractitionerSpecialty.objects.bulk_create(
                    [PractitionerSpecialty(practitioner=p, specialty=s) for s in wanted if s not in had])
                also["specialties"] = sorted(wanted)
        return _apply(acting, p, values, "network.practitioner.update", also)


TEAM_CHANGES = ("name", "kind", "specialty", "organisation", "active")


def update_team(*, acting: Actor, team_id: Any, changes: dict[str, Any]) -> Team:
    """Rename a team, change its kind, specialty or home organisation, or (de)activate it."""
    team = visible_teams(acting).filter(pk=parse_uuid(team_id)).first()
    if team is None:
        raise NotFound()
    require(acting, Action.MANAGE_NETWORK, team)
    _only(changes, TEAM_CHANGES)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _text(errors, changes, "name", 200, required=True)
    if "kind" in changes:
        if changes["kind"] not in TeamKind.values:
            errors["kind"] = [str(_("Unknown team kind."))]
        values["kind"] = changes["kind"]
    if "specialty" in changes:
        if changes["specialty"] and changes["specialty"] not in Specialty.values:
            errors["specialty"] = [str(_("Unknown specialty."))]
        values["specialty"] = changes["specialty"] or ""
    if "organisation" in changes:
        org_id = getattr(changes["organisation"], "pk", changes["organisation"])
        org = None
        if org_id:
            try:
                org = visible_organisations(acting).filter(pk=parse_uuid(org_id)).first()
            except NotFound:
                org = None
            if org is None:
                errors["organisation"] = [str(_("Unknown organisation."))]
        values["organisation_id"] = org.pk if org is not None else None
    if "active" in changes:
        values["active"] = bool(changes["active"])
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        return _apply(acting, team, values, "network.team.update")


# --- the green channel's reserved places (used by referrals.capacity) -------------------------
# No actor and no audit row of their own: they run inside a referral action's transaction,
# whose audit row records the place taken or given back.

GREEN_COLUMNS = {"bed": ("green_channel_beds", "green_channel_beds_in_use"),
                 "slot": ("green_channel_slots", "green_channel_slots_in_use")}


def take_green_place(department_id: Any, place: str) -> bool:
    """Hold one reserved place (``bed`` or ``slot``) of this department, if one is free. One
    conditional UPDATE (``WHERE in_use < reserved``): however many take at once, the department
    never goes over what it reserved. Returns whether a place was taken."""
    reserved, in_use = GREEN_COLUMNS[place]
    return bool(Department.objects.filter(pk=department_id, **{f"{in_use}__lt": F(reserved)})
                .update(**{in_use: F(in_use) + 1}))


def release_green_place(department_id: Any, place: str) -> bool:
    reserved, in_use = GREEN_COLUMNS[place]
    return bool(Department.objects.filter(pk=department_id, **{f"{in_use}__gt": 0})
                .update(**{in_use: F(in_use) - 1}))
