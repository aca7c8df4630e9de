"""The steps of a case over the API: each an action with its audit row; a stale client gets 409
saying what happened; a step one's role does not allow is 403; a case one may not see, 404."""

from __future__ import annotations

import pytest

from medunion.audit.models import AuditEvent
from medunion.consults.models import Consult, ConsultDecline

from .conftest import ask, assert_problem, photo


@pytest.fixture
def case(cw, api):
    return ask(api, cw)["summary"]["id"]


def _steps(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def test_the_pool_journey(cw, api, case):
    doctor, cardio = api("village_doctor_a"), api("cardiologist_tertiary")
    claimed = _steps(cardio.post(f"/consults/{case}/claim", {"expected_version": 0}))
    assert (claimed["state"], claimed["version"], claimed["assignee_name"]) == ("in_progress", 1, "王建生")
    assert claimed["events"] == ["decline", "hand_over", "request_info", "answer"]

    held = _steps(cardio.post(f"/consults/{case}/request-info", {"question": "请补做十二导联心电图", "expected_version": 1}))
    assert (held["state"], held["events"]) == ("on_hold", [])

    ecg = doctor.upload(photo("white"), name="ecg.jpg", patient_id=cw.patient.pk).json()["id"]
    back = _steps(doctor.post(f"/consults/{case}/provide-info", {"body": "心电图见附件", "attachment_ids": [ecg],
                                                                 "expected_version": 2}))
    assert back["state"] == "in_progress"

    answered = _steps(cardio.post(f"/consults/{case}/answer", {
        "assessment": "稳定型心绞痛", "recommendation": "manage_locally", "plan": "阿司匹林 100mg qd，两周后复诊",
        "expected_version": 3}))
    assert answered["state"] == "answered" and answered["answered_at"]
    amended = _steps(cardio.post(f"/consults/{case}/amend-answer", {
        "assessment": "稳定型心绞痛", "recommendation": "examinations", "examinations": ["运动平板试验"],
        "reason": "补充检查", "expected_version": 4}))
    assert amended["version"] == 5

    view = doctor.get(f"/consults/{case}").json()
    assert view["events"] == ["confirm", "follow_up"]
    versions = view["case"]["answers"]
    assert [(a["recommendation"], a["current"]) for a in versions] == [("manage_locally", False),
                                                                      ("examinations", True)]
    assert versions[1]["supersedes_id"] == versions[0]["id"] and versions[1]["amendment_reason"] == "补充检查"
    reply = next(m for m in view["messages"] if m["kind"] == "info_reply")
    assert [a["id"] for a in reply["attachments"]] == [ecg]

    done = _steps(doctor.post(f"/consults/{case}/confirm", {"useful": 5, "avoided_referral": True,
                                                            "comment": "很有帮助", "expected_version": 5}))
    assert (done["state"], done["closed_at"] is not None, done["events"]) == ("completed", True, [])
    rating = doctor.get(f"/consults/{case}").json()["case"]["rating"]
    assert (rating["useful"], rating["avoided_referral"], rating["avoided_travel"]) == (5, True, False)
    actions = list(AuditEvent.objects.filter(object_id=case, action__startswith="consult.", verb="update")
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["consult.claim", "consult.request_info", "consult.provide_info", "consult.confirm"]


def test_a_stale_client_gets_409_saying_what_happened(cw, api, case):
    cardio, colleague = api("cardiologist_tertiary"), api("cardiologist_b")
    assert cardio.post(f"/consults/{case}/claim", {"expected_version": 0}).status_code == 200
    # A colleague whose page still shows the case waiting: told who took it, and when.
    problem = assert_problem(colleague.post(f"/consults/{case}/claim", {"expected_version": 0}), 409, "conflict")
    assert problem["title"].startswith("This case was taken by 王建生 at ")
    assert (problem["state"], problem["version"], problem["assignee"]) == ("in_progress", 1, "王建生")
    # The assignee acting on an old version: nothing happens.
    problem = assert_problem(cardio.post(f"/consults/{case}/request-info", {"question": "?", "expected_version": 0}),
                             409)
    assert problem["version"] == 1
    assert Consult.objects.get(pk=case).state == "in_progress"


def test_of_two_claims_one_wins(cw, api, case):
    results = [api(p).post(f"/consults/{case}/claim").status_code for p in ("cardiologist_tertiary",
                                                                            "cardiologist_b")]
    assert sorted(results) == [200, 409]


def test_steps_the_role_does_not_allow_are_403_and_unseen_cases_404(cw, api, case):
    assert_problem(api("village_doctor_a").post(f"/consults/{case}/claim"), 403, "forbidden")
    assert_problem(api("patient_a").post(f"/consults/{case}/cancel", {"reason": "不想问了"}), 403)
    for persona in ("village_doctor_b", "outsider", "coordinator", "hub_radiologist"):
        assert_problem(api(persona).post(f"/consults/{case}/claim"), 404, "not_found")
        assert_problem(api(persona).get(f"/consults/{case}"), 404, "not_found")
    # A county cardiologist works at a higher level than the village clinic: the pool case is theirs to see.
    assert api("county_cardiologist").get(f"/consults/{case}").status_code == 200


def test_decline_hand_over_follow_up_cancel(cw, api, case):
    cardio, doctor = api("cardiologist_tertiary"), api("village_doctor_a")
    cardio.post(f"/consults/{case}/claim")
    assert_problem(cardio.post(f"/consults/{case}/decline", {"reason": " "}), 422)
    declined = _steps(cardio.post(f"/consults/{case}/decline", {"reason": "不在我的专业范围"}))
    assert (declined["state"], declined["assignee_name"]) == ("requested", "")
    assert ConsultDecline.objects.filter(consult_id=case).count() == 1
    # The decliner no longer sees it in their pool; the case is not theirs any more.
    assert_problem(cardio.get(f"/consults/{case}"), 404)

    colleague = api("cardiologist_b")
    colleague.post(f"/consults/{case}/claim")
    assert_problem(colleague.post(f"/consults/{case}/hand-over", {"practitioner_id": str(cw.pid("oncologist"))}),
                   422)
    handed = _steps(colleague.post(f"/consults/{case}/hand-over", {
        "practitioner_id": str(cw.pid("county_cardiologist")), "reason": "县医院就近随访"}))
    assert handed["assignee_name"] == "吴县心"

    county = api("county_cardiologist")
    county.post(f"/consults/{case}/answer", {"assessment": "高血压", "recommendation": "referral",
                                              "referral_specialty": "cardiology", "referral_notes": "住院调整"})
    followed = _steps(doctor.post(f"/consults/{case}/follow-up", {"question": "转诊前需要做什么检查？"}))
    assert followed["state"] == "in_progress"
    cancelled = _steps(doctor.post(f"/consults/{case}/cancel", {"reason": "患者已自行就诊"}))
    assert cancelled["state"] == "cancelled"
    assert_problem(doctor.post(f"/consults/{case}/cancel", {"reason": "again"}), 409)


def test_answer_validation(cw, api, case):
    cardio = api("cardiologist_tertiary")
    cardio.post(f"/consults/{case}/claim")
    problem = assert_problem(cardio.post(f"/consults/{case}/answer", {"assessment": "x",
                                                                       "recommendation": "manage_locally"}), 422)
    assert problem["errors"] == {"plan": ["Write the plan for managing the patient locally."]}
    problem = assert_problem(cardio.post(f"/consults/{case}/answer", {"assessment": "x", "recommendation": "referral"}),
                             422)
    assert problem["errors"] == {"referral_specialty": ["Choose the specialty to refer to."]}
    problem = assert_problem(cardio.post(f"/consults/{case}/answer", {
        "assessment": "x", "recommendation": "manage_locally", "plan": "p", "consensus": True}), 422)
    assert problem["errors"] == {"consensus": ["An MDT consensus needs invited colleagues; invite them first."]}
    assert_problem(api("village_doctor_a").post(f"/consults/{case}/confirm", {"useful": 9}), 422)
    assert Consult.objects.get(pk=case).state == "in_progress"


def test_assign_by_the_team_lead(cw, api):
    case = ask(api, cw, target_kind="team", target_team_id=str(cw.team.pk))["summary"]["id"]
    lead = api("cardiologist_tertiary")
    assigned = _steps(lead.post(f"/consults/{case}/assign", {"practitioner_id": str(cw.pid("cardiologist_b"))}))
    assert (assigned["state"], assigned["assignee_name"]) == ("in_progress", "周心怡")
    assert_problem(api("cardiologist_b").post(f"/consults/{case}/assign",
                                              {"practitioner_id": str(cw.pid("cardiologist_b"))}), 403)

