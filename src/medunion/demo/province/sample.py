"""Picking accounts and objects of a generated data set, for the benchmarks and the tests.

Generated usernames (every account has the demo password, ``medunion.demo.personas.PASSWORD``):

- ``vd00001`` …: village doctors (village clinics); they ask consultations, refer patients up;
- ``gp00001`` …: township GPs (health centres), leads of the family-doctor teams; they ask,
  refer, request examinations, receive patients referred down;
- ``sp00001`` …: specialists at the county hospitals and the cities' tertiary hospitals; they
  answer consultations (pool and assigned) and decide on referrals to their departments;
- ``rd00001`` …: readers at the cities' imaging, pathology and ECG hubs (reading worklist);
- ``pt000001`` …: patients with an account (each has signed examination reports).

The demo consortium's personas (``village``, ``cardio``, ``radiology``, ``patient`` …) exist too.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q

from medunion.accounts.models import User
from medunion.consults.models import Consult
from medunion.consults.states import OPEN_STATES
from medunion.diagnostics.codes import modalities_read_by
from medunion.diagnostics.models import Examination, Report
from medunion.network.models import ConsortiumMembership, PracticeSite, PractitionerSpecialty
from medunion.referrals.models import Referral

ROLES = {"village": "vd", "township": "gp", "specialist": "sp", "reader": "rd", "patient": "pt"}


def describe_usernames() -> str:
    return ("Generated accounts (password as above): vd00001… village doctors, gp00001… township GPs, "
            "sp00001… hospital specialists, rd00001… hub readers, pt000001… patients.")


def users(role: str, n: int = 10) -> list[str]:
    """The first ``n`` generated usernames of a role (village, township, specialist, reader, patient)."""
    prefix = ROLES[role]
    return list(User.objects.filter(username__startswith=prefix, username__regex=rf"^{prefix}[0-9]+$")
                .order_by("username").values_list("username", flat=True)[:n])


def _practitioner(username: str) -> Any:
    return User.objects.values_list("practitioner_id", flat=True).get(username=username)


def _places(practitioner_id: uuid.UUID) -> tuple[list[uuid.UUID], list[uuid.UUID], list[str]]:
    orgs = list(PracticeSite.objects.filter(practitioner_id=practitioner_id, active=True)
                .values_list("organisation_id", flat=True))
    consortia = list(ConsortiumMembership.objects.filter(organisation_id__in=orgs)
                     .values_list("consortium_id", flat=True).distinct())
    specialties = list(PractitionerSpecialty.objects.filter(practitioner_id=practitioner_id)
                       .values_list("specialty", flat=True))
    return orgs, consortia, specialties


def open_consults_for(username: str, n: int = 20) -> list[uuid.UUID]:
    """Open consultations a specialist works on or may claim: assigned ones first, then the pool
    of their specialties in their consortia."""
    pid = _practitioner(username)
    _orgs, consortia, specialties = _places(pid)
    mine = list(Consult.objects.filter(assignee_id=pid, state__in=sorted(OPEN_STATES))
                .order_by("due_at").values_list("pk", flat=True)[:n])
    pool = list(Consult.objects.filter(state="requested", consortium_id__in=consortia, specialty__in=specialties,
                                       target_kind="pool").exclude(asker_id=pid)
                .order_by("due_at").values_list("pk", flat=True)[:max(0, n - len(mine))])
    return mine + pool


def pool_size(username: str) -> int:
    """Pool cases the specialist may claim now (their specialties, their consortia, not asked by
    them). Load runs claim from the pool, so runs on the same data set drain the pools they work on:
    pick by this to measure a pool that is there."""
    pid = _practitioner(username)
    _orgs, consortia, specialties = _places(pid)
    return (Consult.objects.filter(state="requested", consortium_id__in=consortia, specialty__in=specialties,
                                   target_kind="pool").exclude(asker_id=pid).count())


def fullest_pools(candidates: list[str], at_least: int = 1) -> list[str]:
    """``candidates`` (specialists' usernames) with the fullest pool first, those with fewer than
    ``at_least`` cases to claim left out."""
    pools = {u: pool_size(u) for u in candidates}
    return [u for u in sorted(candidates, key=lambda u: -pools[u]) if pools[u] >= at_least]


def asked_consults_for(username: str, n: int = 20) -> list[uuid.UUID]:
    """Consultations a village doctor or GP asked (newest first)."""
    return list(Consult.objects.filter(asker_id=_practitioner(username)).order_by("-created_at")
                .values_list("pk", flat=True)[:n])


def pending_referrals_for(username: str, n: int = 20) -> list[uuid.UUID]:
    """Referrals waiting for a decision where the clinician practises."""
    orgs, _c, _s = _places(_practitioner(username))
    return list(Referral.objects.filter(state="requested", target_organisation_id__in=orgs)
                .order_by("created_at").values_list("pk", flat=True)[:n])


def referrals_of(username: str, n: int = 20) -> list[uuid.UUID]:
    """Referrals the clinician sent or accepted."""
    pid = _practitioner(username)
    return list(Referral.objects.filter(Q(sender_id=pid) | Q(receiver_id=pid)).order_by("-created_at")
                .values_list("pk", flat=True)[:n])


def awaiting_examinations_for(username: str, n: int = 20) -> list[uuid.UUID]:
    """Examinations awaiting reading at the reader's hub, of the modalities they read."""
    pid = _practitioner(username)
    orgs, _c, specialties = _places(pid)
    return list(Examination.objects.filter(hub_id__in=orgs, state="awaiting",
                                           modality__in=modalities_read_by(set(specialties)))
                .order_by("urgency_rank", "submitted_at").values_list("pk", flat=True)[:n])


def patients_for(username: str, n: int = 20) -> list[uuid.UUID]:
    """Patients registered where the clinician practises."""
    from medunion.patients.models import Patient

    orgs, _c, _s = _places(_practitioner(username))
    return list(Patient.objects.filter(registered_at_id__in=orgs).order_by("pk").values_list("pk", flat=True)[:n])


def patients_with_reports(n: int = 20) -> list[tuple[str, uuid.UUID]]:
    """Patient accounts (username, patient id) whose patient has a signed report."""
    reported = Report.objects.filter(status="signed").values("patient_id")
    return list(User.objects.filter(role="patient", username__startswith="pt", patient_id__in=reported)
                .order_by("username").values_list("username", "patient_id")[:n])
