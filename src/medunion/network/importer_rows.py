"""Checking and saving the rows of a practitioner roster, in batches.

A practitioner is identified by the licence number. Each row becomes a :class:`RowResult`:
``imported`` (new practitioner), ``updated`` (something changed), ``unchanged`` or ``error``
with reasons. Reasons are stored as codes with parameters and rendered in the reader's
language, so a report uploaded in Chinese reads in English too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.policy import visible_practitioners
from medunion.audit.actions import Entry, record_many
from medunion.audit.models import Verb

from .actions import LICENCE_RE
from .importer_format import SPECIALTY_SEPARATORS, gender_code, specialty_code, title_code
from .models import Consortium, Department, Organisation, PracticeSite, Practitioner, PractitionerSpecialty

BATCH_SIZE = 500
MAX_YEARS = 70

REASONS: dict[str, Any] = {
    "missing_name": _("The name is missing."),
    "name_too_long": _("The name is longer than 100 characters."),
    "missing_licence": _("The licence number is missing."),
    "bad_licence": _("Bad licence number “%(value)s”: a licence number has 8 to 20 letters and digits."),
    "licence_shortened": _("Bad licence number “%(value)s”: the spreadsheet turned it into a rounded number. "
                           "Format the column as text and enter the number again."),
    "duplicate_in_file": _("Duplicate: the licence number %(value)s appears already on row %(line)s."),
    "registered_elsewhere": _("The licence number %(value)s is registered elsewhere, to a practitioner outside "
                              "your consortia; it was not changed."),
    "missing_organisation": _("The organisation code is missing."),
    "unknown_organisation": _("Unknown organisation code “%(value)s”: no member organisation of this "
                              "consortium has it."),
    "inactive_organisation": _("The organisation “%(value)s” is inactive."),
    "unknown_department": _("Unknown department code “%(value)s” at organisation %(organisation)s."),
    "missing_title": _("The professional title is missing."),
    "unknown_title": _("Unknown professional title “%(value)s”."),
    "unknown_specialty": _("Unknown specialty “%(value)s”."),
    "bad_years": _("Years of independent practice must be a whole number from 0 to 70, not “%(value)s”."),
    "unknown_gender": _("Unknown sex “%(value)s”: enter 男 or 女 (male or female)."),
    "bad_phone": _("Bad phone number “%(value)s”."),
    "not_saved": _("This row could not be saved because the record changed at the same time; import the "
                   "file again."),
}
CHANGES: dict[str, Any] = {
    "name": _("name"),
    "title": _("professional title"),
    "gender": _("sex"),
    "phone": _("phone"),
    "years_independent": _("years of independent practice"),
    "specialties": _("specialties"),
    "practice_site": _("new practice site"),
    "site_reactivated": _("practice site reactivated"),
    "department": _("department"),
}
PRACTITIONER_FIELDS = ("name", "title", "gender", "phone", "years_independent")
PHONE_RE = re.compile(r"^[0-9+\-() ]{3,32}$")
SHORTENED_RE = re.compile(r"^\d(\.\d+)?[eE][+]?\d+$")


def render_reason(code: str, params: dict[str, Any]) -> str:
    template = REASONS.get(code)
    if template is None:
        return code
    return str(template) % params if params else str(template)


def render_changes(changed: Iterable[str]) -> list[str]:
    return [str(CHANGES.get(c, c)) for c in changed]


@dataclass
class RowResult:
    line: int
    name: str = ""
    licence_number: str = ""
    organisation_code: str = ""
    status: str = "error"
    problems: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    practitioner_id: uuid.UUID | None = None

    def add(self, code: str, **params: Any) -> None:
        self.problems.append((code, params))

    @property
    def reasons(self) -> list[str]:
        return [render_reason(code, params) for code, params in self.problems]

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "status": self.status, "name": self.name, "licence_number": self.licence_number,
                "organisation_code": self.organisation_code, "reasons": self.reasons,
                "problems": [{"code": c, "params": p} for c, p in self.problems], "changed": self.changed,
                "practitioner_id": str(self.practitioner_id) if self.practitioner_id else None}


@dataclass
class Candidate:
    """A row that passed the checks: what the practitioner should look like afterwards.
    ``None`` in an optional field means the cell was empty: keep what is there."""

    row: RowResult
    name: str
    licence: str
    title: str
    organisation_id: uuid.UUID
    department_id: uuid.UUID | None
    specialties: list[str] | None
    years: int | None
    gender: str | None
    phone: str | None


@dataclass
class Context:
    actor: Actor
    consortium: Consortium
    job_id: uuid.UUID | None = None
    orgs: dict[str, tuple[uuid.UUID, bool]] = field(default_factory=dict)
    orgs_folded: dict[str, str] = field(default_factory=dict)
    departments: dict[tuple[uuid.UUID, str], uuid.UUID] = field(default_factory=dict)

    @classmethod
    def load(cls, actor: Actor, consortium: Consortium, job_id: uuid.UUID | None = None) -> Context:
        ctx = cls(actor, consortium, job_id)
        for pk, code, active in Organisation.objects.filter(memberships__consortium=consortium).values_list(
                "pk", "code", "active"):
            ctx.orgs[code] = (pk, active)
            ctx.orgs_folded.setdefault(code.casefold(), code)
        for org_id, code, pk in Department.objects.filter(
                organisation__memberships__consortium=consortium).values_list("organisation_id", "code", "pk"):
            ctx.departments[(org_id, code)] = pk
        return ctx

    def organisation(self, code: str) -> tuple[uuid.UUID, bool] | None:
        return self.orgs.get(code) or self.orgs.get(self.orgs_folded.get(code.casefold(), ""))


def _short(value: str, n: int = 40) -> str:
    return value if len(value) <= n else value[: n - 1] + "…"


def check_row(line: int, values: dict[str, str], ctx: Context, seen: dict[str, int]) -> Candidate | RowResult:
    """Check one row without touching the database (the maps in ``ctx`` were loaded once)."""
    name = values.get("name", "").strip()
    licence = re.sub(r"\s+", "", values.get("licence_number", ""))
    org_code = values.get("organisation_code", "").strip()
    row = RowResult(line=line, name=_short(name, 100), licence_number=_short(licence),
                    organisation_code=_short(org_code))
    if not name:
        row.add("missing_name")
    elif len(name) > 100:
        row.add("name_too_long")
    if not licence:
        row.add("missing_licence")
    elif not LICENCE_RE.match(licence):
        row.add("licence_shortened" if SHORTENED_RE.match(licence) else "bad_licence", value=_short(licence))
    elif licence in seen:
        row.add("duplicate_in_file", value=licence, line=seen[licence])
    else:
        seen[licence] = line
    org = ctx.organisation(org_code) if org_code else None
    if not org_code:
        row.add("missing_organisation")
    elif org is None:
        row.add("unknown_organisation", value=_short(org_code))
    elif not org[1]:
        row.add("inactive_organisation", value=_short(org_code))
    title_text = values.get("title", "").strip()
    title = title_code(title_text) if title_text else None
    if not title_text:
        row.add("missing_title")
    elif title is None:
        row.add("unknown_title", value=_short(title_text))
    specialties: list[str] | None = None
    if values.get("specialties", "").strip():
        specialties = []
        for part in SPECIALTY_SEPARATORS.split(values["specialties"]):
            part = part.strip()
            if not part:
                continue
            code = specialty_code(part)
            if code is None:
                row.add("unknown_specialty", value=_short(part))
            else:
                specialties.append(code)
        specialties = list(dict.fromkeys(specialties))
    years: int | None = None
    years_text = values.get("years_independent", "").strip().removesuffix("年").strip()
    if years_text:
        try:
            number = float(years_text)
        except ValueError:
            number = -1
        if number.is_integer() and 0 <= number <= MAX_YEARS:
            years = int(number)
        else:
            row.add("bad_years", value=_short(values["years_independent"]))
    gender: str | None = None
    if values.get("gender", "").strip():
        gender = gender_code(values["gender"])
        if gender is None:
            row.add("unknown_gender", value=_short(values["gender"]))
    phone = values.get("phone", "").strip() or None
    if phone is not None and not PHONE_RE.match(phone):
        row.add("bad_phone", value=_short(phone))
    department_id: uuid.UUID | None = None
    department_code = values.get("department_code", "").strip()
    if department_code and org is not None:
        department_id = ctx.departments.get((org[0], department_code))
        if department_id is None:
            row.add("unknown_department", value=_short(department_code), organisation=_short(org_code))
    if row.problems or org is None or title is None:
        row.status = "error"
        return row
    return Candidate(row=row, name=name, licence=licence, title=title, organisation_id=org[0],
                     department_id=department_id, specialties=specialties, years=years, gender=gender,
                     phone=phone)


# --- saving a batch -----------------------------------------------------------------------------

@dataclass
class _Plan:
    new_practitioners: list[Practitioner] = field(default_factory=list)
    changed_practitioners: list[Practitioner] = field(default_factory=list)
    practitioner_fields: set[str] = field(default_factory=set)
    new_specialties: list[PractitionerSpecialty] = field(default_factory=list)
    removed_specialties: list[int] = field(default_factory=list)
    new_sites: list[PracticeSite] = field(default_factory=list)
    changed_sites: list[PracticeSite] = field(default_factory=list)
    audit: list[Entry] = field(default_factory=list)
    outcomes: list[tuple[RowResult, str, list[str], uuid.UUID | None]] = field(default_factory=list)


def _detail(ctx: Context, c: Candidate, changed: list[str] | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"line": c.row.line}
    if ctx.job_id:
        detail["import_job"] = str(ctx.job_id)
    if changed:
        detail["changed"] = changed
    return detail


def _plan_new(ctx: Context, c: Candidate, plan: _Plan) -> None:
    p = Practitioner(name=c.name, title=c.title, licence_number=c.licence, years_independent=c.years or 0,
                     gender=c.gender or "", phone=c.phone or "")
    plan.new_practitioners.append(p)
    plan.new_specialties += [PractitionerSpecialty(practitioner=p, specialty=s) for s in c.specialties or []]
    plan.new_sites.append(PracticeSite(practitioner=p, organisation_id=c.organisation_id,
                                       department_id=c.department_id, primary=True))
    plan.audit.append(Entry("network.practitioner.create", Verb.CREATE, Practitioner._meta.label_lower,
                            str(p.pk), detail=_detail(ctx, c)))
    plan.outcomes.append((c.row, "imported", [], p.pk))


def _plan_existing(ctx: Context, c: Candidate, p: Practitioner, plan: _Plan) -> None:
    changed: list[str] = []
    wanted = {"name": c.name, "title": c.title, "gender": c.gender, "phone": c.phone, "years_independent": c.years}
    for attr, value in wanted.items():
        if value is not None and getattr(p, attr) != value:
            setattr(p, attr, value)
            changed.append(attr)
    if changed:
        plan.changed_practitioners.append(p)
        plan.practitioner_fields.update(changed)
    if c.specialties is not None:
        current = {s.specialty: s.pk for s in p.specialties.all()}
        added = [s for s in c.specialties if s not in current]
        removed = [pk for s, pk in current.items() if s not in c.specialties]
        if added or removed:
            changed.append("specialties")
            plan.new_specialties += [PractitionerSpecialty(practitioner=p, specialty=s) for s in added]
            plan.removed_specialties += removed
    sites = list(p.sites.all())
    site = next((s for s in sites if s.organisation_id == c.organisation_id), None)
    new_site = None
    if site is None:
        new_site = PracticeSite(practitioner=p, organisation_id=c.organisation_id, department_id=c.department_id,
                                primary=not any(s.active for s in sites))
        plan.new_sites.append(new_site)
        changed.append("practice_site")
    else:
        site_changed = False
        if not site.active:
            site.active = True
            site_changed = True
            changed.append("site_reactivated")
        if c.department_id is not None and site.department_id != c.department_id:
            site.department_id = c.department_id
            site_changed = True
            changed.append("department")
        if site_changed:
            plan.changed_sites.append(site)
    if not changed:
        plan.outcomes.append((c.row, "unchanged", [], p.pk))
        return
    if changed == ["practice_site"] and new_site is not None:
        plan.audit.append(Entry("network.practice_site.add", Verb.CREATE, PracticeSite._meta.label_lower,
                                str(new_site.pk), detail={**_detail(ctx, c), "practitioner": str(p.pk)}))
    else:
        plan.audit.append(Entry("network.practitioner.update", Verb.UPDATE, Practitioner._meta.label_lower,
                                str(p.pk), detail=_detail(ctx, c, changed)))
    plan.outcomes.append((c.row, "updated", changed, p.pk))


def _plan(ctx: Context, candidates: list[Candidate]) -> _Plan:
    plan = _Plan()
    licences = [c.licence for c in candidates]
    existing = {p.licence_number: p for p in Practitioner.objects.filter(licence_number__in=licences)
                .prefetch_related("specialties", "sites")}
    if ctx.actor.system:
        visible = set(existing)
    else:
        visible = set(visible_practitioners(ctx.actor).filter(licence_number__in=list(existing))
                      .values_list("licence_number", flat=True)) if existing else set()
    for c in candidates:
        p = existing.get(c.licence)
        if p is None:
            _plan_new(ctx, c, plan)
        elif c.licence not in visible:
            c.row.add("registered_elsewhere", value=c.licence)
            plan.outcomes.append((c.row, "error", [], None))
        else:
            _plan_existing(ctx, c, p, plan)
    return plan


def _write(ctx: Context, plan: _Plan) -> None:
    with transaction.atomic():
        Practitioner.objects.bulk_create(plan.new_practitioners)
        if plan.changed_practitioners:
            Practitioner.objects.bulk_update(plan.changed_practitioners, sorted(plan.practitioner_fields))
        if plan.removed_specialties:
            PractitionerSpecialty.objects.filter(pk__in=plan.removed_specialties).delete()
        PractitionerSpecialty.objects.bulk_create(plan.new_specialties)
        PracticeSite.objects.bulk_create(plan.new_sites)
        if plan.changed_sites:
            PracticeSite.objects.bulk_update(plan.changed_sites, ["active", "department"])
        record_many(ctx.actor, plan.audit)


def save_batch(ctx: Context, candidates: list[Candidate]) -> None:
    """Save one batch in one transaction with its audit rows. Someone else saving the same licence
    number at the same moment makes the batch roll back; it is planned again once, then given up."""
    if not candidates:
        return
    for attempt in range(2):
        plan = _plan(ctx, candidates)
        try:
            _write(ctx, plan)
        except IntegrityError:
            for c in candidates:
                c.row.problems = [p for p in c.row.problems if p[0] != "registered_elsewhere"]
            if attempt == 0:
                continue
            for c in candidates:
                c.row.add("not_saved")
                c.row.status = "error"
            return
        for row, status, changed, pk in plan.outcomes:
            row.status, row.changed, row.practitioner_id = status, changed, pk
        return


def run_rows(ctx: Context, rows: list[tuple[int, dict[str, str]]],
             on_progress: Callable[[int], bool] | None = None) -> list[RowResult]:
    """Check every row, then save the good ones batch by batch (each batch its own transaction).
    ``on_progress(rows_done)`` after each batch; returning False stops the run."""
    seen: dict[str, int] = {}
    checked = [check_row(line, values, ctx, seen) for line, values in rows]
    results = [c.row if isinstance(c, Candidate) else c for c in checked]
    for start in range(0, len(checked), BATCH_SIZE):
        batch = checked[start:start + BATCH_SIZE]
        save_batch(ctx, [c for c in batch if isinstance(c, Candidate)])
        if on_progress is not None and not on_progress(start + len(batch)):
            raise Stopped()
    return results


class Stopped(Exception):
    """The job was marked failed (stale) while it ran; stop at the next batch."""


def counts(rows: Iterable[RowResult]) -> dict[str, int]:
    tally = {"total": 0, "imported": 0, "updated": 0, "unchanged": 0, "error": 0}
    for r in rows:
        tally["total"] += 1
        tally[r.status] = tally.get(r.status, 0) + 1
    return tally
