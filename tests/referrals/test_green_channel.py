"""The green channel's bookkeeping: a place is taken on sending and goes back on decline, cancel
and redirect (where it moves with the referral), a slot when the patient arrives, a bed when the
outcome comes back; coordinators cannot reserve fewer places than are held."""

from __future__ import annotations

import pytest

from medunion.core.errors import ValidationFailed
from medunion.network import actions as net
from medunion.network.models import Department
from medunion.referrals import capacity
from medunion.referrals.models import Referral
from medunion.referrals.queries import destinations
from medunion.referrals.validation import GreenChannelFull
from tests.referrals.conftest import (
    accept,
    cancel,
    check_in,
    complete,
    decline,
    new_patient,
    outcome,
    redirect,
    refer_up,
    snapshot,
)


def in_use(dept) -> tuple[int, int]:
    d = Department.objects.get(pk=dept.pk)
    return d.green_channel_beds_in_use, d.green_channel_slots_in_use


def held(r) -> bool:
    return Referral.objects.get(pk=r.pk).green_held


def test_a_bed_is_taken_on_sending_and_goes_back_with_the_outcome(rw):
    r = refer_up(rw, green_channel=True, green_place="bed")
    assert in_use(rw.cardiology) == (1, 0) and held(r)
    r = check_in(rw, accept(rw, r))
    assert in_use(rw.cardiology) == (1, 0) and held(r)  # the patient is in the bed
    r = outcome(rw, r)
    assert in_use(rw.cardiology) == (0, 0) and not held(r)
    complete(rw, r)
    assert in_use(rw.cardiology) == (0, 0)


def test_a_slot_goes_back_when_the_patient_arrives(rw):
    r = refer_up(rw, green_channel=True, green_place="slot")
    assert in_use(rw.cardiology) == (0, 1)
    r = accept(rw, r, admit_kind="appointment")
    assert in_use(rw.cardiology) == (0, 1)
    r = check_in(rw, r)
    assert in_use(rw.cardiology) == (0, 0) and not held(r)
    outcome(rw, r)
    assert in_use(rw.cardiology) == (0, 0)


@pytest.mark.parametrize("place", ["bed", "slot"])
@pytest.mark.parametrize("how", ["decline", "cancel", "cancel_after_accept"])
def test_the_place_goes_back_on_decline_and_cancel(rw, place, how):
    r = refer_up(rw, green_channel=True, green_place=place)
    if how == "decline":
        decline(rw, r)
    elif how == "cancel":
        cancel(rw, r)
    else:
        cancel(rw, accept(rw, r))
    assert in_use(rw.cardiology) == (0, 0) and not held(r)


def test_a_redirect_moves_the_place(rw):
    r = refer_up(rw, green_channel=True, green_place="bed")
    r = redirect(rw, r)
    assert in_use(rw.cardiology) == (0, 0) and in_use(rw.internal) == (1, 0)
    assert r.green_held and r.target_department_id == rw.internal.pk and r.target_organisation_id == rw.orgs[
        "county"].pk
    decline(rw, r, persona="county_doctor")
    assert in_use(rw.internal) == (0, 0)


def test_a_redirect_to_a_full_channel_changes_nothing(rw):
    Department.objects.filter(pk=rw.internal.pk).update(green_channel_beds_in_use=2)
    r = refer_up(rw, green_channel=True, green_place="bed")
    before = snapshot()
    with pytest.raises(GreenChannelFull):
        redirect(rw, r)
    assert snapshot() == before
    assert in_use(rw.cardiology) == (1, 0) and held(r)
    # A referral without the green channel is redirected whatever the channel holds.
    plain = refer_up(rw, patient_id=new_patient(rw, 1).pk)
    assert redirect(rw, plain).target_department_id == rw.internal.pk
    assert in_use(rw.internal) == (2, 0)


def test_places_never_go_below_zero_or_above_the_reservation(rw):
    patients = [rw.patient] + [new_patient(rw, i) for i in range(1, 6)]
    sent = []
    for p in patients[:4]:
        sent.append(refer_up(rw, patient_id=p.pk, green_channel=True, green_place="bed"))
    with pytest.raises(GreenChannelFull):
        refer_up(rw, patient_id=patients[4].pk, green_channel=True, green_place="bed")
    assert in_use(rw.cardiology) == (4, 0)
    for r in sent:
        decline(rw, r)
    assert in_use(rw.cardiology) == (0, 0)
    assert capacity.give_back(Referral.objects.get(pk=sent[0].pk)) == {}  # holds nothing any more
    assert in_use(rw.cardiology) == (0, 0)
    assert refer_up(rw, patient_id=patients[5].pk, green_channel=True, green_place="bed").green_held


def test_a_coordinator_cannot_reserve_fewer_places_than_are_held(rw):
    coordinator = rw.actor("coordinator")
    refer_up(rw, green_channel=True, green_place="bed")
    refer_up(rw, patient_id=new_patient(rw, 1).pk, green_channel=True, green_place="bed")

    def save(beds: int, slots: int = 6):
        return net.save_department(acting=coordinator, organisation_id=rw.orgs["tertiary"].pk, code="CARD",
                                   name="心内科", specialty="cardiology", beds=40, daily_slots=60,
                                   green_channel_beds=beds, green_channel_slots=slots)

    with pytest.raises(ValidationFailed) as err:
        save(1)
    assert list(err.value.errors) == ["green_channel_beds"] and "2 reserved places" in err.value.errors[
        "green_channel_beds"][0]
    assert Department.objects.get(pk=rw.cardiology.pk).green_channel_beds == 4
    save(2, slots=0)
    assert in_use(rw.cardiology) == (2, 0)
    with pytest.raises(GreenChannelFull):
        refer_up(rw, patient_id=new_patient(rw, 2).pk, green_channel=True, green_place="bed")
    with pytest.raises(GreenChannelFull) as err:
        refer_up(rw, patient_id=new_patient(rw, 3).pk, green_channel=True, green_place="slot")
    assert "keeps no green-channel" in str(err.value.message)


def test_the_sender_sees_live_availability(rw):
    refer_up(rw, green_channel=True, green_place="bed")
    dests = destinations(rw.actor("village_doctor_a"), direction="up", specialty="cardiology")
    tertiary = next(d for d in dests if d.organisation.pk == rw.orgs["tertiary"].pk)
    avail = tertiary.availability[rw.cardiology.pk]
    assert (avail.beds_free, avail.slots_free) == (3, 6)
    assert avail.as_dict()["beds_in_use"] == 1
    assert capacity.availability([rw.cardiology.pk])[rw.cardiology.pk].free("bed") == 3
