"""/api/v1/patients: who may see and do what, one audit row per read, idempotent register,
problem+json errors, pinned query counts."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.access.actions import break_glass
from medunion.audit.models import AuditEvent
from medunion.patients.actions import PatientInput, register_patient
from medunion.patients.identity import make_resident_id
from medunion.patients.models import Consent, Patient
from tests.api.conftest import assert_problem

# Everyone who must not see patient_a (DESIGN §4.2: 404, exactly like a patient that does not exist).
STRANGERS = ["outsider", "village_doctor_b", "cardiologist_tertiary", "hub_radiologist", "coordinator",
             "commission_viewer", "sysadmin", "secadmin", "auditadmin"]


def _pid(world) -> uuid.UUID:
    return world.patients["patient_a"].pk


def _rows(pid, **filters) -> int:
    return AuditEvent.objects.filter(patient_id=pid, **filters).count()


def _number(seq: int, male: bool = True) -> str:
    return make_resident_id("610424", dt.date(1979, 6, 1), seq, male)


# --- authentication -----------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("get", "/patients?q=陈"), ("post", "/patients"), ("get", "/patients/{pid}"), ("put", "/patients/{pid}"),
    ("get", "/patients/{pid}/care-team"), ("post", "/patients/{pid}/care-team"),
    ("get", "/patients/{pid}/consents"), ("post", "/patients/{pid}/consents"),
    ("post", "/patients/{pid}/qr"), ("delete", "/patients/{pid}/qr"), ("post", "/patients/check-in"),
    ("get", "/patients/{pid}/access-log"),
])
def test_every_endpoint_needs_a_token(world, anonymous_api, method, path):
    before = AuditEvent.objects.count()
    url = path.format(pid=_pid(world))
    response = anonymous_api.get(url) if method == "get" else anonymous_api.send(method, url, {})
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert AuditEvent.objects.count() == before


def test_a_revoked_or_forged_token_is_refused(world, api_as):
    doctor = api_as("village_doctor_a")
    assert doctor.get(f"/patients/{_pid(world)}").status_code == 200
    assert doctor.delete("/auth/token").status_code == 204
    assert_problem(doctor.get(f"/patients/{_pid(world)}"), 401)
    from tests.api.conftest import ApiClient

    assert_problem(ApiClient("mu_forged").get(f"/patients/{_pid(world)}"), 401)


def test_unsafe_methods_without_a_valid_token_answer_401_not_a_csrf_failure(world):
    """Real clients (not Django's test client) are CSRF-checked; a phone with an expired token
    must be told to sign in again."""
    from django.test import Client

    for headers in ({}, {"authorization": "Bearer mu_expired"}):
        client = Client(enforce_csrf_checks=True, headers=headers)
        response = client.post("/api/v1/patients", "{}", content_type="application/json")
        assert_problem(response, 401, "not_authenticated")
    # A browser session still needs its CSRF token for unsafe methods.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["village_doctor_a"])
    response = browser.post("/api/v1/patients", '{"name": "x", "sex": "male", "birth_date": "1990-01-01"}',
                            content_type="application/json")
    assert_problem(response, 403)
    assert not Patient.objects.filter(name="x").exists()


# --- search ---------------------------------------------------------------------------------------

def test_search_by_name_id_number_and_phone_masks_identifiers_and_audits_each_patient(world, api_as):
    pid, number = _pid(world), world.patients["patient_a_id_number"]
    doctor = api_as("village_doctor_a")
    for q in ("陈桂", number, "13800000001"):
        before = _rows(pid, action="patient.search")
        response = doctor.get("/patients", {"q": q})
        assert response.status_code == 200, response.content
        [hit] = response.json()
        assert hit["id"] == str(pid) and hit["name"] == "陈桂芳" and hit["sex"] == "female"
        assert hit["masked_id_number"] == "*" * 14 + number[-4:]
        assert hit["masked_phone"] == "138****0001"
        assert "id_number" not in hit and "phone" not in hit
        assert hit["registered_at"]["name"] == "东村卫生室"
        assert _rows(pid, action="patient.search") == before + 1


@pytest.mark.parametrize("persona", STRANGERS)
def test_search_finds_nobody_the_caller_may_not_see(world, api_as, persona):
    response = api_as(persona).get("/patients", {"q": world.patients["patient_a_id_number"]})
    if persona in ("coordinator", "commission_viewer", "sysadmin", "secadmin", "auditadmin"):
        assert_problem(response, 404, "not_found")  # roles that never see patients: no patient search at all
    else:
        assert response.status_code == 200 and response.json() == []
    assert _rows(_pid(world), action="patient.search") == 0


def test_search_needs_a_query(world, api_as):
    body = assert_problem(api_as("village_doctor_a").get("/patients"), 422, "validation_failed")
    assert "q" in body["errors"]
    assert_problem(api_as("village_doctor_a").get("/patients", {"q": "陈\x00"}), 422)


def test_search_query_count_does_not_grow_with_the_results(world, api_as):
    doctor = api_as("village_doctor_a")
    doctor.get("/patients", {"q": "陈"})  # warm: the token's last-use stamp

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert doctor.get("/patients", {"q": "陈"}).status_code == 200
        return len(ctx.captured_queries)

    one = count()
    actor = world.actor("village_doctor_a")
    for i in range(6):
        register_patient(acting=actor, data=PatientInput(name=f"陈{i}", sex="male", birth_date=dt.date(1960, 1, 1)))
    assert len(doctor.get("/patients", {"q": "陈"}).json()) == 7
    assert count() == one
    assert one <= 14


# --- read -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("persona,relationship", [("village_doctor_a", "care_team"), ("patient_a", "self")])
def test_read_shows_the_full_record_and_leaves_one_audit_row(world, api_as, persona, relationship):
    pid = _pid(world)
    client = api_as(persona)
    before = _rows(pid)
    response = client.get(f"/patients/{pid}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id_number"] == world.patients["patient_a_id_number"]
    assert body["phone"] == "13800000001" and body["region"] == {"code": "610424100201", "name": "东村"}
    assert body["relationship"] == relationship and body["age"] >= 60
    assert _rows(pid) == before + 1
    assert AuditEvent.objects.filter(patient_id=pid).latest("seq").action == "patient.read"


@pytest.mark.parametrize("persona", STRANGERS)
def test_read_is_404_for_everyone_else_and_the_refusal_is_recorded(world, api_as, persona):
    pid = _pid(world)
    client = api_as(persona)
    response = client.get(f"/patients/{pid}")
    body = assert_problem(response, 404, "not_found")
    assert str(pid) not in response.content.decode() and "陈" not in body["title"]
    assert _rows(pid, outcome="denied", actor_id=world.users[persona].pk) == 1
    # The same answer as for a patient that does not exist.
    unknown = client.get(f"/patients/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json() == response.json()


def test_a_malformed_id_is_a_validation_error(world, api_as):
    assert_problem(api_as("village_doctor_a").get("/patients/not-a-uuid"), 422, "validation_failed")


def test_break_the_glass_opens_the_record_for_a_while_and_says_so(world, api_as):
    pid = _pid(world)
    client = api_as("village_doctor_b")
    break_glass(acting=world.actor("village_doctor_b"), patient_id=pid, reason="unconscious, brought to ER")
    body = client.get(f"/patients/{pid}").json()
    assert body["relationship"] == "break_glass"
    read = AuditEvent.objects.filter(patient_id=pid, action="patient.read").latest("seq")
    assert read.purpose == "break_glass" and read.actor_role == "practitioner"


# --- register -------------------------------------------------------------------------------------

def test_register_creates_the_patient_with_the_caller_in_the_care_team(world, api_as):
    doctor = api_as("village_doctor_b")
    number = _number(31)
    response = doctor.post("/patients", {"name": "杨树林", "id_number": number, "phone": "13900000002",
                                         "region_code": "610424100202"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sex"], body["birth_date"], body["id_number"]) == ("male", "1979-06-01", number)
    assert body["registered_at"]["name"] == "西村卫生室" and body["relationship"] == "care_team"
    assert "Idempotent-Replayed" not in response
    pid = uuid.UUID(body["id"])
    assert [e.action for e in AuditEvent.objects.filter(patient_id=pid)] == ["patient.register"]


def test_the_same_idempotency_key_twice_registers_once_and_replays(world, api_as):
    doctor = api_as("village_doctor_a")
    payload = {"name": "赵小满", "id_number": _number(33)}
    first = doctor.post("/patients", payload, **{"Idempotency-Key": "reg-0001"})
    second = doctor.post("/patients", payload, **{"Idempotency-Key": "reg-0001"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert first.json() == second.json()
    assert Patient.objects.filter(name="赵小满").count() == 1
    pid = first.json()["id"]
    # The replay shows the record again: that is a read, audited as such.
    assert [e.action for e in AuditEvent.objects.filter(patient_id=pid)] == ["patient.register", "patient.read"]
    # The key is the caller's own: another clinician's identical key is a separate request.
    other = api_as("village_doctor_b").post("/patients", {"name": "赵小满", "sex": "female",
                                                           "birth_date": "1990-02-02"},
                                             **{"Idempotency-Key": "reg-0001"})
    assert other.status_code == 201 and "Idempotent-Replayed" not in other


def test_the_same_key_with_a_different_body_is_refused(world, api_as):
    doctor = api_as("village_doctor_a")
    doctor.post("/patients", {"name": "甲", "sex": "male", "birth_date": "1990-01-01"}, **{"Idempotency-Key": "k"})
    response = doctor.post("/patients", {"name": "乙", "sex": "male", "birth_date": "1990-01-01"},
                           **{"Idempotency-Key": "k"})
    body = assert_problem(response, 422, "idempotency_key_reused")
    assert "different request" in body["title"]
    assert not Patient.objects.filter(name="乙").exists()


def test_a_failed_register_does_not_keep_the_key(world, api_as):
    doctor = api_as("village_doctor_a")
    bad = doctor.post("/patients", {"name": "丙"}, **{"Idempotency-Key": "fix-and-retry"})
    assert set(assert_problem(bad, 422, "validation_failed")["errors"]) == {"sex", "birth_date"}
    good = doctor.post("/patients", {"name": "丙", "sex": "female", "birth_date": "2001-01-01"},
                       **{"Idempotency-Key": "fix-and-retry"})
    assert good.status_code == 201 and "Idempotent-Replayed" not in good


def test_a_malformed_idempotency_key_is_refused(world, api_as):
    response = api_as("village_doctor_a").post("/patients", {"name": "丁", "sex": "male", "birth_date": "1990-01-01"},
                                               **{"Idempotency-Key": "x" * 256})
    assert "idempotency_key" in assert_problem(response, 422, "validation_failed")["errors"]
    assert not Patient.objects.filter(name="丁").exists()


def test_a_duplicate_points_to_the_existing_record_only_when_visible(world, api_as):
    number = world.patients["patient_a_id_number"]
    mine = assert_problem(api_as("village_doctor_a").post("/patients", {"name": "x", "id_number": number}),
                          409, "duplicate")
    assert mine["existing_patient"] == str(_pid(world)) and mine["field"] == "id_number"
    theirs = assert_problem(api_as("village_doctor_b").post("/patients", {"name": "x", "id_number": number}),
                            409, "duplicate")
    assert "existing_patient" not in theirs and "break-the-glass" in theirs["title"]


def test_register_validation_errors_are_per_field(world, api_as):
    body = assert_problem(api_as("village_doctor_a").post("/patients", {
        "name": "x", "id_number": _number(35)[:-1] + ("0" if _number(35)[-1] != "0" else "1"),
        "phone": "12345", "region_code": "999999999999"}), 422, "validation_failed")
    assert {"id_number", "phone", "region_code"} <= set(body["errors"])
    body = assert_problem(api_as("village_doctor_a").post("/patients", {"name": "", "sex": "alien"}), 422)
    assert {"name", "sex"} <= set(body["errors"])


@pytest.mark.parametrize("persona", ["coordinator", "commission_viewer", "patient_a", "sysadmin", "auditadmin"])
def test_only_clinicians_register(world, api_as, persona):
    response = api_as(persona).post("/patients", {"name": "x", "sex": "male", "birth_date": "1990-01-01"})
    assert_problem(response, 404, "not_found")
    assert not Patient.objects.filter(name="x").exists()


def test_register_at_an_organisation_where_one_does_not_practise_is_refused(world, api_as):
    response = api_as("village_doctor_b").post("/patients", {
        "name": "x", "sex": "male", "birth_date": "1990-01-01", "organisation_id": str(world.orgs["clinic_a"].pk)})
    assert "organisation" in assert_problem(response, 422)["errors"]


def test_an_unreadable_body_is_a_problem(world, api_as):
    response = api_as("village_doctor_a").client.post("/api/v1/patients", "{not json", content_type="application/json")
    assert_problem(response, 400)


# --- update ---------------------------------------------------------------------------------------

def test_update_changes_the_details_and_is_audited(world, api_as):
    pid = _pid(world)
    response = api_as("village_doctor_a").put(f"/patients/{pid}", {
        "name": "陈桂芳", "id_number": world.patients["patient_a_id_number"], "phone": "13800000009",
        "region_code": "610424100201", "address": "东村 3 组"})
    assert response.status_code == 200, response.content
    assert response.json()["phone"] == "13800000009"
    # PUT replaces the details, but an ID number once linked is never silently dropped.
    again = api_as("village_doctor_a").put(f"/patients/{pid}", {"name": "陈桂芳", "sex": "female",
                                                                 "birth_date": "1962-03-14"})
    assert again.json()["id_number"] == world.patients["patient_a_id_number"] and again.json()["phone"] == ""
    first = AuditEvent.objects.filter(patient_id=pid, action="patient.update").first()
    assert set(first.detail["fields"]) == {"phone", "address"}
    assert _rows(pid, action="patient.update") == 2


def test_update_errors(world, api_as):
    pid = _pid(world)
    assert_problem(api_as("patient_a").put(f"/patients/{pid}", {"name": "改名"}), 403, "forbidden")
    for persona in ("outsider", "village_doctor_b", "coordinator"):
        assert_problem(api_as(persona).put(f"/patients/{pid}", {"name": "改名"}), 404)
    assert_problem(api_as("village_doctor_a").put(f"/patients/{pid}", {"name": "陈桂芳", "phone": "1"}), 422)
    assert Patient.objects.get(pk=pid).name == "陈桂芳" and Patient.objects.get(pk=pid).phone == "13800000001"


# --- care team --------------------------------------------------------------------------------------

def test_care_team_read_and_add(world, api_as):
    pid = _pid(world)
    doctor = api_as("village_doctor_a")
    before = _rows(pid)
    [member] = doctor.get(f"/patients/{pid}/care-team").json()
    assert member["role"] == "registering" and member["practitioner_name"] == "张卫国"
    assert _rows(pid) == before + 1
    cardiologist = world.users["cardiologist_tertiary"].practitioner_id
    assert_problem(api_as("cardiologist_tertiary").get(f"/patients/{pid}"), 404)
    response = doctor.post(f"/patients/{pid}/care-team", {"role": "attending", "practitioner_id": str(cardiologist)})
    assert response.status_code == 201, response.content
    assert response.json()["practitioner_name"] == "王建生"
    assert api_as("cardiologist_tertiary").get(f"/patients/{pid}").json()["relationship"] == "care_team"
    # Adding a present member again returns it, without a second row.
    again = doctor.post(f"/patients/{pid}/care-team", {"role": "attending", "practitioner_id": str(cardiologist)})
    assert again.json()["id"] == response.json()["id"]
    assert _rows(pid, action="patient.care_team.add") == 1


def test_care_team_errors(world, api_as):
    pid = _pid(world)
    doctor = api_as("village_doctor_a")
    outsider_practitioner = world.users["outsider"].practitioner_id
    body = assert_problem(doctor.post(f"/patients/{pid}/care-team",
                                      {"role": "attending", "practitioner_id": str(outsider_practitioner)}), 422)
    assert "practitioner" in body["errors"]
    assert_problem(doctor.post(f"/patients/{pid}/care-team", {"role": "attending"}), 422)
    # consult, referral and registering come with their workflows, not by hand
    body = assert_problem(doctor.post(f"/patients/{pid}/care-team", {
        "role": "consult", "practitioner_id": str(world.users["cardiologist_tertiary"].practitioner_id)}), 422)
    assert "role" in body["errors"]
    assert_problem(doctor.post(f"/patients/{pid}/care-team", {"role": "boss", "practitioner_id": str(uuid.uuid4())}),
                   422)
    # Strangers naming a practitioner they can see: the patient is what they get 404 for.
    for persona, named in (("outsider", "outsider"), ("village_doctor_b", "village_doctor_b"),
                           ("coordinator", "village_doctor_b")):
        assert_problem(api_as(persona).get(f"/patients/{pid}/care-team"), 404)
        assert_problem(api_as(persona).post(f"/patients/{pid}/care-team", {
            "role": "attending", "practitioner_id": str(world.users[named].practitioner_id)}), 404)
    assert _rows(pid, action="patient.care_team.add") == 0


def test_break_the_glass_does_not_extend_itself_through_the_care_team(world, api_as):
    """An emergency access is time-limited: joining the care team under it would outlast it."""
    from medunion.access.actions import break_glass
    from medunion.core import clock

    pid = _pid(world)
    break_glass(acting=world.actor("outsider"), patient_id=pid, reason="Unconscious, brought in by neighbours")
    outsider = api_as("outsider")
    assert outsider.get(f"/patients/{pid}").status_code == 200
    me = str(world.users["outsider"].practitioner_id)
    assert_problem(outsider.post(f"/patients/{pid}/care-team", {"role": "attending", "practitioner_id": me}), 403)
    assert _rows(pid, action="patient.care_team.add") == 0
    with clock.frozen(clock.now() + dt.timedelta(hours=2)):
        assert_problem(outsider.get(f"/patients/{pid}"), 404)


# --- consent ------------------------------------------------------------------------------------

def test_consent_record_list_and_revoke(world, api_as):
    pid = _pid(world)
    doctor = api_as("village_doctor_a")
    response = doctor.post(f"/patients/{pid}/consents", {"scope": "teleconsultation",
                                                          "consortium_id": str(world.consortium.pk)})
    assert response.status_code == 201, response.content
    consent = response.json()
    assert consent["active"] and consent["consortium"]["name"] == "乾县县域医共体"
    listed = api_as("patient_a").get(f"/patients/{pid}/consents").json()
    assert [c["id"] for c in listed] == [consent["id"]]
    revoked = doctor.post(f"/patients/{pid}/consents/{consent['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["active"] is False and revoked.json()["revoked_at"]
    assert_problem(doctor.post(f"/patients/{pid}/consents/{consent['id']}/revoke"), 409, "conflict")
    assert_problem(doctor.post(f"/patients/{pid}/consents/{uuid.uuid4()}/revoke"), 404)
    assert [e.action for e in AuditEvent.objects.filter(patient_id=pid, action__startswith="patient.consent")] == [
        "patient.consent.record", "patient.consents.read", "patient.consent.revoke"]


def test_consent_is_idempotent_and_validated(world, api_as):
    pid = _pid(world)
    doctor = api_as("village_doctor_a")
    first = doctor.post(f"/patients/{pid}/consents", {"scope": "referral"}, **{"Idempotency-Key": "c-1"})
    second = doctor.post(f"/patients/{pid}/consents", {"scope": "referral"}, **{"Idempotency-Key": "c-1"})
    assert first.json() == second.json() and second["Idempotent-Replayed"] == "true"
    assert Consent.objects.filter(patient_id=pid).count() == 1
    assert_problem(doctor.post(f"/patients/{pid}/consents", {"scope": "everything"}), 422)
    assert_problem(doctor.post(f"/patients/{pid}/consents", {"scope": "referral", "valid_from": "2030-01-02",
                                                             "valid_until": "2030-01-01"}), 422)
    assert_problem(api_as("patient_a").post(f"/patients/{pid}/consents", {"scope": "referral"}), 403)
    for persona in ("outsider", "village_doctor_b", "commission_viewer"):
        assert_problem(api_as(persona).get(f"/patients/{pid}/consents"), 404)
        assert_problem(api_as(persona).post(f"/patients/{pid}/consents", {"scope": "referral"}), 404)


# --- QR check-in ------------------------------------------------------------------------------

def test_qr_issue_check_in_and_revoke(world, api_as):
    pid = _pid(world)
    doctor = api_as("village_doctor_a")
    issued = doctor.post(f"/patients/{pid}/qr")
    assert issued.status_code == 201
    token = issued.json()["token"]
    before = _rows(pid, action="patient.read_by_qr")
    found = doctor.post("/patients/check-in", {"token": token})
    assert found.status_code == 200 and found.json()["id"] == str(pid)
    assert _rows(pid, action="patient.read_by_qr") == before + 1
    # A code names a patient, not a permission: strangers still get 404.
    assert_problem(api_as("outsider").post("/patients/check-in", {"token": token}), 404)
    # The patient can renew their own code; the old one stops working.
    renewed = api_as("patient_a").post(f"/patients/{pid}/qr").json()["token"]
    assert_problem(doctor.post("/patients/check-in", {"token": token}), 404)
    assert doctor.delete(f"/patients/{pid}/qr").status_code == 204
    assert_problem(doctor.post("/patients/check-in", {"token": renewed}), 404)
    assert_problem(doctor.delete(f"/patients/{pid}/qr"), 409, "conflict")
    for persona in ("outsider", "coordinator"):
        assert_problem(api_as(persona).post(f"/patients/{pid}/qr"), 404)


# --- access log ---------------------------------------------------------------------------------

def test_the_patient_reads_who_accessed_the_record(world, api_as):
    pid = _pid(world)
    api_as("village_doctor_a").get(f"/patients/{pid}")
    break_glass(acting=world.actor("village_doctor_b"), patient_id=pid, reason="unconscious, brought to ER")
    api_as("village_doctor_b").get(f"/patients/{pid}")
    api_as("outsider").get(f"/patients/{pid}")
    response = api_as("patient_a").get(f"/patients/{pid}/access-log")
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert items[0]["action"] == "patient.access_log.read" and items[0]["by_you"]
    glass = next(i for i in items if i["action"] == "patient.read" and i["who"] == "李秀兰")
    assert glass["purpose"] == "emergency access" and glass["organisation"] == "西村卫生室"
    assert glass["role"] == "clinician" and glass["what"] == "viewed your record"
    refused = next(i for i in items if i["refused"])
    assert refused["who"] == "孙立" and "refused" in refused["what"]
    registered = next(i for i in items if i["action"] == "patient.register")
    assert registered["who"] == "张卫国" and registered["organisation"] == "东村卫生室"
    assert registered["what"] == "registered you"


def test_only_the_patient_reads_the_access_log(world, api_as):
    pid = _pid(world)
    assert_problem(api_as("village_doctor_a").get(f"/patients/{pid}/access-log"), 403)
    for persona in STRANGERS:
        assert_problem(api_as(persona).get(f"/patients/{pid}/access-log"), 404)


def test_the_access_log_pages_with_a_constant_number_of_queries(world, api_as):
    pid = _pid(world)
    me = api_as("patient_a")
    me.get(f"/patients/{pid}/access-log")

    def count(limit: int) -> tuple[int, dict]:
        with CaptureQueriesContext(connection) as ctx:
            response = me.get(f"/patients/{pid}/access-log", {"limit": limit})
        return len(ctx.captured_queries), response.json()

    small, _ = count(2)
    doctor = api_as("village_doctor_a")
    for _ in range(5):
        doctor.get(f"/patients/{pid}")
    big, page = count(200)
    assert big == small and small <= 14
    # Keyset pages cover everything once.
    seen, before = [], None
    while True:
        params = {"limit": 3} | ({"before": before} if before else {})
        body = me.get(f"/patients/{pid}/access-log", params).json()
        seen += [(i["at"], i["action"]) for i in body["items"]]
        before = body["next_before"]
        if before is None:
            break
    assert len(seen) >= len(page["items"])
