"""Help for the sender: where a referral may go (with live green-channel availability) and the
patient's live referral to track instead of starting another."""

from __future__ import annotations

from medunion.audit.models import AuditEvent

from .conftest import assert_problem, refer


def test_destinations_follow_the_direction(rw, api):
    doctor = api("village_doctor_a")
    up = doctor.get("/referrals/destinations", {"direction": "up"}).json()
    names = {d["name"] for d in up}
    assert {rw.orgs["tertiary"].name, rw.orgs["county"].name} <= names and rw.orgs["clinic_b"].name not in names
    tertiary = next(d for d in up if d["id"] == str(rw.orgs["tertiary"].pk))
    card = next(x for x in tertiary["departments"] if x["id"] == str(rw.cardiology.pk))
    assert card["green_channel"] == {"beds_reserved": 4, "beds_in_use": 0, "beds_free": 4, "slots_reserved": 6,
                                     "slots_in_use": 0, "slots_free": 6}
    refer(api, rw, green_channel=True, green_place="bed")
    again = doctor.get("/referrals/destinations", {"direction": "up", "q": "西安"}).json()
    assert [d["id"] for d in again] == [str(rw.orgs["tertiary"].pk)]
    assert again[0]["departments"][0]["green_channel"]["beds_free"] == 3
    across = doctor.get("/referrals/destinations", {"direction": "across"}).json()
    assert {d["name"] for d in across} == {rw.orgs["clinic_b"].name}
    down = api("cardiologist_tertiary").get("/referrals/destinations", {"direction": "down"}).json()
    assert rw.orgs["clinic_a"].name in {d["name"] for d in down}
    assert api("outsider").get("/referrals/destinations", {"direction": "up"}).json() == []
    assert_problem(doctor.get("/referrals/destinations", {"direction": "sideways"}), 422)


def test_the_live_referral_is_shown_and_the_look_is_audited(rw, api):
    doctor = api("village_doctor_a")
    query = {"patient": str(rw.patient.pk), "direction": "up"}
    assert doctor.get("/referrals/live", query).json() == {"referral": None}
    rid = refer(api, rw)["summary"]["id"]
    live = doctor.get("/referrals/live", query).json()["referral"]
    assert live["id"] == rid and live["state"] == "requested"
    assert doctor.get("/referrals/live", {**query, "direction": "down"}).json() == {"referral": None}
    assert AuditEvent.objects.filter(action="referral.live", patient_id=rw.patient.pk).count() == 3
    # The receiving cardiologist sees the referral but not the patient's record: 404.
    assert_problem(api("cardiologist_tertiary").get("/referrals/live", query), 404)
    assert_problem(api("village_doctor_b").get("/referrals/live", query), 404)
