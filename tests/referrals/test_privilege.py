"""Only clinicians holding the consortium's ``transfer_patients`` privilege (trained, examined,
licensed) send a referral or decide on one; the refusal names each missing credential."""

from __future__ import annotations

import datetime as dt

import pytest

from medunion.access.actor import system_actor
from medunion.core import clock
from medunion.core.errors import NotFound
from medunion.network import actions as net
from medunion.network.models import Licence
from medunion.referrals.machine import PrivilegeMissing
from medunion.referrals.models import Referral
from tests.consults.conftest import add_practitioner
from tests.referrals.conftest import (
    START,
    accept,
    check_in,
    decline,
    grant,
    new_patient,
    outcome,
    redirect,
    refer_up,
    snapshot,
)

NAMES = {"training": "the tiered-referral training", "exam": "the tiered-referral exam",
         "licence": "a valid practising licence"}


def _refused(rw, persona: str, **refer: object) -> PrivilegeMissing:
    before = snapshot()
    with pytest.raises(PrivilegeMissing) as err:
        refer_up(rw, persona, **refer)
    assert snapshot() == before
    assert err.value.status == 403 and err.value.code == "privilege_missing"
    return err.value


def _clinic_doctor(rw, persona: str, **credentials: bool):
    """A village doctor at 西村卫生室 with the credentials asked for, and a patient of their own."""
    add_practitioner(rw.world, rw.users, persona, "新医生", "clinic_b", f"V61042400{len(rw.users):04d}",
                     ["general_practice"], title="village_doctor")
    wanted = {"training": True, "exam": True, "licence": True, **credentials}
    if any(wanted.values()):
        grant(rw.world, rw.pid(persona), **wanted)
    return new_patient(rw, len(rw.users), persona=persona)


def test_an_unlicensed_sender_is_refused_naming_what_is_missing(rw):
    patient = new_patient(rw, 1, persona="village_doctor_b")  # trained only
    err = _refused(rw, "village_doctor_b", patient_id=patient.pk)
    assert err.details["missing"] == ["exam", "licence"]
    assert NAMES["exam"] in err.message and NAMES["licence"] in err.message and NAMES["training"] not in err.message
    assert len(err.details["help"]) == 2 and "exam" in err.details["help"][0]


@pytest.mark.parametrize("missing", ["training", "exam", "licence"])
def test_each_missing_credential_is_named(rw, missing):
    patient = _clinic_doctor(rw, "new_doctor", **{missing: False})
    err = _refused(rw, "new_doctor", patient_id=patient.pk)
    assert err.details["missing"] == [missing]
    assert NAMES[missing] in err.message
    assert all(NAMES[m] not in err.message for m in NAMES if m != missing)


def test_no_credentials_at_all(rw):
    patient = _clinic_doctor(rw, "new_doctor", training=False, exam=False, licence=False)
    assert _refused(rw, "new_doctor", patient_id=patient.pk).details["missing"] == ["training", "exam", "licence"]


def test_a_failed_exam_is_no_exam(rw):
    patient = _clinic_doctor(rw, "new_doctor", exam=False)
    net.record_exam(acting=system_actor("tests"), practitioner_id=rw.pid("new_doctor"),
                    consortium_id=rw.world.consortium.pk, taken_on="2025-06-20", score=59)
    assert _refused(rw, "new_doctor", patient_id=patient.pk).details["missing"] == ["exam"]


def test_credentials_of_another_consortium_do_not_count(rw):
    patient = _clinic_doctor(rw, "new_doctor", training=False, exam=False)
    system = system_actor("tests")
    net.record_training(acting=system, practitioner_id=rw.pid("new_doctor"),
                        consortium_id=rw.world.other_consortium.pk, completed_on="2025-06-01")
    net.record_exam(acting=system, practitioner_id=rw.pid("new_doctor"), consortium_id=rw.world.other_consortium.pk,
                    taken_on="2025-06-20", score=90)
    assert _refused(rw, "new_doctor", patient_id=patient.pk).details["missing"] == ["training", "exam"]


@pytest.mark.parametrize("credential", ["training", "exam", "licence"])
def test_an_expired_credential_lapses_the_day_after_its_end(rw, credential):
    system = system_actor("tests")
    patient = _clinic_doctor(rw, "new_doctor", **{credential: False})
    pid, cid = rw.pid("new_doctor"), rw.world.consortium.pk
    until = START.date() + dt.timedelta(days=10)
    if credential == "training":
        net.record_training(acting=system, practitioner_id=pid, consortium_id=cid, completed_on="2025-06-01",
                            valid_until=until)
    elif credential == "exam":
        net.record_exam(acting=system, practitioner_id=pid, consortium_id=cid, taken_on="2025-06-20", score=90,
                        valid_until=until)
    else:
        net.record_licence(acting=system, practitioner_id=pid, number="LX2020000001", valid_from="2020-01-01",
                           valid_until=until)
    last_day = dt.datetime.combine(until, dt.time(23, 0), dt.UTC) - dt.timedelta(hours=8)  # 23:00 in Shanghai
    with clock.frozen(last_day + dt.timedelta(hours=2)):  # 01:00 the day after, in Shanghai
        assert _refused(rw, "new_doctor", patient_id=patient.pk).details["missing"] == [credential]
    with clock.frozen(last_day):
        r = refer_up(rw, "new_doctor", patient_id=patient.pk)
    assert r.sender_id == pid


def test_a_revoked_licence_refuses_from_the_revocation_day(rw):
    pid = rw.pid("village_doctor_a")
    lic = Licence.objects.get(practitioner_id=pid)
    net.revoke_licence(acting=system_actor("tests"), licence_id=lic.pk, on=clock.today())
    assert _refused(rw, "village_doctor_a").details["missing"] == ["licence"]


def test_a_receiving_clinician_without_the_privilege_cannot_decide_but_can_check_in(rw):
    r = refer_up(rw)
    for step in (lambda: accept(rw, r, persona="tertiary_unlicensed"),
                 lambda: decline(rw, r, persona="tertiary_unlicensed"),
                 lambda: redirect(rw, r, persona="tertiary_unlicensed")):
        before = snapshot()
        with pytest.raises(PrivilegeMissing) as err:
            step()
        assert err.value.details["missing"] == ["exam", "licence"] and snapshot() == before
    r = accept(rw, r)
    r = check_in(rw, r, persona="tertiary_unlicensed")
    assert r.state == "arrived"
    # The outcome may come back from any clinician of the department …
    r2 = outcome(rw, r, persona="tertiary_unlicensed")
    assert r2.state == "outcome_returned"


def test_sending_the_patient_back_down_needs_the_privilege(rw):
    from medunion.referrals.actions import PlanItem

    r = check_in(rw, accept(rw, refer_up(rw)))
    before = snapshot()
    with pytest.raises(PrivilegeMissing):
        outcome(rw, r, persona="tertiary_unlicensed", refer_down=True, discharge_summary="支架术后",
                plan=[PlanItem(kind="visit", description="家访", due_in_days=3)])
    assert snapshot() == before and Referral.objects.get(pk=r.pk).state == "arrived"


@pytest.mark.parametrize("persona", ["patient_a", "coordinator", "commission_viewer", "sysadmin"])
def test_who_is_no_clinician_cannot_refer_at_all(rw, persona):
    before = snapshot()
    with pytest.raises(NotFound):
        refer_up(rw, persona)
    assert snapshot() == before


def test_who_holds_the_privilege_in_bulk_agrees_with_each_one_alone(rw):
    """The notice of a new referral asks, for every colleague of the receiving department at
    once, who holds the privilege: the same answer as asking one by one, in three queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from medunion.network.models import Practitioner
    from medunion.network.queries import privilege_status, privileged_among

    with clock.frozen(START):
        # An exam failed, and a licence revoked, so every credential can be the missing one.
        system = system_actor("tests")
        failing = add_practitioner(rw.world, rw.users, "failed_exam", "冯考核", "tertiary", "110610000000077",
                                   ["cardiology"]).practitioner_id
        net.record_training(acting=system, practitioner_id=failing, consortium_id=rw.world.consortium.pk,
                            completed_on="2025-06-01")
        net.record_exam(acting=system, practitioner_id=failing, consortium_id=rw.world.consortium.pk,
                        taken_on="2025-06-20", score=40)
        net.record_licence(acting=system, practitioner_id=failing, number="L0000000077", valid_from="2020-01-01")
        everyone = list(Practitioner.objects.values_list("pk", flat=True))
        one_by_one = {p for p in everyone
                      if privilege_status(p, rw.world.consortium.pk, "transfer_patients").granted}
        with CaptureQueriesContext(connection) as ctx:
            bulk = privileged_among(everyone, rw.world.consortium.pk, "transfer_patients")
        assert bulk == one_by_one
        assert rw.pid("village_doctor_a") in bulk and rw.pid("village_doctor_b") not in bulk and failing not in bulk
        assert len(ctx.captured_queries) <= 3
