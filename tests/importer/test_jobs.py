"""Jobs in the background: the threaded path on a real database, stale jobs, and the command."""

from __future__ import annotations

import datetime as dt

import pytest

from medunion.cli import main
from medunion.core import clock
from medunion.network import importer
from medunion.network.models import ImportJob, Practitioner
from tests.world import build_world

from .files import csv_bytes, village_doctors, xlsx_bytes


@pytest.mark.django_db(transaction=True)
def test_a_job_runs_in_a_background_thread_with_its_own_connection(settings):
    settings.MEDUNION_IMPORT_SYNC = False
    world = build_world()
    actor = world.actor("coordinator")
    job = importer.start_import(acting=actor, consortium_id=world.consortium.pk, filename="roster.xlsx",
                                content=xlsx_bytes(village_doctors(120)))
    assert job.status == "queued" and job.total == 120  # the request answers at once
    importer.wait_for_job(job.pk, timeout=60)
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == "done" and job.processed == 120 and job.summary["imported"] == 120
    assert job.content is None and job.started_at and job.finished_at
    assert Practitioner.objects.filter(licence_number__startswith="VD").count() == 120
    assert not importer._threads


def test_a_job_cut_off_by_a_restart_is_marked_failed(world, coordinator_actor, settings):
    settings.MEDUNION_IMPORT_SYNC = False  # queued, and the thread never starts (no commit in this test)
    job = importer.start_import(acting=coordinator_actor, consortium_id=world.consortium.pk, filename="r.csv",
                                content=csv_bytes(village_doctors(2)))
    ImportJob.objects.filter(pk=job.pk).update(status="running", processed=1)
    assert importer.access_import_job(coordinator_actor, job.pk).status == "running"
    with clock.frozen(clock.now() + dt.timedelta(minutes=6)):
        job = importer.access_import_job(coordinator_actor, job.pk)
    assert job.status == "failed" and "without finishing" in importer.job_error(job)
    assert ImportJob.objects.get(pk=job.pk).content is None
    # It stays failed: running it later does nothing.
    importer.run_job(job.pk, coordinator_actor)
    assert ImportJob.objects.get(pk=job.pk).status == "failed"


def test_an_unexpected_error_fails_the_job_and_keeps_finished_batches(world, coordinator_actor, monkeypatch):
    from medunion.network import importer_rows

    monkeypatch.setattr(importer_rows, "BATCH_SIZE", 10)
    calls = []
    original = importer_rows.save_batch

    def flaky(ctx, candidates):
        calls.append(len(candidates))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(ctx, candidates)

    monkeypatch.setattr(importer_rows, "save_batch", flaky)
    job = importer.start_import(acting=coordinator_actor, consortium_id=world.consortium.pk, filename="r.csv",
                                content=csv_bytes(village_doctors(25)))
    assert job.status == "failed" and "unexpected error" in importer.job_error(job)
    assert Practitioner.objects.filter(licence_number__startswith="VD").count() == 10
    monkeypatch.setattr(importer_rows, "save_batch", original)
    again = importer.start_import(acting=coordinator_actor, consortium_id=world.consortium.pk, filename="r.csv",
                                  content=csv_bytes(village_doctors(25)))
    assert again.summary == {"total": 25, "imported": 15, "updated": 0, "unchanged": 10, "error": 0}


def test_the_command_end_to_end(world, tmp_path, capsys):
    good = tmp_path / "乾县村医.xlsx"
    good.write_bytes(xlsx_bytes(village_doctors(40)))
    assert main(["import-practitioners", str(good), "--consortium", "QX-YGT"]) == 0
    out, err = capsys.readouterr()
    assert "40 rows: 40 imported, 0 updated, 0 unchanged, 0 with errors." in out
    assert "40/40" in err  # the progress bar
    assert main(["import-practitioners", str(good), "--consortium", "QX-YGT", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "40 unchanged" in out and err == ""

    mixed = tmp_path / "mixed.csv"
    rows = village_doctors(2, start=500)
    rows[1][2] = "ZZZ9"
    mixed.write_bytes(csv_bytes(rows, encoding="gb18030"))
    assert main(["import-practitioners", str(mixed), "--consortium", "QX-YGT", "--quiet"]) == 1
    out, _ = capsys.readouterr()
    assert "row 3: " in out and "ZZZ9" in out and "1 imported" in out and "1 with errors" in out

    garbage = tmp_path / "roster.xlsx"
    garbage.write_bytes(b"this is not a workbook")
    assert main(["import-practitioners", str(garbage), "--consortium", "QX-YGT", "--quiet"]) == 2
    assert "is not an Excel workbook" in capsys.readouterr().err
    assert main(["import-practitioners", str(good), "--consortium", "NOPE", "--quiet"]) == 2
    assert main(["import-practitioners", str(tmp_path / "none.csv"), "--consortium", "QX-YGT", "--quiet"]) == 2
    assert ImportJob.objects.filter(surface="cli").count() == 3
