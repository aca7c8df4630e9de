"""The referral pages through Django's test client: each page renders for the people it is for, in
both languages; the refer form is pre-filled from a consultation's answer, shows the live referral
first, and refuses an unlicensed clinician naming what is missing; the availability fragment
follows the reserved places; a double-submitted form sends once; the patient's pages hold no
clinical content; list pages keep a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from medunion.accounts.models import User
from medunion.consults.actions import AnswerInput, ConsultInput, answer_consult, claim_consult, create_consult
from medunion.core import clock
from medunion.referrals.models import Referral
from tests.pins import AUDIT
from tests.referrals.conftest import START, accept, refer_up

pytestmark = pytest.mark.django_db

SUMMARY = "胸痛三天，ST段压低。"


@pytest.fixture(autouse=True)
def _relaxed_second_factor(settings):
    settings.MEDUNION_REQUIRE_MFA = False


def client(persona: str, lang: str = "en") -> Client:
    c = Client(headers={"accept-language": lang})
    c.force_login(User.objects.get(username=persona))
    return c


def send_form(rw, **extra):
    return {"once": "a" * 32, "patient": rw.patient.pk, "direction": "up", "urgency": "urgent",
            "destination": f"{rw.orgs['tertiary'].pk}/{rw.cardiology.pk}", "green_channel": "on",
            "green_place": "bed", "reason": "胸痛", "clinical_summary": SUMMARY, **extra}


def test_the_loop_through_the_pages_in_both_languages(rw):
    with clock.frozen(START):
        doctor = client("village_doctor_a", "zh-hans")
        page = doctor.get(f"/referrals/new?patient={rw.patient.pk}")
        assert page.status_code == 200 and 'data-testid="refer-form"' in page.content.decode()
        sent = doctor.post("/referrals/new", send_form(rw))
        assert sent.status_code == 302
        ref = Referral.objects.get()
        assert sent["Location"] == f"/referrals/{ref.pk}"
        again = doctor.post("/referrals/new", send_form(rw))  # a double tap: the same once token
        assert again.status_code == 302 and Referral.objects.count() == 1
        cardio = client("cardiologist_tertiary")
        assert ref.reason in cardio.get("/referrals?list=incoming").content.decode()
        accepted = cardio.post(f"/referrals/{ref.pk}/accept", {
            "once": "b" * 32, "version": ref.version, "admit_kind": "bed", "appointment_at": "2026-03-02T15:00",
            "location": "5楼12床", "bring": "身份证"})
        assert accepted.status_code == 302
        stale = client("cardiologist_b").post(f"/referrals/{ref.pk}/accept", {
            "once": "c" * 32, "version": 0, "admit_kind": "bed", "appointment_at": "2026-03-02T15:00",
            "location": "5楼12床"})
        assert stale.status_code == 409 and "王建生" in stale.content.decode()
        ref.refresh_from_db()
        slip = cardio.get(f"/referrals/{ref.pk}/slip.pdf")
        assert slip.status_code == 200 and slip.content.startswith(b"%PDF")
        desk = client("cardiologist_b", "zh-hans")
        assert desk.get(f"/referrals/checkin?code={ref.checkin_code}").status_code == 302
        assert desk.get(f"/referrals/checkin/{ref.checkin_code}").status_code == 200
        assert desk.post(f"/referrals/checkin/{ref.checkin_code}").status_code == 302
        assert Referral.objects.get(pk=ref.pk).state == "arrived"
        patient = client("patient_a", "zh-hans")
        mine = patient.get(f"/me/referrals/{ref.pk}").content.decode()
        assert "5楼12床" in mine and SUMMARY not in mine and "胸痛" not in mine
        assert patient.get(f"/referrals/{ref.pk}").status_code == 302  # the patient's own page instead


def test_the_refer_form_is_prefilled_from_a_consultation_that_recommends_referral(rw):
    with clock.frozen(START):
        doctor, cardio = rw.actor("village_doctor_a"), rw.actor("cardiologist_tertiary")
        consult = create_consult(acting=doctor, data=ConsultInput(
            specialty="cardiology", urgency="urgent", question="胸闷两天，是否需要转诊？", patient_id=rw.patient.pk))
        claim_consult(acting=cardio, consult_id=consult.pk)
        answer_consult(acting=cardio, consult_id=consult.pk, data=AnswerInput(
            assessment="不稳定型心绞痛", recommendation="referral", referral_specialty="cardiology",
            referral_notes="建议转上级医院行冠脉造影"))
        case = client("village_doctor_a").get(f"/consults/{consult.pk}").content.decode()
        assert 'data-testid="refer-from-answer"' in case
        page = client("village_doctor_a").get(f"/referrals/new?consult={consult.pk}&direction=up").content.decode()
        assert "建议转上级医院行冠脉造影" in page and "不稳定型心绞痛" in page
        assert f'name="consult" value="{consult.pk}"' in page
        assert "心内科" in page  # departments of the recommended specialty are offered


def test_a_live_referral_is_shown_first_and_the_unlicensed_are_told_what_they_lack(rw):
    with clock.frozen(START):
        ref = refer_up(rw)
        page = client("village_doctor_a").get(f"/referrals/new?patient={rw.patient.pk}&direction=up").content.decode()
        assert 'data-testid="live-referral"' in page and f"/referrals/{ref.pk}" in page
        assert 'data-testid="refer-form"' not in page
        refused = client("village_doctor_b", "zh-hans").get("/referrals/new")
        assert refused.status_code == 403
        body = refused.content.decode()
        assert 'data-missing="exam"' in body and 'data-missing="licence"' in body
        assert 'data-missing="training"' not in body


def test_the_availability_fragment_follows_the_reserved_places(rw):
    with clock.frozen(START):
        url = f"/referrals/availability?destination={rw.orgs['tertiary'].pk}/{rw.cardiology.pk}"
        before = client("village_doctor_a").get(url).content.decode()
        assert 'data-beds-free="4"' in before
        refer_up(rw, green_channel=True, green_place="bed")
        after = client("village_doctor_a").get(url).content.decode()
        assert 'data-beds-free="3"' in after and 'data-slots-free="6"' in after


def test_follow_up_tasks_are_recorded_once_from_the_page(rw):
    from medunion.referrals.actions import OutcomeInput, PlanItem, check_in, return_outcome
    from medunion.referrals.models import FollowUpTask

    with clock.frozen(START):
        ref = accept(rw, refer_up(rw))
        check_in(acting=rw.actor("cardiologist_tertiary"), referral_id=ref.pk)
        return_outcome(acting=rw.actor("cardiologist_tertiary"), referral_id=ref.pk, data=OutcomeInput(
            summary="PCI", refer_down=True, discharge_summary="stable",
            plan=[PlanItem(kind="visit", description="home visit", due_in_days=0)]))
        task = FollowUpTask.objects.get()
        doctor = client("village_doctor_a")
        assert "home visit" in doctor.get("/referrals/tasks").content.decode()
        prefix = f"t{task.pk.hex[:8]}"
        form = {f"{prefix}-once": "d" * 32, f"{prefix}-version": "0", f"{prefix}-result": "BP 130/80",
                f"{prefix}-problem": "on"}
        assert doctor.post(f"/referrals/tasks/{task.pk}/complete", form).status_code == 302
        assert doctor.post(f"/referrals/tasks/{task.pk}/complete", form).status_code == 302  # resent: once
        task.refresh_from_db()
        assert task.state == "problem" and task.result == "BP 130/80"
        # Someone else's task is not there at all.
        assert client("village_doctor_b").post(f"/referrals/tasks/{task.pk}/complete", form).status_code == 404


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_coordinator_and_commission_pages(rw, lang):
    with clock.frozen(START):
        accept(rw, refer_up(rw, green_channel=True, green_place="bed"))
        coordinator = client("coordinator", lang)
        figures = coordinator.get("/network/referrals?by=organisation")
        assert figures.status_code == 200 and "东村卫生室" in figures.content.decode()
        capacity = coordinator.get("/network/referrals/capacity").content.decode()
        assert "1 / 4" in capacity  # reserved beds in use / reserved
        low = coordinator.post(f"/network/referrals/capacity/{rw.cardiology.pk}", {
            f"{rw.cardiology.pk.hex[:8]}-green_channel_beds": "0", f"{rw.cardiology.pk.hex[:8]}-green_channel_slots": "6"},
            follow=True)
        refused = "held by live referrals" if lang == "en" else "进行中的转诊已占用"
        assert refused in low.content.decode()
        assert rw.cardiology.__class__.objects.get(pk=rw.cardiology.pk).green_channel_beds == 4
        assert client("commission_viewer", lang).get("/network/referrals").status_code == 200
        assert client("village_doctor_a", lang).get("/network/referrals").status_code == 404


def test_list_pages_keep_a_fixed_number_of_queries(rw):
    from medunion.patients.actions import PatientInput, register_patient
    from medunion.patients.identity import make_resident_id

    def count(persona: str, url: str) -> int:
        c = client(persona)
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return len(ctx.captured_queries)

    with clock.frozen(START):
        refer_up(rw)
        small = {"incoming": count("cardiologist_tertiary", "/referrals?list=incoming"),
                 "sent": count("village_doctor_a", "/referrals?list=sent")}
        for i in range(6):
            number = make_resident_id("610424", dt.date(1950 + i, 1, 2), 30 + i, male=True)
            p = register_patient(acting=rw.actor("village_doctor_a"), data=PatientInput(
                name=f"患者{i}", id_number=number, phone=f"1390000000{i}", region_code="610424100201"))
            refer_up(rw, patient_id=p.pk)
        big = {"incoming": count("cardiologist_tertiary", "/referrals?list=incoming"),
               "sent": count("village_doctor_a", "/referrals?list=sent")}
        assert big == small, (small, big)
        assert big["incoming"] <= 22 + AUDIT
