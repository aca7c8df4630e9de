"""The two conversations of a case (DESIGN §4.3): the clinician conversation, which the patient
never sees, and the patient conversation (the patient and the care team). Messages are never
edited or deleted: a correction is a new version superseding the old, which clinicians still
see. Re-exported by ``consults.actions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, require
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import routing
from .machine import (
    active_mdt,
    attach,
    check_files,
    load_consult,
    notice,
    reserve_seq,
    write_message,
)
from .models import Audience, ConsultMessage, MessageKind
from .states import OPEN_STATES
from .validation import clean_audience, clean_body

# A person's own words may be corrected; the platform's records of events may not.
CORRECTABLE_KINDS = (MessageKind.MESSAGE, MessageKind.INFO_REQUEST, MessageKind.INFO_REPLY, MessageKind.OPINION)


def post_message(*, acting: Actor, consult_id: Any, body: str, audience: str = Audience.CLINICIANS,
                 attachments: Sequence[Any] = ()) -> ConsultMessage:
    """Write in one of the case's conversations while it is open.

    Clinician conversation: the asker, the assignee, MDT members, the care team, a team lead.
    Patient conversation: the patient, the asker, the assignee, the care team. A patient can only
    ever write to (and read) the patient conversation."""
    with transaction.atomic():
        consult = load_consult(acting, consult_id)
        audience = clean_audience(audience)
        if audience == Audience.PATIENT and consult.patient_id is None:
            raise ValidationFailed(_("This case is about no patient: there is no patient conversation."),
                                   field="audience")
        require(acting, Action.WRITE_PATIENT_MESSAGE if audience == Audience.PATIENT
                else Action.WRITE_CLINICIAN_MESSAGE, consult)
        text = clean_body(body)
        files = check_files(acting, attachments, consult.patient_id)
        seq = reserve_seq(consult, states=OPEN_STATES)
        message = write_message(acting, consult, seq=seq, kind=MessageKind.MESSAGE, audience=audience, body=text)
        attach(consult, files, message)
        record(acting, "consult.message.create", Verb.CREATE, obj=message, patient_id=consult.patient_id,
               detail={"consult": str(consult.pk), "audience": audience, "attachments": len(files)})
        _tell(acting, consult, message)
    return message


def _tell(acting: Actor, consult: Any, message: ConsultMessage) -> None:
    clinicians = routing.user_ids_of([consult.asker_id, consult.assignee_id, *(
        active_mdt(consult) if message.audience == Audience.CLINICIANS else [])])
    notice(consult, "consult.message", clinicians, acting=acting)
    if message.audience == Audience.PATIENT and not acting.is_patient:
        notice(consult, "consult.patient_message", routing.patient_user_ids(consult.patient_id), acting=acting)


def correct_message(*, acting: Actor, message_id: Any, body: str) -> ConsultMessage:
    """The author corrects their message: a new version in the same conversation; the old one
    stays (clinicians see both, marked; a patient sees the current version only)."""
    with transaction.atomic():
        old = ConsultMessage.objects.filter(pk=parse_uuid(message_id)).first()
        if old is None:
            raise NotFound()
        consult = load_consult(acting, old.consult_id)
        if acting.is_patient and old.audience != Audience.PATIENT:
            raise NotFound()  # a patient never learns a clinician message exists
        if old.author_id != acting.user_id or old.kind not in CORRECTABLE_KINDS or acting.user_id is None:
            raise PermissionDenied(_("Only the author can correct this message."))
        text = clean_body(body)
        seq = reserve_seq(consult)
        if ConsultMessage.objects.filter(supersedes=old).exists():
            raise Conflict(_("This message has been corrected already; correct the latest version."))
        try:
            with transaction.atomic():
                message = write_message(acting, consult, seq=seq, kind=old.kind, audience=old.audience, body=text,
                                        event=old.event, supersedes=old)
        except IntegrityError as exc:  # pragma: no cover - serialised by reserve_seq's row lock
            raise Conflict(_("This message has been corrected already; correct the latest version.")) from exc
        record(acting, "consult.message.correct", Verb.UPDATE, obj=message, patient_id=consult.patient_id,
               detail={"consult": str(consult.pk), "supersedes": str(old.pk), "audience": old.audience})
    return message
