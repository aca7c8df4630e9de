"""Read side of the master patient index. Every patient shown is an audited read."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q, QuerySet

from medunion.access.actor import Actor
from medunion.access.policy import visible_patients
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
        CareTeamMember.objects.filter(patient=patient).filter(Q(until__isnull=True) | Q(until__gt=now))
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
