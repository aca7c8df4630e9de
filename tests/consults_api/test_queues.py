"""Queues, live updates, MDT, attachments and the coordinators' views over the API: each list a
fixed number of queries, each case shown one audit row, nothing a role may not see."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.files.models import StoredFile
from tests.api.conftest import issue_token
from tests.files.conftest import pdf_bytes
from tests.pins import AS_WRITTEN

from .conftest import Api, ask, assert_problem, photo


def later(api_cls, persona: str):
    """A client with a token issued now (for a clock moved days ahead, past the first tokens' life)."""
    return api_cls(issue_token(persona))


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["items"]]


def test_the_queues(cw, api):
    start = clock.now()
    with clock.frozen(start):
        pool = ask(api, cw)["summary"]["id"]
        teamed = ask(api, cw, target_kind="team", target_team_id=str(cw.team.pk), urgency="routine")["summary"]["id"]
        named = ask(api, cw, target_kind="practitioner", target_practitioner_id=str(cw.pid("oncologist")),
                    specialty="oncology")["summary"]["id"]
        cardio, doctor = api("cardiologist_tertiary"), api("village_doctor_a")
        cardio.post(f"/consults/{pool}/claim")
        assert _ids(cardio.get("/consults", {"queue": "mine"})) == [pool]
        assert _ids(cardio.get("/consults", {"queue": "team"})) == [teamed]
        assert _ids(api("oncologist").get("/consults", {"queue": "pool"})) == []
        assert set(_ids(doctor.get("/consults", {"queue": "asked"}))) == {pool, teamed, named}
        assert _ids(doctor.get("/consults", {"queue": "asked", "specialty": "oncology"})) == [named]
        assert _ids(doctor.get("/consults", {"queue": "asked", "urgency": "routine"})) == [teamed]
        assert _ids(doctor.get("/consults", {"queue": "asked", "state": "in_progress"})) == [pool]
        assert _ids(doctor.get("/consults", {"queue": "asked", "patient": cw.patient.name[:2]})) != []
        assert _ids(doctor.get("/consults", {"queue": "asked", "patient": "无此人"})) == []
        cardio.post(f"/consults/{pool}/request-info", {"question": "请补做心电图"})
        assert _ids(doctor.get("/consults", {"queue": "waiting"})) == [pool]
    # Later than every due time: overdue for those who work on them.
    with clock.frozen(start + dt.timedelta(days=3)):
        assert set(_ids(later(Api, "cardiologist_tertiary").get("/consults", {"queue": "overdue"}))) == {teamed}
        assert _ids(later(Api, "oncologist").get("/consults", {"queue": "overdue"})) == [named]
    # No queue: every case one may see, newest first.
    assert set(_ids(doctor.get("/consults"))) == {pool, teamed, named}
    item = doctor.get("/consults").json()["items"][0]
    assert item["patient"]["name"] == cw.patient.name and item["question"].startswith("胸闷")
    assert item["target_kind"] in {"pool", "team", "practitioner"}


def test_the_patient_lists_their_cases_without_the_question(cw, api):
    case = ask(api, cw)["summary"]["id"]
    patient = api("patient_a")
    [item] = patient.get("/consults").json()["items"]
    assert (item["id"], item["question"]) == (case, None)
    for queue in ("mine", "pool", "asked"):
        assert _ids(patient.get("/consults", {"queue": queue})) == []


@pytest.mark.parametrize("persona", ["coordinator", "commission_viewer", "sysadmin", "auditadmin", "secadmin"])
def test_roles_without_cases_get_404(cw, api, persona):
    ask(api, cw)
    assert_problem(api(persona).get("/consults"), 404, "not_found")


def test_pages_and_audit_rows(cw, api):
    made, start = [], clock.now()
    for i in range(5):
        with clock.frozen(start + dt.timedelta(minutes=i)):
            made.append(ask(api, cw, question=f"问题{i}")["summary"]["id"])
    doctor = api("village_doctor_a")
    before = AuditEvent.objects.filter(action="consult.list").count()
    first = doctor.get("/consults", {"limit": 2}).json()
    assert [c["id"] for c in first["items"]] == made[:-3:-1] and first["next_offset"] == 2
    second = doctor.get("/consults", {"limit": 2, "offset": 2}).json()
    last = doctor.get("/consults", {"limit": 2, "offset": 4}).json()
    assert [c["id"] for c in second["items"] + last["items"]] == made[2::-1] and last["next_offset"] is None
    rows = AuditEvent.objects.filter(action="consult.list").order_by("seq")[before:]
    assert sorted(r.object_id for r in rows) == sorted(made)  # one row per case shown
    assert {(r.patient_id, r.surface) for r in rows} == {(cw.patient.pk, "api")}


@pytest.mark.parametrize("params", [{"queue": "everything"}, {"limit": 0}, {"limit": 201}, {"offset": -1},
                                    {"specialty": "astrology"}, {"state": "done"}, {"patient": "a\x00b"}])
def test_bad_filters_are_422(cw, api, params):
    assert_problem(api("village_doctor_a").get("/consults", params), 422, "validation_failed")


@pytest.mark.parametrize(("persona", "queue"), [("village_doctor_a", None), ("village_doctor_a", "asked"),
                                                ("cardiologist_tertiary", "pool"), ("patient_a", None)])
def test_the_list_query_count_does_not_grow(cw, api, persona, queue):
    client = api(persona)
    params = {"queue": queue} if queue else {}
    client.get("/consults", params)  # the token's first use is recorded once
    counts = []
    for n in (1, 6):
        while len(_ids(api("village_doctor_a").get("/consults"))) < n:
            ask(api, cw, question="又一个问题", history="", attachment_ids=[])
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/consults", params)
        assert len(_ids(response)) == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 12 + AS_WRITTEN, counts


def test_live_changes(cw, api):
    case = ask(api, cw)["summary"]["id"]
    doctor, cardio, patient = api("village_doctor_a"), api("cardiologist_tertiary"), api("patient_a")
    seen = doctor.get(f"/consults/{case}").json()["last_seq"]
    nothing = doctor.get(f"/consults/{case}/changes", {"after": seen}).json()
    assert (nothing["messages"], nothing["answers"], nothing["last_seq"]) == ([], [], seen)
    cardio.post(f"/consults/{case}/claim")
    cardio.post(f"/consults/{case}/messages", {"body": "我来看看", "audience": "clinicians"})
    cardio.post(f"/consults/{case}/messages", {"body": "您好，医生已接诊", "audience": "patient"})
    new = doctor.get(f"/consults/{case}/changes", {"after": seen}).json()
    assert new["state"] == "in_progress" and new["last_seq"] > seen
    assert [m["text"] for m in new["messages"] if m["kind"] == "message"] == ["我来看看", "您好，医生已接诊"]
    assert [m["text"] for m in patient.get(f"/consults/{case}/changes", {"after": seen}).json()["messages"]] == [
        "您好，医生已接诊"]
    assert_problem(api("village_doctor_b").get(f"/consults/{case}/changes"), 404)
    assert_problem(doctor.get(f"/consults/{case}/changes", {"after": -1}), 422)
    # Nothing new: cheap, and nothing was shown, so no audit row; something new: one row.
    before = AuditEvent.objects.filter(object_id=case, verb="read").count()
    with CaptureQueriesContext(connection) as ctx:
        doctor.get(f"/consults/{case}/changes", {"after": new["last_seq"]})
    assert len(ctx.captured_queries) <= 7 + AS_WRITTEN
    assert AuditEvent.objects.filter(object_id=case, verb="read").count() == before
    cardio.post(f"/consults/{case}/messages", {"body": "再补充一句", "audience": "clinicians"})
    doctor.get(f"/consults/{case}/changes", {"after": new["last_seq"]})
    assert AuditEvent.objects.filter(object_id=case, verb="read").count() == before + 1


def test_the_mdt(cw, api):
    case = ask(api, cw)["summary"]["id"]
    cardio, onco = api("cardiologist_tertiary"), api("oncologist")
    cardio.post(f"/consults/{case}/claim")
    assert_problem(onco.post(f"/consults/{case}/opinions", {"body": "同意"}), 404)  # not invited: unseen
    invited = cardio.post(f"/consults/{case}/invitations", {"practitioner_ids": [str(cw.pid("oncologist"))],
                                                            "note": "请肿瘤科会诊"})
    assert invited.status_code == 201, invited.content
    assert [(p["practitioner"]["name"], p["role"]) for p in invited.json()] == [("郑肿瘤", "mdt_member")]
    opinion = onco.post(f"/consults/{case}/opinions", {"body": "建议排除肿瘤可能"})
    assert opinion.status_code == 201 and opinion.json()["kind"] == "opinion"
    assert opinion.json()["audience"] == "clinicians"
    # Only those of the consortium are invited.
    assert_problem(cardio.post(f"/consults/{case}/invitations", {"practitioner_ids": [str(cw.pid("outsider"))]}),
                   422)
    consensus = cardio.post(f"/consults/{case}/answer", {"assessment": "综合意见", "recommendation": "examinations",
                                                        "examinations": ["肿瘤标志物"], "consensus": True})
    assert consensus.status_code == 200, consensus.content
    view = api("village_doctor_a").get(f"/consults/{case}").json()
    assert view["case"]["answers"][-1]["consensus"] is True
    assert "opinion" in {m["kind"] for m in view["messages"]}
    assert "建议排除" not in api("patient_a").get(f"/consults/{case}").content.decode()


def test_who_downloads_a_file(cw, api):
    doctor = api("village_doctor_a")
    image = doctor.upload(photo(), patient_id=cw.patient.pk).json()["id"]
    pdf = doctor.upload(pdf_bytes(), name="报告.pdf", content_type="", patient_id=cw.patient.pk).json()["id"]
    case = ask(api, cw, attachment_ids=[image, pdf])["summary"]["id"]
    for persona in ("village_doctor_a", "cardiologist_tertiary"):  # the asker, an eligible specialist
        for f in (image, pdf):
            got = api(persona).get(f"/consults/{case}/attachments/{f}")
            assert got.status_code == 200 and got["Content-Disposition"].startswith("attachment")
        assert api(persona).get(f"/consults/{case}/attachments/{image}/preview").status_code == 200
        assert_problem(api(persona).get(f"/consults/{case}/attachments/{pdf}/preview"), 404)  # no image of a PDF
    for persona in ("village_doctor_b", "outsider", "coordinator", "sysadmin", "patient_a"):
        for f in (image, pdf):
            assert_problem(api(persona).get(f"/consults/{case}/attachments/{f}"), 404)
        assert_problem(api(persona).get(f"/consults/{case}/attachments/{image}/preview"), 404)
    # A file of another case, or no file at all, is not served through this case.
    other_file = doctor.upload(photo("blue"), patient_id=cw.patient.pk).json()["id"]
    assert_problem(doctor.get(f"/consults/{case}/attachments/{other_file}"), 404)
    assert_problem(doctor.get(f"/consults/{case}/attachments/not-a-uuid"), 422)
    assert StoredFile.objects.count() == 3


# --- coordinators --------------------------------------------------------------------------------

def test_the_overdue_list_and_the_figures_carry_no_patient_data(cw, api):
    start = clock.now()
    with clock.frozen(start):
        late = ask(api, cw)["summary"]["id"]
        answered = ask(api, cw, question="另一个")["summary"]["id"]
        cardio = api("cardiologist_tertiary")
        cardio.post(f"/consults/{answered}/claim")
        cardio.post(f"/consults/{answered}/answer", {"assessment": "x", "recommendation": "manage_locally",
                                                      "plan": "观察"})
    with clock.frozen(start + dt.timedelta(days=2)):
        coordinator = later(Api, "coordinator")
        overdue = coordinator.get("/consults/overdue")
        figures = coordinator.get("/consults/figures", {"consortium": str(cw.world.consortium.pk)})
    assert overdue.status_code == 200
    [row] = overdue.json()
    assert (row["id"], row["urgency"], row["state"]) == (late, "urgent", "requested")
    text = overdue.content.decode() + figures.content.decode()
    for secret in (cw.patient.name, "胸闷", "高血压", "patient"):
        assert secret not in text
    assert figures.json() == {"by_state": {"requested": 1, "answered": 1}, "by_urgency": {"urgent": 2},
                              "overdue": 1, "answered": 1, "on_time": 1}
    # Another consortium's coordinator sees none of it; others are 404.
    coordinator = api("coordinator")
    assert api("coordinator_b").get("/consults/overdue").json() == []
    assert_problem(api("coordinator_b").get("/consults/figures", {"consortium": str(cw.world.consortium.pk)}), 404)
    for persona in ("village_doctor_a", "patient_a", "commission_viewer"):
        assert_problem(api(persona).get("/consults/overdue"), 404)
        assert_problem(api(persona).get("/consults/figures"), 404)


def test_response_targets(cw, api):
    consortium = cw.world.consortium.pk
    coordinator = api("coordinator")
    current = coordinator.get(f"/consults/targets/{consortium}")
    assert current.status_code == 200 and set(current.json()) == {"consortium_id", "emergency", "urgent", "routine"}
    put = coordinator.put(f"/consults/targets/{consortium}", {"emergency": 20, "urgent": 180, "routine": 1440})
    assert put.json() == {"consortium_id": str(consortium), "emergency": 20, "urgent": 180, "routine": 1440}
    assert coordinator.get(f"/consults/targets/{consortium}").json() == put.json()
    assert AuditEvent.objects.filter(action="consult.targets.set").count() == 1
    # A new case takes the new target; a refused change changes nothing.
    assert ask(api, cw, urgency="urgent")["case"]["target_minutes"] == 180
    problem = assert_problem(coordinator.put(f"/consults/targets/{consortium}",
                                             {"emergency": 200, "urgent": 180, "routine": 1440}), 422)
    assert problem["errors"]
    assert_problem(coordinator.put(f"/consults/targets/{consortium}", {"emergency": 0, "urgent": 1, "routine": 1}),
                   422)
    assert coordinator.get(f"/consults/targets/{consortium}").json()["emergency"] == 20
    assert_problem(api("coordinator_b").get(f"/consults/targets/{consortium}"), 404)
    assert_problem(api("coordinator_b").put(f"/consults/targets/{consortium}",
                                            {"emergency": 1, "urgent": 2, "routine": 3}), 404)
    # A clinician of the consortium sees it but does not manage it; a patient does not see it.
    for persona, status in (("cardiologist_tertiary", 403), ("patient_a", 404)):
        assert_problem(api(persona).put(f"/consults/targets/{consortium}",
                                        {"emergency": 1, "urgent": 2, "routine": 3}), status)
        assert_problem(api(persona).get(f"/consults/targets/{consortium}"), status)
