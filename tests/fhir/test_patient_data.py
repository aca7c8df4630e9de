"""Consent and the patient's CareTeam over FHIR: patient data, so scoped and audited like Patient."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent, Outcome
from medunion.patients import actions as pat
from medunion.patients.actions import PatientInput
from tests.fhir.conftest import get, ids, validate


def _search(client, path, **params):
    status, body, _r = get(client, path, **params)
    assert status == 200, body
    validate(body)
    return body


def test_consent_read_maps_the_provision_and_is_audited(world, extra, client_for):
    p = world.patients["patient_a"]
    before = AuditEvent.objects.filter(action="patient.consent.read").count()
    status, body, _r = get(client_for("village_doctor_a"), f"Consent/{extra.consent.pk}")
    assert status == 200
    validate(body)
    assert body["status"] == "active"
    assert body["scope"]["coding"][0]["code"] == "patient-privacy"
    assert body["patient"]["reference"] == f"Patient/{p.pk}"
    assert body["provision"]["type"] == "permit"
    assert body["provision"]["actor"][0]["reference"]["reference"] == f"Organization/{world.consortium.pk}"
    assert body["policyRule"]["coding"][0]["code"] == "OPTIN"
    rows = AuditEvent.objects.filter(action="patient.consent.read").order_by("seq")[before:]
    assert [(r.patient_id, r.surface, r.outcome) for r in rows] == [(p.pk, "fhir", Outcome.SUCCESS)]


def test_revoked_consent_is_inactive_and_deny(world, extra, client_for):
    status, body, _r = get(client_for("village_doctor_a"), f"Consent/{extra.revoked_consent.pk}")
    assert status == 200
    assert (body["status"], body["provision"]["type"]) == ("inactive", "deny")
    assert body["scope"]["coding"][0]["code"] == "research"
    assert body["provision"]["actor"][0]["reference"]["reference"] == f"Organization/{world.orgs['tertiary'].pk}"


def test_consent_of_an_unrelated_patient_is_404_with_a_denied_row(world, extra, client_for):
    p = world.patients["patient_a"]
    status, body, _r = get(client_for("outsider"), f"Consent/{extra.consent.pk}")
    assert status == 404
    validate(body)
    denied = AuditEvent.objects.filter(patient_id=p.pk, outcome=Outcome.DENIED, action="patient.consent.read")
    assert denied.count() == 1
    assert _search(client_for("outsider"), "Consent")["total"] == 0
    assert _search(client_for("village_doctor_b"), "Consent", patient=str(p.pk))["total"] == 0


def test_consent_search_filters_and_audits_each_consent(world, extra, client_for):
    p = world.patients["patient_a"]
    c = client_for("village_doctor_a")
    before = AuditEvent.objects.filter(action="patient.consent.search").count()
    everything = _search(c, "Consent", patient=f"Patient/{p.pk}")
    assert set(ids(everything)) == {str(extra.consent.pk), str(extra.revoked_consent.pk)}
    rows = AuditEvent.objects.filter(action="patient.consent.search").order_by("seq")[before:]
    assert sorted(r.object_id for r in rows) == sorted(ids(everything))
    assert {r.patient_id for r in rows} == {p.pk}
    assert ids(_search(c, "Consent", status="active")) == [str(extra.consent.pk)]
    assert ids(_search(c, "Consent", status="inactive")) == [str(extra.revoked_consent.pk)]
    scope = "https://medunion.invalid/fhir/CodeSystem/consent-scope"
    assert ids(_search(c, "Consent", category=f"{scope}|research")) == [str(extra.revoked_consent.pk)]
    assert _search(c, "Consent", category="http://loinc.org|59284-0")["total"] == 2
    assert _search(c, "Consent", date="ge2000-01-01")["total"] == 2
    assert _search(c, "Consent", date="lt2000")["total"] == 0


def test_consent_expired_by_date_is_inactive(world, client_for):
    p = world.patients["patient_a"]
    old = pat.record_consent(acting=world.actor("village_doctor_a"), patient_id=p.pk, scope="referral",
                             valid_from=dt.date(2020, 1, 1), valid_until=dt.date(2020, 12, 31))
    status, body, _r = get(client_for("village_doctor_a"), f"Consent/{old.pk}")
    assert (status, body["status"]) == (200, "inactive")
    assert body["provision"]["period"] == {"start": "2020-01-01", "end": "2020-12-31"}


def test_patient_care_team_read_by_id_is_audited(world, extra, client_for):
    p = world.patients["patient_a"]
    before = AuditEvent.objects.filter(action="patient.care_team.read").count()
    status, body, _r = get(client_for("village_doctor_a"), f"CareTeam/pt-{p.pk}")
    assert status == 200
    validate(body)
    assert body["subject"]["reference"] == f"Patient/{p.pk}"
    members = {(x["role"][0]["coding"][0]["code"], x["member"]["reference"]) for x in body["participant"]}
    assert members == {("registering", f"Practitioner/{world.users['village_doctor_a'].practitioner_id}"),
                       ("consult", f"CareTeam/{extra.team.pk}")}
    rows = AuditEvent.objects.filter(action="patient.care_team.read").order_by("seq")[before:]
    assert [(r.patient_id, r.outcome) for r in rows] == [(p.pk, Outcome.SUCCESS)]


def test_patient_care_team_is_visible_to_the_consulting_team_and_not_to_the_outsider(world, extra, client_for):
    p = world.patients["patient_a"]
    # The cardiologist leads the MDT that is on patient_a's care team.
    assert get(client_for("cardiologist_tertiary"), f"CareTeam/pt-{p.pk}")[0] == 200
    status, body, _r = get(client_for("outsider"), f"CareTeam/pt-{p.pk}")
    assert status == 404
    validate(body)
    assert AuditEvent.objects.filter(action="patient.care_team.read", outcome=Outcome.DENIED,
                                     patient_id=p.pk).count() == 1
    assert _search(client_for("outsider"), "CareTeam", patient=str(p.pk))["total"] == 0


def test_patient_care_team_search_by_patient_or_subject(world, extra, client_for):
    p = world.patients["patient_a"]
    c = client_for("village_doctor_a")
    before = AuditEvent.objects.filter(action="patient.care_team.search").count()
    for params in ({"patient": str(p.pk)}, {"subject": f"Patient/{p.pk}"}, {"_id": f"pt-{p.pk}"},
                   {"patient": str(p.pk), "status": "active", "category": "http://loinc.org|LA28865-6"}):
        assert ids(_search(c, "CareTeam", **params)) == [f"pt-{p.pk}"], params
    assert AuditEvent.objects.filter(action="patient.care_team.search").count() == before + 4
    assert _search(c, "CareTeam", patient=str(p.pk), status="inactive")["total"] == 0
    status, body, _r = get(c, "CareTeam", patient=str(p.pk), name="x")
    assert status == 400
    validate(body)


def test_patient_care_team_search_query_count_does_not_grow(world, extra, client_for):
    doctor = world.actor("village_doctor_a")
    c = client_for("village_doctor_a")
    first = pat.register_patient(acting=doctor, data=PatientInput(name="甲", sex="male", birth_date=dt.date(1950, 1, 1)))

    def queries(patients):
        value = ",".join(str(x.pk) for x in patients)
        with CaptureQueriesContext(connection) as ctx:
            body = _search(c, "CareTeam", patient=value)
        assert body["total"] == len(patients)
        return len(ctx.captured_queries)

    few = queries([first])
    more = [pat.register_patient(acting=doctor, data=PatientInput(name=f"乙{n}", sex="female",
                                                                  birth_date=dt.date(1951, 1, n + 1)))
            for n in range(6)]
    for x in more:
        pat.add_to_care_team(acting=doctor, patient_id=x.pk, role="family_doctor", team_id=extra.team.pk)
    assert queries([first, *more]) == few


def test_consent_search_query_count_does_not_grow(world, extra, client_for):
    p = world.patients["patient_a"]
    c = client_for("village_doctor_a")

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            body = _search(c, "Consent")
        return len(ctx.captured_queries), body["total"]

    few, small = queries()
    for scope in ("teleconsultation", "referral", "remote_diagnosis", "share_records", "research"):
        pat.record_consent(acting=world.actor("village_doctor_a"), patient_id=p.pk, scope=scope,
                           organisation_id=world.orgs["county"].pk)
    many, large = queries()
    assert (large, many) == (small + 5, few)
