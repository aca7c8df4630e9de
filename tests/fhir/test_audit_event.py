"""AuditEvent over FHIR: the log through visible_audit; every search of it is itself recorded."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent, Outcome
from tests.fhir.conftest import get, ids, validate


def _search(client, **params):
    status, body, _r = get(client, "AuditEvent", **params)
    assert status == 200, body
    validate(body)
    return body


def test_audit_admin_sees_the_patient_read_as_an_audit_event(world, client_for):
    p = world.patients["patient_a"]
    assert get(client_for("village_doctor_a"), f"Patient/{p.pk}")[0] == 200
    auditor = client_for("auditadmin")
    bundle = _search(auditor, patient=f"Patient/{p.pk}", subtype="patient.read")
    event = bundle["entry"][0]["resource"]
    row = AuditEvent.objects.filter(patient_id=p.pk, action="patient.read").latest("seq")
    assert event["id"] == str(row.uid)
    assert (event["action"], event["outcome"]) == ("R", "0")
    assert event["type"]["code"] == "rest"
    assert {s["code"] for s in event["subtype"]} == {"read", "patient.read"}
    agent = event["agent"][0]
    assert agent["who"]["reference"] == f"Practitioner/{world.users['village_doctor_a'].practitioner_id}"
    assert agent["requestor"] is True and agent["altId"] == "village_doctor_a"
    assert agent["purposeOfUse"][0]["coding"][0]["code"] == "TREAT"
    assert event["entity"][0]["what"]["reference"] == f"Patient/{p.pk}"
    details = {d["type"]: d["valueString"] for d in event["entity"][0]["detail"]}
    assert details["hash"] == row.hash
    assert {c["code"] for c in event["source"]["type"]} == {"4", "fhir"}
    status, body, _r = get(auditor, f"AuditEvent/{row.uid}")
    assert status == 200 and body == event


def test_every_audit_search_and_read_is_recorded(world, client_for):
    auditor = client_for("auditadmin")
    before = AuditEvent.objects.filter(action="audit.search").count()
    bundle = _search(auditor, action="C", _count="2")
    rows = list(AuditEvent.objects.filter(action="audit.search").order_by("seq")[before:])
    assert len(rows) == 1
    assert rows[0].purpose == "audit" and rows[0].surface == "fhir"
    assert rows[0].detail["filters"] == {"action": "C"} and rows[0].detail["results"] == len(ids(bundle))
    get(auditor, f"AuditEvent/{bundle['entry'][0]['resource']['id']}")
    assert AuditEvent.objects.filter(action="audit.read", actor_id=world.users["auditadmin"].pk).count() == 1


def test_filters(world, client_for):
    p = world.patients["patient_a"]
    get(client_for("outsider"), f"Patient/{p.pk}")  # a refused read
    auditor = client_for("auditadmin")
    denied = _search(auditor, outcome="4")
    assert ids(denied) == [str(AuditEvent.objects.get(outcome=Outcome.DENIED).uid)]
    assert denied["entry"][0]["resource"]["outcomeDesc"]
    outsider_pid = world.users["outsider"].practitioner_id
    assert ids(_search(auditor, agent=f"Practitioner/{outsider_pid}", outcome="4")) == ids(denied)
    assert _search(auditor, agent=str(world.users["outsider"].pk), outcome="0")["total"] == 0
    registered = _search(auditor, entity=f"Patient/{p.pk}", action="C")
    assert "patient.register" in [e["resource"]["subtype"][-1]["code"] for e in registered["entry"]]
    assert _search(auditor, subtype="http://hl7.org/fhir/restful-interaction|read", patient=str(p.pk),
                   outcome="4")["total"] == 1
    today = dt.date.today()
    assert _search(auditor, date=f"ge{today - dt.timedelta(days=2)}", _count="1")["entry"]
    assert "entry" not in _search(auditor, date=f"lt{today - dt.timedelta(days=2)}")
    assert "entry" not in _search(auditor, date="gt2999-01-01T00:00:00Z")


def test_total_only_on_request_and_keyset_paging(world, client_for):
    auditor = client_for("auditadmin")
    existing = AuditEvent.objects.count()
    first = _search(auditor, _count="5")
    assert "total" not in first
    seen, body = ids(first), first
    while True:  # each search adds a row at the head of the log; the cursor is not disturbed by that
        nxt = [link["url"] for link in body["link"] if link["relation"] == "next"]
        if not nxt:
            break
        assert "_cursor=" in nxt[0] and "_offset" not in nxt[0]
        response = auditor.get(nxt[0])
        assert response.status_code == 200
        body = response.json()
        validate(body)
        seen += ids(body)
    assert len(seen) == len(set(seen)) == existing
    counted = _search(auditor, _count="3", _total="accurate")
    assert counted["total"] == AuditEvent.objects.count() - 1  # this search's own row is written after
    assert get(auditor, "AuditEvent", _cursor="abc")[0] == 400
    assert get(client_for("village_doctor_a"), "Patient", _cursor="5")[0] == 400  # offset paging there


def test_who_may_read_the_log(world, client_for):
    p = world.patients["patient_a"]
    status, body, _r = get(client_for("village_doctor_a"), "AuditEvent")
    assert status == 404  # not a clinician's area: as if the log did not exist
    validate(body)
    assert body["issue"][0]["code"] == "not-found"
    get(client_for("village_doctor_a"), f"Patient/{p.pk}")
    mine = _search(client_for("patient_a"))
    # a patient sees who (name, record), never sign-in names to lock out or guess at
    assert all("altId" not in a for x in mine["entry"] for a in x["resource"]["agent"])
    assert mine["entry"] and all(
        any(e.get("what", {}).get("reference") == f"Patient/{p.pk}" for e in x["resource"]["entity"])
        for x in mine["entry"])
    coordinator = _search(client_for("coordinator"), _count="100")
    clinicians = {world.users[n].practitioner_id for n in ("village_doctor_a", "village_doctor_b",
                                                           "cardiologist_tertiary", "hub_radiologist")}
    whos = {e["resource"]["agent"][0]["who"].get("reference") for e in coordinator["entry"]}
    assert whos and whos <= {f"Practitioner/{c}" for c in clinicians}


def test_audit_search_query_count_does_not_grow(world, client_for):
    auditor = client_for("auditadmin")
    _search(auditor, _count="5")

    def queries(n):
        with CaptureQueriesContext(connection) as ctx:
            body = _search(auditor, _count=str(n))
        assert len(body["entry"]) == n
        return len(ctx.captured_queries)

    assert queries(2) == queries(20)
