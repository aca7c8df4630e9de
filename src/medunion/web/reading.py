"""The hub's reading pages: the worklist (waiting examinations by urgency then waiting time, then
those being read), my readings, the second reads a senior reader owes, and claiming from it. One
winner: a reader who lost the race sees the worklist again with who claimed first (409).

The report editor and the steps on a report are in ``reading_report``; the coordinator's turnaround
figures and reading routes in ``coordinator/diagnostics``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from medunion.access.actor import Actor
from medunion.access.diagnostics import holds_senior_title
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can
from medunion.audit.actions import Entry, record_many
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import NotFound
from medunion.core.planner import rows_by_key
from medunion.diagnostics import actions_reading as dr
from medunion.diagnostics import queries as dq
from medunion.diagnostics.codes import Modality
from medunion.diagnostics.states import State

from . import steps
from .common import clinician_page, guarded, list_window
from .consults_common import age
from .reading_forms import ClaimForm, claim_fields, claim_prefix

reader_page = guarded(lambda a: can(a, Action.VIEW_READING_WORKLIST))

TABS = (
    ("worklist", gettext_lazy("Waiting")),
    ("mine", gettext_lazy("Mine")),
    ("second_reads", gettext_lazy("Second reads")),
)
HOME_CRITICAL = 10


def report_url(examination_id: Any) -> str:
    return f"/examinations/{examination_id}/report"


def duration_text(minutes: float | None) -> str:
    """A span of time in words: "45 min", "2 h 10 min", "3 d 4 h"."""
    if minutes is None:
        return "—"
    total = max(0, int(minutes))
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": mins}
    return _("%(m)d min") % {"m": mins}


def minutes_since(at: dt.datetime | None, now: dt.datetime) -> float | None:
    return (now - at).total_seconds() / 60 if at else None


def worklist_context(request: HttpRequest, *, conflict: str = "") -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    senior = holds_senior_title(actor)
    name = request.GET.get("list") or "worklist"
    if name not in ("worklist", "mine", "second_reads") or (name == "second_reads" and not senior):
        raise NotFound()
    modalities = sorted(dq.reads_modalities(actor))
    modality = request.GET.get("modality", "")
    if modality and modality not in modalities:
        modality = ""
    window = list_window(request)
    fetched = rows_by_key(dq.listing(actor, name, modality=modality), window.offset, window.fetch_stop)
    shown = dq.record_listed(actor, fetched[:window.size], name=name)
    now = clock.now()
    rows = []
    for e in shown:
        since = e.signed_at if name == "second_reads" else e.submitted_at
        rows.append({"e": e, "age": age(e.patient.birth_date), "waiting": duration_text(minutes_since(since, now)),
                     "mine": e.reader_id == actor.practitioner_id,
                     "claim": claim_fields(e.pk, e.version) if e.state == State.AWAITING else None})
    counts = dq.counts(actor)
    tabs = [(k, label) for k, label in TABS if k != "second_reads" or senior]
    return {"rows": rows, "tab": name, "tabs": tabs, "counts": counts, "page": window.page,
            "has_next": len(fetched) > window.size, "modality": modality,
            "modalities": [(m, Modality(m).label) for m in modalities if m in Modality.values],
            "conflict": conflict, "nav": "reading"}


@reader_page
def worklist(request: HttpRequest) -> HttpResponse:
    return render(request, "web/diagnostics/worklist.html", worklist_context(request))


@clinician_page
@require_POST
def claim(request: HttpRequest, examination_id: Any) -> HttpResponse:
    """Claim a waiting examination and open its report editor; a reader who lost the race sees
    the worklist again with who claimed first."""
    actor = request.actor  # type: ignore[attr-defined]
    eid = parse_uuid(examination_id)
    form = ClaimForm(request.POST, prefix=claim_prefix(eid))

    def show_again(*, bound: dict[str, Any] | None = None, conflict: str = "", status: int = 422,
                   **_kw: Any) -> HttpResponse:
        if not can(actor, Action.VIEW_READING_WORKLIST):
            raise NotFound()
        text = conflict or _("This form could not be read. Reload the worklist and try again.")
        return render(request, "web/diagnostics/worklist.html", worklist_context(request, conflict=text),
                      status=status)

    return steps.run_step(
        request, eid, scope="reading", key="claim", form=form, id_key="examination",
        perform=lambda xid, d, _f: dr.claim(acting=actor, examination_id=xid, expected_version=d.get("version")),
        done=_("You claimed the examination. Write its report."), show_again=show_again,
        back=lambda: redirect(report_url(eid)))


# --- the clinician's home: reading counts and critical findings to acknowledge -----------------------

def home_context(actor: Actor) -> dict[str, Any]:
    """What the clinician's home shows of remote diagnosis: how many wait in the worklist and in
    my reading (readers), and the critical findings my side must acknowledge (listing them shows
    the patient: one audit row each)."""
    counts = dq.counts(actor)
    findings = list(dq.open_critical(actor).select_related("examination__patient")[:HOME_CRITICAL])
    record_many(actor, [Entry(action="examination.list", verb=Verb.READ, object_type="diagnostics.examination",
                              object_id=str(f.examination_id), patient_id=f.patient_id,
                              detail={"list": "critical"}) for f in findings])
    now = clock.now()
    critical = [{"f": f, "e": f.examination, "since": duration_text(minutes_since(f.created_at, now))}
                for f in findings]
    return {"reading": counts, "reader": "worklist" in counts, "critical": critical,
            "critical_more": max(0, counts.get("critical", 0) - len(critical))}


