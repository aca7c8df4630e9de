"""Many people at once, on PostgreSQL: real threads, each on its own connection. On SQLite the
IMMEDIATE transactions serialise writers, so these races are exercised on PostgreSQL only."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from medunion.audit.models import AuditEvent
from medunion.core.errors import Conflict
from medunion.network import actions as net
from medunion.network.models import Department
from medunion.patients.models import CareTeamMember
from medunion.referrals.models import Referral, ReferralEntry
from tests.consults.conftest import add_practitioner
from tests.referrals.conftest import (
    RECEIVING_STAFF,
    ReferralWorld,
    accept,
    build_referral_world,
    grant,
    new_patient,
    refer_up,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _world() -> ReferralWorld:
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections are exercised on PostgreSQL")
    from tests.world import build_world

    return build_referral_world(build_world())


def race(jobs: list[Callable[[], Any]], *, watch: Callable[[], None] | None = None) -> list[str]:
    """Run the jobs at once (a barrier releases them together); each answers ``won`` or the
    error it met. ``watch`` runs over and over on its own connection until all are done."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def run(job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            job()
            result = "won"
        except Conflict as exc:
            result = f"{exc.code}:{exc.details.get('receiver', '')}"
        except Exception as exc:  # noqa: BLE001 - anything else is a failure to report
            result = f"error:{exc!r}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    def watcher() -> None:
        try:
            while not done.is_set():
                watch()  # type: ignore[misc]
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    spy = threading.Thread(target=watcher) if watch else None
    if spy:
        spy.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    if spy:
        spy.join()
    return outcomes


def test_fifty_green_channel_referrals_race_for_ten_beds_and_exactly_ten_win():
    """The acceptance test of issue 4: 50 patients, 10 reserved beds."""
    rw = _world()
    net.save_department(acting=rw.actor("coordinator"), organisation_id=rw.orgs["tertiary"].pk, code="CARD",
                        name="心内科", specialty="cardiology", beds=40, daily_slots=60, green_channel_beds=10,
                        green_channel_slots=6)
    patients = [new_patient(rw, i) for i in range(50)]
    sender = rw.actor("village_doctor_a")
    from medunion.referrals.actions import ReferralInput, create_referral

    def send(patient: Any) -> Callable[[], Any]:
        data = ReferralInput(patient_id=patient.pk, direction="up", target_organisation_id=rw.orgs["tertiary"].pk,
                             target_department_id=rw.cardiology.pk, urgency="emergency", reason="急性心肌梗死",
                             clinical_summary="胸痛2小时，ST段抬高", green_channel=True, green_place="bed")
        return lambda: create_referral(acting=sender, data=data)

    seen: list[int] = []

    def watch() -> None:
        seen.append(Department.objects.values_list("green_channel_beds_in_use", flat=True).get(pk=rw.cardiology.pk))

    outcomes = race([send(p) for p in patients], watch=watch)
    assert sorted(outcomes) == sorted(["won"] * 10 + ["green_channel_full:"] * 40), outcomes
    dept = Department.objects.get(pk=rw.cardiology.pk)
    assert (dept.green_channel_beds_in_use, dept.green_channel_slots_in_use) == (10, 0)
    assert seen and max(seen) <= 10
    won = Referral.objects.filter(green_channel=True, green_held=True, green_place="bed")
    assert won.count() == Referral.objects.count() == 10
    assert len(set(won.values_list("patient_id", flat=True))) == 10
    assert AuditEvent.objects.filter(action="referral.create").count() == 10
    assert ReferralEntry.objects.values("referral_id").distinct().count() == 10


def test_twenty_receivers_accept_one_referral_at_once_and_exactly_one_wins():
    rw = _world()
    extra = [f"tertiary_{i}" for i in range(17)]
    for i, persona in enumerate(extra):
        add_practitioner(rw.world, rw.users, persona, f"心内{i}", "tertiary", f"1106100000002{i:02d}", ["cardiology"])
        grant(rw.world, rw.pid(persona))
    receivers = [p for p in RECEIVING_STAFF if p != "tertiary_unlicensed"] + extra
    assert len(receivers) == 20
    r = refer_up(rw, green_channel=True, green_place="bed")
    jobs = [(lambda p: lambda: accept(rw, r, persona=p))(persona) for persona in receivers]
    outcomes = race(jobs)
    assert outcomes.count("won") == 1, outcomes
    winner = Referral.objects.select_related("receiver").get(pk=r.pk)
    assert winner.state == "accepted" and winner.version == 1
    # Every loser is told who accepted.
    assert sorted(outcomes) == sorted(["won"] + [f"conflict:{winner.receiver.name}"] * 19), outcomes
    assert AuditEvent.objects.filter(action="referral.accept").count() == 1
    assert CareTeamMember.objects.filter(source_type="referral", source_id=str(r.pk)).count() == 1
    assert ReferralEntry.objects.filter(referral=r, event="accept", audience="clinicians").count() == 1
    assert ReferralEntry.objects.filter(referral=r, event="accept", audience="patient").count() == 1
    assert Department.objects.get(pk=rw.cardiology.pk).green_channel_beds_in_use == 1


@pytest.mark.parametrize("green", [False, True])
def test_a_double_submitted_referral_makes_one_and_the_other_is_shown_the_live_one(green):
    rw = _world()
    extra = {"green_channel": True, "green_place": "slot"} if green else {}
    outcomes = race([lambda: refer_up(rw, **extra) for _ in range(2)])
    assert sorted(outcomes) == ["referral_live:", "won"], outcomes
    assert Referral.objects.count() == 1
    assert AuditEvent.objects.filter(action="referral.create").count() == 1
    dept = Department.objects.get(pk=rw.cardiology.pk)
    assert dept.green_channel_slots_in_use == (1 if green else 0)
