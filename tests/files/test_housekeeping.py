"""The housekeeping: expired idempotency keys and sessions, orphaned stored bytes; what the worker
runs every few hours and ``medunion housekeeping`` once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from medunion.audit.models import AuditEvent
from medunion.cli import main
from medunion.core import clock
from medunion.core.batches import delete_in_batches
from medunion.core.idempotency import once
from medunion.core.models import IdempotencyRecord
from medunion.files.actions import store_upload
from medunion.files.models import FileKind, StoredFile
from medunion.ops.housekeeping import Every, run_housekeeping

from .conftest import photo_bytes, stored_keys, upload

DAY = dt.timedelta(days=1)


def _key(actor, key: str) -> None:
    once(actor=actor, scope="tests.housekeeping", key=key, fingerprint=key, perform=lambda: {"key": key})


def _session(key: str, expires: dt.datetime) -> None:
    Session.objects.create(session_key=key, session_data="", expire_date=expires)


def _store(actor, patient, name: str, colour: str) -> StoredFile:
    return store_upload(acting=actor, patient_id=patient.pk, upload=upload(name, photo_bytes(colour=colour)),
                        allowed_kinds=[FileKind.IMAGE])


def _litter(world, doctor, patient, file_root):
    """Two expired keys and a live one (another account's: sending a key deletes the sender's own
    expired ones); an expired and a live session; a kept photo and a photo whose transaction
    rolled back (its bytes stay behind). Returns the kept photo and a time two days
    on."""
    start = timezone.now()
    with clock.frozen(start - DAY - dt.timedelta(hours=1)):
        _key(doctor, "expired-1")
        _key(doctor, "expired-2")
    _key(world.actor("village_doctor_b"), "live")
    _session("expired".ljust(32, "x"), start - dt.timedelta(minutes=1))
    _session("live".ljust(32, "x"), start + DAY)
    kept = _store(doctor, patient, "kept.jpg", "green")
    with pytest.raises(RuntimeError), transaction.atomic():
        _store(doctor, patient, "lost.jpg", "red")
        raise RuntimeError("the consultation could not be saved")
    assert len(stored_keys(file_root)) == 2
    return kept, start + 2 * DAY


def test_housekeeping_removes_what_expired_and_what_no_row_refers_to(world, doctor, patient, file_root):
    kept, later = _litter(world, doctor, patient, file_root)
    with clock.frozen(timezone.now() + dt.timedelta(hours=23)):  # the rolled-back bytes are too young yet
        assert _removed(run_housekeeping()) == {"expired idempotency keys": 2, "expired sessions": 1,
                                                "orphaned stored files": 0}
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["live"]
    with clock.frozen(later):  # the live key and session have expired by then, the bytes are old
        assert _removed(run_housekeeping()) == {"expired idempotency keys": 1, "expired sessions": 1,
                                                "orphaned stored files": 1}
        assert IdempotencyRecord.objects.count() == 0
        assert not Session.objects.exists()
        assert stored_keys(file_root) == [kept.storage_key]
        sweep = AuditEvent.objects.get(action="file.sweep")
        assert (sweep.actor_display, sweep.detail) == ("system:housekeeping", {"removed": 1})
        # Again: nothing left to do (the statistics too are fresh by now), and no audit row for
        # doing nothing.
        assert set(run_housekeeping().values()) == {0}
        assert AuditEvent.objects.filter(action="file.sweep").count() == 1


def _removed(done: dict[str, int]) -> dict[str, int]:
    """What a run removed (how many tables it analysed depends on the whole database)."""
    assert set(done) == {"expired idempotency keys removed", "expired sessions removed",
                         "orphaned stored files removed", "tables analysed"}
    return {what.removesuffix(" removed"): n for what, n in done.items() if what.endswith(" removed")}


def test_deleting_in_batches_deletes_exactly_the_selection(doctor):
    for n in range(5):
        _key(doctor, f"old-{n}")
    _key(doctor, "other")
    assert delete_in_batches(IdempotencyRecord.objects.filter(key__startswith="old-"), batch=2) == 5
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["other"]
    assert delete_in_batches(IdempotencyRecord.objects.filter(key__startswith="old-"), batch=2) == 0


def test_the_schedule_is_at_once_then_every_period_and_never_at_zero():
    now = [100.0]
    every = Every(60, monotonic=lambda: now[0])
    seen = []
    for t in (100, 110, 159.9, 160, 161, 219, 220, 400):
        now[0] = t
        seen.append(every.due())
    assert seen == [True, False, False, True, False, False, True, True]
    assert not Every(0, monotonic=lambda: now[0]).due()


def test_the_worker_runs_it_and_the_command_runs_it_once(world, doctor, patient, file_root, capsys, settings):
    _kept, later = _litter(world, doctor, patient, file_root)
    with clock.frozen(later):
        assert main(["worker", "--once"]) == 0
        out = capsys.readouterr().out
        assert ("worker: housekeeping: expired idempotency keys removed 3, expired sessions removed 2, "
                "orphaned stored files removed 1, tables analysed ") in out
        assert main(["housekeeping"]) == 0
        assert capsys.readouterr().out.strip() == ("housekeeping: expired idempotency keys removed 0, "
                                                   "expired sessions removed 0, orphaned stored files removed 0, "
                                                   "tables analysed 0")
    settings.MEDUNION_HOUSEKEEPING_HOURS = 0  # a deployment that runs the command from its own scheduler
    _key(doctor, "another")
    with clock.frozen(later + 2 * DAY):
        assert main(["worker", "--once"]) == 0
    assert "housekeeping" not in capsys.readouterr().out
    assert IdempotencyRecord.objects.filter(key="another").exists()
