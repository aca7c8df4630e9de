"""The HTTP contract of /fhir: metadata, authentication, methods, formats, and errors that are
always OperationOutcome (never a 500, never an HTML page)."""

from __future__ import annotations

import datetime as dt
import json
import string
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.urls import set_script_prefix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medunion.accounts.actions import revoke_token
from medunion.accounts.models import ApiToken
from medunion.core import clock
from medunion.fhir.registry import REGISTRY
from tests.fhir.conftest import FHIR_JSON, get, validate

RESOURCES = ["Organization", "Location", "Practitioner", "PractitionerRole", "CareTeam", "Patient", "Consent",
             "AuditEvent", "ServiceRequest", "Task", "Communication", "Appointment", "DocumentReference",
             "ImagingStudy", "DiagnosticReport", "Observation"]


def test_metadata_needs_no_auth_and_lists_every_resource(db):
    status, body, _r = get(Client(), "metadata")
    assert status == 200
    validate(body)
    assert body["fhirVersion"] == "4.0.1" and body["kind"] == "instance"
    assert "application/fhir+json" in body["format"]
    rest = body["rest"][0]
    assert "Bearer" in rest["security"]["service"][0]["text"]
    served = {r["type"]: r for r in rest["resource"]}
    assert set(served) == set(RESOURCES) == set(REGISTRY)
    for name, resource in served.items():
        assert [i["code"] for i in resource["interaction"]] == ["read", "search-type"]
        assert {p["name"] for p in resource["searchParam"]} == set(REGISTRY[name].params)
        assert "_id" in {p["name"] for p in resource["searchParam"]}
    assert {p["name"] for p in served["Patient"]["searchParam"]} >= {
        "identifier", "name", "birthdate", "gender", "telecom", "phone"}
    assert {p["name"] for p in served["AuditEvent"]["searchParam"]} >= {"patient", "date", "agent", "entity"}


@pytest.mark.parametrize("path", ["Patient", "Organization", "AuditEvent", "Patient/x", "CareTeam/pt-x"])
def test_no_auth_is_401_with_the_bearer_challenge(db, path):
    status, body, response = get(Client(), path)
    assert status == 401
    validate(body)
    assert body["issue"][0]["code"] == "login"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_expired_or_revoked_tokens_are_401(world, bearer_for):
    for header in ("Bearer mu_nope", "Bearer ", "Basic dXNlcjpwYXNz", "mu_token-without-scheme"):
        status, body, _r = get(Client(headers={"authorization": header}), "Patient")
        assert status == 401, header
    client = bearer_for("village_doctor_a")
    assert get(client, "Patient")[0] == 200
    raw = client.defaults["HTTP_AUTHORIZATION"].split(" ", 1)[1]
    with clock.frozen(clock.now() + dt.timedelta(days=2)):
        assert get(client, "Patient")[0] == 401
    revoke_token(acting=world.actor("village_doctor_a"), raw=raw)
    assert get(client, "Patient")[0] == 401
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 1


def test_a_bad_token_does_not_fall_back_to_the_session(world, client_for):
    c = client_for("village_doctor_a")
    assert get(c, "Patient")[0] == 200
    assert c.get("/fhir/Patient", HTTP_AUTHORIZATION="Bearer mu_wrong").status_code == 401


def test_session_of_an_account_without_its_required_second_factor_is_refused(world, client_for, settings):
    settings.MEDUNION_REQUIRE_MFA = True
    status, body, _r = get(client_for("coordinator"), "Organization")
    assert status == 401 and "second factor" in body["issue"][0]["diagnostics"]
    assert get(client_for("village_doctor_a"), "Organization")[0] == 200


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "head", "options"])
def test_only_get_is_allowed(world, client_for, method):
    c = client_for("village_doctor_a")
    pid = world.patients["patient_a"].pk
    for path in ("/fhir/Patient", f"/fhir/Patient/{pid}", "/fhir/metadata", "/fhir/Patient/_search"):
        response = getattr(c, method)(path)
        if path.endswith("_search"):
            assert response.status_code in (404, 405)
        else:
            assert response.status_code == 405, (method, path)
            assert response["Allow"] == "GET"
        assert response["Content-Type"] == FHIR_JSON
        if method != "head":
            assert response.json()["resourceType"] == "OperationOutcome"


def test_formats(world, client_for):
    c = client_for("village_doctor_a")
    for fmt in ("json", "application/json", "application/fhir+json", "application/fhir json",
                "application/fhir+json; charset=utf-8"):
        assert get(c, "Organization", _format=fmt)[0] == 200, fmt
    for fmt in ("xml", "application/fhir+xml", "html", "ttl"):
        status, body, _r = get(c, "Organization", _format=fmt)
        assert status == 406 and body["issue"][0]["code"] == "not-supported", fmt
    for accept in ("application/fhir+json", "application/json", "*/*", "text/html,application/xhtml+xml,*/*;q=0.8"):
        assert c.get("/fhir/Organization", HTTP_ACCEPT=accept).status_code == 200, accept
    for accept in ("application/fhir+xml", "text/html", "application/json;q=0"):
        response = c.get("/fhir/Organization", HTTP_ACCEPT=accept)
        assert response.status_code == 406 and response["Content-Type"] == FHIR_JSON, accept
    assert c.get("/fhir/metadata", {"_format": "xml"}).status_code == 406
    pretty = c.get("/fhir/Organization", {"_pretty": "true"})
    assert b"\n  " in pretty.content


def test_unknown_parameters_are_400_unless_lenient(world, client_for):
    c = client_for("village_doctor_a")
    status, body, _r = get(c, "Patient", nonsense="1", **{"name:fuzzy": "x"})
    assert status == 400
    validate(body)
    diagnostics = " ".join(i["diagnostics"] for i in body["issue"])
    assert "nonsense" in diagnostics and "name:fuzzy" in diagnostics
    assert all(i["code"] == "invalid" for i in body["issue"])
    lenient = c.get("/fhir/Patient", {"nonsense": "1", "name": "陈"}, HTTP_PREFER="handling=lenient")
    assert lenient.status_code == 200
    self_link = lenient.json()["link"][0]["url"]
    assert "nonsense" not in self_link and "name=" in self_link


@pytest.mark.parametrize("params", [
    {"_count": "x"}, {"_count": "-1"}, {"_offset": "-5"}, {"_offset": "1e9"}, {"_total": "maybe"},
    {"birthdate": "yesterday"}, {"birthdate": "1962-13-01"}, {"birthdate": "1962-02-30"},
    {"birthdate": "xx1962"}, {"birthdate": "9999"}, {"gender": ""}, {"_summary": "count"}, {"_sort": "name"},
])
def test_malformed_search_parameters_are_400(world, client_for, params):
    status, body, _r = get(client_for("village_doctor_a"), "Patient", **params)
    assert status == 400, body
    validate(body)


def test_count_is_capped_and_zero_gives_only_the_total(world, client_for):
    c = client_for("village_doctor_a")
    status, body, _r = get(c, "Organization", _count="100000")
    assert status == 200 and "_count=100" in body["link"][0]["url"]
    status, body, _r = get(c, "Organization", _count="0")
    assert status == 200 and body["total"] == 7 and "entry" not in body


@pytest.mark.parametrize("path", [
    "", "Unknown", "Unknown/123", "patient", "Patient/123/_history", "Patient/123/_history/1", "Patient/$everything",
    "Patient/a/b/c", "Immunization", "Immunization/" + "0" * 36, "Patient/%00", "Patient/..%2F..%2Fetc",
    "Patient/" + "x" * 200, "metadata/extra", "CareTeam/pt-", "CareTeam/pt-not-a-uuid", "Organization/%E4%B8%AD",
])
def test_malformed_urls_are_404_operation_outcomes(world, client_for, path):
    response = client_for("village_doctor_a").get(f"/fhir/{path}")
    assert response.status_code == 404, path
    assert response["Content-Type"] == FHIR_JSON
    validate(response.json())


def test_reads_with_trailing_slash_and_search_with_trailing_slash(world, client_for):
    c = client_for("village_doctor_a")
    pid = world.patients["patient_a"].pk
    assert c.get(f"/fhir/Patient/{pid}/").status_code == 200
    assert c.get("/fhir/Patient/").status_code == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(resource=st.sampled_from(RESOURCES),
       key=st.sampled_from(["_id", "identifier", "name", "name:contains", "birthdate", "date", "gender", "telecom",
                            "patient", "subject", "organization", "partof", "type", "participant", "status",
                            "category", "agent", "entity", "action", "subtype", "outcome", "active", "specialty",
                            "practitioner", "_count", "_offset", "_total", "_cursor"]),
       value=st.text(alphabet=string.printable + "陈桂芳|,\\", max_size=40))
def test_no_query_string_makes_a_500(world, client_for, resource, key, value):
    response = client_for("auditadmin" if resource == "AuditEvent" else "village_doctor_a").get(
        f"/fhir/{resource}", {key: value})
    assert response.status_code in (200, 400), (resource, key, value, response.content[:300])
    assert response["Content-Type"] == FHIR_JSON
    validate(response.json())


def test_an_unexpected_failure_is_a_500_operation_outcome(world, client_for, monkeypatch):
    import dataclasses

    def boom(actor, rid):
        raise RuntimeError("boom")

    monkeypatch.setitem(REGISTRY, "Location", dataclasses.replace(REGISTRY["Location"], read=boom))
    response = client_for("village_doctor_a").get(f"/fhir/Location/{world.orgs['tertiary'].pk}")
    assert response.status_code == 500 and response["Content-Type"] == FHIR_JSON
    body = response.json()
    validate(body)
    assert body["issue"][0]["code"] == "exception" and "boom" not in body["issue"][0]["diagnostics"]



def test_links_name_the_base_the_request_came_through(world, bearer_for):
    """The base URL of search links is reversed once per script prefix: a server mounted under a
    prefix gives links under it, and one without gives links without it, in either order. Called
    as a WSGI server calls Django (the test client sets no script prefix), without closing the
    test's connection at the request's start (as the test client does not)."""
    authorization = bearer_for("village_doctor_a").defaults["HTTP_AUTHORIZATION"]
    handler = WSGIHandler()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)

    def fetch(path: str, query: str, prefix: str) -> dict[str, Any]:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": prefix,
                   "HTTP_HOST": "testserver", "HTTP_AUTHORIZATION": authorization,
                   "HTTP_ACCEPT": "application/fhir+json"}
        setup_testing_defaults(environ)
        status = []
        body = b"".join(handler(environ, lambda s, headers, exc_info=None: status.append(s)))
        assert status[0].startswith("200"), (status, body[:300])
        return json.loads(body)

    try:
        for prefix in ("", "/medunion", ""):
            bundle = fetch("/fhir/Patient", "name=%E9%99%88", prefix)
            assert bundle["link"][0]["url"].startswith(f"http://testserver{prefix}/fhir/Patient?"), prefix
            metadata = fetch("/fhir/metadata", "", prefix)
            assert metadata["implementation"]["url"] == f"http://testserver{prefix}/fhir"
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        set_script_prefix("/")
