"""The inbox and the unread count in the header; the coordinator's overdue cases (no patient
data), figures and response targets."""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.consults import actions as ca
from medunion.consults.targets import targets_for
from medunion.core import clock
from medunion.notifications.models import Notification

from .conftest import START, ask, page


def unread(html: str) -> int:
    m = re.search(r'data-testid="unread-count"[^>]*>(\d+)<', html)
    return int(m.group(1)) if m else 0


def test_the_header_counts_unread_notifications_on_every_page(cw, client_for):
    c = ask(cw)
    doctor = client_for("village_doctor_a")
    assert unread(page(doctor.get("/"))) == 0
    ca.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk)
    mine = Notification.objects.filter(user=cw.world.users["village_doctor_a"], read_at__isnull=True).count()
    assert mine >= 1
    for url in ("/", "/patients", "/consults", "/inbox", "/account"):
        assert unread(page(doctor.get(url))) == mine, url
    # Opening the case reads its notices.
    doctor.get(f"/consults/{c.pk}")
    assert unread(page(doctor.get("/"))) == 0


def test_the_count_is_one_cheap_query(cw, client_for):
    ask(cw)
    cardio = client_for("cardiologist_tertiary")
    cardio.get("/account")
    with CaptureQueriesContext(connection) as seen:
        html = page(cardio.get("/account"))
    counts = [q for q in seen.captured_queries if "notifications_notification" in q["sql"]]
    assert unread(html) >= 1 and len(counts) == 1 and "COUNT" in counts[0]["sql"].upper()


def test_the_inbox_newest_first_unread_highlighted_and_marking_read(cw, client_for):
    with clock.frozen(START):
        first = ask(cw)
        clock.advance(dt.timedelta(minutes=5))
        second = ask(cw, urgency="routine")
    cardio = client_for("cardiologist_tertiary")
    html = page(cardio.get("/inbox"))
    notes = Notification.objects.filter(user=cw.world.users["cardiologist_tertiary"]).order_by("-created_at")
    assert len(notes) == 2 and html.count("note--unread") == 2
    assert html.index(f"/inbox/{notes[0].pk}/read") < html.index(f"/inbox/{notes[1].pk}/read")
    assert str(second.pk) in notes[0].url and str(first.pk) in notes[1].url
    response = cardio.post(f"/inbox/{notes[1].pk}/read")
    assert response.status_code == 302 and response["Location"] == "/inbox"
    html = page(cardio.get("/inbox"))
    assert html.count("note--unread") == 1 and unread(html) == 1
    assert len(re.findall(r"<li class=\"note[ \"]", page(cardio.get("/inbox?show=unread")))) == 1
    # Opening one goes where it points.
    response = cardio.post(f"/inbox/{notes[0].pk}/read", {"open": "1"})
    assert response.status_code == 302 and response["Location"] == notes[0].url
    assert cardio.post("/inbox/read-all").status_code == 302
    assert Notification.objects.filter(user=cw.world.users["cardiologist_tertiary"], read_at__isnull=True).count() == 0


def test_someone_elses_notification_is_not_found(cw, client_for):
    ask(cw)
    note = Notification.objects.filter(user=cw.world.users["cardiologist_tertiary"]).first()
    assert client_for("cardiologist_b").post(f"/inbox/{note.pk}/read").status_code == 404
    assert client_for("patient_a").post(f"/inbox/{note.pk}/read").status_code == 404
    assert client_for("cardiologist_b").get("/inbox/read-all").status_code == 405
    note.refresh_from_db()
    assert note.read_at is None
    assert client_for("village_doctor_a").get("/inbox").status_code == 200
    assert str(note.pk) not in page(client_for("cardiologist_b").get("/inbox"))


def test_the_inbox_needs_signing_in(cw, client):
    response = client.get("/inbox")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_overdue_cases_for_the_coordinator_without_patient_data(cw, client_for):
    with clock.frozen(START):
        late = ask(cw)
        ask(cw, urgency="routine")
        clock.advance(dt.timedelta(hours=5))
        coordinator = client_for("coordinator")
        html = page(coordinator.get("/network/consults/overdue"))
    table = html.split('data-testid="overdue"')[1].split("</table>")[0]
    assert re.findall(r'data-consult="([0-9a-f-]+)"', table) == [str(late.pk)]
    assert "cardiology" in table and "urgent" in table and late.asker_organisation.name in table
    for secret in ("陈桂芳", "胸闷两天", "高血压十年", "氨氯地平", f"/consults/{late.pk}"):
        assert secret not in html, secret
    figures = html.split('data-testid="figures"')[1].split("</dl>")[0]
    assert re.search(r'data-count="overdue">1<', figures)
    # Another consortium's coordinator sees none of it; clinicians do not get the page.
    with clock.frozen(START + dt.timedelta(hours=5)):
        assert str(late.pk) not in page(client_for("coordinator_b").get("/network/consults/overdue"))
    for persona in ("village_doctor_a", "cardiologist_tertiary", "patient_a", "commission_viewer", "sysadmin"):
        assert client_for(persona).get("/network/consults/overdue").status_code == 404, persona


def test_the_coordinator_sets_the_response_targets(cw, client_for):
    coordinator = client_for("coordinator")
    html = page(coordinator.get("/network/consults/targets"))
    consortium = cw.world.consortium
    prefix = f"c{consortium.code}"
    assert f'name="{prefix}-urgent"' in html
    response = coordinator.post("/network/consults/targets", {
        "which": str(consortium.pk), f"{prefix}-emergency": "20", f"{prefix}-urgent": "180", f"{prefix}-routine": "1440"})
    assert response.status_code == 302
    with clock.frozen(START):
        c = ask(cw)
    assert c.due_at == START + dt.timedelta(minutes=180)
    # The order of the targets is checked by the action and said on the form.
    response = coordinator.post("/network/consults/targets", {
        "which": str(consortium.pk), f"{prefix}-emergency": "600", f"{prefix}-urgent": "180", f"{prefix}-routine": "x"})
    assert response.status_code == 422 and "co-field--error" in page(response)
    response = coordinator.post("/network/consults/targets", {
        "which": str(consortium.pk), f"{prefix}-emergency": "600", f"{prefix}-urgent": "180", f"{prefix}-routine": "1440"})
    assert response.status_code == 422
    assert targets_for(consortium.pk)["emergency"] == 20
    # Another consortium's targets are not this coordinator's to set.
    other = cw.world.other_consortium
    response = coordinator.post("/network/consults/targets", {
        "which": str(other.pk), f"c{other.code}-emergency": "1", f"c{other.code}-urgent": "2", f"c{other.code}-routine": "3"})
    assert response.status_code == 422 and targets_for(other.pk)["emergency"] != 1
    for persona in ("village_doctor_a", "patient_a", "coordinator_b"):
        expected = 200 if persona == "coordinator_b" else 404
        assert client_for(persona).get("/network/consults/targets").status_code == expected, persona
