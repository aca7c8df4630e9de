"""Reading routes: which hub reads each modality for a consortium, set by its coordinators.

A route decides where an examination goes when it is recorded (``actions.create_examination``);
examinations already sent stay with the hub they were sent to when a route changes.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.policy import Action, require
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core.errors import NotFound, ValidationFailed
from medunion.network.codes import Tier

from .codes import Modality
from .models import ReadingRoute

# The organisations that may read for a consortium: its diagnostic hubs and its hospitals.
READING_TIERS = frozenset({Tier.IMAGING_HUB, Tier.PATHOLOGY_HUB, Tier.ECG_HUB, Tier.COUNTY_HOSPITAL,
                           Tier.CITY_HOSPITAL, Tier.TERTIARY_HOSPITAL, Tier.SPECIALIST_CENTRE})


def reading_organisations(consortium_id: uuid.UUID) -> list[Any]:
    """The active member organisations of the consortium that may be a reading hub."""
    from medunion.network.models import Organisation

    return list(Organisation.objects.filter(memberships__consortium_id=consortium_id, active=True,
                                            tier__in=list(READING_TIERS)).order_by("tier", "name").distinct())


def _hub_id(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise ValidationFailed(_("Choose a reading hub."), field="hub") from None


def set_reading_route(*, acting: Actor, consortium_id: Any, modality: str, hub_id: Any = None) -> ReadingRoute | None:
    """Route ``modality`` to ``hub_id`` (a diagnostic hub or hospital of the consortium), or remove
    the route when ``hub_id`` is None. Returns the route (None when removed)."""
    from medunion.access.loaders import parse_uuid
    from medunion.network.models import Consortium

    consortium = Consortium.objects.filter(pk=parse_uuid(consortium_id)).first()
    if consortium is None:
        raise NotFound()
    require(acting, Action.MANAGE_READING_ROUTES, consortium,
            visible=acting.is_coordinator and consortium.pk in acting.coordinated_ids)
    if modality not in Modality.values:
        raise ValidationFailed(_("Choose a modality (CT, DR/X-ray, MR, ultrasound, ECG, pathology, endoscopy)."),
                               field="modality")
    hub = None
    if hub_id not in (None, ""):
        wanted = _hub_id(hub_id)
        hub = next((o for o in reading_organisations(consortium.pk) if o.pk == wanted), None)
        if hub is None:
            raise ValidationFailed(_("The reading hub must be a diagnostic hub or hospital of this consortium."),
                                   field="hub")
    with transaction.atomic():
        current = ReadingRoute.objects.select_for_update().filter(consortium=consortium, modality=modality).first()
        previous = str(current.hub_id) if current else None
        detail = {"modality": modality, "hub": str(hub.pk) if hub else None, "previous": previous}
        if hub is None:
            if current is not None:
                current.delete()
                record(acting, "reading_route.delete", Verb.DELETE, obj=consortium, detail=detail)
            return None
        if current is None:
            current = ReadingRoute.objects.create(consortium=consortium, modality=modality, hub=hub)
            record(acting, "reading_route.create", Verb.CREATE, obj=consortium, detail=detail)
        elif current.hub_id != hub.pk:
            current.hub = hub
            current.save(update_fields=["hub"])
            record(acting, "reading_route.update", Verb.UPDATE, obj=consortium, detail=detail)
    return current


def routes_of(consortium_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, str], ReadingRoute]:
    """The routes of these consortia by (consortium, modality), hub joined."""
    return {(r.consortium_id, r.modality): r for r in
            ReadingRoute.objects.filter(consortium_id__in=consortium_ids).select_related("hub")}
