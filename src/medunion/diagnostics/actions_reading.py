"""Remote diagnosis, the reading side: claim from the hub's worklist (one winner), write and
sign the structured report, correct it only by addendum or amended version, give a second read,
and the critical-finding loop (flag → acknowledge → escalate)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.diagnostics import examination_roles
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import machine, notices
from .machine import practitioner_of as _me
from .models import (
    CriticalFinding,
    Examination,
    Report,
    ReportKind,
    ReportStatus,
    SecondRead,
    Verdict,
)
from .states import ACTS, Act, Event, State
from .validation import REASON_MAX, SECTION_MAX, ReportInput, clean_report

_CONTENT = ("kind", "version", "findings", "impression", "recommendation", "codes", "measurements", "critical",
            "critical_note", "reason")


def claim(*, acting: Actor, examination_id: Any, expected_version: int | None = None) -> Examination:
    with transaction.atomic():
        exam = machine.load_visible(acting, examination_id)
        fresh = machine.apply_transition(acting, exam, Event.CLAIM, expected_version=expected_version)
        record(acting, "examination.claim", Verb.UPDATE, obj=fresh, patient_id=fresh.patient_id)
    return fresh


def release(*, acting: Actor, examination_id: Any, expected_version: int | None = None) -> Examination:
    with transaction.atomic():
        exam = machine.load_visible(acting, examination_id)
        fresh = machine.apply_transition(acting, exam, Event.RELEASE, expected_version=expected_version)
        record(acting, "examination.release", Verb.UPDATE, obj=fresh, patient_id=fresh.patient_id)
    return fresh


def _author(acting: Actor, exam: Examination) -> dict[str, Any]:
    from medunion.network.models import PracticeSite, Practitioner

    name = Practitioner.objects.filter(pk=_me(acting)).values_list("name", flat=True).first() or ""
    org = (PracticeSite.objects.filter(practitioner_id=_me(acting), organisation_id=exam.hub_id)
           .values_list("organisation__name", flat=True).first() or "")
    return {"author_id": _me(acting), "author_name": (name or acting.display)[:200],
            "author_organisation": org[:200]}


def _digest(report: Report) -> str:
    content = {k: getattr(report, k) for k in _CONTENT}
    content.update(examination=str(report.examination_id), author=str(report.author_id),
                   signed_at=report.signed_at.isoformat() if report.signed_at else "")
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def current_draft(exam: Examination) -> Report | None:
    return Report.objects.filter(examination=exam, status=ReportStatus.DRAFT).first()


def save_draft(*, acting: Actor, examination_id: Any, data: ReportInput) -> Report:
    """Save the claiming reader's draft (not yet a clinical record: it changes until signed)."""
    with transaction.atomic():
        exam = machine.load_visible(acting, examination_id)
        if not can(acting, Action.WRITE_REPORT, exam):
            raise _not_reader(acting, exam)
        fields = clean_report(data, final=False)
        draft = current_draft(exam)
        if draft is None:
            draft = Report(examination=exam, patient_id=exam.patient_id, kind=ReportKind.ORIGINAL, version=1)
        for key, value in {**fields, **_author(acting, exam)}.items():
            setattr(draft, key, value)
        draft.save()
        record(acting, "examination.report.draft", Verb.UPDATE, obj=draft, patient_id=exam.patient_id,
               detail={"examination": str(exam.pk)})
    return draft


def _has_role_for(acting: Actor, exam: Examination, act: Act) -> bool:
    """The actor holds a role the act needs (``states.ACTS``), whatever the state: then a refusal
    is about the state (409), otherwise about who they are (403)."""
    return bool(ACTS[act].roles & examination_roles(acting, exam))


def _not_reader(acting: Actor, exam: Examination) -> Exception:
    if not _has_role_for(acting, exam, Act.WRITE_DRAFT):
        return PermissionDenied(_("Only the reader who claimed this examination can write its report."))
    return Conflict(_("This examination is %(state)s; its report cannot be written now.")
                    % {"state": State(exam.state).label}, state=exam.state)


def _sign_row(report: Report, at: Any = None) -> None:
    report.status = ReportStatus.SIGNED
    report.signed_at = at or clock.now()
    report.content_sha256 = _digest(report)


def _raise_critical(acting: Actor, exam: Examination, report: Report) -> None:
    if not report.critical:
        return
    finding = CriticalFinding.objects.create(examination=exam, report=report, patient_id=exam.patient_id,
                                             note=report.critical_note, raised_by_id=_me(acting))
    record(acting, "examination.critical.raise", Verb.CREATE, obj=finding, patient_id=exam.patient_id,
           detail={"examination": str(exam.pk), "report": str(report.pk)})
    notices.notice(exam, "exam.critical", notices.user_ids_of([exam.requester_id]), acting=acting,
                   body=report.critical_note)


def sign(*, acting: Actor, examination_id: Any, data: ReportInput | None = None,
         expected_version: int | None = None) -> Report:
    """Sign the report (saving ``data`` first when given): the examination is reported, the report
    immutable; a critical finding starts its acknowledgement clock."""
    with transaction.atomic():
        exam = machine.load_visible(acting, examination_id)
        if not can(acting, Action.WRITE_REPORT, exam):
            raise _not_reader(acting, exam)
        if expected_version is not None and expected_version != exam.version:
            raise machine.StaleExamination(state=exam.state)
        draft = current_draft(exam) or Report(examination=exam, patient_id=exam.patient_id,
                                              kind=ReportKind.ORIGINAL, version=1)
        source = data if data is not None else ReportInput(
            findings=draft.findings, impression=draft.impression, recommendation=draft.recommendation,
            codes=[c["code"] for c in draft.codes], measurements=list(draft.measurements), critical=draft.critical,
            critical_note=draft.critical_note, second_read=draft.second_read_requested)
        fields = clean_report(source, final=True)
        for key, value in {**fields, **_author(acting, exam)}.items():
            setattr(draft, key, value)
        fresh = machine.apply_transition(acting, exam, Event.SIGN)
        _sign_row(draft, fresh.signed_at)  # the report's signature time is the examination's
        draft.save()
        record(acting, "examination.report.sign", Verb.CREATE, obj=draft, patient_id=exam.patient_id,
               detail={"examination": str(exam.pk), "version": draft.version, "sha256": draft.content_sha256,
                       "critical": draft.critical})
        _raise_critical(acting, fresh, draft)
        notices.notice(fresh, "exam.reported", notices.user_ids_of([fresh.requester_id]), acting=acting)
        notices.notice(fresh, "exam.patient", notices.patient_users(fresh), acting=acting,
                       url=notices.patient_report_url(fresh.pk))
    return draft


def current_report(exam: Examination) -> Report | None:
    """The signed version in force (the highest original or amended version)."""
    return (Report.objects.filter(examination=exam, status=ReportStatus.SIGNED)
            .exclude(kind=ReportKind.ADDENDUM).order_by("-version").first())


_REPORTED_ACTS = {Action.ADD_ADDENDUM: Act.ADDENDUM, Action.AMEND_REPORT: Act.AMEND,
                  Action.SECOND_READ: Act.SECOND_READ}


def _reported(acting: Actor, examination_id: Any, action: Action) -> tuple[Examination, Report]:
    exam = machine.load_visible(acting, examination_id)
    if not can(acting, action, exam):
        if not _has_role_for(acting, exam, _REPORTED_ACTS[action]):
            raise PermissionDenied(_("Only a senior reader of the hub gives a second read.")
                                   if action == Action.SECOND_READ else
                                   _("Only readers of the hub can correct this report."))
        raise Conflict(_("This examination has no signed report yet."), state=exam.state)
    report = current_report(exam)
    if report is None:  # reported always has one; a broken row answers as missing
        raise NotFound()
    return exam, report


def add_addendum(*, acting: Actor, examination_id: Any, text: str, critical: bool = False,
                 critical_note: str = "") -> Report:
    """Add to a signed report without changing it (signed at once)."""
    with transaction.atomic():
        exam, current = _reported(acting, examination_id, Action.ADD_ADDENDUM)
        fields = clean_report(ReportInput(findings=text, impression="-", critical=critical,
                                          critical_note=critical_note), final=True)
        row = Report(examination=exam, patient_id=exam.patient_id, kind=ReportKind.ADDENDUM, version=current.version,
                     findings=fields["findings"], critical=fields["critical"], critical_note=fields["critical_note"],
                     **_author(acting, exam))
        _sign_row(row)
        row.save(force_insert=True)
        record(acting, "examination.report.addendum", Verb.CREATE, obj=row, patient_id=exam.patient_id,
               detail={"examination": str(exam.pk), "to_version": current.version, "sha256": row.content_sha256})
        _raise_critical(acting, exam, row)
        notices.notice(exam, "exam.addendum", notices.user_ids_of([exam.requester_id]), acting=acting)
    return row


def amend(*, acting: Actor, examination_id: Any, data: ReportInput, reason: str) -> Report:
    """A new signed version replacing the one in force (which stays as it was, readable)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Say why the report is amended."), field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(_("At most %(limit)d characters.") % {"limit": REASON_MAX}, field="reason")
    with transaction.atomic():
        exam, current = _reported(acting, examination_id, Action.AMEND_REPORT)
        fields = clean_report(data, final=True)
        top = Report.objects.filter(examination=exam).exclude(kind=ReportKind.ADDENDUM).aggregate(v=Max("version"))
        row = Report(examination=exam, patient_id=exam.patient_id, kind=ReportKind.AMENDED,
                     version=int(top["v"] or current.version) + 1, reason=reason, **fields, **_author(acting, exam))
        _sign_row(row)
        row.save(force_insert=True)
        record(acting, "examination.report.amend", Verb.CREATE, obj=row, patient_id=exam.patient_id,
               detail={"examination": str(exam.pk), "version": row.version, "replaces": current.version,
                       "sha256": row.content_sha256})
        _raise_critical(acting, exam, row)
        notices.notice(exam, "exam.amended", notices.user_ids_of([exam.requester_id]), acting=acting, body=reason)
        notices.notice(exam, "exam.patient", notices.patient_users(exam), acting=acting,
                       url=notices.patient_report_url(exam.pk))
    return row


def second_read(*, acting: Actor, examination_id: Any, verdict: str, comment: str = "") -> SecondRead:
    """A senior reader's quality-control read of the report in force (once per version; never by
    its author). A major discrepancy tells the author to amend."""
    if verdict not in Verdict.values:
        raise ValidationFailed(_("Choose a verdict."), field="verdict")
    comment = (comment or "").strip()
    if len(comment) > SECTION_MAX:
        raise ValidationFailed(_("At most %(limit)d characters.") % {"limit": SECTION_MAX}, field="comment")
    if verdict != Verdict.AGREE and not comment:
        raise ValidationFailed(_("Describe the discrepancy."), field="comment")
    with transaction.atomic():
        exam, report = _reported(acting, examination_id, Action.SECOND_READ)
        if report.author_id == _me(acting):
            raise PermissionDenied(_("A second read is given by another reader, not the report's author."))
        if SecondRead.objects.filter(report=report).exists():
            raise Conflict(_("This report has had its second read already."))
        _author_fields = _author(acting, exam)
        row = SecondRead.objects.create(report=report, examination=exam, patient_id=exam.patient_id,
                                        reviewer_id=_me(acting), reviewer_name=_author_fields["author_name"],
                                        verdict=verdict, comment=comment)
        record(acting, "examination.report.second_read", Verb.CREATE, obj=row, patient_id=exam.patient_id,
               detail={"examination": str(exam.pk), "version": report.version, "verdict": verdict})
        if verdict == Verdict.MAJOR:
            notices.notice(exam, "exam.second_read", notices.user_ids_of([report.author_id]), acting=acting,
                           body=comment)
    return row


def acknowledge_critical(*, acting: Actor, finding_id: Any) -> CriticalFinding:
    """The requesting side confirms it has seen the critical finding (one success: a second
    press answers who acknowledged)."""
    with transaction.atomic():
        finding = CriticalFinding.objects.select_related("examination").filter(pk=parse_uuid(finding_id)).first()
        if finding is None or not can(acting, Action.VIEW_EXAMINATION, finding.examination):
            raise NotFound()
        if not can(acting, Action.ACKNOWLEDGE_CRITICAL, finding.examination):
            raise PermissionDenied(_("The requesting clinician, their organisation or the patient's care team "
                                     "acknowledges a critical finding."))
        from medunion.network.models import Practitioner

        name = Practitioner.objects.filter(pk=_me(acting)).values_list("name", flat=True).first() or ""
        now = clock.now()
        done = CriticalFinding.objects.filter(pk=finding.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by_id=_me(acting), acknowledged_by_name=name[:200])
        if not done:
            finding.refresh_from_db()
            raise Conflict(_("%(who)s acknowledged this critical finding already.")
                           % {"who": finding.acknowledged_by_name}, code_detail="already_acknowledged")
        finding.refresh_from_db()
        record(acting, "examination.critical.acknowledge", Verb.UPDATE, obj=finding, patient_id=finding.patient_id,
               detail={"examination": str(finding.examination_id),
                       "minutes": round((now - finding.created_at).total_seconds() / 60, 1)})
    return finding
