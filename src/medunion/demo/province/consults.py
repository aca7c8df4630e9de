"""The province's teleconsultations: village doctors and township GPs ask the specialty pools of
their county medical community (county hospital and the city's tertiary hospital); the rows the
consult actions would have written — the case, its clinician and patient conversations (system
events, information requests, messages), the participant, the specialist's place in the care
team, the answer and the rating — and one audit row per step, as the actions write them.

Most cases are closed; live work is left for the benchmarks: cases waiting in every specialty's
pool, cases in progress with their specialists, waiting on the asker, answered and waiting for
confirmation. Open cases are recent, so the worker does not find them all overdue at once."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from medunion.audit.models import Verb
from medunion.consults.models import (
    Consult,
    ConsultAnswer,
    ConsultMessage,
    ConsultParticipant,
    ConsultRating,
)
from medunion.network.codes import TIER_RANK
from medunion.patients.models import CareTeamMember

from .bulk import ActorRow
from .patients import patient_id
from .state import Gen
from .texts import CANCEL_REASONS, CASES, CONSULT_SPECIALTIES, MESSAGES, PATIENT_MESSAGES

STATES = ["requested", "in_progress", "on_hold", "answered", "completed", "cancelled"]
WEIGHTS = [4, 4, 1.5, 2.5, 83, 5]
BASE = {"requested": 1, "in_progress": 2, "on_hold": 3, "answered": 3, "completed": 4, "cancelled": 2}
TARGET_MINUTES = {"routine": 2880, "urgent": 240, "emergency": 30}
CARE_TEAM_DAYS = 30
H = dt.timedelta(hours=1)


def pools(gen: Gen) -> dict[int, dict[str, list[int]]]:
    """Per community consortium: specialty -> the specialists who can answer from its pool."""
    found: dict[int, dict[str, list[int]]] = {}
    for county in gen.counties:
        members = {county.hospital, gen.cities[county.city].tertiary}
        by: dict[str, list[int]] = {}
        for ci, c in enumerate(gen.clinicians):
            if c.kind == "specialist" and c.org in members:
                for s in c.specialties:
                    if s in CASES:
                        by.setdefault(s, []).append(ci)
        found[county.community] = by
    return found


class _Case:
    """One consult being written: its rows, sequence and audit rows."""

    def __init__(self, gen: Gen, cid: uuid.UUID, pid: uuid.UUID | None, specialty: str):
        self.gen, self.id, self.patient, self.specialty = gen, cid, pid, specialty
        self.seq = 0

    def snapshot(self, ci: int) -> dict[str, Any]:
        c = self.gen.clinicians[ci]
        return {"author_id": c.user_id, "author_practitioner_id": c.id, "author_name": c.name,
                "author_title": c.title,
                "author_specialty": self.specialty if self.specialty in c.specialties else sorted(c.specialties)[0],
                "author_organisation": self.gen.orgs[c.org].name}

    def message(self, at: dt.datetime, ci: int, *, kind: str = "message", audience: str = "clinicians",
                event: str = "", body: str = "", detail: dict[str, Any] | None = None) -> uuid.UUID:
        gen = self.gen
        self.seq += 1
        n = gen.counts.get("consult messages", 0)
        mid = gen.ids.make("message", n, at)
        gen.counts["consult messages"] = n + 1
        gen.sink.add(ConsultMessage, {"id": mid, "created_at": at, "consult_id": self.id, "patient_id": self.patient,
                                      "seq": self.seq, "audience": audience, "kind": kind, "event": event,
                                      "detail": detail or {}, "body": body, **self.snapshot(ci)})
        return mid

    def audit(self, at: dt.datetime, actor: ActorRow, action: str, verb: str, obj_type: str, obj: uuid.UUID,
              **detail: Any) -> None:
        self.gen.audit.add(at, actor, action, verb, object_type=obj_type, object_id=obj, patient_id=self.patient,
                           detail=detail)


def _plan_states(gen: Gen, rng: random.Random, n: int) -> tuple[list[int], list[int]]:
    """Each case's state, and how many conversation messages it gets beyond its events, so that
    the messages add up to the target exactly."""
    states = [STATES.index(s) for s in rng.choices(STATES, weights=WEIGHTS, k=n)]
    base = sum(BASE[STATES[s]] for s in states)
    chatty = [j for j, s in enumerate(states) if STATES[s] not in ("requested", "cancelled")]
    extra_total = max(0, gen.targets["messages"] - base)
    extras = [0] * n
    if chatty:
        q, r = divmod(extra_total, len(chatty))
        for e, j in enumerate(chatty):
            extras[j] = q + (1 if e < r else 0)
    return states, extras


def build_consults(gen: Gen) -> None:
    rng = gen.fork("consults")
    n = gen.targets["consults"]
    n_patients = gen.targets["patients"]
    by_pool = pools(gen)
    states, extras = _plan_states(gen, rng, n)
    actors = [c.actor() for c in gen.clinicians]
    care = participants = answers = 0
    for j in range(n):
        state = STATES[states[j]]
        p = rng.randrange(n_patients) if n_patients and rng.random() < 0.9 else -1
        if p >= 0:
            v = gen.villages[gen.patient_village[p]]
            asker = gen.patient_doctor[p] if v.team_lead < 0 or rng.random() < 0.75 else v.team_lead
        else:
            v = gen.villages[rng.randrange(len(gen.villages))]
            asker = v.doctors[0] if v.doctors else gen.townships[v.township].gps[0]
        community = gen.counties[gen.townships[v.township].county].community
        choices = [s for s in CONSULT_SPECIALTIES if by_pool[community].get(s)]
        if not choices:
            continue
        specialty = rng.choice(choices)
        urgency = rng.choices(["routine", "urgent", "emergency"], weights=[80, 17, 3])[0]
        minutes = TARGET_MINUTES[urgency]
        if state in ("completed", "cancelled"):
            t0 = gen.now - dt.timedelta(days=rng.uniform(2, 365))
            end = t0 + dt.timedelta(minutes=rng.uniform(30, 4 * 24 * 60))
        else:
            t0 = gen.now - dt.timedelta(minutes=minutes * rng.uniform(0.05, 0.9))
            end = gen.now - dt.timedelta(minutes=1)
        assignee = rng.choice(by_pool[community][specialty]) if state not in ("requested", "cancelled") else -1
        n_msgs = BASE[state] + extras[j]
        times = sorted(t0 + (end - t0) * rng.random() for _ in range(n_msgs - 1))
        times.insert(0, t0)
        cid = gen.ids.make("consult", j, t0)
        pid = patient_id(gen, p) if p >= 0 else None
        case = _Case(gen, cid, pid, specialty)
        complaint, assessment, plan = rng.choice(CASES[specialty])
        asker_c = gen.clinicians[asker]
        target_kind = "practitioner" if assignee >= 0 and rng.random() < 0.1 else "pool"
        ask, spec = actors[asker], actors[assignee] if assignee >= 0 else None
        step = iter(times)
        at = next(step)
        case.message(at, asker, kind="system", event="create", detail={"target_kind": target_kind})
        case.audit(at, ask, "consult.create", Verb.CREATE, "consults.consult", cid, specialty=specialty,
                   urgency=urgency, target_kind=target_kind, attachments=0)
        version, row = 0, _row(gen, asker, p, specialty, urgency, minutes, t0, cid, pid, community, complaint,
                               rng, target_kind, assignee)
        if state == "cancelled":
            at = next(step)
            reason = rng.choice(CANCEL_REASONS)
            case.message(at, asker, kind="system", event="cancel", body=reason,
                         detail={"from": "requested", "to": "cancelled"})
            case.audit(at, ask, "consult.cancel", Verb.UPDATE, "consults.consult", cid, state="cancelled", version=1,
                       reason=reason)
            row.update(closed_at=at, close_reason=reason, escalate_at=None)
            version = 1
        if assignee >= 0 and spec is not None:
            at = next(step)
            case.message(at, assignee, kind="system", event="claim", detail={"from": "requested", "to": "in_progress"})
            version += 1
            gen.sink.add(ConsultParticipant, {"id": gen.ids.make("participant", participants, at), "created_at": at,
                                              "consult_id": cid, "patient_id": pid,
                                              "practitioner_id": gen.clinicians[assignee].id, "role": "assignee",
                                              "invited_at": at})
            participants += 1
            if pid is not None:
                mid = gen.ids.make("care", gen.care_serial + care, at)
                care += 1
                gen.sink.add(CareTeamMember, {"id": mid, "created_at": at, "patient_id": pid,
                                              "practitioner_id": gen.clinicians[assignee].id, "role": "consult",
                                              "source_type": "consult", "source_id": str(cid), "since": at,
                                              "until": None if state != "completed" else
                                              end + dt.timedelta(days=CARE_TEAM_DAYS)})
                case.audit(at, spec, "patient.care_team.add", Verb.CREATE, "patients.careteammember", mid,
                           role="consult", source_type="consult", source_id=str(cid),
                           practitioner=str(gen.clinicians[assignee].id))
            case.audit(at, spec, "consult.claim", Verb.UPDATE, "consults.consult", cid, state="in_progress",
                       version=version)
            row.update(assignee_id=gen.clinicians[assignee].id, assigned_at=at)
            for _x in range(extras[j]):
                at = next(step)
                to_patient = pid is not None and rng.random() < 0.3
                author = assignee if rng.random() < 0.5 else asker
                body = rng.choice(PATIENT_MESSAGES if to_patient else MESSAGES)
                audience = "patient" if to_patient else "clinicians"
                mid = case.message(at, author, audience=audience, body=body)
                case.audit(at, actors[author], "consult.message.create", Verb.CREATE, "consults.consultmessage", mid,
                           consult=str(cid), audience=audience, attachments=0)
            if state == "on_hold":
                at = next(step)
                case.message(at, assignee, kind="info_request", event="request_info", body="请补充近期检查结果。",
                             detail={"from": "in_progress", "to": "on_hold"})
                version += 1
                case.audit(at, spec, "consult.request_info", Verb.UPDATE, "consults.consult", cid, state="on_hold",
                           version=version)
                row.update(on_hold_since=at, escalate_at=None)
            if state in ("answered", "completed"):
                at = next(step)
                case.message(at, assignee, kind="system", event="answer",
                             detail={"from": "in_progress", "to": "answered", "recommendation": "manage_locally",
                                     "consensus": False})
                version += 1
                case.seq += 1
                aid = gen.ids.make("answer", answers, at)
                answers += 1
                c = gen.clinicians[assignee]
                gen.sink.add(ConsultAnswer, {"id": aid, "created_at": at, "consult_id": cid, "patient_id": pid,
                                             "seq": case.seq, "author_id": c.id, "author_name": c.name,
                                             "author_title": c.title, "author_organisation": gen.orgs[c.org].name,
                                             "assessment": assessment, "recommendation": "manage_locally",
                                             "plan": plan})
                case.audit(at, spec, "consult.answer", Verb.CREATE, "consults.consultanswer", aid, consult=str(cid),
                           recommendation="manage_locally", consensus=False)
                row.update(answered_at=at, escalate_at=None)
            if state == "completed":
                at = next(step)
                useful = rng.choice([3, 4, 5, 5, 5])
                avoided = rng.random() < 0.7
                case.message(at, asker, kind="system", event="confirm",
                             detail={"from": "answered", "to": "completed", "useful": useful})
                version += 1
                gen.sink.add(ConsultRating, {"id": gen.ids.make("rating", j, at), "created_at": at, "consult_id": cid,
                                             "patient_id": pid, "rated_by_id": asker_c.id, "useful": useful,
                                             "avoided_referral": avoided, "avoided_travel": avoided})
                case.audit(at, ask, "consult.confirm", Verb.UPDATE, "consults.consult", cid, useful=useful,
                           avoided_referral=avoided, avoided_travel=avoided)
                row.update(closed_at=at)
        row.update(state=state, version=version, last_seq=case.seq)
        gen.sink.add(Consult, row)
        gen.counts["consultations"] = gen.counts.get("consultations", 0) + 1
    gen.care_serial += care
    gen.counts["consult participants"] = participants
    gen.counts["consult answers"] = answers
    gen.counts["consult care-team members"] = care


def _row(gen: Gen, asker: int, p: int, specialty: str, urgency: str, minutes: int, t0: dt.datetime,
         cid: uuid.UUID, pid: uuid.UUID | None, community: int, complaint: str, rng: random.Random,
         target_kind: str, assignee: int) -> dict[str, Any]:
    c = gen.clinicians[asker]
    org = gen.orgs[c.org]
    due = t0 + dt.timedelta(minutes=minutes)
    age = rng.randint(20, 85)
    return {
        "id": cid, "created_at": t0, "patient_id": pid, "consortium_id": gen.consortia[community].id,
        "asker_id": c.id, "asker_organisation_id": org.id, "asker_tier_rank": TIER_RANK.get(org.tier, 0),  # type: ignore[call-overload]
        "specialty": specialty, "urgency": urgency, "question": f"{age}岁患者，{complaint}，请专家指导下一步处理。",
        "history": "高血压病史" if rng.random() < 0.4 else "", "medication": "",
        "vitals": {"systolic": rng.randint(100, 180), "diastolic": rng.randint(60, 110),
                   "heart_rate": rng.randint(55, 110)},
        "target_kind": target_kind,
        "target_practitioner_id": gen.clinicians[assignee].id if target_kind == "practitioner" else None,
        "target_minutes": minutes, "due_at": due, "escalate_at": due, "escalation_level": 0,
    }
