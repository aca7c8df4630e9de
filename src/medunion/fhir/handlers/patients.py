"""Read and search of Patient and Consent: only within visible_patients(actor), and every
resource served is an audited read of patient data (one row per patient or consent)."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import access_patient, parse_uuid
from medunion.access.policy import Action, clinician_patients, clinician_terms, visible_patients
from medunion.audit.actions import Entry, record_many
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import NotFound
from medunion.core.statements import MAX_LIST, Statement
from medunion.patients.actions import id_hash, phone_hash
from medunion.patients.models import Consent

from .. import codes
from ..mappers import patients as m
from ..mappers.common import region_chains
from ..registry import register
from ..search import (
    Param,
    SearchRequest,
    SearchResult,
    any_of,
    date_param,
    id_param,
    paginate,
    paginate_fetched,
    reference_param,
    string_param,
    token_codes,
    token_param,
)

GENDER_SYSTEM = "http://hl7.org/fhir/administrative-gender"


def audit_served(actor: Actor, action: str, object_type: str, rows: list[tuple[Any, Any]],
                 sr: SearchRequest) -> None:
    """One audit row per resource served by a search: (object id, patient id) pairs. The detail
    names the parameters used, never their values (an ID number must not land in the log)."""
    by = sorted({c.param.name for c in sr.criteria})
    record_many(actor, [Entry(action=action, verb=Verb.SEARCH, object_type=object_type, object_id=str(oid),
                              patient_id=pid, detail={"by": by}) for oid, pid in rows])


# --- Patient -------------------------------------------------------------------------------------------

def _identifier_hashes(values: list[str]) -> list[str]:
    numbers = [re.sub(r"[\s-]", "", c).upper() for c in token_codes(values, codes.RESIDENT_ID)]
    return [id_hash(n) for n in numbers if n]


def _identifier(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    """An exact lookup through the keyed hash (there is no plaintext column to search)."""
    hashes = _identifier_hashes(values)
    return qs.filter(id_number_hash__in=hashes) if hashes else qs.none()


def _phone(system: str | None) -> Any:
    def apply(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
        hashes = [phone_hash(c) for c in token_codes(values, system) if re.search(r"\d", c)]
        return qs.filter(phone_hash__in=hashes) if hashes else qs.none()

    return apply


PATIENT_PARAMS = [
    id_param(),
    Param("identifier", "token", _("The resident ID number, exact (system urn:oid:2.16.156.10011.1.3 or none)."),
          _identifier),
    string_param("name", ["name"], _("Any part of the name (contains); :exact for the whole name."),
                 default="icontains"),
    string_param("family", ["name"], _("The family name: the name starts with it.")),
    date_param("birthdate", "birth_date", _("Date of birth, with prefixes eq, ne, gt, lt, ge, le."), dates=True),
    token_param("gender", "sex", _("male, female or unknown."), system=GENDER_SYSTEM),
    Param("telecom", "token", _("A phone number, exact (system phone or none)."), _phone("phone")),
    Param("phone", "token", _("A phone number, exact."), _phone(None)),
    reference_param("organization", "registered_at_id", ["Organization"],
                    _("The organisation the patient is registered at.")),
]


def read_patient(actor: Actor, rid: str) -> dict[str, Any]:
    patient = access_patient(actor, rid)  # authorises and writes the audit row (or the denied row)
    return m.patient(patient, region_chains([patient.region_id]))


def _ordered(qs: QuerySet[Any]) -> QuerySet[Any]:
    return qs.select_related("registered_at").order_by("name", "id")


# A clinician's look-up by resident ID number, the integrations' most frequent search: the
# general path's query for ``identifier`` alone, compiled once per connection (core.statements).
# ID numbers are unique, so the match set is at most one row per number, fetched whole.
_BY_IDENTIFIER = Statement(lambda hashes, *terms: _ordered(clinician_patients(*terms).filter(
    id_number_hash__in=hashes)))


def search_patient(actor: Actor, sr: SearchRequest) -> SearchResult:
    hashes = (_identifier_hashes(sr.criteria[0].values)
              if actor.is_practitioner and [c.param.name for c in sr.criteria] == ["identifier"] else None)
    if hashes is not None and len(hashes) <= MAX_LIST:  # more numbers: paged by the database
        rows, total, has_next = paginate_fetched(_BY_IDENTIFIER.all(hashes, *clinician_terms(actor)), sr)
    else:
        rows, total, has_next = paginate(_ordered(sr.apply(visible_patients(actor))), sr)
    audit_served(actor, "patient.search", "patients.patient", [(p.pk, p.pk) for p in rows], sr)
    chains = region_chains(p.region_id for p in rows)
    return SearchResult([m.patient(p, chains) for p in rows], total, has_next)


register("Patient", _("Patients the actor may see (registered at their organisation, in their care team, "
                      "or by break-the-glass). Every patient served is recorded in the audit log."),
         PATIENT_PARAMS, read_patient, search_patient, areas=(Action.SEARCH_PATIENTS,),
         patient_data=True)


# --- Consent -------------------------------------------------------------------------------------------

def _active_q() -> Q:
    return Q(revoked_at__isnull=True) & (Q(valid_until__isnull=True) | Q(valid_until__gte=clock.today()))


def _status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    wanted = set(token_codes(values, "http://hl7.org/fhir/consent-state-codes"))
    return any_of(qs, [q for code, q in (("active", _active_q()), ("inactive", ~_active_q())) if code in wanted])


def _category(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    if "59284-0" in token_codes(values, codes.LOINC):
        return qs
    scopes = token_codes(values, codes.CS_CONSENT_SCOPE)
    return qs.filter(scope__in=scopes) if scopes else qs.none()


def _consents(actor: Actor) -> QuerySet[Any]:
    return (Consent.objects.filter(patient__in=visible_patients(actor).values("pk"))
            .select_related("consortium", "organisation").order_by("-created_at", "-id"))


def read_consent(actor: Actor, rid: str) -> dict[str, Any]:
    patient_id = Consent.objects.filter(pk=parse_uuid(rid)).values_list("patient_id", flat=True).first()
    if patient_id is None:
        raise NotFound()
    # Authorise on the patient; the audit row (or the denied row) is written here.
    access_patient(actor, patient_id, audit_action="patient.consent.read")
    consent = Consent.objects.select_related("consortium", "organisation").get(pk=parse_uuid(rid))
    return m.consent(consent, clock.today())


def search_consent(actor: Actor, sr: SearchRequest) -> SearchResult:
    rows, total, has_next = paginate(sr.apply(_consents(actor)), sr)
    audit_served(actor, "patient.consent.search", "patients.consent", [(c.pk, c.patient_id) for c in rows], sr)
    today = clock.today()
    return SearchResult([m.consent(c, today) for c in rows], total, has_next)


register("Consent", _("The consents of the patients the actor may see: what is shared, with which consortium "
                      "or organisation, for how long. Every consent served is recorded in the audit log."), [
    id_param(),
    reference_param("patient", "patient_id", ["Patient"], _("The patient.")),
    Param("status", "token", _("active, or inactive (revoked or expired)."), _status),
    Param("category", "token", _("The MedUnion consent scope (consent-scope code system), or LOINC 59284-0 "
                                 "for every consent."), _category),
    date_param("date", "created_at", _("When the consent was recorded.")),
], read_consent, search_consent, areas=(Action.SEARCH_PATIENTS,), patient_data=True)
