"""The in-app inbox over the API: one's own notifications only (another account's is 404),
newest first, paged backwards, unread filter and count, marking read; a fixed number of queries
however full the inbox is."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.core import clock
from medunion.notifications.actions import notify
from medunion.notifications.models import Notification

from .conftest import ask, assert_problem

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def _fill(user, n: int, *, kind: str = "test.notice") -> None:
    """``n`` notifications a minute apart (the newest last)."""
    for i in range(n):
        with clock.frozen(START + dt.timedelta(minutes=i)):
            notify([user], kind=kind, title="Notice %(n)s", params={"n": i}, url=f"/inbox#{i}")


def test_a_case_notifies_the_pool_and_the_asker_reads_theirs(cw, api):
    case = ask(api, cw)["summary"]["id"]
    cardio, doctor = api("cardiologist_tertiary"), api("village_doctor_a")
    inbox = cardio.get("/notifications")
    assert inbox.status_code == 200
    [new] = [n for n in inbox.json()["items"] if n["consult_id"] == case]
    assert new["kind"] == "consult.new" and new["read_at"] is None
    assert new["title"] and new["url"].endswith(case)
    assert cw.patient.name not in inbox.content.decode()  # titles may travel by SMS
    assert cardio.get("/notifications/unread-count").json() == {"count": 1}

    cardio.post(f"/consults/{case}/claim")
    [claimed] = doctor.get("/notifications", {"unread": True}).json()["items"]
    assert (claimed["kind"], claimed["consult_id"]) == ("consult.claimed", case)
    assert "王建生" in claimed["title"]
    # The claim is not news to the one who claimed.
    assert [n["kind"] for n in cardio.get("/notifications").json()["items"]] == ["consult.new"]


def test_reading_one_and_all(cw, api):
    doctor_user = cw.world.users["village_doctor_a"]
    _fill(doctor_user, 3)
    doctor = api("village_doctor_a")
    items = doctor.get("/notifications").json()["items"]
    assert [n["title"] for n in items] == ["Notice 2", "Notice 1", "Notice 0"]
    with clock.frozen(START + dt.timedelta(hours=1)):
        read = doctor.post(f"/notifications/{items[0]['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"] == "2026-03-02T02:00:00Z"
    # Marking it again keeps the first time.
    assert doctor.post(f"/notifications/{items[0]['id']}/read").json()["read_at"] == "2026-03-02T02:00:00Z"
    assert doctor.get("/notifications/unread-count").json() == {"count": 2}
    assert [n["title"] for n in doctor.get("/notifications", {"unread": True}).json()["items"]] == [
        "Notice 1", "Notice 0"]
    assert doctor.post("/notifications/read-all").json() == {"marked": 2}
    assert doctor.post("/notifications/read-all").json() == {"marked": 0}
    assert doctor.get("/notifications/unread-count").json() == {"count": 0}


def test_read_all_of_one_case(cw, api):
    first = ask(api, cw)["summary"]["id"]
    second = ask(api, cw, question="第二个问题")["summary"]["id"]
    cardio = api("cardiologist_tertiary")
    assert cardio.get("/notifications/unread-count").json() == {"count": 2}
    assert cardio.post(f"/notifications/read-all?consult={first}").json() == {"marked": 1}
    [left] = cardio.get("/notifications", {"unread": True}).json()["items"]
    assert left["consult_id"] == second


def test_someone_elses_notification_is_404(cw, api):
    _fill(cw.world.users["village_doctor_a"], 1)
    mine = Notification.objects.get(user=cw.world.users["village_doctor_a"])
    for persona in ("village_doctor_b", "patient_a", "coordinator", "sysadmin"):
        assert_problem(api(persona).post(f"/notifications/{mine.pk}/read"), 404, "not_found")
        assert api(persona).get("/notifications").json()["items"] == []
        assert api(persona).get("/notifications/unread-count").json() == {"count": 0}
        assert api(persona).post("/notifications/read-all").json() == {"marked": 0}
    assert Notification.objects.get(pk=mine.pk).read_at is None
    assert_problem(api("village_doctor_a").post("/notifications/not-an-id/read"), 422)


def test_paging_backwards(cw, api):
    _fill(cw.world.users["village_doctor_a"], 5)
    doctor = api("village_doctor_a")
    page = doctor.get("/notifications", {"limit": 2}).json()
    titles = [n["title"] for n in page["items"]]
    while page["next_before"]:
        page = doctor.get("/notifications", {"limit": 2, "before": page["next_before"]}).json()
        titles += [n["title"] for n in page["items"]]
    assert titles == ["Notice 4", "Notice 3", "Notice 2", "Notice 1", "Notice 0"]
    # A local time without offset is the server's zone (Asia/Shanghai): 09:02 there is 01:02 UTC.
    older = doctor.get("/notifications", {"before": "2026-03-02T09:02:00"}).json()["items"]
    assert [n["title"] for n in older] == ["Notice 1", "Notice 0"]


@pytest.mark.parametrize("params", [{"before": "1700000000"}, {"before": "yesterday"}, {"limit": 0},
                                    {"limit": 201}, {"unread": "maybe"}])
def test_bad_filters_are_422(cw, api, params):
    assert_problem(api("village_doctor_a").get("/notifications", params), 422, "validation_failed")


def test_anonymous_is_401(cw):
    from django.test import Client

    assert_problem(Client().get("/api/v1/notifications"), 401)
    assert_problem(Client().get("/api/v1/notifications/unread-count"), 401)


def test_the_inbox_query_count_does_not_grow(cw, api):
    doctor = api("village_doctor_a")
    user = cw.world.users["village_doctor_a"]
    doctor.get("/notifications")  # the token's first use is recorded once
    counts = []
    for n in (2, 20):
        Notification.objects.filter(user=user).delete()
        _fill(user, n)
        with CaptureQueriesContext(connection) as ctx:
            response = doctor.get("/notifications", {"limit": 50})
        assert response.status_code == 200 and len(response.json()["items"]) == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 6, counts
    with CaptureQueriesContext(connection) as ctx:
        doctor.get("/notifications/unread-count")
    assert len(ctx.captured_queries) <= 5
