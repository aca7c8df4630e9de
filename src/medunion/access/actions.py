"""Break-the-glass: a clinician opens a patient outside their relationships, with a reason,
for a limited time; every such grant waits for a coordinator's review."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from medunion.accounts.settings_registry import platform_setting
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, ValidationFailed

from .actor import Actor
from .loaders import parse_uuid
from .models import BreakGlassGrant
from .policy import Action, can, require

MIN_REASON = 10


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise ValidationFailed(_("State the clinical reason (at least %(n)d characters).") % {"n": MIN_REASON},
                               field="reason")
    return reason


def break_glass(*, acting: Actor, patient_id: Any, reason: str) -> BreakGlassGrant:
    from medunion.patients.models import Patient

    require(acting, Action.BREAK_GLASS, visible=False)
    reason = _clean_reason(reason)
    pid = parse_uuid(patient_id)
    if not Patient.objects.filter(pk=pid).exists():
        raise NotFound()
    minutes = platform_setting("break_glass_minutes")
    with transaction.atomic():
        now = clock.now()  # one moment: the grant lasts exactly its minutes from when it was made
        grant = BreakGlassGrant.objects.create(
            user_id=acting.user_id, patient_id=pid, reason=reason[:2000],  # type: ignore[misc]  # a clinician
            created_at=now, expires_at=now + dt.timedelta(minutes=minutes))
        record(acting, "patient.break_glass", Verb.EXECUTE, obj=grant, patient_id=pid, purpose="break_glass",
               detail={"minutes": minutes})
    return grant


def pending_reviews(actor: Actor) -> list[BreakGlassGrant]:
    require(actor, Action.REVIEW_BREAK_GLASS, visible=False)
    from medunion.accounts.models import User

    users = User.objects.filter(
        practitioner__sites__organisation__memberships__consortium_id__in=list(actor.coordinated_ids)).values("pk")
    return list(BreakGlassGrant.objects.filter(reviewed_at__isnull=True, user_id__in=users)
                .select_related("user", "patient").order_by("created_at")[:200])


def review_break_glass(*, acting: Actor, grant_id: Any, note: str = "") -> BreakGlassGrant:
    with transaction.atomic():
        grant = BreakGlassGrant.objects.select_for_update().filter(pk=parse_uuid(grant_id)).first()
        if grant is None or not can(acting, Action.REVIEW_BREAK_GLASS, grant):
            raise NotFound()
        if grant.reviewed_at:
            raise Conflict(_("This access was reviewed already."))
        grant.reviewed_by_id, grant.reviewed_at, grant.review_note = acting.user_id, clock.now(), note[:2000]
        grant.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
        record(acting, "access.break_glass.review", Verb.UPDATE, obj=grant, patient_id=grant.patient_id,
               purpose="audit")
    return grant


def break_glass_by_id_number(*, acting: Actor, id_number: str, reason: str) -> BreakGlassGrant:
    """Break-the-glass for a patient the clinician can only name by resident ID number (an
    emergency at a clinic where the patient is not registered). The lookup is exact, through the
    keyed hash; an unknown number is a plain 404 and is not recorded against anyone."""
    from medunion.patients.actions import id_hash
    from medunion.patients.identity import parse_resident_id
    from medunion.patients.models import Patient

    require(acting, Action.BREAK_GLASS, visible=False)
    reason = _clean_reason(reason)  # before the lookup: no reason, no answer about existence
    number = parse_resident_id(id_number).number
    pid = Patient.objects.filter(id_number_hash=id_hash(number)).values_list("pk", flat=True).first()
    if pid is None:
        raise NotFound(_("No patient with this ID number is registered on the platform."))
    return break_glass(acting=acting, patient_id=pid, reason=reason)


def live_grant(actor: Actor, patient_id: Any) -> BreakGlassGrant | None:
    """The actor's own open break-the-glass grant on this patient, if any (to show its expiry)."""
    if actor.user_id is None:
        return None
    return (BreakGlassGrant.objects.filter(user_id=actor.user_id, patient_id=parse_uuid(patient_id),
                                           expires_at__gt=clock.now()).order_by("-expires_at").first())
