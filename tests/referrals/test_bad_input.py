"""Bad input: each a clear answer on the field at fault, and nothing written (rows, audit rows,
notifications and the green-channel places in use are counted before and after)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from medunion.core import clock
from medunion.core.errors import DomainError, ValidationFailed
from medunion.network.models import Department, Organisation
from medunion.referrals.actions import PlanItem, ReferralInput, create_referral
from medunion.referrals.validation import GreenChannelFull
from tests.consults.conftest import ask, stored_file
from tests.referrals.conftest import (
    accept,
    check_in,
    new_patient,
    outcome,
    redirect,
    refer_up,
    snapshot,
)


def refused(call: Callable[[], Any], error: type[DomainError] = ValidationFailed) -> Any:
    before = snapshot()
    with pytest.raises(error) as err:
        call()
    assert snapshot() == before, "a refusal wrote something"
    return err.value


def field_errors(rw, persona: str = "village_doctor_a", **overrides: Any) -> dict[str, list[str]]:
    return refused(lambda: refer_up(rw, persona, **overrides)).errors


def only(errors: dict[str, list[str]], key: str, fragment: str) -> None:
    assert list(errors) == [key], errors
    assert any(fragment in m for m in errors[key]), errors


# --- where to ------------------------------------------------------------------------------

def test_unknown_and_malformed_organisations(rw):
    only(field_errors(rw, target_organisation_id=uuid.uuid4(), target_department_id=None),
         "target_organisation", "Unknown organisation")
    only(field_errors(rw, target_organisation_id="not-a-uuid", target_department_id=None),
         "target_organisation", "Not a valid identifier")
    only(field_errors(rw, target_organisation_id=None, target_department_id=None),
         "target_organisation", "Choose the organisation")
    Organisation.objects.filter(pk=rw.orgs["county"].pk).update(active=False)
    only(field_errors(rw, target_organisation_id=rw.orgs["county"].pk, target_department_id=rw.internal.pk),
         "target_organisation", "Unknown organisation")


def test_an_organisation_outside_the_consortium(rw):
    errors = field_errors(rw, target_organisation_id=rw.orgs["other"].pk, target_department_id=None)
    assert errors["consortium"] == ["This organisation is not in a consortium with yours."], errors


def test_unknown_department_and_a_department_of_another_organisation(rw):
    only(field_errors(rw, target_department_id=uuid.uuid4()), "target_department", "Unknown department")
    only(field_errors(rw, target_department_id=rw.internal.pk), "target_department", "Unknown department")
    only(field_errors(rw, target_department_id=None), "target_department", "Choose the receiving department")


@pytest.mark.parametrize("direction, target, message", [
    ("up", "clinic_b", "higher tier"),  # a village clinic is no higher than a village clinic
    ("up", "clinic_a", "another organisation than your own"),
    ("across", "tertiary", "same tier"),
    ("down", "township", "township or community health centre"),  # nothing is below a village clinic
])
def test_the_wrong_tier_for_the_direction(rw, direction, target, message):
    errors = field_errors(rw, direction=direction, target_organisation_id=rw.orgs[target].pk,
                          target_department_id=None, urgency="routine")
    assert any(message in m for m in errors["target_organisation"]), errors


def test_a_named_doctor_who_does_not_practise_there(rw):
    only(field_errors(rw, target_practitioner_id=rw.pid("county_doctor")), "target_practitioner",
         "does not practise at")


# --- the green channel -----------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    ({"urgency": "routine"}, "urgent and emergency referrals only"),
    ({"green_place": ""}, "Choose a reserved bed"),
    ({"green_place": "sofa"}, "Choose a reserved bed"),
])
def test_green_channel_input(rw, overrides, message):
    data = {"green_channel": True, "green_place": "bed", **overrides}
    errors = field_errors(rw, **data)
    assert any(message in m for ms in errors.values() for m in ms), errors


def test_no_green_channel_downwards(rw):
    patient = new_patient(rw, 7, persona="county_doctor")
    errors = field_errors(rw, "county_doctor", patient_id=patient.pk, direction="down",
                          target_organisation_id=rw.orgs["township"].pk, target_department_id=None,
                          green_channel=True, green_place="bed")
    only(errors, "green_channel", "upward referrals only")


def test_a_full_green_channel_is_409_and_takes_nothing(rw):
    Department.objects.filter(pk=rw.cardiology.pk).update(green_channel_beds_in_use=4)
    err = refused(lambda: refer_up(rw, green_channel=True, green_place="bed"), GreenChannelFull)
    assert err.status == 409 and err.code == "green_channel_full" and err.field == "green_channel"
    assert "all 4 reserved bed places are taken" in str(err.message)
    # A slot is still free: that works.
    r = refer_up(rw, green_channel=True, green_place="slot")
    assert r.green_held and Department.objects.get(pk=rw.cardiology.pk).green_channel_slots_in_use == 1


def test_a_department_without_reserved_places(rw):
    from medunion.access.actor import system_actor
    from medunion.network.actions import save_department

    save_department(acting=system_actor("tests"), organisation_id=rw.orgs["county"].pk, code="NEI", name="内科",
                    specialty="internal_medicine", beds=30, daily_slots=20)
    err = refused(lambda: refer_up(rw, target_organisation_id=rw.orgs["county"].pk,
                                   target_department_id=rw.internal.pk, green_channel=True, green_place="bed"),
                  GreenChannelFull)
    assert "keeps no green-channel" in str(err.message)


# --- dates, text, the plan -------------------------------------------------------------------

def test_past_and_malformed_dates(rw):
    yesterday = clock.today() - dt.timedelta(days=1)
    only(field_errors(rw, requested_by=yesterday), "requested_by", "cannot be in the past")
    only(field_errors(rw, requested_by="31/12/2026"), "requested_by", "YYYY-MM-DD")
    r = refer_up(rw, requested_by=clock.today())
    assert r.requested_by == clock.today()


def test_missing_text_and_bad_choices_are_all_reported_at_once(rw):
    errors = field_errors(rw, reason=" ", clinical_summary="", urgency="soon", direction="sideways")
    assert set(errors) >= {"reason", "clinical_summary", "urgency", "direction"}
    only(field_errors(rw, reason="x" * 501), "reason", "At most 500")


def _down(rw, plan: list[Any], **extra: Any) -> Any:
    patient = new_patient(rw, 8, persona="county_doctor")
    data = ReferralInput(patient_id=patient.pk, direction="down", target_organisation_id=rw.orgs["township"].pk,
                         reason="康复", clinical_summary="心衰稳定", discharge_summary="出院小结", plan=plan, **extra)
    return lambda: create_referral(acting=rw.actor("county_doctor"), data=data)


@pytest.mark.parametrize("item, message", [
    (PlanItem(kind="dance", description="x", due_in_days=3), "choose what kind of step"),
    (PlanItem(kind="visit", description=" ", due_in_days=3), "say what to do"),
    (PlanItem(kind="visit", description="家访", due_in_days=366), "number of days from 0 to 365"),
    (PlanItem(kind="visit", description="家访", due_in_days=-1), "number of days from 0 to 365"),
    (PlanItem(kind="visit", description="家访"), "number of days from 0 to 365"),
    (PlanItem(kind="visit", description="家访", due_on="2020-01-01"), "due date from today on"),
    (PlanItem(kind="visit", description="家访", due_on="someday"), "due date from today on"),
    ({"kind": "check", "description": 42, "due_in_days": True}, "say what to do"),
])
def test_invalid_plan_items(rw, item, message):
    ok = PlanItem(kind="check", description="测血压", due_in_days=7)
    call = _down(rw, [ok, item])
    errors = refused(call).errors
    only(errors, "plan", "Step 2")
    assert message in errors["plan"][0]


def test_too_many_plan_items_and_a_plan_on_an_upward_referral(rw):
    step = PlanItem(kind="check", description="测血压", due_in_days=7)
    only(refused(_down(rw, [step] * 21)).errors, "plan", "At most 20")
    only(field_errors(rw, plan=[step]), "plan", "downward referral")
    only(field_errors(rw, discharge_summary="出院小结"), "plan", "downward referral")


# --- the patient, the consult, the files ---------------------------------------------------

def test_a_patient_the_sender_cannot_see(rw):
    other = new_patient(rw, 9, persona="village_doctor_b")
    only(field_errors(rw, patient_id=other.pk), "patient", "Unknown patient")
    only(field_errors(rw, patient_id=uuid.uuid4()), "patient", "Unknown patient")
    only(field_errors(rw, patient_id=None), "patient", "Choose the patient")


def test_a_consult_of_another_patient_or_unknown(rw):
    other = new_patient(rw, 10)
    consult = ask(rw, patient_id=other.pk)
    only(field_errors(rw, consult_id=consult.pk), "consult", "about another patient")
    only(field_errors(rw, consult_id=uuid.uuid4()), "consult", "Unknown consultation")
    mine = ask(rw)
    assert refer_up(rw, consult_id=mine.pk).consult_id == mine.pk


def test_files_not_sent_by_the_actor_or_of_another_patient(rw):
    theirs = stored_file(rw, "cardiologist_tertiary")
    errors = field_errors(rw, attachments=[theirs])
    only(errors, "attachments", "was not sent by you")
    other = new_patient(rw, 11)
    wrong_patient = stored_file(rw, "village_doctor_a", patient=other, name="other.jpg")
    only(field_errors(rw, attachments=[wrong_patient]), "attachments", "belongs to another patient")
    only(field_errors(rw, attachments=["not a file"]), "attachments", "Unknown file")
    mine = stored_file(rw, "village_doctor_a")
    r = refer_up(rw, attachments=[mine, mine])
    assert list(r.attachments.values_list("file_id", flat=True)) == [mine.pk]


# --- the later steps -------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, key", [
    ({"admit_kind": "hotel"}, "admit_kind"),
    ({"appointment_at": None}, "appointment_at"),
    ({"appointment_at": "tomorrow"}, "appointment_at"),
    ({"appointment_at": "2020-01-01T09:00:00+08:00"}, "appointment_at"),
    ({"location": ""}, "location"),
])
def test_accept_input(rw, overrides, key):
    r = refer_up(rw, green_channel=True, green_place="bed")
    only(refused(lambda: accept(rw, r, **overrides)).errors, key, "")


def test_redirect_input(rw):
    r = refer_up(rw, green_channel=True, green_place="bed")
    only(refused(lambda: redirect(rw, r, organisation_id=uuid.uuid4())).errors, "target_organisation", "Unknown")
    errors = refused(lambda: redirect(rw, r, organisation_id=rw.orgs["other"].pk, department_id=None)).errors
    assert errors["target_organisation"] == ["This organisation is not a member of the consortium."], errors
    only(refused(lambda: redirect(rw, r, department_id=rw.cardiology.pk)).errors, "target_department",
         "Unknown department")
    only(refused(lambda: redirect(rw, r, organisation_id=rw.orgs["tertiary"].pk, department_id=rw.cardiology.pk))
         .errors, "target_department", "Choose another department")
    errors = refused(lambda: redirect(rw, r, organisation_id=rw.orgs["clinic_b"].pk, department_id=None)).errors
    assert "higher tier" in errors["target_organisation"][0], errors
    only(refused(lambda: redirect(rw, r, reason=" ")).errors, "reason", "Give a reason")


def test_outcome_input(rw):
    r = check_in(rw, accept(rw, refer_up(rw)))
    only(refused(lambda: outcome(rw, r, summary="")).errors, "summary", "treatment summary")
    only(refused(lambda: outcome(rw, r, review_at=clock.now() - dt.timedelta(days=1))).errors, "review_at",
         "cannot be in the past")
    only(refused(lambda: outcome(rw, r, refer_down=True)).errors, "discharge_summary", "discharge summary")
    only(refused(lambda: outcome(rw, r, discharge_summary="小结", plan=[PlanItem(kind="x", description="y")])).errors,
         "plan", "Step 1")
