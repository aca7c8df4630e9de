"""API clients holding a bearer token per persona; English messages; second factor relaxed
(tests/core covers it)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.world import PASSWORD, World

API = "/api/v1"


class ApiClient:
    """A JSON client for ``/api/v1`` with a bearer token (or none)."""

    def __init__(self, token: str | None = None):
        headers = {"accept-language": "en"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.token = token
        self.client = Client(headers=headers)

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str):
        return self.client.get(API + path, params or {}, headers=headers)

    def send(self, method: str, path: str, body: Any = None, **headers: str):
        data = json.dumps(body, default=str) if body is not None else None
        return getattr(self.client, method)(API + path, data, content_type="application/json", headers=headers)

    def post(self, path: str, body: Any = None, **headers: str):
        return self.send("post", path, body, **headers)

    def put(self, path: str, body: Any = None, **headers: str):
        return self.send("put", path, body, **headers)

    def delete(self, path: str, **headers: str):
        return self.send("delete", path, **headers)


def issue_token(username: str, password: str = PASSWORD) -> str:
    response = Client().post(API + "/auth/token", {"username": username, "password": password},
                             content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["access_token"]


@pytest.fixture(autouse=True)
def _api_no_second_factor(settings):
    settings.MEDUNION_REQUIRE_MFA = False


@pytest.fixture
def api_as(world: World):
    """``api_as("village_doctor_a")``: a client signed in with a fresh bearer token."""
    made: dict[str, ApiClient] = {}

    def make(persona: str) -> ApiClient:
        if persona not in made:
            made[persona] = ApiClient(issue_token(world.users[persona].username))
        return made[persona]

    return make


@pytest.fixture
def anonymous_api() -> ApiClient:
    return ApiClient()


def assert_problem(response, status: int, code: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem: the status, the media type and the stable code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    if code is not None:
        assert body["code"] == code, body
    return body
