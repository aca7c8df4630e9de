"""Patient over FHIR: read and search within the policy, every patient served audited."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent, Outcome
from medunion.patients.actions import PatientInput, register_patient
from medunion.patients.identity import make_resident_id
from tests.fhir.conftest import get, ids, validate

RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"


def _rows(patient_id, action="patient.read", **kw):
    return AuditEvent.objects.filter(patient_id=patient_id, action=action, **kw)


def test_read_maps_the_patient_and_validates(world, client_for):
    p = world.patients["patient_a"]
    status, body, response = get(client_for("village_doctor_a"), f"Patient/{p.pk}")
    assert status == 200
    validate(body)
    assert body["id"] == str(p.pk)
    assert body["identifier"][0] == {
        "use": "official", "system": RESIDENT_ID, "value": world.patients["patient_a_id_number"],
        "type": body["identifier"][0]["type"]}
    assert body["name"][0] == {"use": "official", "text": "陈桂芳", "family": "陈", "given": ["桂芳"]}
    assert (body["gender"], body["birthDate"]) == ("female", "1962-03-14")
    assert body["telecom"] == [{"system": "phone", "value": "13800000001", "use": "mobile"}]
    address = body["address"][0]
    assert address["text"] == "陕西省咸阳市乾县城关街道东村"
    assert (address["state"], address["city"], address["district"]) == ("陕西省", "咸阳市", "乾县")
    assert address["extension"][0]["valueCode"] == "610424100201"
    assert body["managingOrganization"]["reference"] == f"Organization/{world.orgs['clinic_a'].pk}"
    assert response["Cache-Control"] == "no-store"


def test_every_read_leaves_exactly_one_audit_row_on_the_fhir_surface(world, client_for, bearer_for):
    p = world.patients["patient_a"]
    before = _rows(p.pk).count()
    for client in (client_for("village_doctor_a"), bearer_for("village_doctor_a")):
        assert get(client, f"Patient/{p.pk}")[0] == 200
    rows = list(_rows(p.pk).order_by("seq"))[before:]
    assert len(rows) == 2
    assert {(r.surface, r.outcome, r.actor_id) for r in rows} == {
        ("fhir", Outcome.SUCCESS, world.users["village_doctor_a"].pk)}


def test_outsider_gets_404_like_a_missing_patient_and_a_denied_row(world, client_for):
    p = world.patients["patient_a"]
    outsider = client_for("outsider")
    status, body, _r = get(outsider, f"Patient/{p.pk}")
    assert status == 404
    validate(body)
    assert body["issue"][0]["code"] == "not-found"
    missing_status, missing_body, _r = get(outsider, f"Patient/{uuid.uuid4()}")
    assert (missing_status, missing_body["issue"][0]["diagnostics"]) == (404, body["issue"][0]["diagnostics"])
    denied = _rows(p.pk, outcome=Outcome.DENIED, actor_id=world.users["outsider"].pk)
    assert denied.count() == 1 and denied.get().surface == "fhir"


def test_outsider_search_is_empty_and_reads_nothing(world, client_for):
    p = world.patients["patient_a"]
    number = world.patients["patient_a_id_number"]
    before = AuditEvent.objects.filter(patient_id=p.pk).count()
    for params in ({"identifier": f"{RESIDENT_ID}|{number}"}, {"identifier": number}, {"name": "陈"}, {}):
        status, body, _r = get(client_for("outsider"), "Patient", **params)
        assert status == 200 and body["total"] == 0 and "entry" not in body
        validate(body)
    assert AuditEvent.objects.filter(patient_id=p.pk).count() == before


@pytest.mark.parametrize("rid", ["not-a-uuid", "123", "pt-x", "0" * 64])
def test_malformed_ids_are_404_operation_outcomes_without_audit(world, client_for, rid):
    before = AuditEvent.objects.count()
    status, body, _r = get(client_for("village_doctor_a"), f"Patient/{rid}")
    assert status == 404
    validate(body)
    assert AuditEvent.objects.count() == before


def test_identifier_search_is_exact_through_the_keyed_hash(world, client_for):
    p = world.patients["patient_a"]
    number = world.patients["patient_a_id_number"]
    doctor = client_for("village_doctor_a")
    for value in (f"{RESIDENT_ID}|{number}", number, number.lower(), f"{number[:6]} {number[6:]}"):
        status, body, _r = get(doctor, "Patient", identifier=value)
        assert (status, ids(body)) == (200, [str(p.pk)]), value
        validate(body)
    for value in (f"urn:other|{number}", f"|{number}", number[:-1], number[:10]):
        assert get(doctor, "Patient", identifier=value)[1]["total"] == 0, value


def test_search_writes_one_audit_row_per_patient_returned(world, client_for):
    doctor = world.actor("village_doctor_a")
    others = [register_patient(acting=doctor, data=PatientInput(name=f"陈{n}", sex="male",
                                                                birth_date=dt.date(1990, 1, n + 1)))
              for n in range(3)]
    before = AuditEvent.objects.filter(action="patient.search").count()
    status, body, _r = get(client_for("village_doctor_a"), "Patient", name="陈")
    assert status == 200 and body["total"] == 4
    validate(body)
    rows = AuditEvent.objects.filter(action="patient.search").order_by("seq")[before:]
    assert sorted(str(r.patient_id) for r in rows) == sorted(ids(body))
    assert all(r.surface == "fhir" and r.detail == {"by": ["name"]} for r in rows)
    assert {str(o.pk) for o in others} < set(ids(body))


def test_search_parameters(world, client_for):
    p = world.patients["patient_a"]
    doctor_a = world.actor("village_doctor_a")
    twin = register_patient(acting=doctor_a, data=PatientInput(
        name="王小二", id_number=make_resident_id("610424", dt.date(1990, 6, 1), 11, male=True),
        phone="13911112222"))
    c = client_for("village_doctor_a")

    def found(**params):
        status, body, _r = get(c, "Patient", **params)
        assert status == 200, body
        validate(body)
        return set(ids(body))

    a, t = str(p.pk), str(twin.pk)
    assert found(name="桂芳") == {a}
    assert found(**{"name:exact": "陈桂"}) == set()
    assert found(**{"name:exact": "陈桂芳"}) == {a}
    assert found(family="王") == {t}
    assert found(gender="female") == {a}
    assert found(gender="male,female") == {a, t}
    assert found(gender="http://hl7.org/fhir/administrative-gender|male") == {t}
    assert found(birthdate="1962-03-14") == {a}
    assert found(birthdate="1962") == {a}
    assert found(birthdate="ge1990-06-01") == {t}
    assert found(birthdate=["gt1960", "lt1991"]) == {a, t}
    assert found(birthdate="ne1962-03") == {t}
    assert found(phone="13911112222") == {t}
    assert found(telecom="phone|138 0000 0001") == {a}
    assert found(telecom="email|13800000001") == set()
    assert found(_id=f"{a},{uuid.uuid4()}") == {a}
    assert found(organization=f"Organization/{world.orgs['clinic_a'].pk}") == {a, t}


def test_bearer_token_and_patient_self_access(world, bearer_for):
    p = world.patients["patient_a"]
    me = bearer_for("patient_a")
    status, body, _r = get(me, f"Patient/{p.pk}")
    assert status == 200 and body["id"] == str(p.pk)
    _status, bundle, _r = get(me, "Patient")
    assert ids(bundle) == [str(p.pk)]
    other = register_patient(acting=world.actor("village_doctor_a"),
                             data=PatientInput(name="另一人", sex="male", birth_date=dt.date(1970, 1, 1)))
    assert get(me, f"Patient/{other.pk}")[0] == 404


def test_paging_walks_every_patient_once(world, client_for):
    doctor = world.actor("village_doctor_a")
    for n in range(6):
        register_patient(acting=doctor, data=PatientInput(name=f"李{n}", sex="male", birth_date=dt.date(1980, 1, n + 1)))
    c = client_for("village_doctor_a")
    seen: list[str] = []
    status, body, _r = get(c, "Patient", _count="3")
    while True:
        assert status == 200
        validate(body)
        assert body["total"] == 7
        seen += ids(body)
        nxt = [link["url"] for link in body["link"] if link["relation"] == "next"]
        if not nxt:
            break
        response = c.get(nxt[0])
        status, body = response.status_code, response.json()
    assert len(seen) == len(set(seen)) == 7


def test_search_query_count_does_not_grow_with_results(world, client_for):
    doctor = world.actor("village_doctor_a")
    c = client_for("village_doctor_a")
    get(c, "Patient")  # warm up the session and translations

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            status, body, _r = get(c, "Patient", _count="50")
        assert status == 200
        return len(ctx.captured_queries)

    few = queries()
    for n in range(12):
        register_patient(acting=doctor, data=PatientInput(name=f"赵{n}", sex="female", birth_date=dt.date(1985, 2, n + 1),
                                                          region_code="610424100201"))
    assert queries() == few
    assert few <= 16


def test_no_count_only_answers_about_patients(world, client_for):
    """Every patient an answer tells about is a resource served and audited: _count=0 is served as
    one result, and a page past the end says nothing about how many matched."""
    from medunion.audit.models import AuditEvent

    p = world.patients["patient_a"]
    number = world.patients["patient_a_id_number"]
    c = client_for("village_doctor_a")
    before = AuditEvent.objects.filter(patient_id=p.pk, action__endswith="search").count()
    status, body, _r = get(c, "Patient", identifier=number, _count="0")
    assert status == 200 and len(body["entry"]) == 1
    assert AuditEvent.objects.filter(patient_id=p.pk, action__endswith="search").count() == before + 1
    status, body, _r = get(c, "Patient", identifier=number, _offset="5")
    assert status == 200 and not body.get("entry") and "total" not in body
