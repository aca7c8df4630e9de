"""Escalation of overdue consultations, run by the background worker (``medunion worker``).

A case waiting for a specialist (``requested`` or ``in_progress``) escalates

- to level 1 once its response target has elapsed (``due_at``): the leads of its target team, or
  for pool and named-specialist cases the leads of the consortium's teams of its specialty — or,
  where there are none, the consortium's coordinators;
- to level 2 when it is still waiting one more target interval later: the coordinators.

``Consult.escalate_at`` holds when the next level is due (``due_at`` at level 0,
``due_at + target`` at level 1, nothing at level 2); time on hold moves it forward like
``due_at``. Each escalation raises the level with a conditional UPDATE (``WHERE level = the
level read``), so two workers never escalate a case twice, and writes one audit row as
``system_actor("escalation")`` (action ``consult.escalate``, detail ``level``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.db.models import F

from medunion.access.actor import system_actor
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock

from . import routing
from .machine import COORDINATOR_OVERDUE_URL, notice, reload, write_message
from .models import Audience, Consult, EscalationLevel, MessageKind, TargetKind
from .states import RUNNING_STATES

log = logging.getLogger("medunion.consults.escalation")
BATCH = 500


def escalate_overdue(now: dt.datetime | None = None, *, limit: int = BATCH) -> int:
    """Escalate every case whose next escalation point has passed; returns how many moved.
    Safe to run from several workers at once and to repeat: a case moves one level per point."""
    now = now or clock.now()
    due = list(Consult.objects.filter(state__in=list(RUNNING_STATES), escalation_level__lt=EscalationLevel.COORDINATOR,
                                      escalate_at__lte=now)
               .order_by("escalate_at").values_list("pk", "escalation_level")[:limit])
    moved = 0
    for pk, level in due:
        try:
            moved += _escalate(pk, level, now)
        except Exception:  # noqa: BLE001 - one case's failure must not stop the others
            log.exception("escalating consult %s failed", pk)
    return moved


def _escalate(pk: uuid.UUID, level: int, now: dt.datetime) -> int:
    actor = system_actor("escalation")
    with transaction.atomic():
        consult = Consult.objects.get(pk=pk)
        new = level + 1
        next_at = consult.due_at + dt.timedelta(minutes=consult.target_minutes) \
            if new == EscalationLevel.TEAM_LEAD else None
        if not Consult.objects.filter(pk=pk, escalation_level=level, state__in=list(RUNNING_STATES),
                                      escalate_at__lte=now).update(escalation_level=new, escalate_at=next_at,
                                                                   last_seq=F("last_seq") + 1):
            return 0  # another worker, or the specialist, got there first
        consult = reload(pk)
        write_message(actor, consult, seq=consult.last_seq, kind=MessageKind.SYSTEM, audience=Audience.CLINICIANS,
                      event="escalate", detail={"level": new})
        record(actor, "consult.escalate", Verb.UPDATE, obj=consult, patient_id=consult.patient_id,
               detail={"level": new, "state": consult.state, "due_at": consult.due_at.isoformat(),
                       "overdue_minutes": int((now - consult.due_at).total_seconds() // 60)})
        _tell(consult, new)
    return 1


def _tell(consult: Consult, level: int) -> None:
    leads: list[uuid.UUID] = []
    if level == EscalationLevel.TEAM_LEAD:
        if consult.target_kind == TargetKind.TEAM and consult.target_team_id:
            leads = routing.team_recipients(consult.target_team_id, leads_only=True)
        else:
            leads = routing.specialty_lead_recipients(consult)
    if leads:
        notice(consult, "consult.escalated.lead", leads)
        return
    # Coordinators see no patient data: the notice points at their overdue list, not the case.
    notice(consult, "consult.escalated.coordinator", routing.coordinator_recipients(consult.consortium_id),
           url=COORDINATOR_OVERDUE_URL, with_patient=False)
