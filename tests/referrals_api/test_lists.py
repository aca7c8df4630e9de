"""The lists, the referral view and the task list: what is in each, paging, and a number of
queries that does not grow with the rows (PostgreSQL: one more, the audit chain's lock)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.referrals.actions import OutcomeInput, check_in, return_outcome
from medunion.referrals.models import Referral
from medunion.referrals.validation import PlanItem
from tests.pins import AS_WRITTEN, AUDIT
from tests.referrals.conftest import accept as accept_up
from tests.referrals.conftest import refer_up

from .conftest import new_patient, refer

LIST_QUERIES = 10
VIEW_QUERIES = 15


def bound(n: int) -> int:
    return n + AUDIT


def queries_of(client: Any, path: str, params: dict[str, Any] | None = None) -> tuple[Any, int]:
    client.get(path, params)  # the token's first use of the minute is recorded: not the list's cost
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json(), len(ctx.captured_queries)


def _referrals(rw: Any, start: int, n: int) -> list[Any]:
    return [refer_up(rw, patient_id=new_patient(rw, i).pk) for i in range(start, start + n)]


def test_lists_hold_what_they_say(rw, api):
    doctor, cardio = api("village_doctor_a"), api("cardiologist_tertiary")
    waiting, taken, dropped = _referrals(rw, 1, 3)
    accept_up(rw, taken)
    api("village_doctor_a").post(f"/referrals/{dropped.pk}/cancel", {"reason": "患者拒绝"})
    ids = lambda body: [i["id"] for i in body["items"]]  # noqa: E731
    assert ids(cardio.get("/referrals", {"list": "incoming"}).json()) == [str(waiting.pk)]
    assert ids(cardio.get("/referrals", {"list": "accepted"}).json()) == [str(taken.pk)]
    assert set(ids(doctor.get("/referrals", {"list": "sent"}).json())) == {str(waiting.pk), str(taken.pk)}
    assert ids(doctor.get("/referrals", {"list": "closed"}).json()) == [str(dropped.pk)]
    assert ids(doctor.get("/referrals", {"state": "accepted"}).json()) == [str(taken.pk)]
    assert ids(doctor.get("/referrals", {"direction": "down"}).json()) == []
    assert cardio.get("/referrals/counts").json() == {"incoming": 1, "accepted": 1, "tasks": 0}
    assert_422 = cardio.get("/referrals", {"list": "everything"})
    assert assert_422.status_code == 422


def test_paging(rw, api):
    made = _referrals(rw, 1, 5)
    doctor = api("village_doctor_a")
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        body = doctor.get("/referrals", {"list": "sent", "limit": 2, "offset": offset}).json()
        seen += [i["id"] for i in body["items"]]
        offset = body["next_offset"]
    assert seen == [str(r.pk) for r in sorted(made, key=lambda r: (r.created_at, r.pk), reverse=True)]


def test_list_queries_do_not_grow_with_the_rows(rw, api):
    doctor, cardio = api("village_doctor_a"), api("cardiologist_tertiary")
    _referrals(rw, 1, 2)
    small = {}
    for who, params in ((cardio, {"list": "incoming"}), (doctor, {"list": "sent"}), (doctor, {})):
        body, small[str(params)] = queries_of(who, "/referrals", params)
        assert len(body["items"]) == 2
    _referrals(rw, 3, 8)
    for who, params in ((cardio, {"list": "incoming"}), (doctor, {"list": "sent"}), (doctor, {})):
        body, n = queries_of(who, "/referrals", params)
        assert len(body["items"]) == 10
        assert n == small[str(params)] <= bound(LIST_QUERIES), (params, n)


def test_the_patients_list_and_the_referral_view_are_bounded(rw, api):
    patient, doctor = api("patient_a"), api("village_doctor_a")
    up = refer(api, rw)["summary"]["id"]
    _body, one = queries_of(patient, "/referrals")
    assert one <= bound(LIST_QUERIES)
    _body, before = queries_of(doctor, f"/referrals/{up}")
    for i in range(6):
        doctor.post(f"/referrals/{up}/messages", {"body": f"消息{i}", "audience": "patient" if i % 2 else "clinicians"})
    body, after = queries_of(doctor, f"/referrals/{up}")
    assert len(body["entries"]) >= 8 and after == before <= bound(VIEW_QUERIES) + AS_WRITTEN, (before, after)


def test_tasks_are_bounded(rw, api):
    def loop(i: int) -> Referral:
        up = refer_up(rw, patient_id=new_patient(rw, i).pk)
        accept_up(rw, up)
        check_in(acting=rw.actor("cardiologist_tertiary"), referral_id=up.pk)
        return return_outcome(acting=rw.actor("cardiologist_tertiary"), referral_id=up.pk, data=OutcomeInput(
            summary="恢复良好", discharge_summary="出院", plan=[PlanItem(kind="visit", description="随访",
                                                                     due_in_days=7),
                                                            PlanItem(kind="check", description="复查", due_in_days=14)]))

    doctor = api("village_doctor_a")
    loop(1)
    body, small = queries_of(doctor, "/referrals/tasks")
    assert len(body["items"]) == 2
    for i in range(2, 6):
        loop(i)
    body, large = queries_of(doctor, "/referrals/tasks")
    assert len(body["items"]) == 10 and large == small <= bound(LIST_QUERIES)
    assert doctor.get("/referrals/counts").json()["tasks"] == 10
    assert api("village_doctor_b").get("/referrals/tasks").json()["items"] == []
