"""Response targets: how soon a case must be answered, per consortium and urgency.

Defaults (issue 3): emergency 30 minutes, urgent 4 hours, routine 48 hours. A consortium may set
its own (``ConsultPolicy``, one row per consortium). A case takes the target in force when it is
sent (``Consult.target_minutes``) and falls due at ``created_at + target`` (``due_at``).

A case is **overdue** once its target has elapsed (the clock has reached ``due_at``: an urgent
case unanswered for 4 hours is overdue) while it is waiting for a specialist (``requested`` or
``in_progress``). Time spent waiting on the asker (``on_hold``) does not count
against the specialist: when the asker provides the information, ``due_at`` (and the next
escalation point) move forward by the time the case spent on hold. A follow-up question after an
answer starts a fresh target from the moment it is asked.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, require, visible_consortia
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import NotFound, ValidationFailed

from .models import ConsultPolicy, Urgency
from .states import RUNNING_STATES

DEFAULT_MINUTES: dict[str, int] = {Urgency.EMERGENCY: 30, Urgency.URGENT: 240, Urgency.ROUTINE: 2880}
MIN_MINUTES, MAX_MINUTES = 5, 30 * 24 * 60


def targets_for(consortium_id: uuid.UUID) -> dict[str, int]:
    """Minutes per urgency for a consortium: its own policy, or the defaults."""
    row = ConsultPolicy.objects.filter(consortium_id=consortium_id).first()
    if row is None:
        return dict(DEFAULT_MINUTES)
    return {Urgency.EMERGENCY: row.emergency_minutes, Urgency.URGENT: row.urgent_minutes,
            Urgency.ROUTINE: row.routine_minutes}


def response_target(consortium_id: uuid.UUID, urgency: str) -> dt.timedelta:
    return dt.timedelta(minutes=targets_for(consortium_id)[urgency])


def overdue_q(now: dt.datetime | None = None) -> Q:
    """The filter for overdue cases (see the module docstring)."""
    return Q(state__in=list(RUNNING_STATES), due_at__lte=now or clock.now())


def is_overdue(consult: Any, now: dt.datetime | None = None) -> bool:
    return consult.state in RUNNING_STATES and consult.due_at <= (now or clock.now())


def set_response_targets(*, acting: Actor, consortium_id: Any, emergency: int, urgent: int,
                         routine: int) -> ConsultPolicy:
    """A coordinator sets the consortium's targets (minutes). Cases already sent keep theirs."""
    consortium = visible_consortia(acting).filter(pk=parse_uuid(consortium_id)).first()
    if consortium is None:
        raise NotFound()
    require(acting, Action.MANAGE_NETWORK, consortium)
    values = {"emergency": emergency, "urgent": urgent, "routine": routine}
    errors: dict[str, list[str]] = {}
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or not MIN_MINUTES <= value <= MAX_MINUTES:
            errors[key] = [str(_("Enter a number of minutes between %(low)d and %(high)d.")
                               % {"low": MIN_MINUTES, "high": MAX_MINUTES})]
    if not errors and not emergency <= urgent <= routine:
        errors["urgent"] = [str(_("An emergency is answered no later than an urgent case, and an urgent case "
                                  "no later than a routine one."))]
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        row, _created = ConsultPolicy.objects.select_for_update().get_or_create(consortium=consortium)
        row.emergency_minutes, row.urgent_minutes, row.routine_minutes = emergency, urgent, routine
        row.updated_at = clock.now()
        row.save()
        record(acting, "consult.targets.set", Verb.UPDATE, obj=row, detail=values)
    return row
