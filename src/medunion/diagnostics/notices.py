"""Who hears of what in remote diagnosis. Titles never name the patient (they may go by SMS)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor

TITLES: dict[str, Any] = {
    "exam.new": _("New %(urgency)s %(modality)s examination to read from %(organisation)s"),
    "exam.cancelled": _("An examination in your worklist was cancelled"),
    "exam.reported": _("The report of your %(modality)s examination is signed"),
    "exam.amended": _("A report you requested was amended"),
    "exam.addendum": _("An addendum was added to a report you requested"),
    "exam.critical": _("CRITICAL finding on a %(modality)s examination: acknowledge it now"),
    "exam.critical_escalated": _("An unacknowledged CRITICAL finding from %(organisation)s"),
    "exam.second_read": _("A second read disagrees with your report"),
    "exam.patient": _("Your examination report is ready"),
}


def examination_url(exam_id: Any) -> str:
    """The examination's page (``web.diagnostics``); a path, as the notices store it."""
    return f"/examinations/{exam_id}"


def patient_report_url(exam_id: Any) -> str:
    return f"/me/reports/{exam_id}"


def notice(exam: Any, kind: str, users: Iterable[Any], *, acting: Actor | None = None, body: Any = "",
           url: str | None = None, with_patient: bool = True) -> None:
    from medunion.consults.models import Urgency
    from medunion.notifications.actions import notify

    from .codes import Modality

    params = {"urgency": Urgency(exam.urgency).label, "modality": Modality(exam.modality).label,
              "organisation": exam.requesting_organisation.name}
    notify(users, kind=kind, title=TITLES[kind], body=body, params=params,
           url=examination_url(exam.pk) if url is None else url, obj=exam,
           patient_id=exam.patient_id if with_patient else None,
           exclude=[acting.user_id] if acting and acting.user_id else [])


def user_ids_of(practitioner_ids: Iterable[Any]) -> list[Any]:
    from medunion.consults.routing import user_ids_of as users

    return users(practitioner_ids)


def hub_reader_users(exam: Any) -> list[Any]:
    """The clinicians of the hub whose specialty reads the examination's modality."""
    from medunion.accounts.models import User
    from medunion.consults.routing import fanout_limit
    from medunion.network.models import PracticeSite

    from .codes import READING_SPECIALTIES

    practitioners = (PracticeSite.objects.filter(organisation_id=exam.hub_id, active=True, practitioner__active=True,
                                                 practitioner__specialties__specialty__in=list(
                                                     READING_SPECIALTIES[exam.modality]))
                     .values_list("practitioner_id", flat=True).distinct()[:fanout_limit()])
    return list(User.objects.filter(practitioner_id__in=list(practitioners), is_active=True).values_list("pk", flat=True))


def requesting_org_users(exam: Any) -> list[Any]:
    from medunion.accounts.models import User
    from medunion.consults.routing import fanout_limit
    from medunion.network.models import PracticeSite

    practitioners = (PracticeSite.objects.filter(organisation_id=exam.requesting_organisation_id, active=True,
                                                 practitioner__active=True)
                     .values_list("practitioner_id", flat=True)[:fanout_limit()])
    return list(User.objects.filter(practitioner_id__in=list(practitioners), is_active=True).values_list("pk", flat=True))


def coordinator_users(consortium_id: Any) -> list[Any]:
    from medunion.consults.routing import coordinator_recipients

    return coordinator_recipients(consortium_id)


def patient_users(exam: Any) -> list[Any]:
    from medunion.consults.routing import patient_user_ids

    return patient_user_ids(exam.patient_id)
