"""Referral figures on a small data set computed by hand, and who may see them."""

from __future__ import annotations

import datetime as dt

import pytest

from medunion.access.actor import system_actor
from medunion.accounts.actions import create_account
from medunion.core import clock
from medunion.core.errors import NotFound, ValidationFailed
from medunion.referrals.actions import ReferralInput, create_referral
from medunion.referrals.figures import referral_figures
from tests.referrals.conftest import (
    START,
    accept,
    cancel,
    check_in,
    complete,
    decline,
    new_patient,
    outcome,
    refer_up,
)
from tests.world import PASSWORD

H, D = dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.fixture
def data(rw):
    """Five referrals (regions: clinic_a, the county hospital and the township are in 乾县 610424;
    the tertiary hospital is in 西安 610100):

    ===  =====  =================  ===============  ========  ==============
    id   dir    from → to          accepted after   state     within county
    ===  =====  =================  ===============  ========  ==============
    R1   up     clinic_a → T       2 h              completed no
    R2   up     clinic_a → county  4 h              cancelled yes
    R3   up     clinic_a → county  —                declined  yes
    R4   down   county → clinic_a  10 h             accepted  yes
    R5   up     clinic_a → T       —                requested no      (April)
    ===  =====  =================  ===============  ========  ==============
    """
    county = dict(target_organisation_id=rw.orgs["county"].pk, target_department_id=rw.internal.pk)
    with clock.frozen(START):
        r1 = refer_up(rw)
        r2 = refer_up(rw, patient_id=new_patient(rw, 2).pk, **county)
        r3 = refer_up(rw, patient_id=new_patient(rw, 3).pk, **county)
        p4 = new_patient(rw, 4, persona="county_doctor")
        r4 = create_referral(acting=rw.actor("county_doctor"), data=ReferralInput(
            patient_id=p4.pk, direction="down", target_organisation_id=rw.orgs["clinic_a"].pk,
            target_practitioner_id=rw.pid("village_doctor_a"), reason="康复", clinical_summary="心衰稳定"))
        clock.advance(2 * H)
        r1 = complete(rw, outcome(rw, check_in(rw, accept(rw, r1))))
        clock.advance(2 * H)
        cancel(rw, accept(rw, r2, persona="county_doctor"))
        decline(rw, r3, persona="county_doctor")
        clock.advance(6 * H)
        accept(rw, r4, persona="village_doctor_a")
        clock.advance(40 * D)
        refer_up(rw, patient_id=new_patient(rw, 5).pk)
    return rw


MARCH = {"up": 3, "down": 1, "across": 0, "total": 4, "accepted": 3, "median_acceptance_hours": 4.0,
         "closed_share": 0.5, "within_county_share": 0.75}
APRIL = {"up": 1, "down": 0, "across": 0, "total": 1, "accepted": 0, "median_acceptance_hours": None,
         "closed_share": None, "within_county_share": 0.0}


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("key", "label")}


def test_figures_by_month(data):
    figures = referral_figures(data.actor("coordinator"))
    assert figures["by"] == "month"
    assert [(r["key"], _strip(r)) for r in figures["rows"]] == [("2026-04", APRIL), ("2026-03", MARCH)]
    assert figures["totals"] == {"up": 4, "down": 1, "across": 0, "total": 5, "accepted": 3,
                                 "median_acceptance_hours": 4.0, "closed_share": 0.5, "within_county_share": 0.6}


def test_figures_by_organisation_and_consortium_and_filters(data):
    coordinator = data.actor("coordinator")
    by_org = referral_figures(coordinator, by="organisation")
    assert [(r["label"], r["total"], r["median_acceptance_hours"]) for r in by_org["rows"]] == [
        ("东村卫生室", 4, 3.0), ("乾县人民医院", 1, 10.0)]
    by_consortium = referral_figures(coordinator, by="consortium")
    assert [(r["label"], r["total"]) for r in by_consortium["rows"]] == [("乾县县域医共体", 5)]
    county = referral_figures(coordinator, organisation_id=data.orgs["county"].pk)["totals"]
    assert (county["total"], county["accepted"], county["closed_share"]) == (3, 2, 0.0)
    april = referral_figures(coordinator, since=dt.date(2026, 4, 1))["totals"]
    assert april == APRIL
    march = referral_figures(coordinator, since=dt.date(2026, 3, 1), until=dt.date(2026, 3, 31))["totals"]
    assert march == MARCH
    with pytest.raises(ValidationFailed):
        referral_figures(coordinator, by="week")
    with pytest.raises(ValidationFailed):
        referral_figures(coordinator, since=dt.date(2026, 4, 1), until=dt.date(2026, 3, 1))


def test_who_sees_the_figures(data):
    system = system_actor("tests")
    world = data.world
    create_account(acting=system, username="coordinator_b", password=PASSWORD, role="coordinator",
                   display_name="外协调", consortium_ids=[world.other_consortium.pk])
    create_account(acting=system, username="commission_xian", password=PASSWORD, role="commission",
                   display_name="西安卫健委", region_code="610100000000")
    from medunion.access.actor import actor_for
    from medunion.accounts.models import User

    def actor(name: str):
        return actor_for(User.objects.get(username=name))

    cid = world.consortium.pk
    # The county's health commission sees the county's consortium.
    assert referral_figures(actor("commission_viewer"))["totals"]["total"] == 5
    assert referral_figures(actor("commission_viewer"), consortium_id=cid)["totals"]["total"] == 5
    assert referral_figures(actor("coordinator"), consortium_id=cid)["totals"]["total"] == 5
    # Another consortium's coordinator, another region's commission: not found, and nothing of it.
    for name in ("coordinator_b", "commission_xian"):
        with pytest.raises(NotFound):
            referral_figures(actor(name), consortium_id=cid)
        assert referral_figures(actor(name))["totals"]["total"] == 0
    for persona in ("village_doctor_a", "cardiologist_tertiary", "patient_a", "sysadmin", "outsider"):
        with pytest.raises(NotFound):
            referral_figures(data.actor(persona))
    with pytest.raises(NotFound):
        referral_figures(actor("coordinator"), consortium_id="not-an-id")
