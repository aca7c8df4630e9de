"""What the schemathesis runs found, each pinned by a plain test that fails without its fix."""

from __future__ import annotations

import enum
import types
import typing

from ninja import Schema

from medunion.api import api
from tests.api.conftest import assert_problem


def _subclasses(cls: type) -> list[type]:
    return [s for sub in cls.__subclasses__() for s in (sub, *_subclasses(sub))]


def _enums_in(annotation: object) -> typing.Iterator[type[enum.Enum]]:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _enums_in(arg)
    if isinstance(annotation, types.UnionType):
        for arg in annotation.__args__:
            yield from _enums_in(arg)


def test_no_two_enums_of_the_api_share_a_component_name():
    """The OpenAPI document names an enum's component after its class: the states of a
    consultation, a referral and an examination were three classes called ``State``, merged into
    one component, so two of the three lists were documented with the examination's states (a
    consultation's "requested" violated its own schema)."""
    used: dict[str, set[type]] = {}
    for cls in _subclasses(Schema):
        if cls.__module__.startswith("medunion."):
            for field in cls.model_fields.values():
                for found in _enums_in(field.annotation):
                    used.setdefault(found.__name__, set()).add(found)
    assert {name: sorted(c.__module__ for c in classes) for name, classes in used.items() if len(classes) > 1} == {}
    components = api.get_openapi_schema()["components"]["schemas"]
    for name in ("ConsultState", "ReferralState", "ExaminationState"):
        assert "requested" in components[name]["enum"] or name == "ExaminationState"


def test_a_page_number_past_any_offset_is_refused_not_a_server_error(api_as):
    """``GET /api/v1/imports?page=979129090494776737792`` overflowed the query's OFFSET (a 500)."""
    coordinator = api_as("coordinator")
    assert_problem(coordinator.get("/imports", {"page": "979129090494776737792"}), 422, "validation_failed")
    assert coordinator.get("/imports", {"page": "2"}).status_code == 200


def test_a_time_with_any_offset_python_reads_is_not_a_server_error(api_as):
    """``before=0319-06-14T23:14:36-20:13``: Python accepts a -20:13 offset, PostgreSQL does not
    (a 500 from the query); a time that leaves the calendar once in UTC overflowed on SQLite too.
    Times from a request are taken as UTC: the first is a time like any other, the second a 422."""
    doctor, coordinator = api_as("village_doctor_a"), api_as("coordinator")
    assert doctor.get("/notifications", {"before": "0319-06-14T23:14:36-20:13"}).status_code == 200
    assert_problem(doctor.get("/notifications", {"before": "0001-01-01T00:00:00+05:00"}), 422)
    assert coordinator.get("/audit/events", {"from": "2026-06-14T23:14:36-20:13"}).status_code == 200
    assert_problem(coordinator.get("/audit/events", {"to": "0001-01-01T01:00:00+05:00"}), 422)


def test_a_made_up_session_cookie_beside_a_bad_token_is_401_not_a_csrf_failure(world):
    """An unsafe call with an invalid bearer token and a ``sessionid`` cookie that signs no one in
    answered 403 "CSRF check Failed" (undocumented); there is nothing to forge: 401."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True, headers={"accept-language": "en"})
    client.cookies["sessionid"] = "made-up"
    answer = client.put("/api/v1/settings/api_token_hours", '{"value": 12}', content_type="application/json",
                        headers={"authorization": "Bearer not-a-token"})
    assert_problem(answer, 401, "not_authenticated")
