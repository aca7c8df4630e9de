"""The province's remote diagnosis: township GPs request DR, CT, MR, ultrasound, ECG and pathology
examinations for the patients of their family-doctor team; the community's reading routes send
them to the city's hubs, whose readers claim them and sign structured reports (written signed,
as the sign action leaves them: immutable rows with their content digest). Study, series and
instance rows stand for the images; no DICOM bytes are stored (``file`` is empty), so the
viewer has nothing to show for them, and every list and page still works.

Live work for the benchmarks: examinations awaiting reading at every hub, some being read, a
few drafts; patients with signed reports (the patients who have an account among them)."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from medunion.audit.models import Verb
from medunion.diagnostics.actions_reading import _digest
from medunion.diagnostics.codes import IMPRESSION_CODES, READING_SPECIALTIES
from medunion.diagnostics.models import CriticalFinding, Examination, Instance, Report, Series, Study

from .network import ROUTES
from .patients import login_patients, patient_id
from .state import Clinician, Gen
from .texts import QUESTIONS, REPORTS

STATES = ["reported", "awaiting", "in_reading", "draft", "cancelled"]
WEIGHTS = [88, 5, 2, 2, 3]
MODALITIES = ["DX", "CT", "US", "ECG", "MR", "SM"]
MODALITY_WEIGHTS = [35, 25, 20, 15, 3, 2]
INSTANCES = {"DX": 1, "CT": 3, "MR": 2, "US": 2, "ECG": 1, "SM": 1}
RANK = {"emergency": 0, "urgent": 1, "routine": 2}
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def readers(gen: Gen) -> dict[tuple[int, str], list[int]]:
    """(hub organisation, modality) -> the readers there who read it."""
    found: dict[tuple[int, str], list[int]] = {}
    for ci, c in enumerate(gen.clinicians):
        if c.kind != "reader":
            continue
        for modality, specialties in READING_SPECIALTIES.items():
            if specialties & set(c.specialties):
                found.setdefault((c.org, str(modality)), []).append(ci)
    return found


def _accession(at: dt.datetime, n: int, taken: set[str]) -> str:
    k = (n * 7919 + 104729) % (32 ** 6)
    while True:
        code = "".join(_ALPHABET[(k >> (5 * i)) & 31] for i in range(6))
        value = f"EX{at:%y%m%d}{code}"
        if value not in taken:
            return value
        k = (k + 1) % (32 ** 6)


def build_diagnostics(gen: Gen) -> None:
    rng = gen.fork("diagnostics")
    n, n_patients = gen.targets["examinations"], gen.targets["patients"]
    by_hub = readers(gen)
    taken = set(Examination.objects.values_list("accession", flat=True))
    logins = login_patients(gen)
    reported = 0
    counts = dict.fromkeys(("studies", "series", "instances", "reports", "critical findings"), 0)
    # Live work at every hub however small the scale: the first examinations await reading there.
    firsts = [(hub, modality) for city in gen.cities for key, hub in city.hubs.items()
              for modality in [next(m for m, h in ROUTES.items() if h == key)]]
    for j in range(n):
        state = rng.choices(STATES, weights=WEIGHTS)[0]
        forced = firsts[j] if j < len(firsts) else None
        if forced is not None:
            state = "awaiting"
        if state == "reported" and reported < len(logins):
            p = logins[reported]  # the patients with accounts have signed reports to see
        else:
            p = rng.randrange(n_patients)
        village = gen.villages[gen.patient_village[p]]
        if village.team_lead < 0:
            continue
        township = gen.townships[village.township]
        county = gen.counties[township.county]
        city = gen.cities[county.city]
        requester = village.team_lead
        modality = rng.choices(MODALITIES, weights=MODALITY_WEIGHTS)[0]
        if forced is not None and forced[0] in city.hubs.values():
            modality = forced[1]
        hub = city.hubs[ROUTES[modality]]
        pool = by_hub.get((hub, modality), [])
        if not pool and state in ("reported", "in_reading"):
            state = "awaiting"
        site, findings, impression, codes = rng.choice(REPORTS[modality])
        urgency = rng.choices(["routine", "urgent", "emergency"], weights=[85, 12, 3])[0]
        if state in ("awaiting", "in_reading", "draft"):
            t0 = gen.now - dt.timedelta(hours=rng.uniform(0.2, 30))
        else:
            t0 = gen.now - dt.timedelta(days=rng.uniform(1, 365))
        eid = gen.ids.make("examination", j, t0)
        pid = patient_id(gen, p)
        req = gen.clinicians[requester]
        req_actor = req.actor()
        accession = _accession(t0, j, taken)
        taken.add(accession)
        row = {"id": eid, "created_at": t0, "patient_id": pid, "consortium_id": gen.consortia[county.community].id,
               "accession": accession, "requester_id": req.id, "requesting_organisation_id": gen.orgs[req.org].id,
               "hub_id": gen.orgs[hub].id, "modality": modality, "body_site": site, "question": QUESTIONS[modality],
               "urgency": urgency, "urgency_rank": RANK[urgency], "version": 1}
        gen.audit.add(t0, req_actor, "examination.create", Verb.CREATE, object_type="diagnostics.examination",
                      object_id=eid, patient_id=pid, detail={"modality": modality, "body_site": site,
                                                             "urgency": urgency, "hub": str(gen.orgs[hub].id),
                                                             "repeat_of": ""})
        images = INSTANCES[modality] if state != "cancelled" else 0
        _images(gen, rng, counts, eid, pid, t0, modality, site, images)
        row["instance_count"] = images
        t = t0 + dt.timedelta(minutes=rng.uniform(5, 60))
        if state == "cancelled":
            row.update(cancelled_at=t, cancel_reason="患者拒绝检查")
            gen.audit.add(t, req_actor, "examination.cancel", Verb.UPDATE, object_type="diagnostics.examination",
                          object_id=eid, patient_id=pid, detail={"state": "cancelled", "reason": "患者拒绝检查"})
        elif state != "draft":
            t = min(t, gen.now - dt.timedelta(minutes=5))
            row.update(submitted_at=t, version=2)
            gen.audit.add(t, req_actor, "examination.submit", Verb.UPDATE, object_type="diagnostics.examination",
                          object_id=eid, patient_id=pid, detail={"state": "awaiting"})
        if state in ("in_reading", "reported"):
            reader = gen.clinicians[rng.choice(pool)]
            if state == "reported":
                claimed = t + dt.timedelta(minutes=rng.uniform(5, 600))
                signed = claimed + dt.timedelta(minutes=rng.uniform(5, 60))
            else:
                claimed = min(t + dt.timedelta(minutes=rng.uniform(1, 30)), gen.now - dt.timedelta(minutes=1))
                signed = None
            row.update(reader_id=reader.id, claimed_at=claimed, version=3)
            gen.audit.add(claimed, reader.actor(), "examination.claim", Verb.UPDATE,
                          object_type="diagnostics.examination", object_id=eid, patient_id=pid)
            if signed is not None:
                reported += 1
                row.update(signed_at=signed, version=4)
                _report(gen, rng, counts, eid, pid, signed, reader, hub, findings, impression, codes, req.id)
        row["state"] = state
        gen.sink.add(Examination, row)
        gen.counts["examinations"] = gen.counts.get("examinations", 0) + 1
    for key, value in counts.items():
        gen.counts[key] = value


def _images(gen: Gen, rng: random.Random, counts: dict[str, int], eid: uuid.UUID, pid: uuid.UUID, at: dt.datetime,
            modality: str, site: str, images: int) -> None:
    if not images:
        return
    sid = gen.ids.make("study", counts["studies"], at)
    counts["studies"] += 1
    gen.sink.add(Study, {"id": sid, "created_at": at, "examination_id": eid, "patient_id": pid,
                         "study_instance_uid": f"2.25.{sid.int}", "study_date": at.date(),
                         "description": QUESTIONS[modality][:200]})
    series = gen.ids.make("series", counts["series"], at)
    counts["series"] += 1
    gen.sink.add(Series, {"id": series, "created_at": at, "study_id": sid, "examination_id": eid, "patient_id": pid,
                          "series_instance_uid": f"2.25.{series.int}", "modality": modality, "number": 1,
                          "body_part": site.upper(), "instance_count": images})
    for k in range(images):
        iid = gen.ids.make("instance", counts["instances"], at)
        counts["instances"] += 1
        gen.sink.add(Instance, {"id": iid, "created_at": at, "series_id": series, "examination_id": eid,
                                "patient_id": pid, "sop_instance_uid": f"2.25.{iid.int}",
                                "sop_class_uid": "1.2.840.10008.5.1.4.1.1.7", "number": k + 1, "frames": 1,
                                "archive": "local", "file_id": None, "size": 0, "sha256": "0" * 64,
                                "meta": {"rows": 512, "columns": 512}})


def _report(gen: Gen, rng: random.Random, counts: dict[str, int], eid: uuid.UUID, pid: uuid.UUID, signed: dt.datetime,
            reader: Clinician, hub: int, findings: str, impression: str, codes: list[str], requester: uuid.UUID) -> None:
    critical = rng.random() < 0.01
    rid = gen.ids.make("report", counts["reports"], signed)
    counts["reports"] += 1
    coded = [{"system": IMPRESSION_CODES[c].system, "code": c, "display": IMPRESSION_CODES[c].display}
             for c in codes]
    report = Report(id=rid, examination_id=eid, patient_id=pid, kind="original", status="signed", version=1,
                    findings=findings, impression=impression, recommendation="结合临床。", codes=coded,
                    measurements=[], critical=critical, critical_note="危急值：请立即处理。" if critical else "",
                    reason="", author_id=reader.id, author_name=reader.name,
                    author_organisation=gen.orgs[hub].name, signed_at=signed)
    report.content_sha256 = _digest(report)
    gen.sink.add(Report, {f.attname: getattr(report, f.attname) for f in Report._meta.concrete_fields
                          if f.attname != "created_at"} | {"created_at": signed})
    gen.audit.add(signed, reader.actor(), "examination.report.sign", Verb.CREATE, object_type="diagnostics.report",
                  object_id=rid, patient_id=pid, detail={"examination": str(eid), "version": 1,
                                                         "sha256": report.content_sha256, "critical": critical})
    if critical:
        fid = gen.ids.make("critical", counts["critical findings"], signed)
        counts["critical findings"] += 1
        ack = signed + dt.timedelta(minutes=rng.uniform(2, 9))
        gen.sink.add(CriticalFinding, {"id": fid, "created_at": signed, "examination_id": eid, "report_id": rid,
                                       "patient_id": pid, "note": report.critical_note, "raised_by_id": reader.id,
                                       "acknowledged_at": ack, "acknowledged_by_id": requester})
        gen.audit.add(signed, reader.actor(), "examination.critical.raise", Verb.CREATE,
                      object_type="diagnostics.criticalfinding", object_id=fid, patient_id=pid,
                      detail={"examination": str(eid), "report": str(rid)})
