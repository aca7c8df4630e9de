"""Reading at the hub: the worklist by hub and modality, claim / release / sign, the report's
validation, immutability once signed (amendments and addenda), the second read."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict

from medunion.audit.models import AuditEvent
from medunion.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medunion.diagnostics import actions_reading as reading
from medunion.diagnostics.actions import upload_file
from medunion.diagnostics.actions_reading import _digest  # the digest a signature seals
from medunion.diagnostics.machine import load
from medunion.diagnostics.models import ImmutableReport, Report, SecondRead
from medunion.diagnostics.queries import listing
from medunion.diagnostics.validation import ReportInput
from medunion.notifications.models import Notification
from tests.consults.conftest import add_practitioner
from tests.diagnostics.conftest import identity_of, new_ct, restamp, signed_ct, snapshot, upload, uploaded_ct

GOOD = dict(findings="双肺纹理清晰，未见实变影。", impression="胸部 CT 平扫未见明显异常。", codes=["Z01.8"])


def _report(**changes: Any) -> ReportInput:
    return ReportInput(**{**GOOD, **changes})


def _notified(kind: str) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


# --- the worklist -------------------------------------------------------------------------------------

def _ultrasound(dw, urgency: str = "routine") -> Any:
    from medunion.diagnostics.actions import submit

    exam = new_ct(dw, modality="US", body_site="liver", urgency=urgency, question="右上腹痛")
    upload_file(acting=dw.actor("township_doctor"), examination_id=exam.pk, upload=upload(
        "US.dcm", restamp("US1_J2KR.dcm", identity_of(dw.patient, dw.world.patients["patient_a_id_number"]))))
    return submit(acting=dw.actor("township_doctor"), examination_id=exam.pk)


def test_the_worklist_is_the_hubs_for_the_modalities_one_reads(dw):
    routine = uploaded_ct(dw, slices=1, urgency="routine")
    emergency = uploaded_ct(dw, slices=1, urgency="emergency")
    us = _ultrasound(dw)
    draft = new_ct(dw)  # not sent: nobody's worklist
    radiologist = [e.pk for e in listing(dw.actor("hub_radiologist"), "worklist")]
    assert radiologist == [emergency.pk, routine.pk, us.pk]  # urgency first, then waiting time
    assert draft.pk not in radiologist
    # The sonographer reads ultrasound only: she never sees the CTs.
    assert [e.pk for e in listing(dw.actor("hub_sonographer"), "worklist")] == [us.pk]
    # The requesting side has no worklist; the patient has no list at all.
    assert list(listing(dw.actor("township_doctor"), "worklist")) == []
    with pytest.raises(NotFound):
        listing(dw.actor("patient_a"), "worklist")
    # Claimed ones stay in the hub's worklist and go to the reader's own list; reported ones leave.
    reading.claim(acting=dw.actor("hub_radiologist"), examination_id=emergency.pk)
    assert [e.pk for e in listing(dw.actor("hub_radiologist"), "mine")] == [emergency.pk]
    assert list(listing(dw.actor("hub_radiologist_b"), "mine")) == []
    reading.sign(acting=dw.actor("hub_radiologist"), examination_id=emergency.pk, data=_report())
    assert emergency.pk not in [e.pk for e in listing(dw.actor("hub_radiologist_b"), "worklist")]
    # The sonographer cannot claim a CT: she does not even see it.
    with pytest.raises(NotFound):
        reading.claim(acting=dw.actor("hub_sonographer"), examination_id=routine.pk)
    assert reading.claim(acting=dw.actor("hub_sonographer"), examination_id=us.pk).state == "in_reading"


# --- claim, release, sign ---------------------------------------------------------------------------

def test_claim_release_and_sign(dw):
    exam = uploaded_ct(dw, slices=2)
    assert _notified("exam.new") == {"hub_radiologist", "hub_radiologist_b", "hub_chief"}
    claimed = reading.claim(acting=dw.actor("hub_radiologist"), examination_id=exam.pk)
    assert (claimed.state, claimed.reader_id, claimed.version) == ("in_reading", dw.pid("hub_radiologist"),
                                                                   exam.version + 1)
    released = reading.release(acting=dw.actor("hub_radiologist"), examination_id=exam.pk)
    assert (released.state, released.reader_id, released.claimed_at) == ("awaiting", None, None)
    reading.claim(acting=dw.actor("hub_radiologist_b"), examination_id=exam.pk)
    draft = reading.save_draft(acting=dw.actor("hub_radiologist_b"), examination_id=exam.pk,
                               data=ReportInput(findings="右侧基底节区高密度影。"))  # a draft may be partial
    assert (draft.status, draft.version, draft.impression) == ("draft", 1, "")
    again = reading.save_draft(acting=dw.actor("hub_radiologist_b"), examination_id=exam.pk, data=_report())
    assert again.pk == draft.pk and Report.objects.filter(examination=exam).count() == 1
    signed = reading.sign(acting=dw.actor("hub_radiologist_b"), examination_id=exam.pk)  # the saved draft
    assert (signed.pk, signed.status, signed.findings) == (draft.pk, "signed", GOOD["findings"])
    assert (signed.author_name, signed.author_organisation) == ("钱影像", "乾县影像诊断中心")
    assert signed.codes == [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "Z01.8",
                             "display": "Normal examination"}]
    assert signed.content_sha256 == _digest(signed) and len(signed.content_sha256) == 64
    fresh = load(exam.pk)
    assert fresh.state == "reported" and fresh.signed_at == signed.signed_at
    # The requester and the patient hear of it; the patient's link is her own report page.
    assert _notified("exam.reported") == {"township_doctor"}
    mine = Notification.objects.get(kind="exam.patient")
    assert (mine.user.username, mine.url) == ("patient_a", f"/me/reports/{exam.pk}")
    assert "陈桂芳" not in mine.title
    sign_row = AuditEvent.objects.get(action="examination.report.sign")
    assert sign_row.detail["sha256"] == signed.content_sha256 and sign_row.detail["critical"] is False


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"codes": ["Z01.8", "X99.9"]}, "codes", "Unknown diagnosis code: X99.9."),
    ({"measurements": [{"code": "21889-1", "value": 0}]}, "measurements",
     "lesion size (mm) must be a number from 0.1 to 500."),
    ({"measurements": [{"code": "8867-4", "value": 400}]}, "measurements",
     "heart rate (/min) must be a number from 10 to 300."),
    ({"measurements": [{"code": "21889-1", "value": "大约两厘米"}]}, "measurements",
     "lesion size (mm) must be a number from 0.1 to 500."),
    ({"measurements": [{"code": "99999-9", "value": 3}]}, "measurements", "Unknown measurement: 99999-9."),
    ({"critical": True, "critical_note": "  "}, "critical_note", "Say what the critical finding is."),
    ({"findings": ""}, "findings", "Describe the findings before signing."),
    ({"impression": "   "}, "impression", "Give the impression before signing."),
])
def test_a_report_that_does_not_validate_is_not_signed(dw, changes, field, message):
    exam = uploaded_ct(dw, slices=1)
    reading.claim(acting=dw.actor("hub_radiologist"), examination_id=exam.pk)
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        reading.sign(acting=dw.actor("hub_radiologist"), examination_id=exam.pk, data=_report(**changes))
    assert err.value.errors[field] == [message]
    assert snapshot() == before and load(exam.pk).state == "in_reading"
    if field not in ("findings", "impression"):  # a draft is checked too, but need not be complete
        with pytest.raises(ValidationFailed):
            reading.save_draft(acting=dw.actor("hub_radiologist"), examination_id=exam.pk, data=_report(**changes))
        assert snapshot() == before


def test_a_measurement_given_as_text_with_a_comma_is_read(dw):
    exam = uploaded_ct(dw, slices=1)
    reading.claim(acting=dw.actor("hub_radiologist"), examination_id=exam.pk)
    report = reading.sign(acting=dw.actor("hub_radiologist"), examination_id=exam.pk,
                          data=_report(measurements=[{"code": "21889-1", "value": "12,5"}, {"code": "", "value": ""}]))
    assert report.measurements == [{"code": "21889-1", "display": "Size Tumor", "value": 12.5, "unit": "mm"}]


# --- once signed, never changed ---------------------------------------------------------------------

def _row(report: Report) -> dict[str, Any]:
    return {**model_to_dict(Report.objects.get(pk=report.pk)), "created_at": report.created_at}


def test_a_signed_report_cannot_be_saved(dw):
    exam = signed_ct(dw)
    report = reading.current_report(exam)
    assert report is not None and report.status == "signed"
    report.findings = "改过的所见"
    with pytest.raises(ImmutableReport):
        report.save()
    with pytest.raises(ImmutableReport):
        Report.objects.get(pk=report.pk).save(update_fields=["recommendation"])
    assert Report.objects.get(pk=report.pk).findings != "改过的所见"
    # Nor is it rewritten through the reader's draft or a second signature.
    for call in (lambda: reading.save_draft(acting=dw.actor("hub_radiologist"), examination_id=exam.pk,
                                            data=_report()),
                 lambda: reading.sign(acting=dw.actor("hub_radiologist"), examination_id=exam.pk, data=_report())):
        with pytest.raises(Conflict):
            call()


def test_amending_makes_version_two_and_leaves_version_one_as_it_was(dw):
    exam = signed_ct(dw)
    v1 = reading.current_report(exam)
    assert v1 is not None
    sealed = _row(v1)
    with pytest.raises(ValidationFailed) as err:
        reading.amend(acting=dw.actor("hub_radiologist_b"), examination_id=exam.pk, data=_report(), reason=" ")
    assert err.value.field == "reason"
    v2 = reading.amend(acting=dw.actor("hub_radiologist_b"), examination_id=exam.pk,
                       data=_report(impression="右侧基底节区脑出血，量约 8 ml。"), reason="补充出血量估算")
    assert (v2.kind, v2.version, v2.status, v2.reason) == ("amended", 2, "signed", "补充出血量估算")
    assert v2.author_name == "钱影像" and v2.content_sha256 == _digest(v2)
    assert _row(v1) == sealed  # every field, the digest included
    assert Report.objects.get(pk=v1.pk).content_sha256 == _digest(Report.objects.get(pk=v1.pk))
    assert reading.current_report(load(exam.pk)).pk == v2.pk
    assert _notified("exam.amended") == {"township_doctor"}
    v3 = reading.amend(acting=dw.actor("hub_radiologist"), examination_id=exam.pk, data=_report(), reason="再次更正")
    assert v3.version == 3 and _row(v1) == sealed
    assert list(Report.objects.filter(examination=exam).order_by("version").values_list("version", "kind")) == [
        (1, "original"), (2, "amended"), (3, "amended")]


def test_an_addendum_adds_without_changing(dw):
    exam = signed_ct(dw)
    v1 = reading.current_report(exam)
    sealed = _row(v1)
    add = reading.add_addendum(acting=dw.actor("hub_chief"), examination_id=exam.pk, text="追加：左侧脑室受压轻度。")
    assert (add.kind, add.version, add.status, add.findings) == ("addendum", 1, "signed", "追加：左侧脑室受压轻度。")
    assert add.content_sha256 == _digest(add) and _row(v1) == sealed
    assert reading.current_report(load(exam.pk)).pk == v1.pk  # an addendum is not a version
    with pytest.raises(ValidationFailed) as err:
        reading.add_addendum(acting=dw.actor("hub_chief"), examination_id=exam.pk, text="  ")
    assert "findings" in err.value.errors
    with pytest.raises(PermissionDenied):  # the requester reads it, does not add to it
        reading.add_addendum(acting=dw.actor("township_doctor"), examination_id=exam.pk, text="患者已转院")
    assert _notified("exam.addendum") == {"township_doctor"}


# --- the second read --------------------------------------------------------------------------------

def _second_chief(dw) -> None:
    add_practitioner(dw.world, dw.users, "hub_chief_b", "周副主任", "imaging_hub", "110610424000024", ["radiology"],
                     title="associate_chief")


def test_a_second_read_is_by_a_senior_reader_not_the_author_once_per_version(dw):
    _second_chief(dw)
    exam = signed_ct(dw, reader="hub_chief")  # the chief signs it himself
    before = snapshot()
    with pytest.raises(PermissionDenied) as err:
        reading.second_read(acting=dw.actor("hub_chief"), examination_id=exam.pk, verdict="agree")
    assert "not the report's author" in str(err.value.message) and snapshot() == before
    with pytest.raises(PermissionDenied):  # an attending is not a senior reader
        reading.second_read(acting=dw.actor("hub_radiologist"), examination_id=exam.pk, verdict="agree")
    with pytest.raises(ValidationFailed) as bad:
        reading.second_read(acting=dw.actor("hub_chief_b"), examination_id=exam.pk, verdict="maybe")
    assert bad.value.field == "verdict"
    with pytest.raises(ValidationFailed) as bare:
        reading.second_read(acting=dw.actor("hub_chief_b"), examination_id=exam.pk, verdict="minor")
    assert bare.value.field == "comment" and snapshot() == before
    row = reading.second_read(acting=dw.actor("hub_chief_b"), examination_id=exam.pk, verdict="minor",
                              comment="水肿带描述可更具体")
    assert (row.verdict, row.reviewer_name, row.report_id) == ("minor", "周副主任", reading.current_report(exam).pk)
    assert not _notified("exam.second_read")  # a minor discrepancy tells no one
    with pytest.raises(Conflict) as twice:
        reading.second_read(acting=dw.actor("hub_chief_b"), examination_id=exam.pk, verdict="agree")
    assert "second read already" in str(twice.value.message)
    # An amended version is read again.
    reading.amend(acting=dw.actor("hub_radiologist"), examination_id=exam.pk, data=_report(), reason="更正")
    reading.second_read(acting=dw.actor("hub_chief"), examination_id=exam.pk, verdict="agree")
    assert SecondRead.objects.filter(examination=exam).count() == 2


def test_a_major_discrepancy_tells_the_author(dw):
    exam = signed_ct(dw)  # by hub_radiologist
    reading.second_read(acting=dw.actor("hub_chief"), examination_id=exam.pk, verdict="major",
                        comment="实为钙化灶，非出血，请更正")
    note = Notification.objects.get(kind="exam.second_read")
    assert (note.user.username, note.body, note.url) == ("hub_radiologist", "实为钙化灶，非出血，请更正",
                                                         f"/examinations/{exam.pk}")
    row = AuditEvent.objects.get(action="examination.report.second_read")
    assert row.detail == {"examination": str(exam.pk), "version": 1, "verdict": "major"}
