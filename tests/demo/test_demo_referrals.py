"""The demo's referrals, made through the actions: the personas' live work, two and a half
months of history for the figures, green-channel places that match what is held, consistent
timelines, read old news, and an audit chain that verifies."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.db.models import Count, Q
from django.test import RequestFactory
from django.utils import timezone

from medunion.access.actor import Actor, actor_for
from medunion.accounts.models import User
from medunion.audit.models import AuditEvent
from medunion.audit.verify import verify_chain
from medunion.core import clock
from medunion.demo.personas import LOGINS, PASSWORD
from medunion.network.models import Department, PracticeSite
from medunion.network.queries import privilege_status
from medunion.notifications.models import Notification
from medunion.referrals import actions as ra
from medunion.referrals.figures import referral_figures
from medunion.referrals.machine import PrivilegeMissing
from medunion.referrals.models import FollowUpTask, Referral, ReferralEntry, TaskState
from medunion.referrals.queries import (
    access_slip,
    is_overdue,
    listing,
    my_tasks,
    outcome_missing,
    patient_referrals,
    referral_view,
)
from medunion.referrals.slip import render_slip
from medunion.referrals.states import LIVE_STATES, State

from .conftest import HASHERS

pytestmark = pytest.mark.django_db


def actor(username: str) -> Actor:
    return actor_for(User.objects.get(username=username))


def test_the_cardiologist_has_an_urgent_green_channel_referral_waiting(demo):
    cardio = actor("cardio")
    waiting = listing(cardio, "incoming").filter(direction="up", urgency="urgent", green_channel=True)
    assert waiting.exists()
    r = waiting.first()
    assert r.state == State.REQUESTED and r.green_held and r.green_place == "bed"
    assert r.target_department.code == "CARD" and r.target_organisation.tier == "tertiary_hospital"
    assert not is_overdue(r) and r.sender.pk == User.objects.get(username="township").practitioner_id


def test_the_demo_patient_sees_her_accepted_referral_and_slip(demo):
    patient = actor("patient")
    mine = patient_referrals(patient)
    accepted = [r for r in mine if r.state == State.ACCEPTED]
    assert len(accepted) == 1
    r = accepted[0]
    assert r.appointment_at > clock.now() and r.location and "身份证" in r.bring and r.checkin_code
    assert r.consult_id is not None and r.consult.patient_id == demo.demo_patient_id
    assert r.receiver.pk == User.objects.get(username="cardio").practitioner_id
    view = referral_view(patient, r)
    assert {e.audience for e in view.entries} == {"patient"}
    update = next(e for e in view.entries if e.event == "accept")
    assert update.detail["location"] == r.location and update.detail["bring"] == r.bring
    assert any(e.kind == "message" for e in view.entries)  # the cardiologist's word to her
    pdf = render_slip(access_slip(patient, r.pk), base_url="http://127.0.0.1:8000")
    assert pdf.startswith(b"%PDF")


def test_the_village_doctor_has_follow_ups_due_today_and_this_week(demo):
    village = actor("village")
    assert privilege_status(village.practitioner_id, demo.consortia["community"], "transfer_patients").granted
    today = timezone.localdate(clock.now())
    due = list(my_tasks(village).filter(due_on__lte=today + dt.timedelta(days=7)))
    assert any(t.due_on == today for t in due) and any(t.due_on > today for t in due)
    back = {t.referral for t in due if t.due_on >= today}
    assert any(r.direction == "down" and r.state == State.ARRIVED and r.parent is not None
               and r.parent.sender_id == village.practitioner_id for r in back)
    # the first follow-up (yesterday) is recorded already
    done = FollowUpTask.objects.filter(referral__in=back, state=TaskState.DONE)
    assert done.exists() and all(t.completed_by_id == village.practitioner_id for t in done)


def test_an_overdue_outcome_is_flagged_and_an_unanswered_referral_escalated(demo):
    flagged = Referral.objects.exclude(outcome_flagged_at=None)
    assert flagged.count() == 1
    r = flagged.get()
    assert outcome_missing(r) and r.outcome_due_at < r.outcome_flagged_at < clock.now()
    assert ReferralEntry.objects.filter(referral=r, event="outcome_missing").count() == 1

    escalated = Referral.objects.filter(escalation_level=1)
    assert escalated.count() == 1
    e = escalated.get()
    assert e.state == State.REQUESTED and is_overdue(e)
    assert AuditEvent.objects.filter(action="referral.escalate", object_id=str(e.pk)).count() == 1
    # nothing else is past its clock: the worker's next round finds nothing to escalate or flag
    late = Referral.objects.filter(Q(state=State.REQUESTED, escalate_at__lt=clock.now())
                                   | Q(state__in=[State.ACCEPTED, State.ARRIVED], outcome_due_at__lt=clock.now()))
    assert set(late.values_list("pk", flat=True)) == {r.pk, e.pk}


def test_the_colleague_without_the_exam_is_refused_naming_it(demo):
    colleague = demo.missing_exam_practitioner_id
    site = PracticeSite.objects.get(practitioner_id=colleague)
    acting = Actor(user_id=None, username="colleague", display="colleague", role="practitioner",
                   practitioner_id=colleague, org_ids=frozenset({site.organisation_id}),
                   consortium_ids=frozenset({demo.consortia["community"]}))
    patient = Referral.objects.filter(sender_organisation=site.organisation).first().patient
    county = Department.objects.get(organisation__code="FP-XYY", code="CARD")
    with pytest.raises(PrivilegeMissing) as refused:
        ra.create_referral(acting=acting, data=ra.ReferralInput(
            patient_id=patient.pk, direction="up", target_organisation_id=county.organisation_id,
            target_department_id=county.pk, reason="胸闷", clinical_summary="反复胸闷"))
    assert refused.value.details["missing"] == ["exam"]


def test_two_and_a_half_months_of_history(demo):
    by = Counter(Referral.objects.values_list("direction", "state"))
    up = sum(n for (d, _s), n in by.items() if d == "up")
    down = sum(n for (d, _s), n in by.items() if d == "down")
    assert 38 <= up <= 50 and 70 <= down <= 90
    assert by[("up", State.COMPLETED)] >= 20 and by[("down", State.COMPLETED)] >= 25
    assert by[("up", State.DECLINED)] >= 2 and by[("up", State.CANCELLED)] >= 1
    assert not Referral.objects.filter(state__in=[State.DECLINED, State.CANCELLED], status_reason="").exists()
    assert Referral.objects.filter(redirect_count__gt=0, state=State.COMPLETED).exists()
    assert 8 <= Referral.objects.filter(green_channel=True).count() <= 14
    assert Referral.objects.filter(closed_automatically=True).exists()
    assert Referral.objects.filter(closed_automatically=False, state=State.COMPLETED).exists()
    assert Referral.objects.filter(direction="down", parent__isnull=False).count() >= 10
    assert Referral.objects.filter(direction="up", target_organisation__code="FP-XYY").exists()
    assert Referral.objects.filter(direction="up", target_organisation__code="XJTU-FAH").exists()
    assert set(Referral.objects.values_list("consortium_id", flat=True)) == {demo.consortia["community"]}

    tasks = Counter(FollowUpTask.objects.values_list("state", flat=True))
    assert tasks[TaskState.DONE] > tasks[TaskState.SCHEDULED] > 0 and tasks[TaskState.PROBLEM] == 1
    problem = FollowUpTask.objects.get(state=TaskState.PROBLEM)
    assert Notification.objects.filter(kind="followup.problem", object_id=str(problem.referral_id)).exists()

    figures = referral_figures(actor("coordinator"), by="month")
    assert len(figures["rows"]) >= 3
    assert figures["totals"]["up"] == up and figures["totals"]["down"] == down
    assert figures["totals"]["median_acceptance_hours"] is not None and figures["totals"]["closed_share"] > 0.4


def test_green_channel_places_in_use_match_the_referrals_holding_them(demo):
    held = Counter(Referral.objects.filter(green_held=True).values_list("target_department_id", "green_place"))
    assert held, "some live referrals hold places"
    for d in Department.objects.all():
        assert d.green_channel_beds_in_use == held[(d.pk, "bed")], d
        assert d.green_channel_slots_in_use == held[(d.pk, "slot")], d
    # nothing that is over holds a place; a slot is used up on arrival, a bed on discharge
    assert not Referral.objects.filter(green_held=True).exclude(state__in=list(LIVE_STATES)).exists()
    assert not Referral.objects.filter(green_held=True, green_place="slot", state=State.ARRIVED).exists()
    cardiology = Department.objects.get(organisation__code="XJTU-FAH", code="CARD")
    assert cardiology.green_channel_beds_in_use < cardiology.green_channel_beds  # free places for the browser demo
    assert cardiology.green_channel_slots_in_use < cardiology.green_channel_slots


def test_timelines_run_in_time_order_and_old_news_is_read(demo):
    now = clock.now()
    assert not Referral.objects.filter(created_at__gt=now).exists()
    assert not Referral.objects.values("patient", "direction").filter(state__in=list(LIVE_STATES)) \
        .annotate(n=Count("id")).filter(n__gt=1).exists()
    seqs: dict = {}
    for referral_id, seq, at in ReferralEntry.objects.order_by("referral_id", "seq").values_list(
            "referral_id", "seq", "created_at"):
        seqs.setdefault(referral_id, []).append((seq, at))
    last = dict(Referral.objects.values_list("pk", "last_seq"))
    for referral_id, rows in seqs.items():
        assert [s for s, _at in rows] == list(range(1, last[referral_id] + 1))
        times = [at for _s, at in rows]
        assert times == sorted(times) and times[-1] <= now
    assert not Notification.objects.filter(created_at__lt=now - dt.timedelta(days=1), read_at=None).exists()
    assert Notification.objects.filter(user__username="cardio", read_at=None, kind="referral.new").exists()


def test_the_history_clinicians_act_through_their_own_accounts(demo, settings):
    settings.PASSWORD_HASHERS = HASHERS
    personas = {u for u, _who, _try in LOGINS}
    others = User.objects.exclude(username__in=personas)
    assert others.count() == demo.counts["clinician accounts"] > 10
    assert set(others.values_list("role", flat=True)) == {"practitioner"}
    assert all(u.practitioner_id for u in others)
    someone = others.first()
    assert authenticate(RequestFactory().post("/login"), username=someone.username, password=PASSWORD) is None
    senders = set(Referral.objects.values_list("sender_id", flat=True))
    assert senders <= set(User.objects.values_list("practitioner_id", flat=True))
    assert not ReferralEntry.objects.filter(author_id=None).exclude(
        event__in=["escalate", "outcome_missing", "complete"]).exists()


def test_the_audit_chain_verifies_and_every_step_is_recorded(demo):
    assert verify_chain().ok
    referrals = Referral.objects.count()
    assert AuditEvent.objects.filter(action="referral.create").count() == referrals
    accepted = Referral.objects.exclude(accepted_at=None).count()
    assert AuditEvent.objects.filter(action="referral.accept").count() == accepted
    assert AuditEvent.objects.filter(action="referral.follow_up.complete").count() == \
        FollowUpTask.objects.exclude(state__in=[TaskState.SCHEDULED, TaskState.CANCELLED]).count()
