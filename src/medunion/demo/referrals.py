"""The demo's tiered referrals, made through the same actions the referral pages call, so the
inboxes, referral pages, the patient's slip, the follow-up task lists and the figures have
something to show.

Two and a half months of history in the county medical community: village doctors and township
GPs refer patients up to the county hospital and the tertiary hospital (about a quarter through
the green channel); most are accepted, arrive, get their outcome back and are closed by the
referring clinician or, fourteen days later, by the platform; a few are declined or redirected
with a reason, one is cancelled. Patients come back down for rehabilitation — from the hospitals
with the outcome, and from the township health centres after a stay there — with plans whose
follow-up tasks the village doctors record (one found a problem).

Live work for the personas: an urgent green-channel referral waiting in the cardiologist's
inbox; the demo patient's accepted referral with an appointment, where to go and what to bring;
a patient back with the village doctor with follow-ups due today and this week; a referral whose
outcome is overdue (flagged by the worker) and one unanswered past its escalation time.

The history's clinicians act through accounts of their own (random, unpublished passwords);
the personas' accounts are the published ones. Every step runs under the frozen clock at its
time; notifications go to the in-app inboxes only, and what is older than a day has been read.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone

from medunion.access.actor import Actor, actor_for, system_actor
from medunion.accounts.actions import create_account
from medunion.accounts.models import Role
from medunion.consults.models import Consult
from medunion.core import clock
from medunion.network.models import Department, Organisation, Practitioner
from medunion.network.queries import privilege_status
from medunion.notifications.models import Notification
from medunion.patients.models import Patient
from medunion.referrals import actions as ra
from medunion.referrals import worker
from medunion.referrals.models import FollowUpTask, Referral
from medunion.referrals.states import State
from medunion.referrals.validation import GreenChannelFull

from .consults import _inbox_only
from .personas import _quick_hashing
from .referral_cases import (
    ACCEPT_NOTES,
    BACK_HOME,
    BRING_DOWN,
    BRING_UP,
    CANCELS,
    DECLINES,
    DOWN_CASES,
    INTERIM_NOTES,
    PROBLEM_RESULT,
    REDIRECTS,
    RESULTS,
    UP_CASES,
    DownCase,
    Plan,
    UpCase,
)
from .state import DemoState

HISTORY_DAYS = 76  # spans three calendar months, for the figures page
UP_HISTORY = 40
DOWN_TOTAL = 80
TEAMS = 3  # township GPs' family-doctor teams whose clinics take part
CLINICS_PER_TEAM = 5
COUNTY_DEPTS = {"CARD", "BRST", "ONCO", "NEUR"}  # where a tertiary department may redirect within the county

H, MIN, DAY = dt.timedelta(hours=1), dt.timedelta(minutes=1), dt.timedelta(days=1)


@dataclass
class Clinic:
    org: Organisation
    doctor: Actor
    patients: list[Patient]


@dataclass
class TeamSide:
    gp: Actor
    centre: Organisation
    clinics: list[Clinic] = field(default_factory=list)

    @property
    def patients(self) -> list[Patient]:
        return [p for c in self.clinics for p in c.patients]


def build_referrals(state: DemoState) -> None:
    if not all(k in state.users for k in ("village", "township", "cardio", "breast", "patient")):
        return
    with _inbox_only(), _quick_hashing():
        _Builder(state).run()


class _Builder:
    def __init__(self, state: DemoState) -> None:
        self.state, self.rng = state, state.rng
        self.now = clock.now()
        self.limit = self.now - 5 * MIN  # nothing in the history happens later than this
        self.start = self.now - HISTORY_DAYS * DAY
        self.zone = timezone.get_current_timezone()
        self.community = state.consortia["community"]
        self.used: set[uuid.UUID] = set()
        self.specialists: dict[tuple[str, str], Actor | None] = {}
        self.accounts = 0
        self.teams: list[TeamSide] = []
        self.clinic_of: dict[uuid.UUID, Clinic] = {}
        self.team_of: dict[uuid.UUID, TeamSide] = {}
        self.village_patients: set[uuid.UUID] = set()
        self._steady: dict[Any, bool] = {}
        self._personas: dict[str, Actor] = {}
        self.problem_wanted = True

    # --- time -----------------------------------------------------------------------------

    def at(self, when: dt.datetime) -> Any:
        return clock.frozen(when)

    def local(self, day: dt.date, hours: float) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.zone) + dt.timedelta(hours=hours)

    def working_time(self, days_ago: float) -> dt.datetime:
        day = timezone.localtime(self.now - days_ago * DAY, self.zone).date()
        when = self.local(day, self.rng.uniform(8, 17.5))
        return when if when < self.limit else self.limit - self.rng.uniform(60, 180) * MIN

    def today(self) -> dt.date:
        return timezone.localtime(self.now, self.zone).date()

    # --- who ------------------------------------------------------------------------------

    def privileged(self, practitioner_id: Any, on: dt.date) -> bool:
        return privilege_status(practitioner_id, self.community.pk, "transfer_patients", on=on).granted

    def steady(self, practitioner_id: Any) -> bool:
        """Holds the privilege from the start of the history until today."""
        if practitioner_id not in self._steady:
            self._steady[practitioner_id] = self.privileged(practitioner_id, self.start.date()) \
                and self.privileged(practitioner_id, self.today())
        return self._steady[practitioner_id]

    def persona(self, key: str) -> Actor:
        if key not in self._personas:
            self._personas[key] = actor_for(self.state.users[key])
        return self._personas[key]

    def account(self, p: Practitioner) -> Actor:
        """An account for a clinician of the history; its password is random and never shown."""
        user = create_account(acting=system_actor("demo"), username=f"dr{p.licence_number.lower()}",
                              password=secrets.token_urlsafe(18), role=Role.PRACTITIONER, display_name=p.name,
                              practitioner_id=p.pk)
        self.accounts += 1
        return actor_for(user)

    def cast(self) -> None:
        s = self.state
        by_clinic: dict[uuid.UUID, list[Patient]] = {}
        for p in s.patients[1:]:  # the demo patient has her own referral
            by_clinic.setdefault(p.registered_at_id, []).append(p)
        for t in s.townships:
            if len(self.teams) == TEAMS:
                break
            gp = s.township_gps[t.code][0]
            first = s.family_teams[t.villages[0].code]
            if not self.steady(gp.pk):
                continue
            side = TeamSide(self.persona("township") if gp == s.personas["township"] else self.account(gp),
                            s.centres[t.code])
            villages = [v for v in t.villages if s.family_teams[v.code] is first]
            villages.sort(key=lambda v: -len(by_clinic.get(s.clinics[v.code].pk, [])))  # the busiest clinics
            for v in villages:
                if len(side.clinics) == CLINICS_PER_TEAM:
                    break
                clinic = s.clinics[v.code]
                if s.personas["village"] in s.village_doctors[v.code]:
                    doctor = self.persona("village") if self.steady(s.personas["village"].pk) else None
                else:
                    found = next((d for d in s.village_doctors[v.code]
                                  if d is not s.missing_exam and self.steady(d.pk)), None)
                    doctor = self.account(found) if found is not None else None
                if doctor is not None:
                    side.clinics.append(Clinic(clinic, doctor, by_clinic.get(clinic.pk, [])))
            if side.clinics:
                self.teams.append(side)
            for c in side.clinics:
                self.clinic_of[c.org.pk] = c
                self.team_of[c.org.pk] = side
        village_org = next(iter(self.persona("village").org_ids))
        self.village_patients = {p.pk for p in by_clinic.get(village_org, [])}

    def specialist(self, hospital: str, dept: str, patient: Patient | None = None) -> Actor | None:
        """Who answers at this department: the cardiologist persona for the village doctor's own
        patients, the breast surgeon persona for the breast department, otherwise a privileged
        colleague there."""
        s = self.state
        if (hospital, dept) == ("tertiary", "CARD") and patient is not None and patient.pk in self.village_patients \
                and self.steady(s.personas["cardio"].pk):
            return self.persona("cardio")
        if (hospital, dept) == ("tertiary", "BRST") and self.steady(s.personas["breast"].pk):
            return self.persona("breast")
        if (hospital, dept) not in self.specialists:
            personas = set(s.personas.values())
            staff = [x.practitioner for x in s.specialists.get((hospital, dept), [])]
            chosen = next((p for p in staff[1:] + staff[:1] if p not in personas and self.steady(p.pk)), None)
            self.specialists[(hospital, dept)] = self.account(chosen) if chosen is not None else None
        return self.specialists[(hospital, dept)]

    def patient(self, pool: Iterable[Patient], sex: str = "", ages: tuple[int, int] = (18, 100)) -> Patient | None:
        today = self.state.today
        free = [p for p in pool if p.pk not in self.used and (not sex or p.sex == sex)]
        fits = [p for p in free if ages[0] <= today.year - p.birth_date.year <= ages[1]] \
            or [p for p in free if today.year - p.birth_date.year >= 18]
        if not fits:
            return None
        chosen = self.rng.choice(fits)
        self.used.add(chosen.pk)
        return chosen

    # --- the steps --------------------------------------------------------------------------

    def location(self, org: Organisation, dept: Department | None, admit: str) -> str:
        if dept is None:
            return org.name
        floor = self.rng.randint(2, 9)
        if admit == "bed":
            return f"{org.name}住院部{floor}楼 {dept.name}护士站"
        return f"{org.name}门诊楼{floor}层 {dept.name}{self.rng.randint(1, 12)}诊室"

    def plan(self, plan: Plan) -> list[ra.PlanItem]:
        return [ra.PlanItem(kind=k, description=d, due_in_days=n) for k, d, n in plan]

    def send_up(self, who: Actor, org: Organisation, patient: Patient, case: UpCase, t0: dt.datetime,
                **extra: Any) -> Referral:
        hospital = self.state.hospitals[case.hospital]
        dept = self.state.departments[(case.hospital, case.dept)]
        data = ra.ReferralInput(
            patient_id=patient.pk, direction="up", target_organisation_id=hospital.pk, target_department_id=dept.pk,
            reason=case.reason, clinical_summary=case.summary, urgency=case.urgency, organisation_id=org.pk,
            consortium_id=self.community.pk, green_channel=bool(case.green), green_place=case.green,
            requested_by=(t0 + self.rng.randint(5, 14) * DAY).date() if case.urgency == "routine" else None, **extra)
        with self.at(t0):
            try:
                return ra.create_referral(acting=who, data=data)
            except GreenChannelFull:  # all reserved places held: sent the ordinary way
                data.green_channel, data.green_place = False, ""
                return ra.create_referral(acting=who, data=data)

    def answer_delay(self, urgency: str) -> dt.timedelta:
        return {"emergency": self.rng.uniform(10, 45) * MIN, "urgent": self.rng.uniform(0.5, 3) * H}.get(
            urgency, self.rng.uniform(2, 30) * H)

    def appointment(self, accepted: dt.datetime, urgency: str, admit: str) -> dt.datetime:
        if urgency != "routine":
            return accepted + self.rng.uniform(0.5, 3) * H
        day = timezone.localtime(accepted, self.zone).date() + self.rng.randint(1, 4) * DAY
        return self.local(day, self.rng.choice([8.5, 9, 9.5, 10, 14.5]) if admit == "appointment" else 9)

    def accept(self, who: Actor, r: Referral, when: dt.datetime, appointment: dt.datetime, admit: str,
               location: str, bring: str) -> Referral:
        with self.at(when):
            return ra.accept_referral(acting=who, referral_id=r.pk, data=ra.AcceptInput(
                admit_kind=admit, appointment_at=appointment, location=location, bring=bring,
                note=ACCEPT_NOTES[admit]))

    def close(self, who: Actor, r: Referral, outcome_at: dt.datetime) -> None:
        """The referring clinician closes the loop within days — or leaves it to the platform."""
        if self.rng.random() < 0.6:
            when = outcome_at + self.rng.uniform(0.2, 4) * DAY
            if when < self.limit:
                with self.at(when):
                    ra.complete_referral(acting=who, referral_id=r.pk)

    def up(self, case: UpCase, fate: str, days_ago: float) -> None:
        """One upward referral from a village doctor (or a township GP) and as far along its loop
        as the time since allows."""
        rng = self.rng
        team = rng.choice(self.teams)
        if rng.random() < 0.3 or not team.clinics:
            who, org, pool = team.gp, team.centre, team.patients
        else:
            clinic = rng.choice(team.clinics)
            who, org, pool = clinic.doctor, clinic.org, clinic.patients
        patient = self.patient(pool, case.sex, case.ages)
        receiver = self.specialist(case.hospital, case.dept, patient) if patient is not None else None
        if patient is None or receiver is None:
            return
        t = self.working_time(days_ago)
        # A routine referral often names the specialist the referring doctor knows (from a
        # consultation or an outreach clinic); urgent ones go to the department's inbox.
        named = case.urgency == "routine" and fate != "redirect" and rng.random() < 0.6
        r = self.send_up(who, org, patient, case, t, target_practitioner_id=receiver.practitioner_id if named else None)
        if fate == "cancel":
            with self.at(t + rng.uniform(1, 5) * H):
                ra.cancel_referral(acting=who, referral_id=r.pk, reason=rng.choice(CANCELS))
            return
        t += self.answer_delay(case.urgency)
        if t >= self.limit:
            return
        if fate == "decline":
            with self.at(t):
                ra.decline_referral(acting=receiver, referral_id=r.pk, reason=rng.choice(DECLINES))
            return
        target, dept = self.state.hospitals[case.hospital], self.state.departments[(case.hospital, case.dept)]
        if fate == "redirect":
            target, dept = self.state.hospitals["county"], self.state.departments[("county", case.dept)]
            with self.at(t):
                r = ra.redirect_referral(acting=receiver, referral_id=r.pk, organisation_id=target.pk,
                                         department_id=dept.pk, reason=REDIRECTS[0])
            receiver = self.specialist("county", case.dept, patient)
            t += self.answer_delay(case.urgency)
            if receiver is None or t >= self.limit:
                return
        appointment = self.appointment(t, case.urgency, case.admit)
        bring = f"{BRING_UP}、{case.bring}" if case.bring else BRING_UP
        r = self.accept(receiver, r, t, appointment, case.admit, self.location(target, dept, case.admit), bring)
        arrived = appointment + rng.uniform(0, 40) * MIN
        if arrived >= self.limit:
            return
        with self.at(arrived):
            ra.check_in(acting=receiver, referral_id=r.pk)
        stay = rng.uniform(3, 10) * DAY if case.admit == "bed" else rng.uniform(2, 30) * H
        if case.admit == "bed" and rng.random() < 0.35 and arrived + DAY < min(arrived + stay, self.limit):
            with self.at(arrived + DAY):
                ra.post_interim_note(acting=receiver, referral_id=r.pk, body=rng.choice(INTERIM_NOTES))
        outcome_at = arrived + stay
        if outcome_at >= self.limit:
            return
        down = bool(case.plan) and rng.random() < 0.85
        with self.at(outcome_at):
            ra.return_outcome(acting=receiver, referral_id=r.pk, data=ra.OutcomeInput(
                summary=case.outcome, refer_down=down, discharge_summary=case.discharge if down else "",
                plan=self.plan(case.plan) if down else []))
        if down:
            child = Referral.objects.get(parent=r)
            self.down_loop(child, sender=receiver, receiver=who, t0=outcome_at, outcome=BACK_HOME)
        self.close(who, r, outcome_at)

    def down_loop(self, r: Referral, *, sender: Actor, receiver: Actor, t0: dt.datetime, outcome: str,
                  problem: bool = False) -> None:
        """A patient back down: the grassroots clinician accepts, sees the patient at home or at
        the clinic, records the follow-ups as they fall due, and after about four weeks sends the
        summary back; the steps run in the order of their times."""
        rng = self.rng
        t = t0 + rng.uniform(2, 20) * H
        if t >= self.limit:
            return
        back = self.local(timezone.localtime(t0, self.zone).date() + rng.randint(1, 2) * DAY, rng.uniform(9, 11))
        org = r.target_organisation
        r = self.accept(receiver, r, t, max(back, t), "appointment", org.name, BRING_DOWN)
        arrived = max(back, t) + rng.uniform(0, 60) * MIN
        if arrived >= self.limit:
            return
        with self.at(arrived):
            ra.check_in(acting=receiver, referral_id=r.pk)
        steps: list[tuple[dt.datetime, Callable[[], Any]]] = []
        for task in FollowUpTask.objects.filter(referral=r).order_by("due_on", "position"):
            when = max(self.local(task.due_on, rng.uniform(9, 17)), arrived + H)
            if when >= self.limit or rng.random() < 0.05:  # not yet due, or overlooked
                continue
            steps.append((when, self._task_step(receiver, task, problem)))
            if problem:
                problem = self.problem_wanted = False
        outcome_at = arrived + rng.uniform(24, 28) * DAY
        if outcome_at < self.limit:
            steps.append((outcome_at, lambda: ra.return_outcome(acting=receiver, referral_id=r.pk,
                                                                data=ra.OutcomeInput(summary=outcome))))
            when = outcome_at + rng.uniform(0.2, 4) * DAY
            if rng.random() < 0.5 and when < self.limit:
                steps.append((when, lambda: ra.complete_referral(acting=sender, referral_id=r.pk)))
        for when, step in sorted(steps, key=lambda s: s[0]):
            with self.at(when):
                step()

    def _task_step(self, who: Actor, task: FollowUpTask, problem: bool) -> Callable[[], Any]:
        rng = self.rng
        result = PROBLEM_RESULT if problem else RESULTS[task.kind].format(
            sys=rng.randint(118, 148), dia=rng.randint(70, 90), hr=rng.randint(58, 88), spo2=rng.randint(93, 99))
        return lambda: ra.complete_task(acting=who, task_id=task.pk, result=result, problem=problem)

    def down(self, case: DownCase, days_ago: float, problem: bool) -> None:
        """A township health centre sends a patient back to their village doctor."""
        adult = self.state.today.year - 18
        clinics = [c for c in self.clinic_of.values()
                   if any(p.pk not in self.used and p.birth_date.year <= adult for p in c.patients)]
        if not clinics:
            return
        clinic = self.rng.choice(clinics)
        team = self.team_of[clinic.org.pk]
        patient = self.patient(clinic.patients, ages=case.ages)
        if patient is None:
            return
        t = self.working_time(days_ago)
        data = ra.ReferralInput(
            patient_id=patient.pk, direction="down", target_organisation_id=clinic.org.pk,
            target_practitioner_id=clinic.doctor.practitioner_id, reason=case.reason, clinical_summary=case.summary,
            organisation_id=team.centre.pk, consortium_id=self.community.pk, discharge_summary=case.discharge,
            plan=self.plan(case.plan))
        with self.at(t):
            r = ra.create_referral(acting=team.gp, data=data)
        self.down_loop(r, sender=team.gp, receiver=clinic.doctor, t0=t, outcome=case.outcome, problem=problem)

    # --- the whole ----------------------------------------------------------------------------

    def run(self) -> None:
        self.cast()
        if not self.teams:
            return
        self.live()
        self.history()
        self.clocks()
        Notification.objects.filter(created_at__lt=self.now - DAY, read_at__isnull=True).update(read_at=self.now)
        counts = self.state.counts
        counts["referrals"] = Referral.objects.count()
        counts["follow-up tasks"] = FollowUpTask.objects.count()
        counts["clinician accounts"] = self.accounts

    def history(self) -> None:
        rng = self.rng
        cases = (UP_CASES * (UP_HISTORY // len(UP_CASES) + 1))[:UP_HISTORY]
        rng.shuffle(cases)
        fates = ["normal"] * len(cases)
        for i in (6, 19, 33):
            fates[i] = "decline"
        fates[25] = "cancel"
        redirects = [i for i, c in enumerate(cases) if i >= 10 and fates[i] == "normal" and c.hospital == "tertiary"
                     and c.dept in COUNTY_DEPTS and not c.green]
        for i in redirects[:2]:
            fates[i] = "redirect"
        for i, (case, fate) in enumerate(zip(cases, fates, strict=True)):
            self.up(case, fate, HISTORY_DAYS - i * (HISTORY_DAYS - 2) / len(cases))
        made = Referral.objects.filter(direction="down").count()
        wanted = max(0, DOWN_TOTAL - made)
        for i in range(wanted):
            days_ago = HISTORY_DAYS - i * (HISTORY_DAYS - 1) / max(wanted, 1)
            self.down(DOWN_CASES[i % len(DOWN_CASES)], days_ago, self.problem_wanted and 8 <= days_ago <= 20)

    def clocks(self) -> None:
        """What the worker did meanwhile: loops closed by themselves fourteen days after the
        outcome, the unanswered referral escalated, the missing outcome flagged; and today's
        round (follow-up reminders)."""
        rounds: list[tuple[str, Callable[[dt.datetime], int], Any]] = [
            ("close_at", worker.close_finished_loops, Q(state=State.OUTCOME_RETURNED)),
            ("escalate_at", worker.escalate_unanswered, Q(state=State.REQUESTED, escalation_level=0)),
            ("outcome_due_at", worker.flag_missing_outcomes,
             Q(state__in=[State.ACCEPTED, State.ARRIVED], outcome_flagged_at__isnull=True))]
        for column, step, which in rounds:
            due = Referral.objects.filter(which, **{f"{column}__lt": self.limit}).order_by(column)
            for when in dict.fromkeys(due.values_list(column, flat=True)):
                at = min(when + MIN, self.limit)
                with self.at(at):
                    step(at)
        worker.run_round(self.now)

    def live(self) -> None:
        """The personas' live work (made first, so its patients are set aside)."""
        s, rng, now = self.state, self.rng, self.now
        village, township, cardio = self.persona("village"), self.persona("township"), self.persona("cardio")
        today = self.today()
        home = self.team_of.get(next(iter(village.org_ids)))
        mine = self.clinic_of.get(next(iter(village.org_ids)))
        heart = UP_CASES[0]
        # 1. Waiting in the cardiologist's inbox: an urgent green-channel referral, 35 minutes old.
        if home is not None and home.gp.user_id == township.user_id and self.privileged(township.practitioner_id, today):
            p = self.patient(home.patients, "male", heart.ages) or self.patient(home.patients)
            if p is not None:
                self.send_up(township, home.centre, p, heart, now - 35 * MIN)
        # 2. The demo patient's referral, from her consultation: accepted, with an appointment.
        demo = s.demo_patient
        if demo is not None and self.privileged(village.practitioner_id, today) \
                and self.privileged(cardio.practitioner_id, today):
            consult = Consult.objects.filter(patient=demo).order_by("-created_at").first()
            case = UpCase("tertiary", "CARD", "urgent", "appointment",
                          "反复劳力性胸闷，会诊建议进一步检查（冠脉CTA、运动平板），申请心内科专家门诊",
                          "64岁女性，近一周爬坡时胸闷、气短，休息可缓解。心电图：窦性心律，V4–V6 导联 T 波低平。"
                          "高血压6年，服硝苯地平控释片 30mg qd，血压 158/92mmHg。", "", green="slot")
            clinic = Organisation.objects.get(pk=next(iter(village.org_ids)))
            r = self.send_up(village, clinic, demo, case, now - 70 * MIN, consult_id=consult.pk if consult else None)
            tertiary, dept = s.hospitals["tertiary"], s.departments[("tertiary", "CARD")]
            self.accept(cardio, r, now - 25 * MIN, self.local(today + 2 * DAY, 9), "appointment",
                        f"{tertiary.name}门诊楼二层 {dept.name}8诊室（专家门诊）",
                        f"{BRING_UP}、近一周血压记录、卫生院心电图报告")
            with self.at(now - 20 * MIN):
                ra.post_message(acting=cardio, referral_id=r.pk, audience="patient",
                                body="您好，已为您预约后天上午9点的专家门诊。检查当天早上请空腹，降压药照常服用。")
        # 3. Back with the village doctor: follow-ups due today and this week.
        failing = UP_CASES[2]
        county = self.specialist("county", "CARD")
        if mine is not None and county is not None and self.privileged(village.practitioner_id, today - 13 * DAY):
            p = self.patient(mine.patients, ages=failing.ages) or self.patient(mine.patients)
            if p is not None:
                self._village_back_home(village, county, mine, p, failing, today)
        # 4. An outcome that never came back (flagged), and 5. a referral nobody answered.
        if home is not None and home.clinics:
            onco = self.specialist("tertiary", "ONCO")
            who = township if self.privileged(township.practitioner_id, today - 46 * DAY) else home.clinics[-1].doctor
            p = self.patient(home.patients, ages=UP_CASES[5].ages)
            if onco is not None and p is not None and self.privileged(who.practitioner_id, today - 46 * DAY):
                t0 = self.working_time(45)
                r = self.send_up(who, home.centre if who is township else home.clinics[-1].org, p, UP_CASES[5], t0)
                appointment = self.local(timezone.localtime(t0, self.zone).date() + 2 * DAY, 9)
                tertiary, dept = s.hospitals["tertiary"], s.departments[("tertiary", "ONCO")]
                r = self.accept(onco, r, t0 + 20 * H, appointment, "bed", self.location(tertiary, dept, "bed"), BRING_UP)
                with self.at(appointment + 30 * MIN):
                    ra.check_in(acting=onco, referral_id=r.pk)
            neur = self.specialist("county", "NEUR")
            other = next((c for c in reversed(home.clinics) if c.doctor.user_id != village.user_id), None)
            p = self.patient(other.patients, ages=(50, 85)) if other else None
            if other is not None and neur is not None and p is not None:
                dizzy = UpCase("county", "NEUR", "routine", "appointment", "反复头晕、行走不稳2周，需神经内科评估",
                               "近2周反复头晕，行走时向左偏斜，无肢体无力和言语障碍，血压 150/90mmHg，高血压5年。", "")
                self.send_up(other.doctor, other.org, p, dizzy, now - rng.uniform(58, 62) * H)
        # 6. New in the breast surgeon's inbox.
        if home is not None and home.clinics:
            first = home.clinics[0]
            p = self.patient(first.patients, "female", (30, 65))
            if p is not None:
                lump = UpCase("tertiary", "BRST", "routine", "appointment", UP_CASES[3].reason, UP_CASES[3].summary,
                              "")
                self.send_up(first.doctor, first.org, p, lump, now - rng.uniform(3, 6) * H)

    def _village_back_home(self, village: Actor, county: Actor, mine: Clinic, p: Patient, case: UpCase,
                           today: dt.date) -> None:
        t0 = self.working_time(13)
        r = self.send_up(village, mine.org, p, case, t0)
        s = self.state
        org, dept = s.hospitals["county"], s.departments[("county", "CARD")]
        r = self.accept(county, r, t0 + 2 * H, t0 + 4 * H, "bed", self.location(org, dept, "bed"), BRING_UP)
        with self.at(t0 + 4.5 * H):
            ra.check_in(acting=county, referral_id=r.pk)
        outcome_at = self.local(today - 2 * DAY, 10)
        plan = [("visit", "出院次日上门随访：精神、食欲、尿量，核对出院带药", -1),
                *[(k, d, days) for (k, d, _n), days in zip(case.plan, (0, 2, 5, 12), strict=False)],
                ("check", "出院一个月：到卫生院复查血常规、肾功能和电解质", 30)]
        with self.at(outcome_at):
            ra.return_outcome(acting=county, referral_id=r.pk, data=ra.OutcomeInput(
                summary=case.outcome, refer_down=True, discharge_summary=case.discharge,
                plan=[ra.PlanItem(kind=k, description=d, due_on=today + n * DAY) for k, d, n in plan]))
        child = Referral.objects.get(parent=r)
        back = self.local(today - DAY, 10)
        child = self.accept(village, child, outcome_at + 3 * H, back, "appointment", mine.org.name, BRING_DOWN)
        with self.at(back + 20 * MIN):
            ra.check_in(acting=village, referral_id=child.pk)
        first = FollowUpTask.objects.filter(referral=child).order_by("due_on", "position").first()
        if first is not None:
            with self.at(self.local(today - DAY, 16)):
                ra.complete_task(acting=village, task_id=first.pk,
                                 result="上门随访：精神可，夜间能平卧，双下肢无水肿，出院带药已按时服用。")
