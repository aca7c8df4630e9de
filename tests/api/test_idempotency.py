"""core.idempotency: once per key, replay, reuse refused, rollback, expiry; real parallel
requests on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections

from medunion.access.actor import system_actor
from medunion.core import clock
from medunion.core.errors import ValidationFailed
from medunion.core.idempotency import (
    IdempotencyKeyReused,
    fingerprint_of,
    once,
    purge_expired,
    ttl,
)
from medunion.core.models import IdempotencyRecord
from medunion.network.models import Region
from medunion.patients.actions import PatientInput, register_patient
from medunion.patients.identity import make_resident_id
from medunion.patients.models import Patient


def _counter():
    calls: list[int] = []

    def perform() -> dict:
        calls.append(1)
        return {"status": 201, "n": len(calls)}

    return calls, perform


def test_the_second_call_replays_without_performing(world):
    actor = world.actor("village_doctor_a", "api")
    calls, perform = _counter()
    first = once(actor=actor, scope="t.create", key="k-1", fingerprint="f", perform=perform)
    second = once(actor=actor, scope="t.create", key="k-1", fingerprint="f", perform=perform)
    assert first == ({"status": 201, "n": 1}, False)
    assert second == ({"status": 201, "n": 1}, True)
    assert len(calls) == 1
    assert IdempotencyRecord.objects.filter(owner=str(actor.user_id), scope="t.create", key="k-1").count() == 1


def test_the_same_key_with_another_request_is_refused(world):
    actor = world.actor("village_doctor_a", "api")
    calls, perform = _counter()
    once(actor=actor, scope="t.create", key="k-1", fingerprint=fingerprint_of({"a": 1}), perform=perform)
    with pytest.raises(IdempotencyKeyReused) as err:
        once(actor=actor, scope="t.create", key="k-1", fingerprint=fingerprint_of({"a": 2}), perform=perform)
    assert err.value.code == "idempotency_key_reused" and err.value.status == 422
    assert "different request" in str(err.value.message)
    assert len(calls) == 1


def test_keys_belong_to_one_account_and_one_scope(world):
    calls, perform = _counter()
    a, b = world.actor("village_doctor_a", "api"), world.actor("village_doctor_b", "api")
    once(actor=a, scope="t.create", key="same", fingerprint="f", perform=perform)
    assert once(actor=b, scope="t.create", key="same", fingerprint="f", perform=perform)[1] is False
    assert once(actor=a, scope="t.other", key="same", fingerprint="f", perform=perform)[1] is False
    assert len(calls) == 3
    system = system_actor("importer")
    assert once(actor=system, scope="t.create", key="same", fingerprint="f", perform=perform)[1] is False
    assert IdempotencyRecord.objects.filter(owner="system:importer").count() == 1


def test_a_domain_error_rolls_back_the_key_so_a_corrected_retry_works(world):
    actor = world.actor("village_doctor_a", "api")

    def bad() -> dict:
        register_patient(acting=actor, data=PatientInput(name="无名"))  # no sex, no birth date
        return {}

    with pytest.raises(ValidationFailed):
        once(actor=actor, scope="patients.register", key="retry-me", fingerprint="f1", perform=bad)
    assert not IdempotencyRecord.objects.filter(key="retry-me").exists()

    def good() -> dict:
        p = register_patient(acting=actor, data=PatientInput(name="无名", sex="male", birth_date=dt.date(1990, 1, 1)))
        return {"patient_id": p.pk}

    result, replayed = once(actor=actor, scope="patients.register", key="retry-me", fingerprint="f2", perform=good)
    assert not replayed and Patient.objects.filter(pk=result["patient_id"]).exists()
    assert isinstance(result["patient_id"], str)  # stored and answered as plain JSON


def test_a_crash_inside_leaves_neither_the_key_nor_the_write(world):
    actor = world.actor("village_doctor_a", "api")

    def crash() -> dict:
        Region.objects.create(code="610424100299", name="半途", level=5, parent_id="610424100000")
        raise RuntimeError("connection dropped")

    with pytest.raises(RuntimeError):
        once(actor=actor, scope="t.create", key="crash", fingerprint="f", perform=crash)
    assert not IdempotencyRecord.objects.filter(key="crash").exists()
    assert not Region.objects.filter(code="610424100299").exists()


@pytest.mark.parametrize("key", ["", " leading-space", "x" * 256, "tab\there", "换行", "nul\x00"])
def test_malformed_keys_are_field_errors(world, key):
    calls, perform = _counter()
    with pytest.raises(ValidationFailed) as err:
        once(actor=world.actor("village_doctor_a", "api"), scope="t", key=key, fingerprint="f", perform=perform)
    assert "idempotency_key" in err.value.errors
    assert not calls


def test_the_longest_key_and_any_printable_ascii_are_fine(world):
    calls, perform = _counter()
    actor = world.actor("village_doctor_a", "api")
    for key in ("k" * 255, "a b~!@#$%^&*()_+{}|:\"<>?", "0190a3c4-7d5e-7000-8000-000000000000"):
        assert once(actor=actor, scope="t", key=key, fingerprint="f", perform=perform)[1] is False
    assert len(calls) == 3


def test_keys_expire_and_are_purged(world):
    actor = world.actor("village_doctor_a", "api")
    calls, perform = _counter()
    start = clock.now()
    with clock.frozen(start):
        once(actor=actor, scope="t", key="old", fingerprint="f", perform=perform)
        once(actor=actor, scope="t", key="kept", fingerprint="f", perform=perform)
    with clock.frozen(start + ttl() - dt.timedelta(minutes=1)):
        assert once(actor=actor, scope="t", key="old", fingerprint="f", perform=perform)[1] is True
    with clock.frozen(start + ttl() + dt.timedelta(minutes=1)):
        # Expired: the key is free again, even for another request.
        result, replayed = once(actor=actor, scope="t", key="old", fingerprint="other", perform=perform)
        assert not replayed and result["n"] == 3
        # A create deletes no other key, not even the account's own expired one: the purge does.
        assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"old", "kept"}
    other = world.actor("village_doctor_b", "api")
    with clock.frozen(start):
        once(actor=other, scope="t", key="theirs", fingerprint="f", perform=perform)
    with clock.frozen(start + ttl() + dt.timedelta(minutes=1)):
        assert purge_expired() == 2
    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"old"}


def test_fingerprints_are_canonical():
    assert fingerprint_of({"a": 1, "b": [1, 2]}) == fingerprint_of({"b": [1, 2], "a": 1})
    assert fingerprint_of({"a": 1}) != fingerprint_of({"a": "1"})
    assert len(fingerprint_of({})) == 64


# --- real parallel connections (PostgreSQL) -------------------------------------------------------

def _parallel(n: int, work) -> list:
    barrier = threading.Barrier(n)
    outcomes: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            outcomes[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_create_one_patient_and_replay_it():
    """The second request waits on the unique index for the first and then replays its result."""
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections are exercised on PostgreSQL")
    from tests.world import build_world

    world = build_world()
    actors = [world.actor("village_doctor_a", "api") for _ in range(3)]
    number = make_resident_id("610424", dt.date(1985, 5, 5), 77, male=True)
    performed: list[int] = []

    def work(i: int):
        def perform() -> dict:
            performed.append(i)
            p = register_patient(acting=actors[i], data=PatientInput(name="并发重试", id_number=number))
            time.sleep(0.2)  # hold the transaction open while the others arrive
            return {"patient_id": p.pk}

        return once(actor=actors[i], scope="patients.register", key="phone-retry", fingerprint="same",
                    perform=perform)

    outcomes = _parallel(3, work)
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert len(performed) == 1
    assert sorted(replayed for _result, replayed in outcomes) == [False, True, True]
    assert len({result["patient_id"] for result, _replayed in outcomes}) == 1
    assert Patient.objects.filter(name="并发重试").count() == 1
    assert IdempotencyRecord.objects.filter(key="phone-retry").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_reusing_a_key_for_different_bodies_get_one_success():
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections are exercised on PostgreSQL")
    from tests.world import build_world

    world = build_world()
    actors = [world.actor("village_doctor_a", "api") for _ in range(2)]

    def work(i: int):
        def perform() -> dict:
            p = register_patient(acting=actors[i], data=PatientInput(name=f"异体{i}", sex="female",
                                                                     birth_date=dt.date(1970, 1, 1)))
            time.sleep(0.2)
            return {"patient_id": p.pk}

        return once(actor=actors[i], scope="patients.register", key="reused", fingerprint=f"body-{i}",
                    perform=perform)

    outcomes = _parallel(2, work)
    assert sum(isinstance(o, tuple) for o in outcomes) == 1
    assert sum(isinstance(o, IdempotencyKeyReused) for o in outcomes) == 1, outcomes
    assert Patient.objects.filter(name__startswith="异体").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_first_request_lets_the_waiting_retry_perform():
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections are exercised on PostgreSQL")
    from tests.world import build_world

    world = build_world()
    actors = [world.actor("village_doctor_a", "api") for _ in range(2)]
    holding = threading.Event()

    def work(i: int):
        def perform() -> dict:
            if i == 0:
                holding.set()  # the key's row is inserted, not committed
                time.sleep(0.2)
                raise ValidationFailed("the first attempt fails", field="name")
            p = register_patient(acting=actors[i], data=PatientInput(name="第二次", sex="male",
                                                                     birth_date=dt.date(1970, 1, 1)))
            return {"patient_id": p.pk}

        if i == 1:
            assert holding.wait(10)
        return once(actor=actors[i], scope="patients.register", key="fail-then-ok", fingerprint="same",
                    perform=perform)

    outcomes = _parallel(2, work)
    assert isinstance(outcomes[0], ValidationFailed), outcomes
    assert isinstance(outcomes[1], tuple) and outcomes[1][1] is False
    assert Patient.objects.filter(name="第二次").count() == 1
