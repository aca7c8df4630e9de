"""The demo's remote diagnosis, made through the same actions the examination pages call, so
the worklists, viewer, reports, critical-finding loop, patient's reports and turnaround figures
have something to show.

Reading routes: for the county medical community CT, DR/X-ray, MR and ultrasound go to the
county's imaging centre (富平县医学影像诊断中心, its ultrasound department reading ultrasound),
ECG to the ECG centre, pathology to the pathology centre, endoscopy to the county hospital; the
breast-disease alliance routes ultrasound and DR to the imaging centre and pathology to the
pathology centre; the tele-medicine network sends CT, MR, DR and pathology to the tertiary
hospital and ECG to the ECG centre.

Three months of history: township health centres (and the village doctor, for ECGs) request
examinations of every modality and urgency; the hubs' readers claim and sign them within minutes
(emergencies) to hours (routine); a few reports are amended or get an addendum, a senior reader
gives second reads, critical findings are acknowledged within minutes — one only after the worker
escalated it; county-hospital clinicians shown a recent report use it instead of a new
examination (avoided repeats), and a few examinations are repeated with a reason. One to three
images per examination (pydicom's own DICOM files restamped for the patient, or an ECG tracing
or slide photo drawn for it: ``demo.imaging``).

Live work for the personas: the radiologist's worklist holds an emergency CT head (30 slices)
from the township health centre, an urgent ultrasound and a routine chest DR, a CT chest they are
reading and a colleague's report awaiting their second read; the township GP has a critical
finding to acknowledge and an examination being prepared; the demo patient has signed reports;
the county-hospital emergency physician (`county`) has a patient whose CT head was signed a week
ago — requesting a new one shows that report first.

Every step runs under the frozen clock at its time; notifications go to the in-app inboxes only,
and what is older than a day has been read.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from medunion.access.actor import Actor, actor_for, system_actor
from medunion.accounts.actions import create_account
from medunion.accounts.models import Role, User
from medunion.core import clock
from medunion.diagnostics import actions as da
from medunion.diagnostics import actions_reading as rd
from medunion.diagnostics import worker
from medunion.diagnostics.actions_routes import set_reading_route
from medunion.diagnostics.models import (
    CriticalFinding,
    Examination,
    Instance,
    Recognition,
    Report,
    ReportStatus,
)
from medunion.diagnostics.validation import ExaminationInput, RecentReportExists, ReportInput
from medunion.network.models import Organisation, Practitioner, TeamMember
from medunion.notifications.models import Notification
from medunion.patients.actions import add_to_care_team
from medunion.patients.models import Patient

from . import imaging
from .consults import _inbox_only
from .diagnostic_cases import ADDENDA, AMEND_REASONS, CASES, REPEAT_REASONS, SECOND_READ_COMMENTS, Case
from .personas import _quick_hashing
from .state import DemoState

_at = clock.frozen  # every step at its time

HISTORY_DAYS = 88
HISTORY = 70  # examinations of the history (repeats and live work come on top)
GP_SIDES = 5  # township health centres taking part besides the township persona's
MIN, H, DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)
WAIT = {"emergency": (3, 12), "urgent": (10, 60), "routine": (40, 300)}  # minutes from sending to a claim
IMAGES = {"CT": (1, 2), "DX": (1, 1), "MR": (1, 1), "US": (1, 1), "ECG": (1, 1), "SM": (1, 1)}  # kept cheap


@dataclass
class Side:
    """A requesting clinician, where they work, and the patients they look after."""

    actor: Actor
    org: Organisation
    pool: list[Patient]


def build_diagnostics(state: DemoState) -> None:
    if not all(k in state.users for k in ("township", "radiology", "patient", "coordinator", "village")):
        return
    with _inbox_only(), _quick_hashing():
        _Builder(state).run()


class _Builder:
    def __init__(self, state: DemoState) -> None:
        self.state, self.rng = state, state.rng
        self.now = clock.now()
        self.zone = timezone.get_current_timezone()
        self.used: set[Any] = set()
        self.accounts = 0
        self.pictures: dict[tuple[str, str, int], tuple[str, bytes, str]] = {}
        self.personas = {k: actor_for(state.users[k]) for k in ("township", "radiology", "village", "coordinator")
                         + (("county",) if "county" in state.users else ())}

    # --- who ---------------------------------------------------------------------------------

    def account(self, p: Practitioner) -> Actor:
        """The clinician's account: theirs if they have one (a persona, or made for the referrals),
        otherwise a new one whose password is random and never shown."""
        user = User.objects.filter(practitioner=p).first()
        if user is None:
            user = create_account(acting=system_actor("demo"), username=f"dr{p.licence_number.lower()}",
                                  password=secrets.token_urlsafe(18), role=Role.PRACTITIONER, display_name=p.name,
                                  practitioner_id=p.pk)
            self.accounts += 1
        return actor_for(user)

    def staff(self, hospital: str, dept: str, start: int, stop: int) -> list[Actor]:
        return [self.account(s.practitioner) for s in self.state.specialists.get((hospital, dept), [])[start:stop]]

    def cast(self) -> None:
        s = self.state
        radiologists = self.staff("imaging_hub", "RADI", 0, 4)  # the head (a chief physician), `radiology`, …
        self.chief = radiologists[0]
        self.readers: dict[str, list[Actor]] = {
            "CT": radiologists[1:] + radiologists[1:2], "DX": radiologists[1:], "MR": radiologists[:3],
            "US": self.staff("imaging_hub", "ULTR", 0, 2) + radiologists[1:2],
            "ECG": self.staff("ecg_hub", "ECG", 0, 2), "SM": self.staff("pathology_hub", "PATH", 0, 2)}
        self.other_radiologist = radiologists[2]
        self.county_doctors = [self.personas["county"]] if "county" in self.personas else []
        self.county_doctors += self.staff("county", "NEUR", 1, 2) + self.staff("county", "EMER", 2, 3)
        self.county = s.hospitals["county"]
        leads = dict(TeamMember.objects.filter(team__kind="family_doctor", role="lead")
                     .values_list("team_id", "practitioner_id"))
        lead_of = {code: leads.get(team.pk) for code, team in s.family_teams.items()}  # village code -> GP
        adults = [p for p in s.patients[1:] if s.today.year - p.birth_date.year >= 18]

        def side(gp: Practitioner, centre: Organisation, actor: Actor | None = None) -> Side:
            pool = [p for p in adults if lead_of.get(p.region_id or "") == gp.pk]
            return Side(actor or self.account(gp), centre, pool)

        first = s.townships[0]
        self.township = side(s.personas["township"], s.centres[first.code], self.personas["township"])
        self.gps = [side(s.township_gps[t.code][0], s.centres[t.code]) for t in s.townships[1:GP_SIDES + 1]]
        village = self.personas["village"]
        self.village = Side(village, Organisation.objects.get(pk=next(iter(village.org_ids))),
                            [p for p in adults if p.registered_by_id == village.practitioner_id])

    def patient(self, pool: list[Patient], case: Case) -> Patient | None:
        year = self.state.today.year
        free = [p for p in pool if p.pk not in self.used and (not case.sex or p.sex == case.sex)]
        fits = [p for p in free if case.ages[0] <= year - p.birth_date.year <= case.ages[1]] or free
        if not fits:
            return None
        chosen = self.rng.choice(fits)
        self.used.add(chosen.pk)
        return chosen

    # --- time ----------------------------------------------------------------------------------

    def working_time(self, days_ago: float) -> dt.datetime:
        day = timezone.localtime(self.now - days_ago * DAY, self.zone).date()
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.zone) + self.rng.uniform(8, 17) * H

    # --- the steps ------------------------------------------------------------------------------

    def routes(self) -> None:
        s, coordinator, system = self.state, self.personas["coordinator"], system_actor("demo")
        h, c = s.hospitals, s.consortia
        imaging_hub = h["imaging_hub"].pk
        table = [(coordinator, c["community"], {"CT": imaging_hub, "DX": imaging_hub, "MR": imaging_hub,
                                                "US": imaging_hub, "ECG": h["ecg_hub"].pk,
                                                "SM": h["pathology_hub"].pk, "ES": h["county"].pk}),
                 (coordinator, c["alliance"], {"US": imaging_hub, "DX": imaging_hub, "SM": h["pathology_hub"].pk}),
                 (system, c["telemedicine"], {"CT": h["tertiary"].pk, "MR": h["tertiary"].pk, "DX": h["tertiary"].pk,
                                              "SM": h["tertiary"].pk, "ECG": h["ecg_hub"].pk})]
        with _at(self.now - (HISTORY_DAYS + 2) * DAY):
            for acting, consortium, routes in table:
                for modality, hub in routes.items():
                    set_reading_route(acting=acting, consortium_id=consortium.pk, modality=modality, hub_id=hub)

    def files(self, exam: Examination, patient: Patient, case: Case, count: int,
              lesion: bool = False) -> list[tuple[str, bytes, str]]:
        if case.modality in ("ECG", "SM"):
            key = (case.modality, case.variant, self.rng.randrange(2))
            if key not in self.pictures:
                self.pictures[key] = imaging.attachment(case.modality, self.rng, case.variant)
            return [self.pictures[key]]
        stamp = imaging.Stamp(imaging.dicom_identity(patient), timezone.localtime(exam.created_at, self.zone),
                              exam.accession, case.site, case.description)
        if case.modality == "CT":
            data = imaging.ct_series(stamp, count, lesion=lesion)
        else:
            data = imaging.single(case.modality, stamp, count, variant=self.rng.randrange(3))
        return [(f"IM{i + 1:04d}.dcm", d, "application/dicom") for i, d in enumerate(data)]

    def request(self, side: Side, patient: Patient, case: Case, t0: dt.datetime, *, images: int | None = None,
                lesion: bool = False, repeat_reason: str = "", send: bool = True) -> Examination:
        """Record, upload and (``send``) send an examination: its state is then ``awaiting``."""
        with _at(t0):
            exam = da.create_examination(acting=side.actor, data=ExaminationInput(
                patient_id=patient.pk, modality=case.modality, body_site=case.site, question=case.question,
                urgency=case.urgency, organisation_id=side.org.pk, repeat_reason=repeat_reason))
        low, high = IMAGES[case.modality]
        count = images or self.rng.randint(low, high)
        with _at(t0 + self.rng.uniform(2, 6) * MIN):
            for name, data, content_type in self.files(exam, patient, case, count, lesion):
                da.upload_file(acting=side.actor, examination_id=exam.pk,
                               upload=SimpleUploadedFile(name, data, content_type=content_type))
        if send:
            with _at(t0 + self.rng.uniform(6, 9) * MIN):
                exam = da.submit(acting=side.actor, examination_id=exam.pk)
        return exam

    def report(self, case: Case, second_read: bool = False) -> ReportInput:
        return ReportInput(findings=case.findings, impression=case.impression, recommendation=case.recommendation,
                           codes=list(case.codes), measurements=[{"code": c, "value": v} for c, v in case.measurements],
                           critical=bool(case.critical), critical_note=case.critical, second_read=second_read)

    def read(self, exam: Examination, case: Case, reader: Actor, *, second_read: bool = False) -> Report:
        """Claim after the urgency's wait and sign 8–30 minutes later."""
        assert exam.submitted_at is not None
        low, high = WAIT[case.urgency]
        claimed = exam.submitted_at + self.rng.uniform(low, high) * MIN
        with _at(claimed):
            rd.claim(acting=reader, examination_id=exam.pk)
        with _at(claimed + self.rng.uniform(8, 30) * MIN):
            return rd.sign(acting=reader, examination_id=exam.pk, data=self.report(case, second_read))

    def acknowledge(self, report: Report, who: Actor, when: dt.datetime) -> None:
        finding = CriticalFinding.objects.get(report=report)
        with _at(when):
            rd.acknowledge_critical(acting=who, finding_id=finding.pk)

    # --- the history -------------------------------------------------------------------------------

    def history(self) -> None:
        rng = self.rng
        # Every case once (all modalities, hubs, urgencies, the critical ones), then by weight.
        deck = [c for c in CASES for _i in range(c.weight - 1)]
        rng.shuffle(deck)
        cases = [*CASES, *(deck * (HISTORY // max(len(deck), 1) + 1))][:max(HISTORY, len(CASES))]
        rng.shuffle(cases)
        signed: list[tuple[Examination, Case, Side, Report, Actor]] = []
        escalated = False
        for i, case in enumerate(cases):
            days_ago = HISTORY_DAYS - i * (HISTORY_DAYS - 2) / len(cases)
            side = self.requester(case)
            patient = self.patient(side.pool, case)
            if patient is None:  # the village doctor's few patients had theirs: a health centre asks
                side = rng.choice(self.gps)
                patient = self.patient(side.pool, case)
            if patient is None:
                continue
            t0 = self.working_time(days_ago) if case.urgency != "emergency" else \
                self.now - days_ago * DAY + rng.uniform(-6, 6) * H
            if i in (17, 58):  # cancelled: the patient declined, or the scanner broke down
                exam = self.request(side, patient, case, t0, send=i == 58)
                with _at(t0 + rng.uniform(15, 40) * MIN):
                    da.cancel(acting=side.actor, examination_id=exam.pk,
                              reason="患者拒绝检查" if i == 17 else "设备故障，已改约其他时间")
                continue
            exam = self.request(side, patient, case, t0)
            reader = rng.choice(self.readers[case.modality])
            wants_second = case.modality in ("CT", "DX", "MR") and reader is not self.chief and rng.random() < 0.2
            report = self.read(exam, case, reader, second_read=wants_second)
            assert report.signed_at is not None
            if case.critical:
                if not escalated:  # nobody answered: the worker escalates after ten minutes
                    with _at(report.signed_at + 11 * MIN):
                        worker.escalate_critical()
                    self.acknowledge(report, side.actor, report.signed_at + rng.uniform(25, 40) * MIN)
                    escalated = True
                else:
                    self.acknowledge(report, side.actor, report.signed_at + rng.uniform(2, 8) * MIN)
            if wants_second:
                with _at(report.signed_at + rng.uniform(4, 30) * H):
                    verdict = "minor" if rng.random() < 0.25 else "agree"
                    rd.second_read(acting=self.chief, examination_id=exam.pk, verdict=verdict,
                                   comment=SECOND_READ_COMMENTS[0] if verdict == "minor" else "")
            signed.append((exam, case, side, report, reader))
        self.corrections(signed)
        self.recognitions(signed)

    def requester(self, case: Case) -> Side:
        rng = self.rng
        if case.modality == "ECG" and rng.random() < 0.3 and self.village.pool:
            return self.village
        return self.township if rng.random() < 0.3 else rng.choice(self.gps)

    def corrections(self, signed: list[tuple[Examination, Case, Side, Report, Actor]]) -> None:
        """A few amended reports and addenda, a day or two after signing."""
        rng = self.rng
        picks = [x for x in signed if x[1].modality in ("CT", "DX", "US", "MR") and not x[1].critical]
        for k, (exam, case, _side, report, reader) in enumerate(picks[3:3 + 4 * 7:7]):
            assert report.signed_at is not None
            changed = self.report(case)
            changed.findings += "（已更正）"
            with _at(report.signed_at + rng.uniform(3, 30) * H):
                rd.amend(acting=reader, examination_id=exam.pk, data=changed, reason=AMEND_REASONS[k % 4])
        for k, (exam, _case, _side, report, reader) in enumerate(picks[5:5 + 3 * 9:9]):
            assert report.signed_at is not None
            with _at(report.signed_at + rng.uniform(1, 48) * H):
                rd.add_addendum(acting=reader, examination_id=exam.pk, text=ADDENDA[k % 2])
        pathology = [x for x in signed if x[1].modality == "SM" and "C50" in "".join(x[1].codes)]
        for exam, _case, _side, report, reader in pathology[:1]:
            assert report.signed_at is not None
            with _at(report.signed_at + 2 * DAY):
                rd.add_addendum(acting=reader, examination_id=exam.pk, text=ADDENDA[2])

    def recognitions(self, signed: list[tuple[Examination, Case, Side, Report, Actor]]) -> None:
        """County-hospital clinicians shown a recent report use it (avoided repeats); a few
        examinations are repeated anyway, with the reason."""
        rng = self.rng
        recent = [x for x in signed if x[1].modality in ("CT", "DX", "US", "MR")
                  and x[3].signed_at is not None and x[3].signed_at < self.now - 12 * DAY]
        rng.shuffle(recent)
        for exam, case, side, report, _reader in recent[:6]:
            assert report.signed_at is not None
            doctor = rng.choice(self.county_doctors)
            with _at(report.signed_at + rng.uniform(0.5, 2) * DAY):
                add_to_care_team(acting=side.actor, patient_id=exam.patient_id, role="attending",
                                 practitioner_id=doctor.practitioner_id, source_type="page")
            with _at(report.signed_at + rng.uniform(2.5, 9) * DAY):
                self.recognise(doctor, exam, case)
        for k, (exam, case, side, report, _reader) in enumerate(recent[6:9]):
            assert report.signed_at is not None
            patient = Patient.objects.get(pk=exam.patient_id)
            t0 = report.signed_at + rng.uniform(4, 11) * DAY
            again = self.request(side, patient, case, t0, repeat_reason=REPEAT_REASONS[k])
            self.read(again, case, rng.choice(self.readers[case.modality]))

    def recognise(self, doctor: Actor, exam: Examination, case: Case) -> None:
        """The clinician asks for the same examination, is shown the signed report, and uses it."""
        try:
            da.create_examination(acting=doctor, data=ExaminationInput(
                patient_id=exam.patient_id, modality=case.modality, body_site=case.site, question=case.question,
                urgency="routine", organisation_id=self.county.pk))
        except RecentReportExists:
            da.use_recent_report(acting=doctor, examination_id=exam.pk, organisation_id=self.county.pk)
            return
        raise AssertionError("the recent report was not offered")  # pragma: no cover

    # --- live work for the personas --------------------------------------------------------------------

    def reserve(self) -> dict[str, tuple[Side, Patient, Case]]:
        """The live work's patients, set aside before the history."""
        by = {(c.modality, c.site, c.urgency): c for c in CASES}
        wanted = {
            "emergency_ct": (self.township, by[("CT", "head", "emergency")]),
            "critical_ct": (self.township, by[("CT", "head", "emergency")]),
            "draft": (self.township, by[("DX", "chest", "routine")]),
            "recognised": (self.township, by[("CT", "head", "routine")]),
            "routine_dr": (self.gps[0], by[("DX", "chest", "routine")]),
            "urgent_us": (self.gps[1 % len(self.gps)], by[("US", "abdomen", "urgent")]),
            "reading": (self.gps[2 % len(self.gps)], by[("CT", "chest", "routine")]),
            "second": (self.gps[3 % len(self.gps)], by[("DX", "chest", "urgent")]),
        }
        out = {}
        for key, (side, case) in wanted.items():
            p = self.patient(side.pool, case)
            if p is not None:
                out[key] = (side, p, case)
        return out

    def live(self, reserved: dict[str, tuple[Side, Patient, Case]]) -> None:
        rng, now = self.rng, self.now
        radiology, colleague = self.personas["radiology"], self.other_radiologist
        # The radiologist's worklist: an emergency CT head of 30 slices sent 15 minutes ago, an
        # urgent ultrasound and a routine chest DR.
        if "emergency_ct" in reserved:
            side, p, case = reserved["emergency_ct"]
            self.request(side, p, case, now - 24 * MIN, images=30, lesion=True)
        if "urgent_us" in reserved:
            side, p, case = reserved["urgent_us"]
            self.request(side, p, case, now - 58 * MIN)
        if "routine_dr" in reserved:
            side, p, case = reserved["routine_dr"]
            self.request(side, p, case, now - 160 * MIN, images=2)
        # Being read by the radiologist: a draft report saved ten minutes ago.
        if "reading" in reserved:
            side, p, case = reserved["reading"]
            exam = self.request(side, p, case, now - 130 * MIN)
            with _at(now - 25 * MIN):
                rd.claim(acting=radiology, examination_id=exam.pk)
            with _at(now - 10 * MIN):
                rd.save_draft(acting=radiology, examination_id=exam.pk, data=ReportInput(
                    findings=case.findings.split("；")[0] + "；", codes=list(case.codes)))
        # A colleague's report of yesterday, waiting for the radiologist's second read.
        if "second" in reserved:
            side, p, case = reserved["second"]
            t0 = self.working_time(1)
            exam = self.request(side, p, case, t0)
            self.read(exam, case, colleague, second_read=True)
        # The township GP: a critical finding signed six minutes ago, and an examination being prepared.
        if "critical_ct" in reserved:
            side, p, case = reserved["critical_ct"]
            exam = self.request(side, p, case, now - 55 * MIN, images=3, lesion=True)
            self.read_until(exam, case, colleague, claimed=now - 42 * MIN, signed=now - 6 * MIN)
        if "draft" in reserved:
            side, p, case = reserved["draft"]
            self.request(side, p, case, now - 12 * MIN, images=1, send=False)
        # A week ago: a CT head for a patient the county-hospital emergency physician now looks after.
        if "recognised" in reserved:
            side, p, case = reserved["recognised"]
            exam = self.request(side, p, case, self.working_time(7))
            report = self.read(exam, case, radiology)
            county = self.personas.get("county")
            if county is not None:
                assert report.signed_at is not None
                with _at(report.signed_at + rng.uniform(20, 30) * H):
                    add_to_care_team(acting=side.actor, patient_id=p.pk, role="attending",
                                     practitioner_id=county.practitioner_id, source_type="page")
        self.demo_patient()

    def read_until(self, exam: Examination, case: Case, reader: Actor, *, claimed: dt.datetime,
                   signed: dt.datetime) -> Report:
        with _at(claimed):
            rd.claim(acting=reader, examination_id=exam.pk)
        with _at(signed):
            return rd.sign(acting=reader, examination_id=exam.pk, data=self.report(case))

    def demo_patient(self) -> None:
        """The demo patient's ECG at the township health centre this morning (the one her
        consultation speaks of), and a chest DR six weeks ago: both signed."""
        demo = self.state.demo_patient
        if demo is None:
            return
        side = Side(self.township.actor, self.township.org, [demo])
        ecg = Case("ECG", "heart", "urgent", "反复劳力性胸闷1周，高血压6年",
                   "窦性心律，心率 88 次/分；PR 间期 0.16 s，QRS 时限 0.09 s；V4–V6 导联 T 波低平。",
                   "窦性心律，ST-T 改变（V4–V6 导联 T 波低平）。", "结合临床，建议行运动平板试验或冠脉CTA。",
                   measurements=(("8867-4", 88), ("8625-6", 160), ("8633-0", 90), ("8636-3", 432)), variant="sinus")
        exam = self.request(side, demo, ecg, self.now - 265 * MIN)
        reader = self.readers["ECG"][0]
        self.read_until(exam, ecg, reader, claimed=self.now - 240 * MIN, signed=self.now - 228 * MIN)
        chest = next(c for c in CASES if (c.modality, c.site, c.urgency) == ("DX", "chest", "routine"))
        exam = self.request(side, demo, chest, self.working_time(41), images=2)
        self.read(exam, chest, self.readers["DX"][0])

    # --- the whole ---------------------------------------------------------------------------------

    def run(self) -> None:
        self.routes()
        self.cast()
        if not self.township.pool or not self.gps:
            return
        reserved = self.reserve()
        self.history()
        self.live(reserved)
        Notification.objects.filter(created_at__lt=self.now - DAY, read_at__isnull=True).update(read_at=self.now)
        counts = self.state.counts
        counts["examinations"] = Examination.objects.count()
        counts["examination images"] = Instance.objects.count()
        counts["signed reports"] = Report.objects.filter(status=ReportStatus.SIGNED).count()
        counts["critical findings"] = CriticalFinding.objects.count()
        counts["avoided repeats"] = Recognition.objects.filter(decision="reused").count()
        counts["clinician accounts"] += self.accounts
