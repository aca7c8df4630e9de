"""Audit search (coordinators: their clinicians; audit administrators: everything), export, chain check."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection

from medunion.audit import triggers
from medunion.audit.actions import record
from medunion.audit.models import AuditEvent
from medunion.core import clock

from .helpers import url


def _seqs(html: str) -> list[int]:
    import re

    return [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]


def _visible(world, coord, **query) -> list[AuditEvent]:
    response = coord.get(url("audit"), query)
    assert response.status_code == 200
    return list(AuditEvent.objects.filter(seq__in=_seqs(response.content.decode())))


def test_a_coordinator_sees_the_events_of_their_consortias_clinicians_only(world, coord):
    record(world.actor("outsider"), "patient.read", patient_id=world.patients["patient_a"].pk)
    events = _visible(world, coord)
    assert events and {e.actor_id for e in events} <= {world.users[p].pk for p in (
        "village_doctor_a", "village_doctor_b", "cardiologist_tertiary", "hub_radiologist")}
    assert any(e.action.startswith("patient.") for e in events)
    assert world.users["outsider"].pk not in {e.actor_id for e in events}


@pytest.mark.usefixtures("one_day")
def test_filters(world, coord):
    patient = world.patients["patient_a"]
    record(world.actor("cardiologist_tertiary"), "patient.read", patient_id=patient.pk)
    by_username = _visible(world, coord, who="cardiologist_tertiary")
    by_display = _visible(world, coord, who="建生")
    assert by_username == by_display and {e.actor_display for e in by_username} == {"王建生"}
    by_patient = _visible(world, coord, patient=str(patient.pk))
    assert by_patient and {e.patient_id for e in by_patient} == {patient.pk}
    assert {e.action for e in _visible(world, coord, action="patient.read")} == {"patient.read"}
    today = clock.today()
    assert _visible(world, coord, date_from=today.isoformat(), date_to=today.isoformat())
    assert not _visible(world, coord, date_from=(today + dt.timedelta(days=1)).isoformat())
    assert not _visible(world, coord, date_to=(today - dt.timedelta(days=1)).isoformat())


def test_filter_errors_show_on_the_form(world, coord):
    response = coord.get(url("audit"), {"patient": "陈桂芳", "date_from": "2026-02-02", "date_to": "2026-02-01"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Enter a valid UUID" in html and "The end date is before the start date" in html
    assert not AuditEvent.objects.filter(action="audit.search").exists()


def test_every_search_is_recorded(world, coord, settings):
    settings.MEDUNION_PAGE_SIZE = 2
    for _ in range(3):
        record(world.actor("village_doctor_a"), "patient.read", patient_id=world.patients["patient_a"].pk)
    coord.get(url("audit"), {"who": "张卫国", "action": "patient."})
    coord.get(url("audit"), {"page": 2})
    searches = list(AuditEvent.objects.filter(action="audit.search").order_by("seq"))
    assert len(searches) == 2
    first, second = searches
    assert first.actor_id == world.users["coordinator"].pk and first.verb == "search" and first.purpose == "audit"
    assert first.detail["filters"] == {"who": "张卫国", "action": "patient."}
    assert second.detail["page"] == 2 and second.detail["results"] >= 3


def test_the_audit_administrator_sees_everything(world, auditor):
    html = auditor.get(url("audit")).content.decode()
    assert "Export CSV" in html and "Verify chain" in html
    visible = AuditEvent.objects.filter(seq__in=_seqs(html))
    assert visible.filter(actor_display="system:tests").exists()  # not only clinicians


def test_the_coordinator_has_no_export_or_verify_buttons(world, coord):
    html = coord.get(url("audit")).content.decode()
    assert "Export CSV" not in html and "Verify chain" not in html


def test_export_is_a_csv_of_the_filtered_events_and_is_recorded(world, auditor):
    record(world.actor("village_doctor_b"), "patient.read", detail={"note": "=HYPERLINK(1)"})
    dangerous = AuditEvent.objects.latest("seq")
    response = auditor.get(url("audit_export"), {"who": "village_doctor_b"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected = AuditEvent.objects.filter(actor_id=world.users["village_doctor_b"].pk)
    assert [int(r["seq"]) for r in rows] == sorted(expected.values_list("seq", flat=True))
    assert {r["actor_display"] for r in rows} == {"李秀兰"}
    assert rows[-1]["seq"] == str(dangerous.seq) and '"=HYPERLINK(1)"' in rows[-1]["detail"]
    export = AuditEvent.objects.get(action="audit.export")
    assert export.actor_id == world.users["auditadmin"].pk and export.verb == "export"
    assert export.detail["rows"] == len(rows) and export.detail["filters"] == {"who": "village_doctor_b"}


def test_export_neutralises_spreadsheet_formulas(world, auditor):
    from dataclasses import replace

    record(replace(world.actor("village_doctor_b"), display="=cmd|' /C calc'!A0"), "patient.read")
    rows = list(csv.reader(io.StringIO(b"".join(auditor.get(url("audit_export")).streaming_content).decode())))
    header = rows[0]
    displays = [r[header.index("actor_display")] for r in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in displays and "=cmd|' /C calc'!A0" not in displays


def test_verify_chain_reports_ok_then_the_first_broken_link(world, auditor):
    page = auditor.post(url("audit_verify"), follow=True).content.decode()
    assert "The audit chain is intact" in page
    check = AuditEvent.objects.get(action="audit.verify")
    assert check.detail["ok"] is True and check.actor_id == world.users["auditadmin"].pk
    target = AuditEvent.objects.order_by("seq")[2]
    triggers.remove(connection)  # what an attacker with database access could do
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET actor_display = %s WHERE seq = %s", ["someone else", target.seq])
    triggers.install(connection)
    page = auditor.post(url("audit_verify"), follow=True).content.decode()
    assert f"The audit chain is broken at event {target.seq}" in page and "was changed" in page
    assert 'data-ok="false"' in page
