"""Remote diagnosis, the requesting side: record an examination (asking first whether a recent
signed report makes it unnecessary), upload its images, send it for reading, cancel it.

Every action checks the policy, validates, writes in one transaction with its audit row, and
queues its notices for after the commit (DESIGN §4.1). The reading side is in
``actions_reading``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.diagnostics import ExaminationStep
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, can
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.consults.models import Urgency
from medunion.core import clock
from medunion.core.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from medunion.files import dicom, sniff
from medunion.files.actions import kind_limit, read_limited, store_upload

from . import machine, notices
from .archive import get_archive
from .codes import DICOM_MODALITIES, FILE_KINDS, Modality, modality_of_dicom
from .identity import check_patient
from .machine import practitioner_of as _me
from .models import (
    Decision,
    ExamAttachment,
    Examination,
    Instance,
    ReadingRoute,
    Recognition,
    Series,
    Study,
)
from .states import URGENCY_RANK, Act, Event, State
from .validation import ExaminationInput, RecentReportExists, clean_examination

_ACCESSION_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _practitioner(acting: Actor) -> None:
    if acting.user_id is None and not acting.system:
        raise NotAuthenticated()
    if not acting.is_practitioner:
        raise PermissionDenied(_("Only clinicians can request examinations."))


def _accession() -> str:
    return "EX" + clock.now().strftime("%y%m%d") + "".join(secrets.choice(_ACCESSION_ALPHABET) for _ in range(6))


def recognition_window() -> dt.timedelta:
    return dt.timedelta(days=int(getattr(settings, "MEDUNION_RECOGNITION_DAYS", 30)))


def _organisation(acting: Actor, organisation_id: Any) -> uuid.UUID:
    from medunion.network.models import PracticeSite

    if organisation_id:
        oid = parse_uuid(organisation_id)
        if oid not in acting.org_ids:
            raise ValidationFailed(_("You do not practise at this organisation."), field="organisation_id")
        return oid
    site = (PracticeSite.objects.filter(practitioner_id=_me(acting), active=True,
                                        organisation__active=True).order_by("-primary", "organisation__code")
            .values_list("organisation_id", flat=True).first())
    if site is None:
        raise ValidationFailed(_("You practise at no active organisation."), field="organisation_id")
    return site


def routes_for(organisation_id: uuid.UUID, modality: str, consortium_ids: frozenset[uuid.UUID]) -> list[ReadingRoute]:
    """The reading routes open to an organisation for a modality: one per consortium it belongs to
    (and the actor does), county medical communities first."""
    routes = list(ReadingRoute.objects.filter(modality=modality, consortium_id__in=list(consortium_ids),
                                              consortium__memberships__organisation_id=organisation_id)
                  .select_related("consortium", "hub").distinct())
    routes.sort(key=lambda r: (r.consortium.kind != "county_community", r.consortium.code))
    return routes


def recent_reports(acting: Actor, patient_id: uuid.UUID, modality: str, body_site: str) -> list[Examination]:
    """Signed examinations of this patient, modality and body site within the recognition window
    that the actor may see, newest first."""
    from medunion.access.diagnostics import visible_examinations

    since = clock.now() - recognition_window()
    return list(visible_examinations(acting).filter(patient_id=patient_id, modality=modality, body_site=body_site,
                                                    state=State.REPORTED, signed_at__gte=since)
                .select_related("hub", "requesting_organisation").order_by("-signed_at")[:5])


def create_examination(*, acting: Actor, data: ExaminationInput) -> Examination:
    """Record an examination (state ``draft``: images to upload next). When the actor can see a
    signed report of the same modality and body site from within the recognition window and gives
    no ``repeat_reason``, ``RecentReportExists`` (409) lists them; with a reason, the repeat is
    recorded against the newest."""
    from medunion.patients.models import Patient

    _practitioner(acting)
    fields = clean_examination(data)
    if not data.patient_id:
        raise ValidationFailed(_("Choose the patient."), field="patient_id")
    patient = Patient.objects.filter(pk=parse_uuid(data.patient_id)).first()
    if patient is None or not can(acting, Action.UPDATE_PATIENT, patient):
        raise NotFound()
    org_id = _organisation(acting, data.organisation_id)
    routes = routes_for(org_id, fields["modality"], acting.consortium_ids)
    if data.consortium_id:
        cid = parse_uuid(data.consortium_id)
        routes = [r for r in routes if r.consortium_id == cid]
    if not routes:
        raise ValidationFailed(_("No hub reads %(modality)s examinations for your consortium yet; ask your "
                                 "coordinator to set a reading route.") % {"modality": Modality(fields["modality"]).label},
                               field="modality")
    route = routes[0]
    if not can(acting, Action.CREATE_EXAMINATION, route.consortium):
        raise PermissionDenied()
    recent = recent_reports(acting, patient.pk, fields["modality"], fields["body_site"])
    if recent and not fields["repeat_reason"]:
        days = recognition_window().days
        raise RecentReportExists(RecentReportExists.default_message % {"days": days}, field="repeat_reason",
                                 days=days, examinations=[str(e.pk) for e in recent])
    with transaction.atomic():
        exam = Examination.objects.create(
            patient=patient, consortium_id=route.consortium_id, accession=_accession(),
            requester_id=_me(acting), requesting_organisation_id=org_id, hub_id=route.hub_id,
            modality=fields["modality"], body_site=fields["body_site"], body_site_text=fields["body_site_text"],
            question=fields["question"], urgency=fields["urgency"],
            urgency_rank=URGENCY_RANK.get(fields["urgency"], 2),
            repeat_reason=fields["repeat_reason"] if recent else "")
        if recent:
            Recognition.objects.create(
                patient=patient, examination=recent[0], new_examination=exam, decided_by_id=_me(acting),
                organisation_id=org_id, consortium_id=route.consortium_id, modality=exam.modality,
                decision=Decision.REPEATED, reason=fields["repeat_reason"])
        record(acting, "examination.create", Verb.CREATE, obj=exam, patient_id=patient.pk,
               detail={"modality": exam.modality, "body_site": exam.body_site, "urgency": exam.urgency,
                       "hub": str(exam.hub_id), "repeat_of": str(recent[0].pk) if recent else ""})
    return exam


def use_recent_report(*, acting: Actor, examination_id: Any, organisation_id: Any = None) -> Recognition:
    """The clinician, shown a recent signed report, uses it instead of a new examination: an
    avoided repeat."""
    _practitioner(acting)
    exam = machine.load_visible(acting, examination_id)
    if exam.state != State.REPORTED:
        raise Conflict(_("This examination has no signed report yet."))
    org_id = _organisation(acting, organisation_id)
    with transaction.atomic():
        row = Recognition.objects.create(
            patient_id=exam.patient_id, examination=exam, decided_by_id=_me(acting),
            organisation_id=org_id, consortium_id=exam.consortium_id, modality=exam.modality,
            decision=Decision.REUSED)
        record(acting, "examination.recognise", Verb.CREATE, obj=row, patient_id=exam.patient_id,
               detail={"examination": str(exam.pk), "decision": Decision.REUSED})
    return row


# --- uploads -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    """What an upload became: a DICOM instance or an attachment, and whether it was new."""

    kind: str  # "instance" | "attachment"
    created: bool
    instance: Instance | None = None
    attachment: ExamAttachment | None = None


def _upload_target(acting: Actor, examination_id: Any) -> Examination:
    from medunion.access.diagnostics import examination_roles
    from medunion.diagnostics.states import ACTS

    exam = machine.load_visible(acting, examination_id)
    if not can(acting, Action.UPLOAD_EXAMINATION, exam):
        if ACTS[Act.UPLOAD].roles & examination_roles(acting, exam) and exam.state != State.DRAFT:
            raise Conflict(_("This examination has been sent for reading; images can no longer be added."),
                           field="file", reason="not_draft", state=exam.state)
        raise PermissionDenied(_("Only the requesting side can add images to this examination."))
    return exam


def upload_file(*, acting: Actor, examination_id: Any, upload: Any) -> Received:
    """Add one file to an examination being prepared. DICOM is parsed into study / series /
    instance after its modality and its patient are checked; the same SOP Instance UID is kept
    once (a retry returns what the first try stored). Photos and PDFs are kept as attachments
    where the modality allows them. Every refusal is a translated ``ValidationFailed`` on
    ``file`` and leaves nothing behind."""
    exam = _upload_target(acting, examination_id)
    name = str(getattr(upload, "name", "") or "")
    data = read_limited(upload, kind_limit("dicom"))
    fmt = sniff.sniff(data[:sniff.HEAD_BYTES])
    sniff.check_declared(name, str(getattr(upload, "content_type", "") or ""), fmt)
    kinds = FILE_KINDS[exam.modality]
    if fmt is None or fmt.kind != "dicom":
        if fmt is None or fmt.kind not in kinds:
            raise ValidationFailed(
                _("%(modality)s examinations take DICOM files from the device; this file is not one.")
                % {"modality": Modality(exam.modality).label} if kinds == {"dicom"} else
                _("This file cannot be added to a %(modality)s examination: send DICOM files, photos or PDFs.")
                % {"modality": Modality(exam.modality).label}, field="file")
        return _attach(acting, exam, name, data, fmt)
    return _add_instance(acting, exam, name, data)


def _attach(acting: Actor, exam: Examination, name: str, data: bytes, fmt: Any) -> Received:
    from django.core.files.uploadedfile import SimpleUploadedFile

    stored = store_upload(acting=acting, patient_id=exam.patient_id,
                          upload=SimpleUploadedFile(name or f"file{fmt.extension}", data, content_type=fmt.content_type),
                          allowed_kinds=FILE_KINDS[exam.modality] - {"dicom"})
    with transaction.atomic():
        row, created = ExamAttachment.objects.get_or_create(
            examination=exam, file=stored, defaults={"patient_id": exam.patient_id, "original_name": name[:255]})
        if created:
            Examination.objects.filter(pk=exam.pk).update(attachment_count=F("attachment_count") + 1)
        record(acting, "examination.upload", Verb.CREATE, obj=row, patient_id=exam.patient_id,
               detail={"examination": str(exam.pk), "kind": stored.kind, "size": stored.size, "reused": not created})
    return Received(kind="attachment", created=created, attachment=row)


def _add_instance(acting: Actor, exam: Examination, name: str, data: bytes) -> Received:
    import hashlib

    parsed = dicom.read(data)
    meta = parsed.meta
    found = modality_of_dicom(meta["modality"])
    if found is None:
        raise ValidationFailed(_("The DICOM file's modality (%(code)s) is not one MedUnion reads.")
                               % {"code": meta["modality"] or "?"}, field="file", reason="unknown_modality")
    if meta["modality"] not in DICOM_MODALITIES[exam.modality]:
        raise ValidationFailed(_("This file is a %(found)s image; this examination is %(wanted)s.")
                               % {"found": Modality(found).label, "wanted": Modality(exam.modality).label},
                               field="file", reason="wrong_modality")
    if not parsed.has_pixels:
        raise ValidationFailed(_("The DICOM file holds no image (no pixel data), so it cannot be shown."),
                               field="file", reason="no_pixels")
    check_patient(parsed.patient, exam.patient)
    sop = parsed.sop_instance_uid
    existing = Instance.objects.filter(examination=exam, sop_instance_uid=sop).first()
    if existing is not None:
        record(acting, "examination.upload", Verb.CREATE, obj=existing, patient_id=exam.patient_id,
               detail={"examination": str(exam.pk), "sop_instance_uid": sop, "reused": True})
        return Received(kind="instance", created=False, instance=existing)
    elsewhere = (Instance.objects.filter(patient_id=exam.patient_id, sop_instance_uid=sop)
                 .exclude(examination=exam).values_list("examination__accession", flat=True).first())
    if elsewhere:
        raise Conflict(_("This image belongs to examination %(accession)s already.") % {"accession": elsewhere},
                       field="file", reason="other_examination")
    archive = get_archive()
    if archive.name != "local":
        # Prove the pixels decode before the PACS keeps them, as the local archive does (it
        # renders a preview first): what cannot be shown is refused with nothing stored.
        dicom.render_png(parsed, max_side=64)
    stored = archive.put(acting=acting, patient_id=exam.patient_id, data=data, filename=name, meta=meta)
    keep = {k: meta.get(k) for k in ("rows", "columns", "transfer_syntax", "transfer_syntax_name", "photometric",
                                     "bits_stored", "window_center", "window_width", "pixel_spacing",
                                     "image_position", "body_part", "series_number")}
    try:
        with transaction.atomic():
            study, _new = Study.objects.get_or_create(
                examination=exam, study_instance_uid=meta["study_instance_uid"],
                defaults={"patient_id": exam.patient_id, "study_date": meta["study_date"] or None,
                          "description": _dataset_text(parsed.dataset, "StudyDescription")})
            series, _new = Series.objects.get_or_create(
                examination=exam, series_instance_uid=meta["series_instance_uid"],
                defaults={"study": study, "patient_id": exam.patient_id, "modality": meta["modality"],
                          "number": meta["series_number"], "body_part": meta["body_part"][:64],
                          "description": _dataset_text(parsed.dataset, "SeriesDescription")})
            row = Instance.objects.create(
                series=series, examination=exam, patient_id=exam.patient_id, sop_instance_uid=sop,
                sop_class_uid=meta["sop_class_uid"][:64], number=meta["instance_number"],
                slice_location=meta["slice_location"], frames=max(1, int(meta["frames"] or 1)),
                archive=stored.archive, file_id=stored.file_id, original_name=name[:255], size=len(data),
                sha256=hashlib.sha256(data).hexdigest(), meta=keep)
            Series.objects.filter(pk=series.pk).update(instance_count=F("instance_count") + 1)
            Examination.objects.filter(pk=exam.pk).update(instance_count=F("instance_count") + 1)
            record(acting, "examination.upload", Verb.CREATE, obj=row, patient_id=exam.patient_id,
                   detail={"examination": str(exam.pk), "sop_instance_uid": sop, "size": len(data), "reused": False})
    except IntegrityError:
        # The same instance arrived twice at once (a phone retrying): the first one stands.
        existing = Instance.objects.filter(examination=exam, sop_instance_uid=sop).first()
        if existing is None:
            raise
        return Received(kind="instance", created=False, instance=existing)
    return Received(kind="instance", created=True, instance=row)


def _dataset_text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword)
    return str(value).strip()[:200] if value is not None else ""


def received(*, acting: Actor, examination_id: Any) -> list[dict[str, Any]]:
    """What an examination holds already (name, size, SOP Instance UID), so an interrupted upload
    resumes with what is missing. Recorded as a read."""
    exam = machine.load_visible(acting, examination_id)
    rows = [{"name": n, "size": s, "sop_instance_uid": u, "sha256": h} for n, s, u, h in
            Instance.objects.filter(examination=exam).values_list("original_name", "size", "sop_instance_uid",
                                                                   "sha256")]
    rows += [{"name": n, "size": s, "sop_instance_uid": "", "sha256": h} for n, s, h in
             ExamAttachment.objects.filter(examination=exam).values_list("original_name", "file__size",
                                                                          "file__sha256")]
    record(acting, "examination.received", Verb.READ, obj=exam, patient_id=exam.patient_id,
           detail={"count": len(rows)})
    return rows


# --- the requesting side's steps -----------------------------------------------------------------

def submit(*, acting: Actor, examination_id: Any, expected_version: int | None = None) -> Examination:
    """Send the examination to its hub's worklist (it needs at least one image or document)."""
    with transaction.atomic():
        exam = machine.load_visible(acting, examination_id)
        # Asked of whoever may send it (anyone else is told they may not, by apply_transition).
        if exam.state == State.DRAFT and not (exam.instance_count or exam.attachment_count) and \
                can(acting, Action.TRANSITION_EXAMINATION, ExaminationStep(exam, Event.SUBMIT)):
            raise ValidationFailed(_("Upload the images before sending the examination for reading."), field="file")
        fresh = machine.apply_transition(acting, exam, Event.SUBMIT, expected_version=expected_version)
        record(acting, "examination.submit", Verb.UPDATE, obj=fresh, patient_id=fresh.patient_id,
               detail={"instances": fresh.instance_count, "attachments": fresh.attachment_count})
        notices.notice(fresh, "exam.new", notices.hub_reader_users(fresh), acting=acting, with_patient=False)
    return fresh


def cancel(*, acting: Actor, examination_id: Any, reason: str, expected_version: int | None = None) -> Examination:
    with transaction.atomic():
        exam = machine.load_visible(acting, examination_id)
        was = exam.state
        fresh = machine.apply_transition(acting, exam, Event.CANCEL, reason=reason[:1000],
                                         expected_version=expected_version)
        record(acting, "examination.cancel", Verb.UPDATE, obj=fresh, patient_id=fresh.patient_id,
               detail={"from": was, "reason": fresh.cancel_reason})
        if was == State.AWAITING:
            notices.notice(fresh, "exam.cancelled", notices.hub_reader_users(fresh), acting=acting, with_patient=False)
    return fresh


__all__ = ["Urgency", "cancel", "create_examination", "received", "recent_reports", "routes_for", "submit",
           "upload_file", "use_recent_report"]
