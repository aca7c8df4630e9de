"""CareTeam: two kinds behind one resource type.

- Network teams (MDT, specialty group, family-doctor team): id = the team's UUID; network data.
- A patient's care team, built from the patient's live care-team rows: id = ``pt-<patient id>``;
  patient data, so found only through ``patient`` / ``subject`` (or ``_id=pt-…``) and audited.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import access_patient, access_team
from medunion.access.policy import Action, visible_patients, visible_teams
from medunion.core import clock
from medunion.network.models import TeamMember
from medunion.patients.models import CareTeamMember
from medunion.patients.queries import care_team_of

from .. import codes
from ..http import InvalidRequest
from ..mappers import network as nm
from ..mappers import patients as pm
from ..mappers.common import as_uuid
from ..registry import register
from ..search import (
    Param,
    SearchRequest,
    SearchResult,
    any_of,
    paginate,
    reference_ids,
    string_param,
    token_codes,
)
from .patients import audit_served

PATIENT_CATEGORY = "LA28865-6"
_PATIENT_MODE_PARAMS = {"patient", "subject", "_id", "status", "category"}


def _members() -> Prefetch:
    return Prefetch("members", queryset=TeamMember.objects.select_related("practitioner").order_by("created_at"))


def _teams(actor: Actor) -> QuerySet[Any]:
    return (visible_teams(actor).select_related("consortium", "organisation").prefetch_related(_members())
            .order_by("name", "id"))


def _category(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    kinds = token_codes(values, codes.CS_TEAM_KIND)
    return qs.filter(kind__in=kinds) if kinds else qs.none()


def _participant(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    ids = reference_ids(values, ["Practitioner"])
    if not ids:
        return qs.none()
    return qs.filter(pk__in=TeamMember.objects.filter(practitioner_id__in=ids).values("team_id"))


def _status(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
    codes_ = token_codes(values, "http://hl7.org/fhir/care-team-status")
    wanted = [c == "active" for c in codes_ if c in ("active", "inactive")]
    return any_of(qs, [Q(active=w) for w in set(wanted)])


CARE_TEAM_PARAMS = [
    Param("_id", "token", _("A team's id, or pt-<patient id> for a patient's care team."), None),
    Param("patient", "reference", _("The patient whose care team is wanted (audited)."), None),
    Param("subject", "reference", _("Same as patient."), None),
    Param("status", "token", _("active or inactive."), _status),
    Param("category", "token", _("Team kind (team-kind code system: specialty, mdt, family_doctor); LOINC "
                                 "LA28865-6 is a patient's care team."), _category),
    string_param("name", ["name"], _("Team name; starts with, or :contains / :exact.")),
    Param("participant", "reference", _("A practitioner in the team."), _participant),
]


def read_care_team(actor: Actor, rid: str) -> dict[str, Any]:
    if rid.startswith(pm.PATIENT_CARE_TEAM_PREFIX):
        patient = access_patient(actor, rid[len(pm.PATIENT_CARE_TEAM_PREFIX):],
                                 audit_action="patient.care_team.read")
        return pm.patient_care_team(patient, care_team_of(patient))
    team = access_team(actor, rid)
    prefetch_related_objects([team], _members())
    return nm.team_care_team(team)


def _patient_conditions(sr: SearchRequest) -> list[list[uuid.UUID]] | None:
    """The patient filters (AND of ORs) of a patient-care-team search; None for network teams."""
    pt_ids = [v for vals in sr.values("_id") for v in vals if v.startswith(pm.PATIENT_CARE_TEAM_PREFIX)]
    if not (sr.has("patient") or sr.has("subject") or pt_ids):
        return None
    extra = sorted({c.param.name for c in sr.criteria} - _PATIENT_MODE_PARAMS)
    if extra:
        raise InvalidRequest(errors={", ".join(extra): [str(_("This parameter cannot be combined with patient "
                                                              "or subject."))]})
    conditions: list[list[uuid.UUID]] = []
    for values in sr.values("patient") + sr.values("subject"):
        conditions.append(reference_ids(values, ["Patient"]))
    for values in sr.values("_id"):
        ids = [v[len(pm.PATIENT_CARE_TEAM_PREFIX):] for v in values if v.startswith(pm.PATIENT_CARE_TEAM_PREFIX)]
        conditions.append(reference_ids(ids, ["Patient"]))
    return conditions


def _search_patient_teams(actor: Actor, sr: SearchRequest, conditions: list[list[uuid.UUID]]) -> SearchResult:
    now = clock.now()
    live = (CareTeamMember.objects.live(now)
            .select_related("practitioner", "team").order_by("since"))
    qs = visible_patients(actor).select_related("registered_at")
    for ids in conditions:
        qs = qs.filter(pk__in=ids) if ids else qs.none()
    for values in sr.values("status"):
        if "active" not in token_codes(values, "http://hl7.org/fhir/care-team-status"):
            qs = qs.none()
    for values in sr.values("category"):
        if PATIENT_CATEGORY not in token_codes(values, codes.LOINC):
            qs = qs.none()
    qs = qs.prefetch_related(Prefetch("care_team", queryset=live, to_attr="live_care_team")).order_by("name", "id")
    rows, total, has_next = paginate(qs, sr)
    audit_served(actor, "patient.care_team.search", "patients.patient", [(p.pk, p.pk) for p in rows], sr)
    return SearchResult([pm.patient_care_team(p, p.live_care_team) for p in rows], total, has_next)


def search_care_team(actor: Actor, sr: SearchRequest) -> SearchResult:
    conditions = _patient_conditions(sr)
    if conditions is not None:
        return _search_patient_teams(actor, sr, conditions)
    qs = sr.apply(_teams(actor))
    for values in sr.values("_id"):
        ids = [u for u in (as_uuid(v) for v in values) if u is not None]
        qs = qs.filter(pk__in=ids) if ids else qs.none()
    rows, total, has_next = paginate(qs, sr)
    return SearchResult([nm.team_care_team(t) for t in rows], total, has_next)


register("CareTeam", _("Network teams (MDT, specialty group, family-doctor team), and each visible patient's "
                       "care team (id pt-<patient id>, found by patient or subject; audited)."),
         CARE_TEAM_PARAMS, read_care_team, search_care_team,
         areas=(Action.VIEW_NETWORK, Action.SEARCH_PATIENTS), patient_data=True)
