"""The whole closed loop through the API: a licensed village doctor refers patient_a up through
the green channel (the department's capacity drops by one), the tertiary cardiologist accepts with
a bed, the patient prints the slip, the desk checks them in by its code, the outcome and a
rehabilitation plan go back down, and the village doctor completes the first follow-up and closes
the loop. Every step answers with the referral's new state and version."""

from __future__ import annotations

import datetime as dt

from medunion.audit.models import AuditEvent
from medunion.referrals.models import FollowUpTask, Referral

from .conftest import accept_body, assert_problem, photo, refer


def _card(api, rw) -> dict:
    rows = api("coordinator").get("/referrals/capacity").json()
    return next(r for r in rows if r["id"] == str(rw.cardiology.pk))


def test_the_whole_loop(rw, api):
    doctor, cardio, patient = api("village_doctor_a"), api("cardiologist_tertiary"), api("patient_a")
    before = _card(api, rw)["green_channel"]
    assert before["beds_in_use"] == 0 and before["beds_free"] == 4

    # The sender sees live availability, then sends with an ECG photo.
    dests = doctor.get("/referrals/destinations", {"direction": "up", "specialty": "cardiology"}).json()
    tertiary = next(d for d in dests if d["id"] == str(rw.orgs["tertiary"].pk))
    assert tertiary["departments"][0]["green_channel"]["beds_free"] == 4
    ecg = doctor.upload(photo(), name="ecg.jpg", patient_id=rw.patient.pk)
    created = refer(api, rw, green_channel=True, green_place="bed", attachment_ids=[ecg])
    rid = created["summary"]["id"]
    assert created["summary"]["state"] == "requested" and created["roles"] == ["care_team", "sender"]
    assert "cancel" in created["events"] and created["clinical"]["attachments"][0]["id"] == ecg
    assert _card(api, rw)["green_channel"]["beds_in_use"] == 1
    live = doctor.get("/referrals/live", {"patient": str(rw.patient.pk), "direction": "up"}).json()
    assert live["referral"]["id"] == rid

    # The receiving cardiologist finds it in the inbox and accepts with a bed.
    inbox = cardio.get("/referrals", {"list": "incoming"}).json()["items"]
    assert [i["id"] for i in inbox] == [rid] and inbox[0]["reason"]
    assert cardio.get("/referrals/counts").json()["incoming"] == 1
    seen = cardio.get(f"/referrals/{rid}").json()
    assert set(seen["events"]) == {"accept", "decline", "redirect"}
    accepted = cardio.post(f"/referrals/{rid}/accept", accept_body(expected_version=seen["summary"]["version"]))
    assert accepted.status_code == 200, accepted.content
    state = accepted.json()
    assert state["state"] == "accepted" and state["admit_kind"] == "bed" and "check_in" in state["events"]
    assert state["version"] == seen["summary"]["version"] + 1

    # The patient sees where to go and prints the slip; the file of the referral is not theirs.
    mine = patient.get(f"/referrals/{rid}").json()
    assert mine["clinical"] is None and mine["summary"]["location"] == "住院部5楼 心内科 12床"
    slip = patient.get(f"/referrals/{rid}/slip.pdf")
    assert slip.status_code == 200 and slip.content.startswith(b"%PDF") and slip["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(action="referral.slip", object_id=rid).count() == 1
    assert_problem(patient.get(f"/referrals/{rid}/files/{ecg}"), 404)
    got = cardio.get(f"/referrals/{rid}/files/{ecg}")
    assert got.status_code == 200 and b"".join(got.streaming_content)[:3] == b"\xff\xd8\xff"

    # The desk scans the code.
    code = Referral.objects.get(pk=rid).checkin_code
    arrived = cardio.post("/referrals/check-in", {"code": f"{code[:5]}-{code[5:]}".lower()})
    assert arrived.status_code == 200 and arrived.json()["state"] == "arrived"
    assert_problem(cardio.post("/referrals/check-in", {"code": code}), 409)

    # An interim note, then the outcome with a rehabilitation plan: the patient goes back down.
    note = cardio.post(f"/referrals/{rid}/notes", {"body": "造影示前降支狭窄80%，今日植入支架。"})
    assert note.status_code == 201 and note.json()["kind"] == "interim_note"
    out = cardio.post(f"/referrals/{rid}/outcome", {
        "summary": "支架术后恢复良好。", "discharge_summary": "PCI术后第5天出院，继续双抗治疗。",
        "plan": [{"kind": "visit", "description": "出院一周随访", "due_in_days": 7},
                 {"kind": "medication_review", "description": "复查用药",
                  "due_on": (dt.date.today() + dt.timedelta(days=30)).isoformat()}]})
    assert out.status_code == 200, out.content
    assert out.json()["state"] == "outcome_returned" and "complete" not in out.json()["events"]
    assert _card(api, rw)["green_channel"]["beds_in_use"] == 0  # discharged: the bed goes back
    view = doctor.get(f"/referrals/{rid}").json()
    [child] = view["clinical"]["children"]
    assert child["direction"] == "down" and child["to_organisation"]["id"] == str(rw.orgs["clinic_a"].pk)
    assert "complete" in view["events"]

    # The village doctor's follow-up tasks; the first is done.
    tasks = doctor.get("/referrals/tasks").json()["items"]
    assert [t["description"] for t in tasks] == ["出院一周随访", "复查用药"]
    assert tasks[0]["referral_id"] == child["id"] and tasks[0]["sent_by"]["name"]
    first = tasks[0]
    done = doctor.post(f"/referrals/tasks/{first['id']}/complete",
                       {"result": "血压 128/80，无胸痛。", "expected_version": first["version"]})
    assert done.status_code == 200, done.content
    assert done.json()["state"] == "done" and done.json()["completed_by"]["name"] == "张卫国"
    assert_problem(doctor.post(f"/referrals/tasks/{first['id']}/complete", {"result": "again"}), 409)
    assert FollowUpTask.objects.filter(state="done").count() == 1
    assert [t["id"] for t in doctor.get("/referrals/tasks").json()["items"]] == [tasks[1]["id"]]

    # The sender closes the loop.
    closed = doctor.post(f"/referrals/{rid}/complete", {"expected_version": view["summary"]["version"]})
    assert closed.status_code == 200 and closed.json()["state"] == "completed"
    assert rid in [i["id"] for i in doctor.get("/referrals", {"list": "closed"}).json()["items"]]

    figures = api("coordinator").get("/referrals/figures", {"by": "consortium"}).json()
    assert figures["totals"]["up"] == 1 and figures["totals"]["down"] == 1 and figures["totals"]["closed_share"] == 1.0


def test_decline_redirect_and_cancel_give_the_green_place_back(rw, api):
    doctor, cardio = api("village_doctor_a"), api("cardiologist_tertiary")
    rid = refer(api, rw, green_channel=True, green_place="slot")["summary"]["id"]
    assert _card(api, rw)["green_channel"]["slots_in_use"] == 1
    assert_problem(cardio.post(f"/referrals/{rid}/redirect", {"organisation_id": str(rw.orgs["county"].pk),
                                                              "department_id": str(rw.internal.pk), "reason": ""}),
                   422)
    moved = cardio.post(f"/referrals/{rid}/redirect", {"organisation_id": str(rw.orgs["county"].pk),
                                                       "department_id": str(rw.internal.pk),
                                                       "reason": "县医院内科可以处理"})
    assert moved.status_code == 200, moved.content
    assert moved.json()["to_organisation"]["id"] == str(rw.orgs["county"].pk)
    assert _card(api, rw)["green_channel"]["slots_in_use"] == 0
    # The cardiologist no longer sees it (it left the tertiary hospital).
    assert_problem(cardio.get(f"/referrals/{rid}"), 404)
    declined = api("county_doctor").post(f"/referrals/{rid}/decline", {"reason": "本院无床"})
    assert declined.status_code == 200 and declined.json()["state"] == "declined"
    assert doctor.get(f"/referrals/{rid}").json()["clinical"]["status_reason"] == "本院无床"

    again = refer(api, rw)["summary"]
    cancelled = doctor.post(f"/referrals/{again['id']}/cancel", {"reason": "患者拒绝转诊",
                                                                 "expected_version": again["version"]})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["events"] == []


def test_messages_and_changes(rw, api):
    doctor, cardio = api("village_doctor_a"), api("cardiologist_tertiary")
    created = refer(api, rw)
    rid, last = created["summary"]["id"], created["last_seq"]
    assert doctor.get(f"/referrals/{rid}/changes", {"after": last}).json()["entries"] == []
    reads = AuditEvent.objects.filter(action="referral.view", object_id=rid).count()
    posted = doctor.post(f"/referrals/{rid}/messages", {"body": "请带既往心电图。", "audience": "patient"})
    assert posted.status_code == 201 and posted.json()["audience"] == "patient"
    cardio.post(f"/referrals/{rid}/messages", {"body": "已服阿司匹林吗？"})
    # Before accepting, the receiving side writes to clinicians only.
    assert_problem(cardio.post(f"/referrals/{rid}/messages", {"body": "x", "audience": "patient"}), 403)
    changes = doctor.get(f"/referrals/{rid}/changes", {"after": last}).json()
    assert [e["body"] for e in changes["entries"]] == ["请带既往心电图。", "已服阿司匹林吗？"]
    assert changes["last_seq"] == last + 2
    assert AuditEvent.objects.filter(action="referral.view", object_id=rid).count() == reads + 1
    # The sender may not write an interim note; the patient may write to the patient conversation only.
    assert_problem(doctor.post(f"/referrals/{rid}/notes", {"body": "x"}), 403)
    assert api("patient_a").post(f"/referrals/{rid}/messages", {"body": "好的", "audience": "patient"}).status_code == 201
    assert_problem(api("patient_a").post(f"/referrals/{rid}/messages", {"body": "x"}), 403)
