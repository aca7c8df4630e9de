"""Read side of the master patient index. Every patient shown is an audited read."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy

from medunion.access.actor import Actor
from medunion.access.policy import care_team_patients, visible_patients
from medunion.audit.actions import Entry, record_many
from medunion.audit.models import Verb
from medunion.core import clock

from .actions import id_hash, phone_hash
from .identity import parse_resident_id
from .models import CareTeamMember, Consent, Patient, QrToken

MAX_RESULTS = 50


def classify_query(q: str) -> str:
    q = q.strip().replace(" ", "")
    if re.fullmatch(r"\d{17}[\dXx]", q):
        return "id_number"
    if re.fullmatch(r"(?:\+?86)?1[3-9]\d{9}", q):
        return "phone"
    return "name"


def search_patients(actor: Actor, q: str, *, limit: int = MAX_RESULTS) -> list[Patient]:
    """Search by ID number (exact), phone (exact) or name (prefix); only visible patients.

    Each patient returned is recorded as read (one audit row each) — the search result shows
    their name, sex and age, which is patient data.
    """
    q = (q or "").strip()
    if not q:
        return []
    kind = classify_query(q)
    qs: QuerySet[Any] = visible_patients(actor)
    if kind == "id_number":
        try:
            number = parse_resident_id(q).number
        except Exception:  # noqa: BLE001 - a malformed number simply finds nobody
            return []
        qs = qs.filter(id_number_hash=id_hash(number))
    elif kind == "phone":
        qs = qs.filter(phone_hash=phone_hash(q))
    else:
        qs = qs.filter(Q(name__startswith=q) | Q(name__icontains=q))
    results = list(qs.select_related("registered_at", "region").order_by("name", "id")[:limit])
    record_many(actor, [Entry(action="patient.search", verb=Verb.SEARCH, object_type="patients.patient",
                              object_id=str(p.pk), patient_id=p.pk, detail={"by": kind}) for p in results])
    return results


def care_team_of(patient: Patient) -> list[CareTeamMember]:
    now = clock.now()
    return list(
        CareTeamMember.objects.filter(patient=patient).live(now)
        .select_related("practitioner", "team").order_by("since")
    )


def consents_of(patient: Patient) -> list[Consent]:
    return list(Consent.objects.filter(patient=patient).select_related("consortium", "organisation"))


def live_qr(patient: Patient) -> QrToken | None:
    return QrToken.objects.filter(patient=patient, revoked_at__isnull=True).first()


def access_log(actor: Actor, patient: Patient, limit: int = 200) -> list[Any]:
    """Who accessed this patient's record and when (the patient's own page)."""
    from medunion.audit.models import AuditEvent

    return list(AuditEvent.objects.filter(patient_id=patient.pk).order_by("-seq")[:limit])


def my_patients(actor: Actor, *, limit: int = 20) -> list[Patient]:
    """The patients in this clinician's care (directly or through a team), newest first. Listing
    their names is a read of patient data: one audit row each."""
    if not actor.is_practitioner or actor.practitioner_id is None:
        return []
    care = care_team_patients(actor.practitioner_id, sorted(actor.team_ids), clock.now())
    results = list(visible_patients(actor).filter(pk__in=care)
                   .select_related("registered_at", "region").order_by("-created_at")[:limit])
    record_many(actor, [Entry(action="patient.list", verb=Verb.READ, object_type="patients.patient",
                              object_id=str(p.pk), patient_id=p.pk, detail={"list": "my_patients"})
                        for p in results])
    return results


def registrations_by_region(region_prefix: str) -> list[dict[str, Any]]:
    """Counts of registered patients per township under a region: figures, no patient data."""
    from django.db.models import Count
    from django.db.models.functions import Substr

    rows = (Patient.objects.filter(region__code__startswith=region_prefix)
            .annotate(township=Substr("region_id", 1, 9)).values("township").annotate(n=Count("pk"))
            .order_by("township"))
    return [dict(r) for r in rows]


def consent_of(patient: Patient, consent_id: Any) -> Consent | None:
    return Consent.objects.select_related("consortium", "organisation").filter(patient=patient, pk=consent_id).first()


# --- the access log as the patient reads it --------------------------------------------------

_WHAT = {
    "patient.read": gettext_lazy("viewed your record"),
    "patient.read_by_qr": gettext_lazy("opened your record with your check-in code"),
    "patient.search": gettext_lazy("found you in a search"),
    "patient.list": gettext_lazy("saw you in their list of patients"),
    "patient.register": gettext_lazy("registered you"),
    "patient.update": gettext_lazy("changed your details"),
    "patient.qr.issue": gettext_lazy("issued a new check-in code"),
    "patient.qr.revoke": gettext_lazy("revoked your check-in code"),
    "patient.consent.record": gettext_lazy("recorded a consent"),
    "patient.consent.revoke": gettext_lazy("recorded the withdrawal of a consent"),
    "patient.consents.read": gettext_lazy("viewed your consents"),
    "patient.care_team.add": gettext_lazy("added someone to your care team"),
    "patient.care_team.read": gettext_lazy("viewed your care team"),
    "patient.break_glass": gettext_lazy("opened emergency access to your record (break-the-glass)"),
    "patient.access_log.read": gettext_lazy("viewed this access log"),
    "access.break_glass.review": gettext_lazy("reviewed an emergency access to your record"),
    "access.break_glass.review_list": gettext_lazy("saw your name in the list of emergency accesses to review"),
    "account.create": gettext_lazy("created your account"),
    "account.login": gettext_lazy("signed in"),
    "patient.read_id_number": gettext_lazy("viewed your record and your full ID number"),
}
_WHAT_BY_VERB = {
    "create": gettext_lazy("added to your record"),
    "read": gettext_lazy("viewed your record"),
    "update": gettext_lazy("changed your record"),
    "delete": gettext_lazy("removed something from your record"),
    "search": gettext_lazy("found you in a search"),
    "execute": gettext_lazy("acted on your record"),
    "export": gettext_lazy("exported data about you"),
}
_PURPOSE = {
    "treatment": gettext_lazy("care"),
    "break_glass": gettext_lazy("emergency access"),
    "operations": gettext_lazy("administration"),
    "audit": gettext_lazy("audit review"),
}


@dataclass
class AccessLogEntry:
    seq: int
    at: dt.datetime
    who: str
    role: str
    organisation: str
    what: str
    purpose: str
    action: str
    refused: bool
    by_you: bool
    title: str = ""
    surface: str = ""
    emergency: bool = False  # under break-the-glass


_SURFACES = {
    "page": gettext_lazy("web page"), "api": gettext_lazy("app or system (API)"),
    "fhir": gettext_lazy("hospital system (FHIR)"), "cli": gettext_lazy("platform command"),
    "admin": gettext_lazy("back office"),
}


def readable_access_log(patient: Patient, *, viewer_user_id: uuid.UUID | None = None, limit: int = 50,
                        before: int | None = None, others_only: bool = False) -> list[AccessLogEntry]:
    """Who did what with this patient's record, newest first, in words a patient reads — the one
    rendering of the access log, for the patient's page and for the API.

    Keyset paging: ``before`` is the ``seq`` of the last entry of the previous page. Two queries
    whatever the page size: the events, then the organisations and titles of the clinicians among
    them. ``others_only`` leaves out the viewer's own visits (they are in the log all the same).
    """
    from medunion.accounts.models import Role
    from medunion.audit.models import AuditEvent, Outcome
    from medunion.network.codes import Title
    from medunion.network.models import PracticeSite

    qs = AuditEvent.objects.filter(patient_id=patient.pk)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    if others_only and viewer_user_id is not None:
        qs = qs.exclude(actor_id=viewer_user_id)
    events = list(qs.order_by("-seq")[:limit])
    actor_ids = {e.actor_id for e in events if e.actor_id}
    orgs: dict[uuid.UUID, str] = {}
    titles: dict[uuid.UUID, str] = {}
    if actor_ids:
        sites = (PracticeSite.objects.filter(practitioner__user__id__in=actor_ids, active=True)
                 .order_by("-primary", "created_at")
                 .values_list("practitioner__user__id", "organisation__name", "practitioner__title"))
        for user_id, org_name, title in sites:
            orgs.setdefault(user_id, org_name)
            titles.setdefault(user_id, str(Title(title).label) if title in Title.values else "")
    roles = dict(Role.choices)
    system = str(gettext_lazy("the platform"))
    out = []
    for e in events:
        what = _WHAT.get(e.action) or _WHAT_BY_VERB.get(e.verb) or gettext_lazy("accessed your record")
        refused = e.outcome == Outcome.DENIED
        out.append(AccessLogEntry(
            seq=e.seq, at=e.at,
            who=e.actor_display if e.actor_id else system,
            role=str(roles.get(e.actor_role, "")) if e.actor_id else "",
            organisation=orgs.get(e.actor_id, "") if e.actor_id else "",
            what=(str(gettext_lazy("tried to open your record and was refused")) if refused and e.verb == "read"
                  else str(what)),
            purpose=str(_PURPOSE.get(e.purpose, e.purpose)),
            action=e.action,
            refused=refused,
            by_you=viewer_user_id is not None and e.actor_id == viewer_user_id,
            title=titles.get(e.actor_id, "") if e.actor_id else "",
            surface=str(_SURFACES.get(e.surface, e.surface)),
            emergency=e.purpose == "break_glass",
        ))
    return out
