"""Break-the-glass: a clinician opens a patient outside their relationships, with a reason,
for a limited time; every such grant waits for a coordinator's review."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from .actor import Actor
from .loaders import parse_uuid
from .models import BreakGlassGrant
from .policy import Action, can, require

MIN_REASON = 10


def break_glass(*, acting: Actor, patient_id: Any, reason: str) -> BreakGlassGrant:
    from medunion.patients.models import Patient

    if not can(acting, Action.BREAK_GLASS):
        raise PermissionDenied(_("Only clinicians can use break-the-glass access."))
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise ValidationFailed(_("State the clinical reason (at least %(n)d characters).") % {"n": MIN_REASON},
                               field="reason")
    pid = parse_uuid(patient_id)
    if not Patient.objects.filter(pk=pid).exists():
        raise NotFound()
    with transaction.atomic():
        grant = BreakGlassGrant.objects.create(
            user_id=acting.user_id, patient_id=pid, reason=reason[:2000],
            expires_at=clock.now() + dt.timedelta(minutes=settings.MEDUNION_BREAK_GLASS_MINUTES))
        record(acting, "patient.break_glass", Verb.EXECUTE, obj=grant, patient_id=pid, purpose="break_glass",
               detail={"minutes": settings.MEDUNION_BREAK_GLASS_MINUTES})
    return grant


def pending_reviews(actor: Actor) -> list[BreakGlassGrant]:
    require(actor, Action.REVIEW_BREAK_GLASS)
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
