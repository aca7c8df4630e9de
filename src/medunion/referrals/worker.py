"""The referral clocks, run by the background worker (``medunion worker``) every round:

- an unanswered referral (``requested`` past ``escalate_at``) escalates once: the consortium's
  coordinators and the referring clinician are told, and it shows as overdue in the inbox;
- a referral whose patient was accepted or arrived but whose outcome has not come back by
  ``outcome_due_at`` is flagged (``outcome_flagged_at``) and the referring clinician told;
- a loop whose outcome came back closes by itself at ``close_at`` (``closed_automatically``;
  the referring or receiving clinician may undo it);
- follow-up tasks due today or earlier remind their clinician once.

Each step is a conditional UPDATE on the row it changes, so two workers never do it twice, and
writes one audit row as ``system_actor("referrals")``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F

from medunion.access.actor import system_actor
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock

from .machine import (
    coordinator_users,
    notice,
    patient_update,
    receiving_users,
    reload,
    user_ids_of,
    write_entry,
)
from .models import Audience, EntryKind, FollowUpTask, Referral, TaskState
from .states import State

log = logging.getLogger("medunion.referrals.worker")
BATCH = 500
ACTOR = system_actor("referrals")


def _each(pks: list[Any], step: Callable[[Any, dt.datetime], int], now: dt.datetime) -> int:
    done = 0
    for pk in pks:
        try:
            done += step(pk, now)
        except Exception:  # noqa: BLE001 - one referral's failure must not stop the others
            log.exception("referral clock step %s on %s failed", step.__name__, pk)
    return done


def escalate_unanswered(now: dt.datetime | None = None, *, limit: int = BATCH) -> int:
    now = now or clock.now()
    pks = list(Referral.objects.filter(state=State.REQUESTED, escalation_level=0, escalate_at__lte=now)
               .order_by("escalate_at").values_list("pk", flat=True)[:limit])
    return _each(pks, _escalate, now)


def _escalate(pk: Any, now: dt.datetime) -> int:
    with transaction.atomic():
        if not Referral.objects.filter(pk=pk, state=State.REQUESTED, escalation_level=0, escalate_at__lte=now) \
                .update(escalation_level=1, last_seq=F("last_seq") + 1):
            return 0
        referral = reload(pk)
        waited = int((now - referral.created_at).total_seconds() // 60)
        write_entry(ACTOR, referral, seq=referral.last_seq, kind=EntryKind.SYSTEM, audience=Audience.CLINICIANS,
                    event="escalate", detail={"waited_minutes": waited})
        record(ACTOR, "referral.escalate", Verb.UPDATE, obj=referral, patient_id=referral.patient_id,
               detail={"level": 1, "waited_minutes": waited, "urgency": referral.urgency})
        notice(referral, "referral.escalated", receiving_users(referral) + user_ids_of([referral.sender_id]))
        # Coordinators see no patient data: their notice points at the figures page.
        notice(referral, "referral.escalated", coordinator_users(referral.consortium_id),
               url="/network/referrals", with_patient=False)
    return 1


def flag_missing_outcomes(now: dt.datetime | None = None, *, limit: int = BATCH) -> int:
    now = now or clock.now()
    pks = list(Referral.objects.filter(state__in=[State.ACCEPTED, State.ARRIVED], outcome_flagged_at__isnull=True,
                                       outcome_due_at__lte=now)
               .order_by("outcome_due_at").values_list("pk", flat=True)[:limit])
    return _each(pks, _flag, now)


def _flag(pk: Any, now: dt.datetime) -> int:
    with transaction.atomic():
        if not Referral.objects.filter(pk=pk, state__in=[State.ACCEPTED, State.ARRIVED],
                                       outcome_flagged_at__isnull=True, outcome_due_at__lte=now) \
                .update(outcome_flagged_at=now, last_seq=F("last_seq") + 1):
            return 0
        referral = reload(pk)
        due = referral.outcome_due_at.isoformat() if referral.outcome_due_at else ""
        write_entry(ACTOR, referral, seq=referral.last_seq, kind=EntryKind.SYSTEM, audience=Audience.CLINICIANS,
                    event="outcome_missing", detail={"due": due})
        record(ACTOR, "referral.outcome_missing", Verb.UPDATE, obj=referral, patient_id=referral.patient_id,
               detail={"state": referral.state, "due": due})
        notice(referral, "referral.outcome_missing", user_ids_of([referral.sender_id, referral.receiver_id]))
    return 1


def close_finished_loops(now: dt.datetime | None = None, *, limit: int = BATCH) -> int:
    now = now or clock.now()
    pks = list(Referral.objects.filter(state=State.OUTCOME_RETURNED, close_at__lte=now)
               .order_by("close_at").values_list("pk", flat=True)[:limit])
    return _each(pks, _close, now)


def _close(pk: Any, now: dt.datetime) -> int:
    from .actions_loop import end_care_team

    with transaction.atomic():
        if not Referral.objects.filter(pk=pk, state=State.OUTCOME_RETURNED, close_at__lte=now).update(
                state=State.COMPLETED, completed_at=now, closed_automatically=True, close_at=None,
                version=F("version") + 1, last_seq=F("last_seq") + 1):
            return 0
        referral = reload(pk)
        write_entry(ACTOR, referral, seq=referral.last_seq, kind=EntryKind.SYSTEM, audience=Audience.CLINICIANS,
                    event="complete", detail={"from": State.OUTCOME_RETURNED, "to": State.COMPLETED,
                                              "automatic": True})
        end_care_team(ACTOR, referral, now)
        patient_update(ACTOR, referral, "complete", {})
        record(ACTOR, "referral.complete", Verb.UPDATE, obj=referral, patient_id=referral.patient_id,
               detail={"state": referral.state, "version": referral.version, "automatic": True})
        notice(referral, "referral.completed", user_ids_of([referral.sender_id, referral.receiver_id]))
    return 1


def remind_follow_ups(now: dt.datetime | None = None, *, limit: int = BATCH) -> int:
    now = now or clock.now()
    today = clock.today()
    tasks = list(FollowUpTask.objects.filter(state=TaskState.SCHEDULED, due_on__lte=today, reminded_at__isnull=True,
                                             referral__state__in=[State.REQUESTED, State.ACCEPTED, State.ARRIVED,
                                                                  State.OUTCOME_RETURNED])
                 .values_list("pk", flat=True)[:limit])
    return _each(tasks, _remind, now)


def _remind(pk: Any, now: dt.datetime) -> int:
    with transaction.atomic():
        if not FollowUpTask.objects.filter(pk=pk, state=TaskState.SCHEDULED, reminded_at__isnull=True) \
                .update(reminded_at=now):
            return 0
        task = FollowUpTask.objects.select_related("referral__sender_organisation").get(pk=pk)
        users = user_ids_of([task.assignee_id]) if task.assignee_id else receiving_users(task.referral)
        record(ACTOR, "referral.follow_up.remind", Verb.UPDATE, obj=task, patient_id=task.patient_id,
               detail={"due_on": task.due_on.isoformat(), "recipients": len(users)})
        notice(task.referral, "followup.reminder", users, url="/referrals/tasks", what=task.get_kind_display())
    return 1


def run_round(now: dt.datetime | None = None) -> dict[str, int]:
    now = now or clock.now()
    return {"escalated": escalate_unanswered(now), "outcome_flagged": flag_missing_outcomes(now),
            "closed": close_finished_loops(now), "reminded": remind_follow_ups(now)}
