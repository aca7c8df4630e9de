"""SQLite's planner statistics, kept fresh by the housekeeping (``ops.planner_statistics``): a table
never analysed, or whose row count has moved by more than a quarter, or with an index that has
rows and no statistics (a migration added it), is analysed again; any other is left alone. An
index that holds no row has no statistics by nature and does not keep its table stale.
PostgreSQL's autovacuum does this itself: nothing is done there."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from medunion.files.models import StoredFile
from medunion.ops import planner_statistics
from medunion.ops.planner_statistics import refresh_statistics, survey
from medunion.patients.models import Patient

SQLITE = connection.vendor == "sqlite"
only_sqlite = pytest.mark.skipif(not SQLITE, reason="SQLite's statistics; PostgreSQL keeps its own")


def _held(table: str) -> dict[str | None, str]:
    with connection.cursor() as cur:
        cur.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = %s", [table])
        return dict(cur.fetchall())


def _of(table: str):
    return next(t for t in survey() if t.table == table)


def _sessions(n: int, start: int) -> None:
    later = timezone.now() + timezone.timedelta(days=1)
    Session.objects.bulk_create(Session(session_key=f"s{i}".ljust(32, "x"), session_data="", expire_date=later)
                                for i in range(start, start + n))


def _files(user, patient, n: int, start: int) -> None:
    StoredFile.objects.bulk_create(
        StoredFile(patient=patient, uploaded_by=user, filename=f"{i}.jpg", kind="image", content_type="image/jpeg",
                   size=1, sha256=hashlib.sha256(str(i).encode()).hexdigest(), storage_key=f"k/{i}")
        for i in range(start, start + n))


@only_sqlite
def test_a_table_never_analysed_is_analysed_once_then_left_alone(world):
    patients = _of("patients_patient")
    assert patients.rows == Patient.objects.count() > 0 and patients.analysed_rows is None and patients.stale
    done = refresh_statistics()
    assert "patients_patient" in done and "accounts_user" in done
    # Statistics for each of its indexes, counting its rows; an empty table is not analysed.
    held = _held("patients_patient")
    assert set(held) == set(patients.indexes)
    assert {int(stat.split()[0]) for stat in held.values()} == {patients.rows}
    assert "referrals_referral" not in done and not _held("referrals_referral")
    assert not any(t.stale for t in survey())
    assert refresh_statistics() == []


@only_sqlite
def test_a_table_is_analysed_again_once_its_rows_moved_by_more_than_a_quarter(world):
    _sessions(8, 0)
    refresh_statistics()
    assert _of("django_session").analysed_rows == 8
    _sessions(2, 8)  # 10: within a quarter of 8
    assert refresh_statistics() == []
    _sessions(1, 10)  # 11
    assert refresh_statistics() == ["django_session"]
    assert _of("django_session").analysed_rows == 11
    Session.objects.filter(session_key__in=[f"s{i}".ljust(32, "x") for i in range(3)]).delete()  # 8 = 11 / 1.375
    assert refresh_statistics() == ["django_session"]
    Session.objects.all().delete()  # an empty table's statistics are removed, not kept
    assert refresh_statistics() == ["django_session"]
    assert not _held("django_session") and refresh_statistics() == []


@only_sqlite
def test_an_index_without_statistics_has_its_table_analysed(world):
    """As after a migration that adds an index to a table analysed before."""
    refresh_statistics()
    index = _of("accounts_user").indexes[0]
    with connection.cursor() as cur:
        cur.execute("DELETE FROM sqlite_stat1 WHERE idx = %s", [index])
    assert _of("accounts_user").unanalysed == (index,)
    assert refresh_statistics() == ["accounts_user"]
    assert index in _held("accounts_user")


@only_sqlite
def test_a_partial_index_counts_only_once_it_holds_rows(world):
    user, patient = world.users["village_doctor_a"], world.patients["patient_a"]
    _files(user, patient, 8, 0)
    refresh_statistics()
    # Files about no patient: none yet, so that unique index has no statistics, and it is no
    # reason to analyse the table again.
    assert "files_once_per_uploader" not in _held("files_storedfile")
    assert "files_once_per_patient" in _held("files_storedfile")
    assert refresh_statistics() == []
    _files(user, None, 1, 8)  # 9 rows, within a quarter; the partial index now holds one
    assert _of("files_storedfile").unanalysed == ("files_once_per_uploader",)
    assert refresh_statistics() == ["files_storedfile"]
    assert _held("files_storedfile")["files_once_per_uploader"].split()[0] == "1"
    assert refresh_statistics() == []


@only_sqlite
def test_the_planner_reads_them(world):
    """What they are for: the same query planned with the statistics a refresh left."""
    user = world.users["village_doctor_a"]
    _files(user, world.patients["patient_a"], 40, 0)
    query = "EXPLAIN QUERY PLAN SELECT id FROM files_storedfile WHERE patient_id = %s AND uploaded_by_id = %s"

    def plan() -> str:
        with connection.cursor() as cur:
            cur.execute(query, [world.patients["patient_a"].pk.hex, user.pk.hex])
            return " ".join(str(row[-1]) for row in cur.fetchall())

    refresh_statistics()
    with connection.cursor() as cur:
        # The statistics say every file has its own uploader and all belong to one patient; the
        # connection reads them again (ANALYZE sqlite_master) as a newly opened one does.
        cur.execute("UPDATE sqlite_stat1 SET stat = '40 1' WHERE idx LIKE '%%uploaded_by_id%%'")
        cur.execute("UPDATE sqlite_stat1 SET stat = '40 40 1' WHERE idx LIKE '%%patient_id_sha256%%'")
        cur.execute("ANALYZE sqlite_master")
    assert "uploaded_by_id" in plan()
    with connection.cursor() as cur:
        cur.execute("UPDATE sqlite_stat1 SET stat = '40 40' WHERE idx LIKE '%%uploaded_by_id%%'")
        cur.execute("UPDATE sqlite_stat1 SET stat = '40 1 1' WHERE idx LIKE '%%patient_id_sha256%%'")
        cur.execute("ANALYZE sqlite_master")
    assert "uploaded_by_id" not in plan()


@pytest.mark.skipif(SQLITE, reason="PostgreSQL's autovacuum")
def test_postgresql_is_left_to_its_autovacuum(world):
    assert refresh_statistics() == []


@only_sqlite
def test_a_large_table_keeps_its_statistics_but_a_new_index_is_analysed(world, monkeypatch):
    """Writers wait while an index is analysed: past a size, a table is analysed again only for an
    index that has no statistics yet."""
    _sessions(8, 0)
    refresh_statistics()
    monkeypatch.setattr(planner_statistics, "LARGEST_ANALYSED_AGAIN", 10)
    _sessions(8, 8)  # 16: twice what the statistics hold, and over the size
    assert _of("django_session").to_analyse() == () and refresh_statistics() == []
    assert _of("django_session").analysed_rows == 8
    index = _of("django_session").indexes[0]
    with connection.cursor() as cur:
        cur.execute("DELETE FROM sqlite_stat1 WHERE idx = %s", [index])
    assert _of("django_session").to_analyse() == (index,)
    assert refresh_statistics() == ["django_session"]
    assert int(_held("django_session")[index].split()[0]) == 16
    _sessions(5, 16)  # 21: more than a quarter over 16 again
    assert _of("django_session").to_analyse() == ()
    monkeypatch.setattr(planner_statistics, "LARGEST_ANALYSED_AGAIN", 1_000)  # under the size: all of it
    assert set(_of("django_session").to_analyse()) == set(_of("django_session").indexes)
