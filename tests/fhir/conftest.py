"""FHIR test fixtures: clients for the personas (session or bearer token), a richer network
(a team, a consent, a licence, a second practice site), and R4B validation of what is served."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from fhir.resources.R4B import get_fhir_model_class

from medunion.access.actor import system_actor
from medunion.network import actions as net
from medunion.patients import actions as pat
from medunion.patients.actions import PatientInput
from medunion.patients.identity import make_resident_id
from tests.world import PASSWORD, World

FHIR_JSON = "application/fhir+json; charset=utf-8"


@pytest.fixture(autouse=True)
def _no_second_factor(settings):
    settings.MEDUNION_REQUIRE_MFA = False


# fhir.resources checks structure, cardinality and formats but not the required code bindings;
# these are checked here.
REQUIRED_CODES: dict[tuple[str, str], set[str]] = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Practitioner", "gender"): {"male", "female", "other", "unknown"},
    ("Location", "status"): {"active", "suspended", "inactive"},
    ("Location", "mode"): {"instance", "kind"},
    ("CareTeam", "status"): {"proposed", "active", "suspended", "inactive", "entered-in-error"},
    ("Consent", "status"): {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    ("AuditEvent", "action"): {"C", "R", "U", "D", "E"},
    ("AuditEvent", "outcome"): {"0", "4", "8", "12"},
    ("Bundle", "type"): {"searchset"},
    ("CapabilityStatement", "status"): {"draft", "active", "retired", "unknown"},
    ("CapabilityStatement", "kind"): {"instance", "capability", "requirements"},
}
ISSUE_CODES = {"invalid", "security", "login", "unknown", "forbidden", "processing", "not-supported", "duplicate",
               "not-found", "conflict", "exception", "transient", "throttled", "informational"}


def validate(resource: dict[str, Any]) -> Any:
    """Validate with the fhir.resources R4B model of the resource's type (entries of a Bundle too)."""
    kind = resource["resourceType"]
    model = get_fhir_model_class(kind).model_validate(resource)
    for (rtype, element), allowed in REQUIRED_CODES.items():
        if rtype == kind and element in resource:
            assert resource[element] in allowed, (kind, element, resource[element])
    if kind == "OperationOutcome":
        assert all(i["code"] in ISSUE_CODES and i["severity"] == "error" for i in resource["issue"])
    if kind == "Consent":
        assert resource["provision"]["type"] in {"permit", "deny"}
    for entry in resource.get("entry", []) if kind == "Bundle" else []:
        assert entry["search"]["mode"] == "match"
        assert entry["fullUrl"].endswith(f"/fhir/{entry['resource']['resourceType']}/{entry['resource']['id']}")
        validate(entry["resource"])
    return model


@dataclass
class Extra:
    team: Any
    consent: Any
    revoked_consent: Any
    patient_b: Any
    licence: Any
    second_site: Any


@pytest.fixture
def extra(world: World) -> Extra:
    """More of the network, built through the actions."""
    system = system_actor("tests")
    cardiologist = world.users["cardiologist_tertiary"].practitioner_id
    village_a = world.users["village_doctor_a"].practitioner_id
    team = net.create_team(acting=system, consortium_id=world.consortium.pk, name="胸痛中心MDT", kind="mdt",
                           specialty="cardiology", organisation_id=world.orgs["tertiary"].pk)
    net.set_team_member(acting=system, team_id=team.pk, practitioner_id=cardiologist, role="lead")
    net.set_team_member(acting=system, team_id=team.pk, practitioner_id=village_a)
    licence = net.record_licence(acting=system, practitioner_id=cardiologist, number="110610000000001",
                                 valid_from=dt.date(2010, 1, 1), valid_until=dt.date(2030, 12, 31))
    second_site = net.add_practice_site(acting=system, practitioner_id=cardiologist,
                                        organisation_id=world.orgs["county"].pk)
    doctor_a = world.actor("village_doctor_a")
    patient_a = world.patients["patient_a"]
    consent = pat.record_consent(acting=doctor_a, patient_id=patient_a.pk, scope="share_records",
                                 consortium_id=world.consortium.pk)
    revoked = pat.record_consent(acting=doctor_a, patient_id=patient_a.pk, scope="research", permit=False,
                                 organisation_id=world.orgs["tertiary"].pk)
    pat.revoke_consent(acting=doctor_a, patient_id=patient_a.pk, consent_id=revoked.pk)
    pat.add_to_care_team(acting=system, patient_id=patient_a.pk, role="consult", team_id=team.pk,
                         source_type="consult")
    number_b = make_resident_id("610424", dt.date(1980, 5, 6), 33, male=True)
    patient_b = pat.register_patient(acting=world.actor("village_doctor_b"),
                                     data=PatientInput(name="欧阳明远", id_number=number_b, phone="13900000002",
                                                       region_code="610424100202", address="西村3组"))
    return Extra(team=team, consent=consent, revoked_consent=revoked, patient_b=patient_b, licence=licence,
                 second_site=second_site)


@pytest.fixture
def client_for(world: World):
    """A client signed in (web session) as the persona."""

    def make(persona: str) -> Client:
        c = Client(headers={"accept-language": "en"})
        c.force_login(world.users[persona])
        return c

    return make


@pytest.fixture
def bearer_for(world: World):
    """A client carrying a bearer token the persona got from POST /api/v1/auth/token."""

    def make(persona: str) -> Client:
        response = Client().post("/api/v1/auth/token", {"username": world.users[persona].username,
                                                        "password": PASSWORD}, content_type="application/json")
        assert response.status_code == 201, response.content
        raw = response.json()["access_token"]
        return Client(headers={"accept-language": "en", "authorization": f"Bearer {raw}"})

    return make


def get(client: Client, path: str, **params: Any) -> tuple[int, dict[str, Any], Any]:
    """GET /fhir/<path>; returns (status, body, response); the body must be FHIR JSON."""
    response = client.get(f"/fhir/{path}", params)
    assert response["Content-Type"] == FHIR_JSON, response.content[:200]
    return response.status_code, response.json(), response


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]
