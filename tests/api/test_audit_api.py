"""/api/v1/audit: search within one's scope with keyset paging, verification of the chain and
CSV export for the audit administrator; every one of them recorded."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit import triggers
from medunion.audit.models import AuditEvent
from medunion.core import clock
from tests.api.conftest import assert_problem

NOT_AUDITORS = ["village_doctor_a", "outsider", "patient_a", "commission_viewer", "sysadmin", "secadmin"]


def _pid(world):
    return world.patients["patient_a"].pk


def test_the_audit_administrator_searches_everything_newest_first(world, api_as):
    admin = api_as("auditadmin")
    response = admin.get("/audit/events", {"limit": 200})
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    seqs = [i["seq"] for i in items]
    assert seqs == sorted(seqs, reverse=True)
    assert {i["actor_display"] for i in items} >= {"system:tests", "张卫国"}
    search = AuditEvent.objects.filter(action="audit.search").latest("seq")
    assert search.actor_id == world.users["auditadmin"].pk and search.purpose == "audit"
    assert search.detail["results"] == len(items)


def test_filters_by_patient_actor_action_and_time(world, api_as):
    pid = _pid(world)
    api_as("village_doctor_a").get(f"/patients/{pid}")
    admin = api_as("auditadmin")
    by_patient = admin.get("/audit/events", {"patient": str(pid)}).json()["items"]
    assert by_patient and all(i["patient_id"] == str(pid) for i in by_patient)
    by_actor = admin.get("/audit/events", {"actor": "village_doctor_a"}).json()["items"]
    assert by_actor and all(i["actor_display"] == "张卫国" for i in by_actor)
    by_prefix = admin.get("/audit/events", {"action": "patient."}).json()["items"]
    assert {i["action"] for i in by_prefix} >= {"patient.register", "patient.read"}
    assert all(i["action"].startswith("patient.") for i in by_prefix)
    future = (clock.now() + dt.timedelta(days=1)).isoformat()
    assert admin.get("/audit/events", {"from": future}).json()["items"] == []
    assert admin.get("/audit/events", {"to": "2000-01-01T00:00:00"}).json()["items"] == []
    recorded = AuditEvent.objects.filter(action="audit.search").latest("seq").detail["filters"]
    assert recorded == {"to": "2000-01-01 00:00:00"}
    assert_problem(admin.get("/audit/events", {"from": "yesterday"}), 422)
    assert_problem(admin.get("/audit/events", {"patient": "nobody"}), 422)


def test_keyset_pages_cover_every_event_once(world, api_as):
    admin = api_as("auditadmin")
    newest = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    seen: list[int] = []
    before = newest + 1
    while before:
        body = admin.get("/audit/events", {"limit": 7, "before": before}).json()
        seen += [i["seq"] for i in body["items"]]
        before = body["next_before"]
    assert seen == list(AuditEvent.objects.filter(seq__lte=newest).order_by("-seq").values_list("seq", flat=True))


def test_a_coordinator_sees_only_the_events_of_their_clinicians(world, api_as):
    api_as("outsider").get(f"/patients/{_pid(world)}")
    api_as("village_doctor_a").get(f"/patients/{_pid(world)}")
    items = api_as("coordinator").get("/audit/events", {"limit": 200}).json()["items"]
    assert items and {i["actor_display"] for i in items} <= {"张卫国", "李秀兰", "王建生", "赵明"}


@pytest.mark.parametrize("persona", NOT_AUDITORS)
def test_others_may_not_search(world, api_as, persona):
    assert_problem(api_as(persona).get("/audit/events"), 404, "not_found")


def test_the_search_query_count_is_pinned(world, api_as):
    admin = api_as("auditadmin")
    admin.get("/audit/events")

    def count(limit: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin.get("/audit/events", {"limit": limit}).status_code == 200
        return len(ctx.captured_queries)

    assert count(2) == count(200) <= 10


# --- verify ------------------------------------------------------------------------------------------

def test_verify_reports_the_chain_and_its_head(world, api_as):
    admin = api_as("auditadmin")
    head = AuditEvent.objects.order_by("-seq").first()
    response = admin.get("/audit/verify")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True and body["broken_seq"] is None
    assert body["head_seq"] == head.seq and body["head_hash"] == head.hash
    assert body["checked"] == AuditEvent.objects.filter(seq__lte=head.seq).count()
    assert AuditEvent.objects.filter(action="audit.verify").latest("seq").detail["ok"] is True


def test_verify_finds_a_changed_event(world, api_as):
    admin = api_as("auditadmin")
    target = AuditEvent.objects.filter(action="patient.register").get()
    triggers.remove(connection)  # an attacker with database access can do this too
    try:
        with connection.cursor() as cur:
            cur.execute("UPDATE audit_auditevent SET actor_display = %s WHERE seq = %s", ["someone", target.seq])
    finally:
        triggers.install(connection)
    body = admin.get("/audit/verify").json()
    assert body["ok"] is False and body["broken_seq"] == target.seq
    assert body["checked"] == AuditEvent.objects.filter(seq__lt=target.seq).count()
    assert AuditEvent.objects.filter(action="audit.verify").latest("seq").outcome == "failure"


@pytest.mark.parametrize("persona", NOT_AUDITORS + ["coordinator"])
def test_only_the_audit_administrator_verifies_and_exports(world, api_as, persona):
    assert_problem(api_as(persona).get("/audit/verify"), 404, "not_found")
    assert_problem(api_as(persona).get("/audit/export.csv"), 404, "not_found")


# --- export ------------------------------------------------------------------------------------------

def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_streams_the_matching_events_oldest_first(world, api_as):
    pid = _pid(world)
    admin = api_as("auditadmin")
    response = admin.get("/audit/export.csv", {"patient": str(pid)})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="medunion-audit-')
    rows = _csv(response)
    assert rows[0][:3] == ["seq", "at", "actor_id"] and rows[0][-1] == "hash"
    body = rows[1:]
    assert body and all(r[10] == str(pid) for r in body)
    assert [int(r[0]) for r in body] == sorted(int(r[0]) for r in body)
    export = AuditEvent.objects.filter(action="audit.export").get()
    assert export.detail == {"filters": {"patient": str(pid)}, "rows": len(body), "format": "csv"}


def test_export_defuses_spreadsheet_formulas(world, api_as):
    from dataclasses import replace

    from medunion.access.actor import system_actor
    from medunion.audit.actions import record

    record(replace(system_actor("x"), display="=HYPERLINK(1)"), "test.formula", "execute",
           object_id=str(uuid.uuid4()))
    rows = _csv(api_as("auditadmin").get("/audit/export.csv", {"action": "test."}))
    assert rows[1][3] == "'=HYPERLINK(1)"


def test_times_are_iso_8601_not_numbers(world, api_as):
    admin = api_as("auditadmin")
    assert_problem(admin.get("/audit/events", {"to": "0.5"}), 422)
    assert admin.get("/audit/events", {"to": "2030-01-01T00:00:00+08:00"}).status_code == 200
    assert admin.get("/audit/events", {"from": "2020-01-01T00:00:00"}).status_code == 200
