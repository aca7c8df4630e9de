"""JSON bodies are taken as the OpenAPI document describes them: a value of the wrong JSON type is a
422 naming the field, never coerced (pydantic's lax mode took ``"5"``, ``5.0`` and ``true`` for an
integer, ``"true"`` and ``1`` for a boolean and a number of seconds for a time); the strings JSON
has for UUIDs, dates, times and enum values are still accepted. Found by schemathesis's negative_data_rejection."""

from __future__ import annotations

import typing
import uuid
from typing import Any

import pytest
from ninja.params.models import BodyModel
from pydantic import BaseModel

from medunion.api import api as ninja_api
from medunion.core.json_body import BodyIn, StrictJsonBodyModel
from medunion.referrals.models import Referral

from .conftest import accept_body, assert_problem, refer, refer_body


def _body_operations() -> list[tuple[str, type[BodyModel]]]:
    ninja_api.urls  # noqa: B018 (builds every router's operations)
    found = []
    for prefix, router in ninja_api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for model in operation.signature.models:
                    if issubclass(model, BodyModel) and "payload" in model.model_fields:
                        found.append((f"{operation.methods[0]} {prefix}{path}", model))
    return found


def _models_in(annotation: Any) -> typing.Iterator[type[BaseModel]]:
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for field in annotation.model_fields.values():
            yield from _models_in(field.annotation)


def test_every_json_body_is_declared_strict_and_built_of_plain_models():
    operations = _body_operations()
    assert len(operations) >= 60  # every create and step of the API
    lax = [label for label, model in operations if not issubclass(model, StrictJsonBodyModel)]
    assert lax == [], "declare these bodies as payload: JsonBody[...]"
    # Ninja's Schema re-validates its input as Python objects (where strict refuses a date's
    # string); every model inside a body must be a plain one.
    wrapped = sorted({m.__name__ for _, model in operations
                      for m in _models_in(model.model_fields["payload"].annotation) if not issubclass(m, BodyIn)})
    assert wrapped == [], "derive these from core.json_body.BodyIn"


@pytest.mark.parametrize("beds", ["5", 5.0, True, None, [5]])
def test_an_integer_of_another_json_type_is_refused(rw, api, beds):
    coordinator = api("coordinator")
    problem = assert_problem(coordinator.put(f"/referrals/capacity/{rw.cardiology.pk}",
                                             {"green_channel_beds": beds, "green_channel_slots": 0}), 422,
                             "validation_failed")
    assert list(problem["errors"]) == ["green_channel_beds"]
    ok = coordinator.put(f"/referrals/capacity/{rw.cardiology.pk}", {"green_channel_beds": 5,
                                                                      "green_channel_slots": 0})
    assert ok.status_code == 200 and ok.json()["green_channel"]["beds_reserved"] == 5


def test_strings_numbers_and_booleans_are_not_taken_for_each_other(rw, api):
    doctor = api("village_doctor_a")
    problem = assert_problem(doctor.post("/referrals", refer_body(rw, reason=12345)), 422)
    assert "reason" in problem["errors"]
    problem = assert_problem(doctor.post("/referrals", refer_body(rw, green_channel="true")), 422)
    assert "green_channel" in problem["errors"]
    problem = assert_problem(doctor.post("/referrals", refer_body(rw, green_channel=1)), 422)
    assert "green_channel" in problem["errors"]
    assert Referral.objects.count() == 0
    # The same body with the right types goes through.
    assert doctor.post("/referrals", refer_body(rw)).status_code == 201


def test_dates_times_uuids_and_enums_come_as_their_strings_and_only_so(rw, api):
    created = refer(api, rw)["summary"]
    cardio = api("cardiologist_tertiary")
    path = f"/referrals/{created['id']}/accept"
    # A number of seconds is not a time, though pydantic's lax mode would take it.
    problem = assert_problem(cardio.post(path, accept_body(expected_version=created["version"],
                                                           appointment_at=1_900_000_000)), 422)
    assert list(problem["errors"]) == ["appointment_at"]
    # A date alone is not a date-time (the schema says date-time).
    problem = assert_problem(cardio.post(path, accept_body(expected_version=created["version"],
                                                           appointment_at="2099-01-01")), 422)
    assert list(problem["errors"]) == ["appointment_at"]
    problem = assert_problem(cardio.post(path, accept_body(expected_version=created["version"],
                                                           admit_kind="helicopter")), 422)
    assert list(problem["errors"]) == ["admit_kind"]
    problem = assert_problem(api("village_doctor_a").post(
        "/referrals", refer_body(rw, target_organisation_id=uuid.uuid4().int)), 422)
    assert "target_organisation_id" in problem["errors"]
    assert Referral.objects.get(pk=created["id"]).state == "requested"
    # The ISO strings are accepted: the enum's value, a date-time with its offset, UUIDs.
    accepted = cardio.post(path, accept_body(expected_version=created["version"]))
    assert accepted.status_code == 200, accepted.content
    assert Referral.objects.get(pk=created["id"]).state == "accepted"


def test_an_unreadable_body_is_still_a_400(rw, api):
    coordinator = api("coordinator")
    response = coordinator.client.put(f"/api/v1/referrals/capacity/{rw.cardiology.pk}", b'{"green_channel_beds": 5',
                                      content_type="application/json")
    assert response.status_code == 400
