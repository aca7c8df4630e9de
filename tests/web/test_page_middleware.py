"""The pages' middleware (session, CSRF, the signed-in user, messages) is passed over by a request
to the API or FHIR that signs in with a bearer token (medunion.web.middleware), and by nothing else."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from medunion.accounts.bearer import bearer_token
from medunion.web.middleware import CsrfViewMiddleware, SessionMiddleware
from tests.api.conftest import issue_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_second_factor(settings):
    settings.MEDUNION_REQUIRE_MFA = False


def _signed_in(world, persona: str, **headers: str) -> Client:
    client = Client(enforce_csrf_checks=True, headers={"accept-language": "en", **headers})
    client.force_login(world.users[persona])
    return client


def _session_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "django_session" in q["sql"]]


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/fhir/Patient"])
def test_the_token_alone_says_who_a_bearer_request_is(world, path):
    """Signed in on the pages as the coordinator, with the village doctor's token: the request is
    the village doctor's, its session is never read, and nothing about it is written back."""
    token = issue_token("village_doctor_a")
    client = _signed_in(world, "coordinator", authorization=f"Bearer {token}")
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(path)
    assert answer.status_code == 200, answer.content
    assert _session_queries(captured) == []
    assert "Set-Cookie" not in answer.headers and "Cookie" not in answer.get("Vary", "")
    if path.startswith("/api/"):
        assert answer.json()["username"] == "village_doctor_a"
    # The headers every answer carries are still there.
    assert answer["X-Content-Type-Options"] == "nosniff" and answer["X-Frame-Options"] == "DENY"
    assert answer["X-Request-Id"] and answer["Content-Language"] == "en"


def test_a_bad_token_beside_a_valid_session_is_401_on_the_api(world):
    """The API tried the session after a bearer token it did not know; FHIR never did. Neither
    does now: a bearer header means the token decides."""
    client = _signed_in(world, "village_doctor_a")
    assert client.get("/api/v1/auth/me").status_code == 200  # the session alone signs in
    answer = client.get("/api/v1/auth/me", headers={"authorization": "Bearer mu_unknown"})
    assert answer.status_code == 401
    assert answer["Content-Type"].startswith("application/problem+json")
    assert client.get("/fhir/Patient", headers={"authorization": "Bearer mu_unknown"}).status_code == 401


def test_a_session_on_the_api_is_still_csrf_checked(world):
    client = _signed_in(world, "village_doctor_a")
    refused = client.delete("/api/v1/auth/token")
    assert refused.status_code == 403 and b"CSRF" in refused.content
    token = issue_token("village_doctor_a")
    assert client.delete("/api/v1/auth/token", headers={"authorization": f"Bearer {token}"}).status_code == 204


def test_a_page_with_a_bearer_header_keeps_its_session(world):
    """Outside /api/ and /fhir/ a bearer header (a proxy may add one) changes nothing."""
    token = issue_token("village_doctor_a")
    client = _signed_in(world, "coordinator", authorization=f"Bearer {token}")
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/", follow=True)
    assert page.status_code == 200 and page.redirect_chain == [("/network/", 302)]  # the coordinator's home
    assert _session_queries(captured)
    assert world.users["coordinator"].display_name in page.content.decode()


def test_the_checks_still_find_djangos_middleware():
    """Each class is Django's, subclassed: the admin's checks (sessions, auth, messages) pass, and
    the hooks Django collects are there."""
    assert [m.id for m in run_checks(tags=["admin"])] == []
    assert hasattr(CsrfViewMiddleware, "process_view") and not hasattr(SessionMiddleware, "process_view")


@pytest.mark.parametrize(("header", "token"), [
    (None, None), ("Bearer mu_abc", "mu_abc"), ("bearer  mu_abc ", "mu_abc"), ("BEARER mu_abc", "mu_abc"),
    ("Bearer", ""), ("Bearer ", ""), ("Basic dXNlcjpwYXNz", None), ("Bearermu_abc", None), ("", None),
])
def test_the_bearer_header_is_read_one_way(header, token):
    """One reading of the header for the API, FHIR, the middleware and revoking a token."""
    request = RequestFactory().get("/api/v1/auth/me", **({"HTTP_AUTHORIZATION": header} if header is not None else {}))
    assert bearer_token(request) == token


def test_every_surface_takes_the_scheme_in_any_case_and_no_other_scheme(world):
    token = issue_token("village_doctor_a")
    assert Client().get("/fhir/metadata").status_code == 200
    assert Client().get("/fhir/Patient", headers={"authorization": f"bEaReR {token}"}).status_code == 200
    # Another scheme on FHIR is refused even beside a signed-in session: never a silent fallback.
    assert _signed_in(world, "village_doctor_a", authorization="Basic dXNlcjpwYXNz").get(
        "/fhir/Patient").status_code == 401
    assert Client().delete("/api/v1/auth/token", headers={"authorization": f"bearer {token}"}).status_code == 204
    assert Client().get("/api/v1/auth/me", headers={"authorization": f"Bearer {token}"}).status_code == 401
