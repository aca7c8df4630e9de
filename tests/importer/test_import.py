"""Importing rows: reasons per row, idempotent re-runs, updates, policy, audit and query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.access.actor import system_actor
from medunion.audit.models import AuditEvent
from medunion.core.errors import NotFound, PermissionDenied, ValidationFailed
from medunion.network import importer, importer_rows
from medunion.network.models import ImportJob, PracticeSite, Practitioner

from .files import HEADER_EN, HEADER_ZH, csv_bytes, village_doctors, xlsx_bytes


def _start(world, actor, content: bytes, filename: str = "roster.csv", consortium=None) -> ImportJob:
    return importer.start_import(acting=actor, consortium_id=(consortium or world.consortium).pk,
                                 filename=filename, content=content)


def _by_line(job: ImportJob) -> dict[int, dict]:
    return {r["line"]: r for r in importer.report_rows(job)}


def _sites() -> int:
    return PracticeSite.objects.count()


def test_valid_rows_are_imported_with_sites_specialties_and_audit(world, coordinator_actor):
    before = Practitioner.objects.count()
    rows = [["王小明", "V610424100001", "V001", "乡村医生", "全科、中医", "12", "男", "13900000001"],
            ["Li Na", "110610424000777", "T001", "attending", "cardiology;internal_medicine", "", "female", ""]]
    job = _start(world, coordinator_actor, csv_bytes(rows))
    assert job.status == "done" and job.total == job.processed == 2
    assert job.summary == {"total": 2, "imported": 2, "updated": 0, "unchanged": 0, "error": 0}
    assert job.content is None  # the upload is not kept once the job has run
    assert Practitioner.objects.count() == before + 2
    p = Practitioner.objects.get(licence_number="V610424100001")
    assert (p.name, p.title, p.years_independent, p.gender, p.phone) == ("王小明", "village_doctor", 12, "male",
                                                                         "13900000001")
    assert sorted(p.specialties.values_list("specialty", flat=True)) == ["general_practice", "tcm"]
    site = p.sites.get()
    assert site.organisation == world.orgs["clinic_a"] and site.primary
    li = Practitioner.objects.get(licence_number="110610424000777")
    assert li.years_independent == 0 and li.sites.get().organisation.code == "T001"
    actions = list(AuditEvent.objects.filter(actor_id=world.users["coordinator"].pk)
                   .values_list("action", "object_id"))
    assert ("network.import.create", str(job.pk)) in actions
    assert sorted(a for a, o in actions if a.startswith("network.practitioner")) == ["network.practitioner.create"] * 2
    created = AuditEvent.objects.filter(action="network.practitioner.create", object_id=str(p.pk)).get()
    assert created.detail == {"line": 2, "import_job": str(job.pk)} and created.surface == "page"


def test_each_bad_row_has_its_reason_and_is_not_imported(world, coordinator_actor):
    rows = [
        ["", "V610424100010", "V001", "乡村医生", "", "", "", ""],                         # 2 missing name
        ["甲", "12-34", "V001", "乡村医生", "", "", "", ""],                               # 3 bad licence
        ["乙", "1.10610424E+14", "V001", "乡村医生", "", "", "", ""],                      # 4 Excel-rounded
        ["丙", "V610424100013", "ZZZ9", "乡村医生", "", "", "", ""],                       # 5 unknown org
        ["丁", "V610424100014", "X001", "乡村医生", "", "", "", ""],                       # 6 other consortium's org
        ["戊", "V610424100015", "V001", "院长", "", "", "", ""],                           # 7 unknown title
        ["己", "V610424100016", "V001", "乡村医生", "全科、针灸推拿", "", "", ""],          # 8 unknown specialty
        ["庚", "V610424100017", "V001", "乡村医生", "", "71", "", ""],                     # 9 years out of range
        ["辛", "V610424100018", "V001", "乡村医生", "", "", "未知", ""],                   # 10 sex
        ["壬", "V610424100019", "V001", "乡村医生", "", "", "", "电话号码"],               # 11 phone
        ["癸", "V610424100020", "V001", "乡村医生", "", "", "", ""],                       # 12 good
        ["癸二", "V610424100020", "V002", "乡村医生", "", "", "", ""],                     # 13 duplicate of 12
        ["孙立", "110610100000009", "T001", "主治医师", "", "", "", ""],                   # 14 outsider's licence
    ]
    before = (Practitioner.objects.count(), _sites())
    job = _start(world, coordinator_actor, csv_bytes(rows))
    report = _by_line(job)
    expected = {
        2: "The name is missing.",
        3: "Bad licence number “12-34”",
        4: "spreadsheet turned it into a rounded number",
        5: "Unknown organisation code “ZZZ9”",
        6: "Unknown organisation code “X001”",
        7: "Unknown professional title “院长”",
        8: "Unknown specialty “针灸推拿”",
        9: "from 0 to 70, not “71”",
        10: "Unknown sex “未知”",
        11: "Bad phone number “电话号码”",
        13: "appears already on row 12",
        14: "registered elsewhere",
    }
    for line, text in expected.items():
        assert report[line]["status"] == "error", line
        assert any(text in reason for reason in report[line]["reasons"]), (line, report[line]["reasons"])
    assert report[12]["status"] == "imported" and report[12]["reasons"] == []
    assert job.summary["error"] == 12 and job.summary["imported"] == 1
    assert (Practitioner.objects.count(), _sites()) == (before[0] + 1, before[1] + 1)
    outsider = Practitioner.objects.get(licence_number="110610100000009")
    assert outsider.name == "孙立" and outsider.title == "attending"
    assert not outsider.sites.filter(organisation__code="T001").exists()


def test_rerunning_the_same_file_changes_nothing(world, coordinator_actor):
    content = xlsx_bytes(village_doctors(30))
    first = _start(world, coordinator_actor, content, "roster.xlsx")
    assert first.summary["imported"] == 30
    counts = (Practitioner.objects.count(), _sites())
    audit_before = AuditEvent.objects.filter(action__startswith="network.practi").count()
    again = _start(world, coordinator_actor, content, "roster.xlsx")
    assert again.summary == {"total": 30, "imported": 0, "updated": 0, "unchanged": 30, "error": 0}
    assert {r["status"] for r in importer.report_rows(again)} == {"unchanged"}
    assert (Practitioner.objects.count(), _sites()) == counts
    assert AuditEvent.objects.filter(action__startswith="network.practi").count() == audit_before


def test_changed_rows_are_updated_and_say_what_changed(world, coordinator_actor):
    _start(world, coordinator_actor, csv_bytes(village_doctors(3)))
    rows = village_doctors(3)
    rows[0][0] = "村医改名"                        # name
    rows[1][4] = "全科;康复"                       # specialties
    rows[1][7] = "13912345678"                     # phone
    rows[2][2] = "V002"                            # a new practice site at another member organisation
    rows[2][3] = "医师"                            # and a title
    counts = (Practitioner.objects.count(), _sites())
    job = _start(world, coordinator_actor, csv_bytes(rows))
    report = _by_line(job)
    assert [report[n]["status"] for n in (2, 3, 4)] == ["updated"] * 3
    assert report[2]["changed"] == ["name"]
    assert report[3]["changed"] == ["phone", "specialties"]
    assert report[4]["changed"] == ["title", "practice_site"]
    assert report[4]["changes"] == ["professional title", "new practice site"]
    assert Practitioner.objects.count() == counts[0] and _sites() == counts[1] + 1
    moved = Practitioner.objects.get(licence_number=rows[2][1])
    assert sorted(moved.sites.values_list("organisation__code", "primary")) == [("V001", True), ("V002", False)]
    assert sorted(Practitioner.objects.get(licence_number=rows[1][1]).specialties
                  .values_list("specialty", flat=True)) == ["general_practice", "rehabilitation"]
    updates = AuditEvent.objects.filter(action="network.practitioner.update", detail__import_job=str(job.pk))
    assert updates.count() == 3
    # A row that only adds a practice site is audited as exactly that.
    only_site = [list(rows[1])]
    only_site[0][2] = "W001"
    job = _start(world, coordinator_actor, csv_bytes(only_site))
    assert _by_line(job)[2]["changed"] == ["practice_site"]
    assert AuditEvent.objects.filter(action="network.practice_site.add", detail__import_job=str(job.pk)).count() == 1


def test_empty_optional_cells_keep_what_is_recorded(world, coordinator_actor):
    _start(world, coordinator_actor, csv_bytes(village_doctors(1)))
    row = village_doctors(1)[0]
    row[4:8] = ["", "", "", ""]
    job = _start(world, coordinator_actor, csv_bytes([row]))
    assert _by_line(job)[2]["status"] == "unchanged"
    p = Practitioner.objects.get(licence_number=row[1])
    assert p.phone and p.years_independent == 5 and p.specialties.count() == 1


def test_a_practitioner_of_the_consortium_is_matched_by_licence(world, coordinator_actor):
    row = ["张卫国", "V610424000001", "V001", "乡村医生", "全科", "8", "", ""]
    job = _start(world, coordinator_actor, csv_bytes([row]))
    assert _by_line(job)[2]["status"] == "unchanged"
    row[5] = "9"
    job = _start(world, coordinator_actor, csv_bytes([row]))
    assert _by_line(job)[2]["changed"] == ["years_independent"]


def test_department_codes_are_checked_at_the_organisation(world, coordinator_actor):
    header = [*HEADER_ZH, "科室编码"]
    rows = [["心内一", "110610424000901", "T001", "主治医师", "心内科", "", "", "", "CARD"],
            ["心内二", "110610424000902", "V001", "主治医师", "心内科", "", "", "", "CARD"]]
    job = _start(world, coordinator_actor, csv_bytes(rows, header=header))
    report = _by_line(job)
    assert report[2]["status"] == "imported"
    assert Practitioner.objects.get(licence_number="110610424000901").sites.get().department.code == "CARD"
    assert "Unknown department code “CARD” at organisation V001" in report[3]["reasons"][0]


def test_reasons_are_rendered_in_the_readers_language(world, coordinator_actor):
    from django.utils import translation

    job = _start(world, coordinator_actor, csv_bytes([["", "V610424100010", "V001", "乡村医生", "", "", "", ""]]))
    stored = job.report[0]
    assert stored["problems"] == [{"code": "missing_name", "params": {}}]
    with translation.override("en"):
        assert importer.report_rows(job)[0]["reasons"] == ["The name is missing."]


def test_only_a_coordinator_of_the_consortium_may_import(world, other_coordinator):
    content = csv_bytes(village_doctors(1))
    with pytest.raises(NotFound):
        _start(world, other_coordinator, content)
    with pytest.raises(NotFound):
        importer.start_import(acting=world.actor("coordinator"), consortium_id="not-a-uuid", filename="x.csv",
                              content=content)
    # A clinician sees the consortium but may not import into it.
    with pytest.raises(PermissionDenied):
        _start(world, world.actor("village_doctor_a"), content)
    with pytest.raises(NotFound):
        _start(world, world.actor("commission_viewer"), content, consortium=world.other_consortium)
    assert not ImportJob.objects.exists()


def test_jobs_are_visible_to_the_coordinators_of_their_consortium_only(world, coordinator_actor,
                                                                       other_coordinator):
    job = _start(world, coordinator_actor, csv_bytes(village_doctors(1)))
    assert importer.access_import_job(coordinator_actor, job.pk).pk == job.pk
    for actor in (other_coordinator, world.actor("village_doctor_a"), world.actor("auditadmin")):
        with pytest.raises(NotFound):
            importer.access_import_job(actor, job.pk)
    with pytest.raises(NotFound):
        importer.access_import_job(coordinator_actor, "../etc")
    assert list(importer.import_jobs(coordinator_actor)) == [job]
    assert not importer.import_jobs(other_coordinator).exists()


def test_a_bad_file_is_refused_before_any_job_or_write(world, coordinator_actor):
    with pytest.raises(ValidationFailed) as info:
        _start(world, coordinator_actor, b"\x00\x01garbage" * 20, "roster.xlsx")
    assert info.value.field == "file"
    with pytest.raises(ValidationFailed):
        _start(world, coordinator_actor, csv_bytes([["a", "b"]], header=["姓名", "职称"]))
    assert not ImportJob.objects.exists()


def test_batches_report_progress_and_queries_do_not_grow_per_row(world, coordinator_actor, monkeypatch):
    monkeypatch.setattr(importer_rows, "BATCH_SIZE", 50)
    seen: list[int] = []
    original = importer._heartbeat

    def heartbeat(job_id, processed):
        seen.append(processed)
        return original(job_id, processed)

    monkeypatch.setattr(importer, "_heartbeat", heartbeat)
    with CaptureQueriesContext(connection) as small:
        _start(world, coordinator_actor, csv_bytes(village_doctors(50)))
    with CaptureQueriesContext(connection) as large:
        _start(world, coordinator_actor, csv_bytes(village_doctors(50, start=1001)))
    assert seen == [50, 50]
    seen.clear()
    with CaptureQueriesContext(connection) as two_batches:
        _start(world, coordinator_actor, csv_bytes(village_doctors(100, start=2001)))
    with CaptureQueriesContext(connection) as four_batches:
        job = _start(world, coordinator_actor, csv_bytes(village_doctors(200, start=3001)))
    assert seen == [50, 100, 50, 100, 150, 200] and job.summary["imported"] == 200
    assert len(small) == len(large)
    # every batch of 50 rows runs the same statements, however many rows came before
    per_batch = len(two_batches) - len(small)
    assert len(four_batches) - len(two_batches) == 2 * per_batch, [q["sql"][:80] for q in four_batches.captured_queries]
    assert per_batch <= 15 and len(small) <= 40


def test_the_system_actor_imports_into_any_consortium_by_code(world, tmp_path):
    path = tmp_path / "外县.csv"
    path.write_bytes(csv_bytes([["外县医生", "110610100000123", "X001", "主治医师", "", "", "", ""]]))
    report = importer.import_file(path, acting=system_actor("tests"), consortium_code="OTHER")
    assert [r.status for r in report.rows] == ["imported"] and not report.errors
    assert report.summary() == "1 rows: 1 imported, 0 updated, 0 unchanged, 0 with errors."
    assert report.job is not None and report.job.status == "done" and report.job.surface == "cli"
    with pytest.raises(NotFound):
        importer.import_file(path, acting=system_actor("tests"), consortium_code="NOPE")
    with pytest.raises(ValidationFailed):
        importer.import_file(tmp_path / "missing.csv", acting=system_actor("tests"), consortium_code="OTHER")


def test_english_headers_and_codes(world, coordinator_actor):
    rows = [["Zhang Wei", "V610424100099", "v002", "village_doctor", "general_practice;tcm", "3", "M", ""]]
    job = _start(world, coordinator_actor, csv_bytes(rows, header=HEADER_EN))
    assert _by_line(job)[2]["status"] == "imported"
    assert Practitioner.objects.get(licence_number="V610424100099").sites.get().organisation.code == "V002"
