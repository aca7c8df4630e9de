"""The demo's remote diagnosis, made through the actions: reading routes to hubs whose staff read
the modality, three months of signed reports (amended, with addenda, second reads, critical
findings acknowledged and one escalated, avoided and repeated examinations), the personas' live
work, and images that are real DICOM of the right patient."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db.models import Count, F

from medunion.access.actor import Actor, actor_for
from medunion.accounts.models import User
from medunion.audit.models import AuditEvent
from medunion.audit.verify import verify_chain
from medunion.core import clock
from medunion.diagnostics import queries
from medunion.diagnostics.actions import create_examination, recent_reports
from medunion.diagnostics.codes import READING_SPECIALTIES
from medunion.diagnostics.models import (
    CriticalFinding,
    ExamAttachment,
    Examination,
    Instance,
    ReadingRoute,
    Recognition,
    Report,
    SecondRead,
)
from medunion.diagnostics.render import frame_png
from medunion.diagnostics.validation import ExaminationInput, RecentReportExists
from medunion.files.dicom import read as read_dicom
from medunion.network.codes import Tier
from medunion.network.models import PracticeSite, PractitionerSpecialty
from medunion.patients.models import Patient

pytestmark = pytest.mark.django_db


def actor(username: str) -> Actor:
    return actor_for(User.objects.get(username=username))


def test_reading_routes_go_to_hubs_whose_staff_read_the_modality(demo):
    community = demo.consortia["community"]
    routes = {r.modality: r.hub for r in ReadingRoute.objects.filter(consortium_id=community).select_related("hub")}
    assert {m: routes[m].tier for m in ("CT", "DX", "MR", "US", "ECG", "SM")} == {
        "CT": Tier.IMAGING_HUB, "DX": Tier.IMAGING_HUB, "MR": Tier.IMAGING_HUB, "US": Tier.IMAGING_HUB,
        "ECG": Tier.ECG_HUB, "SM": Tier.PATHOLOGY_HUB}
    assert routes["CT"].name == "富平县医学影像诊断中心"
    for route in ReadingRoute.objects.select_related("hub"):
        staff = PracticeSite.objects.filter(organisation=route.hub).values("practitioner_id")
        readers = PractitionerSpecialty.objects.filter(practitioner_id__in=staff,
                                                       specialty__in=READING_SPECIALTIES[route.modality])
        assert readers.count() >= 2, (route.modality, route.hub.name)
    assert ReadingRoute.objects.values("consortium").distinct().count() == 3


def test_three_months_of_examinations_in_every_state(demo):
    exams = Examination.objects.all()
    assert 80 <= exams.count() <= 120
    states = Counter(exams.values_list("state", flat=True))
    assert states["reported"] >= 70
    assert states["awaiting"] == 3 and states["in_reading"] == 1 and states["draft"] == 1 and states["cancelled"] == 2
    assert set(exams.values_list("modality", flat=True)) >= {"CT", "DX", "MR", "US", "ECG", "SM"}
    assert set(exams.values_list("urgency", flat=True)) == {"emergency", "urgent", "routine"}
    assert set(exams.values_list("hub__tier", flat=True)) == {Tier.IMAGING_HUB, Tier.ECG_HUB, Tier.PATHOLOGY_HUB}
    assert set(exams.values_list("requesting_organisation__tier", flat=True)) >= {Tier.TOWNSHIP_CENTRE,
                                                                                   Tier.VILLAGE_CLINIC}
    oldest = exams.order_by("created_at").first().created_at
    assert clock.now() - oldest > dt.timedelta(days=80)
    # Every reported examination has its images and a signed report; the times run forward.
    reported = exams.filter(state="reported")
    assert not reported.filter(instance_count=0, attachment_count=0).exists()
    assert not reported.filter(signed_at__lte=F("claimed_at")).exists()
    assert not reported.filter(claimed_at__lte=F("submitted_at")).exists()
    assert reported.annotate(n=Count("reports")).filter(n=0).count() == 0
    assert Instance.objects.count() + ExamAttachment.objects.count() == \
        sum(exams.values_list("instance_count", flat=True)) + sum(exams.values_list("attachment_count", flat=True))
    emergencies = reported.filter(urgency="emergency")
    assert emergencies.exists() and all(e.signed_at - e.submitted_at < dt.timedelta(hours=1) for e in emergencies)


def test_corrections_second_reads_critical_findings_and_recognition(demo):
    kinds = Counter(Report.objects.filter(status="signed").values_list("kind", flat=True))
    assert kinds["amended"] >= 3 and kinds["addendum"] >= 3
    assert SecondRead.objects.count() >= 3
    assert SecondRead.objects.exclude(reviewer__title="chief").count() == 0
    assert not SecondRead.objects.filter(reviewer=F("report__author")).exists()

    findings = CriticalFinding.objects.select_related("examination")
    escalated = findings.filter(escalated_at__isnull=False)
    assert escalated.count() == 1
    late = escalated.get()
    assert late.acknowledged_at is not None and late.acknowledged_at - late.created_at > dt.timedelta(minutes=10)
    on_time = findings.filter(escalated_at__isnull=True, acknowledged_at__isnull=False)
    assert on_time.count() >= 2
    assert all(f.acknowledged_at - f.created_at < dt.timedelta(minutes=10) for f in on_time)
    assert AuditEvent.objects.filter(action="examination.critical.escalate").count() == 1

    decisions = Counter(Recognition.objects.values_list("decision", flat=True))
    assert decisions["reused"] >= 5 and decisions["repeated"] >= 2
    repeated = Examination.objects.exclude(repeat_reason="")
    assert repeated.count() == decisions["repeated"] and not repeated.exclude(state="reported").exists()
    assert verify_chain().ok


def test_the_radiologist_has_a_worklist(demo):
    radiology = actor("radiology")
    worklist = list(queries.listing(radiology, "worklist"))
    waiting = [e for e in worklist if e.state == "awaiting"]
    assert [(e.modality, e.urgency) for e in waiting] == [("CT", "emergency"), ("US", "urgent"), ("DX", "routine")]
    ct = waiting[0]
    assert ct.body_site == "head" and ct.instance_count == 30
    assert ct.requesting_organisation.tier == Tier.TOWNSHIP_CENTRE
    assert clock.now() - ct.submitted_at < dt.timedelta(hours=1)
    mine = list(queries.listing(radiology, "mine"))
    assert len(mine) == 1 and queries.examination_view(radiology, mine[0].pk).draft is not None
    assert queries.listing(radiology, "second_reads").exists()
    # The slices are real DICOM of the registered patient, in order, and render.
    instances = list(Instance.objects.filter(examination=ct).order_by("number"))
    assert [i.number for i in instances] == list(range(1, 31))
    assert len({i.sop_instance_uid for i in instances}) == 30
    png = frame_png(queries.access_instance(radiology, ct.pk, instances[15].pk), preset="brain")
    assert png.startswith(b"\x89PNG")


def test_images_carry_the_patients_identity(demo):
    from medunion.diagnostics.archive import get_archive
    from medunion.diagnostics.identity import check_patient

    for inst in Instance.objects.select_related("patient", "examination").order_by("?")[:6]:
        parsed = read_dicom(get_archive(inst.archive).get(inst))
        check_patient(parsed.patient, inst.patient)  # raises on a mismatch
        assert parsed.patient.id == inst.patient.id_number
        assert parsed.meta["modality"] in {"CT", "DX", "MR", "US"}


def test_the_township_gp_has_a_critical_finding_and_a_draft(demo):
    township = actor("township")
    open_ = list(queries.open_critical(township))
    assert len(open_) == 1
    exam = open_[0].examination
    assert exam.modality == "CT" and exam.state == "reported" and exam.requester_id == township.practitioner_id
    assert clock.now() - open_[0].created_at < dt.timedelta(minutes=15)
    drafts = queries.listing(township, "requested").filter(state="draft")
    assert drafts.count() == 1 and drafts.get().instance_count == 1
    assert queries.counts(township)["critical"] == 1


def test_the_patient_sees_her_reports(demo):
    patient = actor("patient")
    reports = queries.patient_reports(patient)
    assert {e.modality for e in reports} >= {"ECG", "DX"}
    view = queries.patient_report(patient, reports[0].pk)
    assert view.current is not None and view.current.status == "signed"
    assert reports[0].patient_id == demo.demo_patient_id


def test_the_county_physician_is_shown_the_recent_report(demo):
    county = actor("county")
    assert PracticeSite.objects.get(practitioner_id=county.practitioner_id, primary=True).organisation.tier \
        == Tier.COUNTY_HOSPITAL
    candidates = Patient.objects.filter(care_team__practitioner_id=county.practitioner_id,
                                        care_team__until__isnull=True)
    shown = [(p, recent_reports(county, p.pk, "CT", "head")) for p in candidates]
    shown = [(p, r) for p, r in shown if r]
    assert shown
    patient, recent = shown[0]
    assert recent[0].state == "reported" and recent[0].hub.tier == Tier.IMAGING_HUB
    with pytest.raises(RecentReportExists) as refused:
        create_examination(acting=county, data=ExaminationInput(
            patient_id=patient.pk, modality="CT", body_site="head", question="头痛加重，复查头颅CT"))
    assert str(recent[0].pk) in refused.value.details["examinations"]
