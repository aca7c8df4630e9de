"""One clear answer for each kind of bad request: field errors (422), the missing credential named
(403 ``privilege_missing``), the live referral to track (409 ``referral_live``), a full green
channel (409 ``green_channel_full``), a stale version (409), a referral one may not see (404),
an area that is not one's own (404); and a double-submitted create is one referral."""

from __future__ import annotations

import uuid

import pytest

from medunion.audit.models import AuditEvent
from medunion.referrals.models import Referral

from .conftest import accept_body, assert_problem, new_patient, refer, refer_body


def test_field_errors_name_the_fields(rw, api):
    doctor = api("village_doctor_a")
    body = refer_body(rw, reason="", plan=[{"kind": "visit", "description": "x"}], requested_by="2000-01-01")
    problem = assert_problem(doctor.post("/referrals", body), 422, "validation_failed")
    assert "reason" in problem["errors"]
    problem = assert_problem(doctor.post("/referrals", refer_body(rw, requested_by="2000-01-01", green_channel=True)),
                             422)
    assert {"requested_by", "green_place"} <= set(problem["errors"])
    problem = assert_problem(doctor.post("/referrals", refer_body(
        rw, target_department_id=None, plan=[{"kind": "visit", "description": "随访", "due_in_days": 7}])), 422)
    assert {"target_department", "plan"} <= set(problem["errors"])
    problem = assert_problem(doctor.post("/referrals", refer_body(rw, target_organisation_id=str(uuid.uuid4()))), 422)
    assert "target_organisation" in problem["errors"]
    assert Referral.objects.count() == 0


def test_a_missing_credential_is_named(rw, api):
    problem = assert_problem(api("village_doctor_b").post("/referrals", refer_body(rw)), 403, "privilege_missing")
    assert problem["missing"] == ["exam", "licence"] and len(problem["help"]) == 2
    assert "exam" in problem["title"] or "exam" in problem.get("detail", problem["title"])
    # Receiving needs it too: an unlicensed colleague of the receiving hospital may not accept.
    rid = refer(api, rw)["summary"]["id"]
    problem = assert_problem(api("tertiary_unlicensed").post(f"/referrals/{rid}/accept", accept_body()), 403,
                             "privilege_missing")
    assert problem["missing"] == ["exam", "licence"]


def test_a_second_live_referral_points_to_the_first(rw, api):
    first = refer(api, rw)["summary"]["id"]
    problem = assert_problem(api("village_doctor_a").post("/referrals", refer_body(rw)), 409, "referral_live")
    assert problem["referral_id"] == first
    assert Referral.objects.count() == 1


def test_a_full_green_channel_says_so(rw, api):
    coordinator = api("coordinator")
    put = coordinator.put(f"/referrals/capacity/{rw.cardiology.pk}", {"green_channel_beds": 1,
                                                                       "green_channel_slots": 0})
    assert put.status_code == 200 and put.json()["green_channel"]["beds_reserved"] == 1
    refer(api, rw, green_channel=True, green_place="bed")
    other = new_patient(rw, 1)
    problem = assert_problem(api("village_doctor_a").post(
        "/referrals", refer_body(rw, other, green_channel=True, green_place="bed")), 409, "green_channel_full")
    assert problem["field"] == "green_channel"
    assert Referral.objects.count() == 1
    # Not below what live referrals hold.
    problem = assert_problem(coordinator.put(f"/referrals/capacity/{rw.cardiology.pk}",
                                             {"green_channel_beds": 0, "green_channel_slots": 0}), 422)
    assert "green_channel_beds" in problem["errors"]
    assert_problem(api("cardiologist_tertiary").put(f"/referrals/capacity/{rw.cardiology.pk}",
                                                    {"green_channel_beds": 2, "green_channel_slots": 0}), 403)
    assert_problem(coordinator.put(f"/referrals/capacity/{uuid.uuid4()}",
                                   {"green_channel_beds": 2, "green_channel_slots": 0}), 404)


def test_a_stale_version_is_refused_and_nothing_changes(rw, api):
    cardio = api("cardiologist_tertiary")
    created = refer(api, rw)["summary"]
    rid, version = created["id"], created["version"]
    assert cardio.post(f"/referrals/{rid}/accept", accept_body(expected_version=version)).status_code == 200
    problem = assert_problem(api("cardiologist_b").post(f"/referrals/{rid}/accept",
                                                        accept_body(expected_version=version)), 409, "conflict")
    assert problem["state"] == "accepted" and problem["version"] == version + 1
    assert_problem(api("village_doctor_a").post(f"/referrals/{rid}/cancel", {"reason": "x",
                                                                             "expected_version": version}), 409)
    assert Referral.objects.get(pk=rid).state == "accepted"


def test_idempotent_create(rw, api):
    doctor = api("village_doctor_a")
    body = refer_body(rw)
    first = doctor.post("/referrals", body, **{"Idempotency-Key": "phone-retry-1"})
    again = doctor.post("/referrals", body, **{"Idempotency-Key": "phone-retry-1"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and first["Location"] == again["Location"]
    assert first.json()["summary"]["id"] == again.json()["summary"]["id"]
    assert Referral.objects.count() == 1
    assert AuditEvent.objects.filter(action="referral.create").count() == 1
    assert_problem(doctor.post("/referrals", {**body, "reason": "另一个原因"}, **{"Idempotency-Key": "phone-retry-1"}),
                   422, "idempotency_key_reused")


def test_an_unrelated_clinician_gets_404(rw, api):
    rid = refer(api, rw, green_channel=True, green_place="bed")["summary"]["id"]
    for persona in ("village_doctor_b", "outsider", "hub_radiologist"):
        client = api(persona)
        assert_problem(client.get(f"/referrals/{rid}"), 404)
        assert_problem(client.get(f"/referrals/{rid}/changes"), 404)
        assert_problem(client.post(f"/referrals/{rid}/accept", accept_body()), 404)
        assert_problem(client.post(f"/referrals/{rid}/messages", {"body": "x"}), 404)
        assert_problem(client.get(f"/referrals/{rid}/slip.pdf"), 404)
        assert client.get("/referrals").json()["items"] == []
    assert_problem(api("village_doctor_a").get(f"/referrals/{uuid.uuid4()}"), 404)


@pytest.mark.parametrize("persona", ["coordinator", "commission_viewer", "sysadmin", "secadmin", "auditadmin"])
def test_referrals_are_not_other_roles_business(rw, api, persona):
    rid = refer(api, rw)["summary"]["id"]
    client = api(persona)
    for path in ("/referrals", "/referrals/counts", "/referrals/tasks", f"/referrals/{rid}",
                 "/referrals/destinations?direction=up"):
        assert_problem(client.get(path), 404)
    assert_problem(client.post("/referrals", refer_body(rw)), 404)


def test_the_slip_waits_for_acceptance(rw, api):
    rid = refer(api, rw)["summary"]["id"]
    assert_problem(api("patient_a").get(f"/referrals/{rid}/slip.pdf"), 409)
    assert not AuditEvent.objects.filter(action="referral.slip").exists()


def test_steps_need_their_reason_and_their_role(rw, api):
    rid = refer(api, rw)["summary"]["id"]
    cardio = api("cardiologist_tertiary")
    assert_problem(cardio.post(f"/referrals/{rid}/decline", {"reason": ""}), 422)
    assert_problem(cardio.post(f"/referrals/{rid}/accept", accept_body(appointment_at="2001-01-01T09:00:00+08:00")),
                   422)
    assert_problem(cardio.post(f"/referrals/{rid}/accept", accept_body(appointment_at=1_900_000_000)), 422)
    assert_problem(cardio.post(f"/referrals/{rid}/cancel", {"reason": "x"}), 403)
    assert_problem(api("village_doctor_a").post(f"/referrals/{rid}/accept", accept_body()), 403)
    assert_problem(cardio.post(f"/referrals/{rid}/check-in", {}), 409)
    assert_problem(cardio.post("/referrals/check-in", {"code": "NOSUCHCODE"}), 404)
    assert Referral.objects.get(pk=rid).state == "requested"


def test_clock_and_figures_are_for_coordinators(rw, api):
    cid = rw.world.consortium.pk
    coordinator = api("coordinator")
    assert coordinator.get(f"/referrals/clock/{cid}").json()["urgent_hours"] == 4
    values = {"emergency_hours": 1, "urgent_hours": 2, "routine_hours": 24, "outcome_days": 20, "close_after_days": 7}
    saved = coordinator.put(f"/referrals/clock/{cid}", values)
    assert saved.status_code == 200 and saved.json()["urgent_hours"] == 2
    assert_problem(coordinator.put(f"/referrals/clock/{cid}", {**values, "urgent_hours": 0}), 422)
    assert_problem(api("village_doctor_a").put(f"/referrals/clock/{cid}", values), 403)
    assert_problem(coordinator.get(f"/referrals/clock/{rw.world.other_consortium.pk}"), 404)
    refer(api, rw)
    figures = api("commission_viewer").get("/referrals/figures", {"by": "month"}).json()
    assert figures["totals"]["up"] == 1 and len(figures["rows"]) == 1
    assert_problem(api("village_doctor_a").get("/referrals/figures"), 404)
    assert_problem(coordinator.get("/referrals/figures", {"consortium": str(rw.world.other_consortium.pk)}), 404)
    assert_problem(coordinator.get("/referrals/figures", {"since": "2026-05-01", "until": "2026-04-01"}), 422)
    # Dates are ISO text, not a number of seconds.
    assert_problem(coordinator.get("/referrals/figures", {"until": "0"}), 422)
