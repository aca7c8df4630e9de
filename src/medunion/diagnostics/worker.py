"""The worker's diagnosis round: critical findings not acknowledged within
``MEDUNION_CRITICAL_ACK_MINUTES`` escalate, once, to every clinician of the requesting
organisation and the consortium's coordinators (the conditional update makes a second worker a
no-op)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction

from medunion.access.actor import Actor, system_actor
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock

from . import notices
from .models import CriticalFinding


def ack_window() -> dt.timedelta:
    return dt.timedelta(minutes=int(getattr(settings, "MEDUNION_CRITICAL_ACK_MINUTES", 10)))


def escalate_critical(*, acting: Actor | None = None) -> int:
    acting = acting or system_actor("worker")
    now = clock.now()
    due = list(CriticalFinding.objects.filter(acknowledged_at__isnull=True, escalated_at__isnull=True,
                                              created_at__lte=now - ack_window())
               .select_related("examination__requesting_organisation")[:200])
    done = 0
    for finding in due:
        with transaction.atomic():
            if not CriticalFinding.objects.filter(pk=finding.pk, escalated_at__isnull=True,
                                                  acknowledged_at__isnull=True).update(escalated_at=now):
                continue
            exam = finding.examination
            clinicians = notices.requesting_org_users(exam)
            coordinators = [u for u in notices.coordinator_users(exam.consortium_id) if u not in set(clinicians)]
            notices.notice(exam, "exam.critical_escalated", clinicians, acting=None, body=finding.note)
            # Coordinators see no patient data (nor the examination's page): the title names the
            # organisation to call, and that is all.
            notices.notice(exam, "exam.critical_escalated", coordinators, acting=None, url="", with_patient=False)
            record(acting, "examination.critical.escalate", Verb.UPDATE, obj=finding, patient_id=finding.patient_id,
                   detail={"examination": str(exam.pk), "recipients": len(set(clinicians) | set(coordinators))})
            done += 1
    return done


def run_round(*, acting: Actor | None = None) -> dict[str, int]:
    return {"critical_escalated": escalate_critical(acting=acting)}
