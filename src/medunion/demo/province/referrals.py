"""The province's tiered referrals: patients sent up from village clinics and township health
centres to a department of the county hospital or the city's tertiary hospital (a fifth through
the green channel), and down from the county hospital to their township health centre with
follow-up tasks; every state of the closed loop, with the timeline entries, check-in codes,
care-team places and audit rows the referral actions write.

Each referral is about a different patient (a patient has at most one live referral per
direction). Live work is left for the benchmarks: referrals waiting for a decision at the
receiving departments, accepted ones with an appointment, patients arrived and waiting for
their outcome, outcomes returned and waiting for the loop to close."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from typing import Any

from medunion.audit.models import Verb
from medunion.network.models import Department
from medunion.patients.models import CareTeamMember
from medunion.referrals.actions import checkin_hash
from medunion.referrals.models import FollowUpTask, Referral, ReferralEntry

from .bulk import encrypt
from .patients import patient_id
from .state import Gen
from .texts import CANCEL_REASONS, DECLINE_REASONS, DOWN_REASONS, OUTCOME, REFERRAL_REASONS, TASKS

STATES = ["requested", "accepted", "arrived", "outcome_returned", "completed", "declined", "cancelled"]
WEIGHTS = [5, 4, 3, 4, 72, 7, 5]
ANSWER_HOURS = {"routine": 48, "urgent": 4, "emergency": 1}
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERRAL_CODES = {"CARD", "RESP", "NEUR", "GAST", "ENDO", "NEPH", "ORTH", "GSUR", "ONCO", "BRST", "OBGY", "PAED"}
DAY = dt.timedelta(days=1)


def _receiving(gen: Gen) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Departments that can receive (with their specialists), and the specialists by department."""
    staff: dict[int, list[int]] = {}
    for ci, c in enumerate(gen.clinicians):
        if c.kind == "specialist" and c.dept >= 0:
            staff.setdefault(c.dept, []).append(ci)
    targets: dict[int, list[int]] = {}  # county -> departments up there
    for k, county in enumerate(gen.counties):
        orgs = {county.hospital, gen.cities[county.city].tertiary}
        targets[k] = [d for d, dept in enumerate(gen.depts) if dept.org in orgs and dept.code in REFERRAL_CODES
                      and staff.get(d)]
    return targets, staff


def _stride(n: int, rng: random.Random) -> tuple[int, int]:
    step = rng.randrange(n // 3 + 1, n) if n > 3 else 1
    while math.gcd(step, n) != 1:
        step += 1
    return rng.randrange(n), step


class _Timeline:
    def __init__(self, gen: Gen, rid: uuid.UUID, pid: uuid.UUID):
        self.gen, self.id, self.patient, self.seq = gen, rid, pid, 0

    def entry(self, at: dt.datetime, ci: int, *, kind: str = "system", audience: str = "clinicians", event: str = "",
              body: str = "", detail: dict[str, Any] | None = None) -> None:
        gen = self.gen
        self.seq += 1
        n = gen.counts.get("referral entries", 0)
        gen.counts["referral entries"] = n + 1
        c = gen.clinicians[ci]
        gen.sink.add(ReferralEntry, {"id": gen.ids.make("entry", n, at), "created_at": at, "referral_id": self.id,
                                     "patient_id": self.patient, "seq": self.seq, "kind": kind, "audience": audience,
                                     "event": event, "detail": detail or {}, "body": body, "author_id": c.user_id,
                                     "author_practitioner_id": c.id, "author_name": c.name,
                                     "author_organisation": gen.orgs[c.org].name})

    def audit(self, at: dt.datetime, ci: int, action: str, verb: str = Verb.UPDATE, **detail: Any) -> None:
        self.gen.audit.add(at, self.gen.clinicians[ci].actor(), action, verb, object_type="referrals.referral",
                           object_id=self.id, patient_id=self.patient, detail=detail)


def build_referrals(gen: Gen) -> None:
    rng = gen.fork("referrals")
    n, n_patients = gen.targets["referrals"], gen.targets["patients"]
    targets, staff = _receiving(gen)
    held = {d: [0, 0] for d in range(len(gen.depts))}  # beds, slots in use
    start, step = _stride(n_patients, rng)
    tasks = care = 0
    for j in range(min(n, n_patients)):
        p = (start + j * step) % n_patients
        village = gen.villages[gen.patient_village[p]]
        township = gen.townships[village.township]
        county = gen.counties[township.county]
        state = rng.choices(STATES, weights=WEIGHTS)[0]
        up = rng.random() < 0.8 or not township.gps or not targets[township.county]
        urgency = rng.choices(["routine", "urgent", "emergency"], weights=[80, 16, 4])[0]
        dept = -1
        if up:
            if not targets[township.county]:
                continue
            sender = gen.patient_doctor[p] if village.team_lead < 0 or rng.random() < 0.6 else village.team_lead
            dept = rng.choice(targets[township.county])
            target_org = gen.depts[dept].org
            receiver = rng.choice(staff[dept])
        else:
            county_depts = [d for d in targets[township.county] if gen.depts[d].org == county.hospital]
            if not county_depts:
                continue
            sender = rng.choice(staff[rng.choice(county_depts)])
            target_org = township.org
            receiver = rng.choice(township.gps)
        # Times: live referrals are recent; closed ones are spread over the year.
        if state == "requested":
            t0 = gen.now - dt.timedelta(hours=ANSWER_HOURS[urgency] * rng.uniform(0.05, 0.9))
        elif state in ("accepted", "arrived", "outcome_returned"):
            t0 = gen.now - dt.timedelta(days=rng.uniform(1, 8))
        else:
            t0 = gen.now - dt.timedelta(days=rng.uniform(20, 365))
        rid = gen.ids.make("referral", j, t0)
        pid = patient_id(gen, p)
        tl = _Timeline(gen, rid, pid)
        green = up and rng.random() < 0.2
        place = rng.choice(["bed", "slot"]) if green else ""
        row: dict[str, Any] = {
            "id": rid, "created_at": t0, "patient_id": pid, "consortium_id": gen.consortia[county.community].id,
            "direction": "up" if up else "down", "urgency": urgency, "sender_id": gen.clinicians[sender].id,
            "sender_organisation_id": gen.orgs[gen.clinicians[sender].org].id,
            "target_organisation_id": gen.orgs[target_org].id,
            "target_department_id": gen.depts[dept].id if dept >= 0 else None,
            "reason": rng.choice(REFERRAL_REASONS if up else DOWN_REASONS),
            "clinical_summary": "既往高血压、糖尿病史，近期症状加重，基层处理效果欠佳。" if up else OUTCOME,
            "green_channel": green, "green_place": place, "green_held": False,
            "escalate_at": t0 + dt.timedelta(hours=ANSWER_HOURS[urgency])}
        tl.entry(t0, sender, event="create", detail={"direction": row["direction"], "green_channel": green,
                                                     "green_place": place})
        plan = [] if up else rng.sample(TASKS, 2)
        tl.entry(t0, sender, audience="patient", event="create",
                 detail={"organisation": gen.orgs[target_org].name,
                         "department": gen.depts[dept].name if dept >= 0 else ""})
        tl.audit(t0, sender, "referral.create", Verb.CREATE, direction=row["direction"], urgency=urgency,
                 green_channel=green, green_place=place, target_organisation=str(gen.orgs[target_org].id),
                 target_department=str(gen.depts[dept].id) if dept >= 0 else "", tasks=len(plan), parent="",
                 consult="")
        version, t = 0, t0
        accepted = state in ("accepted", "arrived", "outcome_returned", "completed")
        if state == "declined":
            t = t0 + dt.timedelta(hours=rng.uniform(0.5, 40))
            reason = rng.choice(DECLINE_REASONS)
            tl.entry(t, receiver, event="decline", body=reason, detail={"from": "requested", "to": "declined"})
            tl.entry(t, receiver, audience="patient", event="decline",
                     detail={"organisation": gen.orgs[target_org].name})
            version += 1
            tl.audit(t, receiver, "referral.decline", state="declined", version=version, reason=reason,
                     green_place_returned=green)
            row.update(receiver_id=None, declined_at=t, escalate_at=None, status_reason=reason)
        if state == "cancelled":
            t = t0 + dt.timedelta(hours=rng.uniform(0.5, 40))
            reason = rng.choice(CANCEL_REASONS)
            tl.entry(t, sender, event="cancel", body=reason, detail={"from": "requested", "to": "cancelled"})
            tl.entry(t, sender, audience="patient", event="cancel", detail={})
            version += 1
            tl.audit(t, sender, "referral.cancel", state="cancelled", version=version, reason=reason)
            row.update(cancelled_at=t, escalate_at=None, status_reason=reason)
        if accepted:
            t = t0 + dt.timedelta(hours=rng.uniform(0.2, 20))
            appointment = t + dt.timedelta(days=rng.uniform(0.5, 6)) if state != "accepted" else \
                gen.now + dt.timedelta(days=rng.uniform(0.5, 6))
            admit = "bed" if place == "bed" or rng.random() < 0.3 else "appointment"
            code = "".join(rng.choice(ALPHABET) for _ in range(10))
            where = f"{gen.orgs[target_org].name}{gen.depts[dept].name if dept >= 0 else ''}"
            tl.entry(t, receiver, event="accept", body="", detail={"from": "requested", "to": "accepted",
                                                                   "admit_kind": admit})
            tl.entry(t, receiver, audience="patient", event="accept",
                     detail={"admit_kind": admit, "appointment_at": appointment.isoformat(),
                             "organisation": gen.orgs[target_org].name, "location": where, "bring": "身份证、既往病历"})
            version += 1
            mid = gen.ids.make("care", gen.care_serial + care, t)
            care += 1
            closed = state == "completed"
            gen.sink.add(CareTeamMember, {"id": mid, "created_at": t, "patient_id": pid,
                                          "practitioner_id": gen.clinicians[receiver].id, "role": "referral",
                                          "source_type": "referral", "source_id": str(rid), "since": t,
                                          "until": None})
            gen.audit.add(t, gen.clinicians[receiver].actor(), "patient.care_team.add", Verb.CREATE,
                          object_type="patients.careteammember", object_id=mid, patient_id=pid,
                          detail={"role": "referral", "source_type": "referral", "source_id": str(rid),
                                  "practitioner": str(gen.clinicians[receiver].id)})
            tl.audit(t, receiver, "referral.accept", state="accepted", version=version, admit_kind=admit,
                     appointment_at=appointment.isoformat())
            row.update(receiver_id=gen.clinicians[receiver].id, accepted_at=t, admit_kind=admit,
                       appointment_at=appointment, location=where, bring="身份证、既往病历", escalate_at=None,
                       outcome_due_at=appointment + 30 * DAY, checkin_code=encrypt(Referral, "checkin_code", code),
                       checkin_hash=checkin_hash(code))
            if state in ("arrived", "outcome_returned", "completed"):
                t = min(appointment, gen.now - dt.timedelta(hours=2))
                tl.entry(t, receiver, event="check_in", detail={"from": "accepted", "to": "arrived"})
                tl.entry(t, receiver, audience="patient", event="check_in",
                         detail={"organisation": gen.orgs[target_org].name})
                version += 1
                tl.audit(t, receiver, "referral.check_in", state="arrived", version=version, by_code=True)
                row.update(arrived_at=t)
            if state in ("outcome_returned", "completed"):
                t = min(t + dt.timedelta(days=rng.uniform(0.2, 10)), gen.now - dt.timedelta(hours=1))
                tl.entry(t, receiver, kind="outcome", audience="patient", body=OUTCOME)
                tl.entry(t, receiver, event="return_outcome", detail={"from": "arrived", "to": "outcome_returned"})
                tl.entry(t, receiver, audience="patient", event="return_outcome", detail={})
                version += 1
                tl.audit(t, receiver, "referral.outcome", state="outcome_returned", version=version, review_at="",
                         referred_down="")
                row.update(outcome_at=t, close_at=t + 14 * DAY)
            if closed:
                t = min(t + dt.timedelta(days=rng.uniform(0.2, 10)), gen.now - dt.timedelta(minutes=30))
                tl.entry(t, sender, event="complete", detail={"from": "outcome_returned", "to": "completed"})
                version += 1
                tl.audit(t, sender, "referral.complete", state="completed", version=version)
                row.update(completed_at=t, close_at=None)
        if green and (state in ("requested", "accepted") or state == "arrived" and place == "bed"):
            dept_row, i = gen.depts[dept], 0 if place == "bed" else 1
            limit = dept_row.green_beds if place == "bed" else dept_row.green_slots
            if held[dept][i] < limit:
                held[dept][i] += 1
                row["green_held"] = True
        for k, (kind, what) in enumerate(plan):
            done = state == "completed"
            gen.sink.add(FollowUpTask, {
                "id": gen.ids.make("task", tasks, t0), "created_at": t0, "referral_id": rid, "patient_id": pid,
                "organisation_id": gen.orgs[target_org].id,
                "assignee_id": gen.clinicians[receiver].id if accepted else None, "position": k, "kind": kind,
                "description": what, "due_on": (t0 + (k + 1) * 7 * DAY).date(),
                "state": "done" if done else "cancelled" if state in ("declined", "cancelled") else "scheduled",
                "completed_at": t if done else None, "completed_by_id": gen.clinicians[receiver].id if done else None,
                "result": "恢复良好" if done else ""})
            tasks += 1
        row.update(state=state, version=version, last_seq=tl.seq)
        gen.sink.add(Referral, row)
        gen.counts["referrals"] = gen.counts.get("referrals", 0) + 1
    gen.care_serial += care
    gen.counts["follow-up tasks"] = tasks
    gen.green_in_use = {gen.depts[d].id: (b, s) for d, (b, s) in held.items() if b or s}


def hold_green_places(gen: Gen) -> None:
    """The departments' green-channel places held by the live referrals (after the rows exist)."""
    for dept_id, (beds, slots) in gen.green_in_use.items():
        Department.objects.filter(pk=dept_id).update(green_channel_beds_in_use=beds, green_channel_slots_in_use=slots)
