"""Reading remote diagnosis: worklists, lists, the examination's page, the patient's reports.

List pages record one audit row per examination shown (one batch); opening an examination, a
frame or a report records one row. Lists pin their query counts in tests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from medunion.access.actor import Actor
from medunion.access.diagnostics import (
    examination_roles,
    reader_modalities,
    visible_examinations,
    visible_reports,
    worklist_q,
)
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can
from medunion.audit.actions import Entry, record, record_many
from medunion.audit.models import Verb
from medunion.core.errors import NotFound
from medunion.core.planner import joins_as_written, rows_by_key

from . import machine
from .models import (
    CriticalFinding,
    ExamAttachment,
    Examination,
    Instance,
    Report,
    ReportKind,
    ReportStatus,
    SecondRead,
    Series,
)
from .states import ACTS, TRANSITIONS, WORKLIST_STATES, Act, Event, Role, State

PAGE_SIZE = int(getattr(settings, "MEDUNION_PAGE_SIZE", 50))
LISTS = ("worklist", "mine", "second_reads", "requested", "reported")
_RELATED = ("patient", "requesting_organisation", "requester", "reader", "hub")


def _clinician(actor: Actor) -> bool:
    return actor.is_practitioner and actor.practitioner_id is not None


def listing(actor: Actor, name: str, *, modality: str = "", state: str = "") -> QuerySet[Examination]:
    """A named list: ``worklist`` (the hub's examinations for the modalities the reader reads: the
    waiting ones first, by urgency then waiting time, then those a reader has claimed, in the same
    order), ``mine`` (claimed by me), ``second_reads``
    (signed reports awaiting a requested second read, for senior readers), ``requested`` (asked
    for by me or my organisation, still open) and ``reported`` (mine or my organisation's,
    reported)."""
    if not _clinician(actor):
        raise NotFound()
    me = actor.practitioner_id
    orgs = list(actor.org_ids)
    if name in ("worklist", "mine", "second_reads"):
        where = worklist_q(actor)
        if where is None:
            return Examination.objects.none()
        base = Examination.objects.filter(where)
        if name == "worklist":
            # What is still to claim before what a colleague is reading (a page of claimed rows hid the
            # waiting ones): AWAITING sorts before IN_READING, and the order is exam_worklist's own.
            qs = base.filter(state__in=list(WORKLIST_STATES)).order_by("state", "urgency_rank", "submitted_at",
                                                                        "id")
        elif name == "mine":
            qs = base.filter(state=State.IN_READING, reader_id=me).order_by("urgency_rank", "submitted_at", "id")
        else:
            pending = Report.objects.filter(examination=OuterRef("pk"), status=ReportStatus.SIGNED,
                                            second_read_requested=True).exclude(author_id=me).filter(
                ~Exists(SecondRead.objects.filter(report=OuterRef("pk"))))
            qs = base.filter(Exists(pending), state=State.REPORTED).order_by("signed_at", "id")
    elif name in ("requested", "reported"):
        mine = Q(requester_id=me) | Q(requesting_organisation_id__in=orgs)
        states = [State.REPORTED] if name == "reported" else [State.DRAFT, State.AWAITING, State.IN_READING]
        order = ("-signed_at", "-id") if name == "reported" else ("-created_at", "-id")
        qs = Examination.objects.filter(mine, state__in=states).order_by(*order)
    else:
        raise NotFound()
    if modality:
        qs = qs.filter(modality=modality)
    if state and state in State.values:
        qs = qs.filter(state=state)
    return joins_as_written(qs.select_related(*_RELATED))


def list_page(actor: Actor, qs: QuerySet[Examination], *, name: str, limit: int = PAGE_SIZE,
              offset: int = 0) -> list[Examination]:
    """Cut a page (keys first: ``rows_by_key``) and record it (``record_listed``)."""
    limit = max(1, min(limit, 200))
    return record_listed(actor, rows_by_key(qs, offset, max(0, offset) + limit), name=name)


def record_listed(actor: Actor, rows: list[Examination], *, name: str) -> list[Examination]:
    """One audit row per examination shown, in one batch."""
    record_many(actor, [Entry(action="examination.list", verb=Verb.READ, object_type="diagnostics.examination",
                              object_id=str(e.pk), patient_id=e.patient_id, detail={"list": name}) for e in rows])
    return rows


def counts(actor: Actor) -> dict[str, int]:
    """How many wait in the worklist and in my reading, and my open critical findings."""
    if not _clinician(actor):
        return {}
    out = {"critical": open_critical(actor).count()}
    if can(actor, Action.VIEW_READING_WORKLIST):
        out["worklist"] = listing(actor, "worklist").filter(state=State.AWAITING).count()
        out["mine"] = listing(actor, "mine").count()
    return out


def open_critical(actor: Actor) -> QuerySet[CriticalFinding]:
    """Critical findings waiting for this clinician's side to acknowledge them."""
    if not _clinician(actor):
        return CriticalFinding.objects.none()
    return (CriticalFinding.objects.filter(acknowledged_at__isnull=True)
            .filter(Q(examination__requester_id=actor.practitioner_id)
                    | Q(examination__requesting_organisation_id__in=list(actor.org_ids)))
            .select_related("examination").order_by("created_at"))


# --- one examination --------------------------------------------------------------------------------

@dataclass
class SeriesView:
    series: Series
    instances: list[Instance]

    @property
    def key_instance(self) -> Instance | None:
        return self.instances[len(self.instances) // 2] if self.instances else None


@dataclass
class ExaminationView:
    exam: Examination
    roles: frozenset[str]
    series: list[SeriesView] = field(default_factory=list)
    attachments: list[ExamAttachment] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)  # signed versions and addenda, oldest first
    draft: Report | None = None
    critical: list[CriticalFinding] = field(default_factory=list)
    second_reads: list[SecondRead] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    acts: list[str] = field(default_factory=list)

    @property
    def current(self) -> Report | None:
        signed = [r for r in self.reports if r.kind != ReportKind.ADDENDUM]
        return signed[-1] if signed else None

    @property
    def addenda(self) -> list[Report]:
        return [r for r in self.reports if r.kind == ReportKind.ADDENDUM]

    @property
    def superseded(self) -> list[Report]:
        signed = [r for r in self.reports if r.kind != ReportKind.ADDENDUM]
        return signed[:-1]


def events_now(exam: Examination, roles: frozenset[str]) -> list[str]:
    return [str(e) for e, t in TRANSITIONS.items() if exam.state in t.sources and t.roles & roles]


def acts_now(exam: Examination, roles: frozenset[str]) -> list[str]:
    return [str(a) for a, rule in ACTS.items() if exam.state in rule.states and rule.roles & roles]


def series_of(exam: Examination) -> list[SeriesView]:
    instances: dict[uuid.UUID, list[Instance]] = {}
    for inst in Instance.objects.filter(examination=exam).order_by("number", "slice_location", "created_at"):
        instances.setdefault(inst.series_id, []).append(inst)
    return [SeriesView(series=s, instances=instances.get(s.pk, []))
            for s in Series.objects.filter(examination=exam).order_by("number", "created_at")]


def examination_view(actor: Actor, examination_id: Any, *, audit: bool = True) -> ExaminationView:
    """Everything the examination's page shows, for this actor (404 unless visible), with one
    audit row."""
    return view_of(actor, machine.load_visible(actor, examination_id), audit=audit)


def view_of(actor: Actor, exam: Examination, *, audit: bool = True) -> ExaminationView:
    """:func:`examination_view` of an examination ``machine.load_visible`` has just given this
    actor (a page that first decides what to show by the actor's roles on it loads it once: its
    roles are kept on the instance)."""
    roles = examination_roles(actor, exam)
    view = ExaminationView(exam=exam, roles=roles, events=events_now(exam, roles), acts=acts_now(exam, roles))
    view.series = series_of(exam)
    view.attachments = list(ExamAttachment.objects.filter(examination=exam).select_related("file"))
    view.reports = list(Report.objects.filter(examination=exam, status=ReportStatus.SIGNED)
                        .order_by("version", "signed_at"))
    if Role.READER in roles and exam.state == State.IN_READING:
        view.draft = Report.objects.filter(examination=exam, status=ReportStatus.DRAFT).first()
    view.critical = list(CriticalFinding.objects.filter(examination=exam).order_by("created_at"))
    view.second_reads = list(SecondRead.objects.filter(examination=exam).order_by("created_at"))
    if audit:
        record(actor, "examination.view", Verb.READ, obj=exam, patient_id=exam.patient_id)
    return view


def access_instance(actor: Actor, examination_id: Any, instance_id: Any) -> Instance:
    """One instance of an examination the actor may see (404 otherwise), for rendering; one audit
    row per frame fetched."""
    exam = machine.load_visible(actor, examination_id)
    inst = (Instance.objects.filter(pk=parse_uuid(instance_id), examination=exam)
            .select_related("file", "series__study").first())
    if inst is None:
        raise NotFound()
    record(actor, "examination.image.read", Verb.READ, obj=inst, patient_id=exam.patient_id,
           detail={"examination": str(exam.pk)})
    return inst


def access_attachment(actor: Actor, examination_id: Any, attachment_id: Any) -> ExamAttachment:
    exam = machine.load_visible(actor, examination_id)
    att = (ExamAttachment.objects.filter(pk=parse_uuid(attachment_id), examination=exam)
           .select_related("file").first())
    if att is None:
        raise NotFound()
    record(actor, "examination.file.read", Verb.READ, obj=att.file, patient_id=exam.patient_id,
           detail={"examination": str(exam.pk)})
    return att


# --- the patient -------------------------------------------------------------------------------------

def patient_reports(actor: Actor, *, limit: int = PAGE_SIZE) -> list[Examination]:
    """The patient's own reported examinations, newest first (one audit row for the list)."""
    if not actor.is_patient:
        raise NotFound()
    rows = list(visible_reports(actor)
                .select_related("hub", "requesting_organisation").order_by("-signed_at", "-id")[:limit])
    if rows:
        record(actor, "examination.list", Verb.READ, object_type="diagnostics.examination",
               patient_id=actor.patient_id, detail={"list": "patient", "count": len(rows)})
    return rows


def patient_report(actor: Actor, examination_id: Any) -> ExaminationView:
    """One reported examination of the patient: signed reports only (never drafts, images'
    worklist details or second reads)."""
    if not actor.is_patient:
        raise NotFound()
    exam = machine.load_visible(actor, examination_id)
    view = ExaminationView(exam=exam, roles=examination_roles(actor, exam))
    view.reports = list(Report.objects.filter(examination=exam, status=ReportStatus.SIGNED)
                        .order_by("version", "signed_at"))
    record(actor, "examination.view", Verb.READ, obj=exam, patient_id=exam.patient_id)
    return view


def patient_examinations(actor: Actor, patient_id: Any, *, limit: int = 20) -> list[Examination]:
    """A patient's examinations the clinician may see (for the patient's record page)."""
    if not _clinician(actor):
        return []
    return list(visible_examinations(actor).filter(patient_id=parse_uuid(patient_id))
                .select_related("hub", "requesting_organisation").order_by("-created_at")[:limit])


def reads_modalities(actor: Actor) -> frozenset[str]:
    return reader_modalities(actor)


__all__ = ["Event", "LISTS", "Act", "access_attachment", "access_instance", "counts", "examination_view",
           "list_page", "listing", "open_critical", "patient_examinations", "patient_report", "patient_reports"]
