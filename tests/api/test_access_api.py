"""/api/v1/access: break-the-glass (reason, expiry, audit, idempotency) and coordinators' review."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.access.actions import break_glass
from medunion.access.models import BreakGlassGrant
from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.patients.identity import make_resident_id
from tests.api.conftest import assert_problem
from tests.world import PASSWORD

REASON = "Unconscious on arrival, needs history"


def _pid(world):
    return world.patients["patient_a"].pk


def test_break_glass_opens_the_record_until_it_expires(world, api_as, settings):
    pid = _pid(world)
    doctor = api_as("village_doctor_b")
    assert_problem(doctor.get(f"/patients/{pid}"), 404)
    response = doctor.post("/access/break-glass", {"patient_id": str(pid), "reason": REASON})
    assert response.status_code == 201, response.content
    grant = response.json()
    assert grant["patient_id"] == str(pid) and grant["reason"] == REASON
    expires = dt.datetime.fromisoformat(grant["expires_at"])
    created = dt.datetime.fromisoformat(grant["created_at"])
    assert expires - created == dt.timedelta(minutes=settings.MEDUNION_BREAK_GLASS_MINUTES)
    row = AuditEvent.objects.filter(patient_id=pid, action="patient.break_glass").get()
    assert row.purpose == "break_glass" and row.surface == "api"
    assert doctor.get(f"/patients/{pid}").json()["relationship"] == "break_glass"
    with clock.frozen(expires + dt.timedelta(seconds=1)):
        assert_problem(doctor.get(f"/patients/{pid}"), 404)


def test_break_glass_by_resident_id_number(world, api_as):
    response = api_as("cardiologist_tertiary").post("/access/break-glass", {
        "id_number": world.patients["patient_a_id_number"], "reason": REASON})
    assert response.status_code == 201, response.content
    assert response.json()["patient_id"] == str(_pid(world))
    unknown = api_as("cardiologist_tertiary").post("/access/break-glass", {
        "id_number": make_resident_id("610424", dt.date(1980, 1, 1), 901, male=True), "reason": REASON})
    assert_problem(unknown, 404, "not_found")


def test_break_glass_input_errors(world, api_as):
    doctor = api_as("village_doctor_b")
    pid = str(_pid(world))
    assert "reason" in assert_problem(doctor.post("/access/break-glass", {"patient_id": pid, "reason": "short"}),
                                      422, "validation_failed")["errors"]
    assert_problem(doctor.post("/access/break-glass", {"reason": REASON}), 422)
    assert_problem(doctor.post("/access/break-glass", {"patient_id": pid, "id_number": "x", "reason": REASON}), 422)
    assert_problem(doctor.post("/access/break-glass", {"id_number": "123", "reason": REASON}), 422)
    assert_problem(doctor.post("/access/break-glass", {"patient_id": str(uuid.uuid4()), "reason": REASON}), 404)
    assert not BreakGlassGrant.objects.exists()


@pytest.mark.parametrize("persona", ["coordinator", "patient_a", "commission_viewer", "sysadmin", "auditadmin"])
def test_only_clinicians_break_the_glass(world, api_as, persona):
    response = api_as(persona).post("/access/break-glass", {"patient_id": str(_pid(world)), "reason": REASON})
    assert_problem(response, 404, "not_found")  # not their area at all: as if it did not exist
    assert not BreakGlassGrant.objects.exists()


def test_break_glass_is_idempotent(world, api_as):
    doctor = api_as("village_doctor_b")
    body = {"patient_id": str(_pid(world)), "reason": REASON}
    first = doctor.post("/access/break-glass", body, **{"Idempotency-Key": "bg-1"})
    second = doctor.post("/access/break-glass", body, **{"Idempotency-Key": "bg-1"})
    assert first.json() == second.json() and second["Idempotent-Replayed"] == "true"
    assert BreakGlassGrant.objects.count() == 1
    assert_problem(doctor.post("/access/break-glass", body | {"reason": REASON + "!"}, **{"Idempotency-Key": "bg-1"}),
                   422, "idempotency_key_reused")


# --- review ------------------------------------------------------------------------------------------

def _other_coordinator(world):
    from medunion.access.actor import system_actor
    from medunion.accounts.actions import create_account

    world.users["coordinator_other"] = create_account(
        acting=system_actor("tests"), username="coordinator_other", password=PASSWORD, role="coordinator",
        display_name="外县协调员", consortium_ids=[world.other_consortium.pk])


def test_coordinators_review_their_clinicians_accesses(world, api_as):
    pid = _pid(world)
    grant = break_glass(acting=world.actor("village_doctor_b"), patient_id=pid, reason=REASON)
    coordinator = api_as("coordinator")
    listed = coordinator.get("/access/break-glass/reviews")
    assert listed.status_code == 200, listed.content
    [item] = listed.json()
    assert item["id"] == str(grant.pk) and item["active"]
    assert item["clinician"]["name"] == "李秀兰" and item["patient"]["name"] == "陈桂芳"
    # The list names the patient: recorded as a read.
    assert AuditEvent.objects.filter(patient_id=pid, action="access.break_glass.review_list").count() == 1
    reviewed = coordinator.post(f"/access/break-glass/reviews/{grant.pk}", {"note": "Confirmed with the ER."})
    assert reviewed.status_code == 200, reviewed.content
    assert reviewed.json()["review_note"] == "Confirmed with the ER."
    assert reviewed.json()["reviewed_by"] == str(world.users["coordinator"].pk)
    assert coordinator.get("/access/break-glass/reviews").json() == []
    assert_problem(coordinator.post(f"/access/break-glass/reviews/{grant.pk}", {"note": ""}), 409, "conflict")
    assert_problem(coordinator.post(f"/access/break-glass/reviews/{uuid.uuid4()}", {}), 404)


def test_others_cannot_review(world, api_as):
    grant = break_glass(acting=world.actor("village_doctor_b"), patient_id=_pid(world), reason=REASON)
    _other_coordinator(world)
    assert api_as("coordinator_other").get("/access/break-glass/reviews").json() == []
    assert_problem(api_as("coordinator_other").post(f"/access/break-glass/reviews/{grant.pk}", {}), 404)
    for persona in ("village_doctor_a", "patient_a", "auditadmin", "commission_viewer"):
        assert_problem(api_as(persona).get("/access/break-glass/reviews"), 404, "not_found")
        assert_problem(api_as(persona).post(f"/access/break-glass/reviews/{grant.pk}", {}), 404)
    assert BreakGlassGrant.objects.get(pk=grant.pk).reviewed_at is None


def test_the_review_list_query_count_does_not_grow(world, api_as):
    coordinator = api_as("coordinator")
    coordinator.get("/access/break-glass/reviews")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert coordinator.get("/access/break-glass/reviews").status_code == 200
        return len(ctx.captured_queries)

    break_glass(acting=world.actor("village_doctor_b"), patient_id=_pid(world), reason=REASON)
    one = count()
    for persona in ("cardiologist_tertiary", "hub_radiologist", "village_doctor_b"):
        break_glass(acting=world.actor(persona), patient_id=_pid(world), reason=REASON)
    assert len(coordinator.get("/access/break-glass/reviews").json()) == 4
    assert count() == one and one <= 12
