"""Coordinators review break-the-glass accesses in the back office; patient names shown are recorded."""

from __future__ import annotations

from medunion.access.actions import break_glass
from medunion.access.models import BreakGlassGrant
from tests.admin.helpers import admin_url, events_since, last_seq
from tests.web_coordinator.helpers import other_coordinator

REASON = "Unconscious patient brought to the clinic, no relative present"


def _grant(world) -> BreakGlassGrant:
    return break_glass(acting=world.actor("village_doctor_b"), patient_id=world.patients["patient_a"].pk,
                       reason=REASON)


def test_the_coordinator_sees_the_access_and_each_patient_shown_is_recorded(world, client_for):
    grant = _grant(world)
    c = client_for("coordinator")
    before = last_seq()
    r = c.get(admin_url("access.breakglassgrant"), {"review": "pending"})
    assert r.status_code == 200
    body = r.content.decode()
    assert "陈桂芳" in body and "李秀兰" in body
    [event] = events_since(before)
    assert (event.action, event.verb, event.object_id, event.patient_id, event.purpose, event.surface) == (
        "access.break_glass.review_list", "read", str(grant.pk), grant.patient_id, "audit", "admin")
    before = last_seq()
    assert c.get(admin_url("access.breakglassgrant", "change", grant.pk)).status_code == 200
    [event] = events_since(before)
    assert (event.action, event.patient_id) == ("access.break_glass.read", grant.patient_id)


def test_mark_reviewed_goes_through_review_break_glass(world, client_for):
    grant = _grant(world)
    c = client_for("coordinator")
    before = last_seq()
    r = c.post(admin_url("access.breakglassgrant"), {"action": "mark_reviewed", "_selected_action": [str(grant.pk)]})
    assert r.status_code == 302
    grant.refresh_from_db()
    assert grant.reviewed_at is not None and grant.reviewed_by_id == world.users["coordinator"].pk
    [event] = events_since(before)
    assert (event.action, event.surface, event.patient_id) == ("access.break_glass.review", "admin", grant.patient_id)
    # A second review is refused with the action's message; nothing is written.
    before = last_seq()
    r = c.post(admin_url("access.breakglassgrant"), {"action": "mark_reviewed", "_selected_action": [str(grant.pk)]},
               follow=True)
    assert "This access was reviewed already." in r.content.decode()
    assert [e.action for e in events_since(before)] == ["access.break_glass.review_list"]  # the page shown after


def test_grants_are_nothing_to_change_or_delete(world, client_for):
    grant = _grant(world)
    c = client_for("coordinator")
    assert c.post(admin_url("access.breakglassgrant", "change", grant.pk), {"reason": "x"}).status_code == 403
    assert c.post(admin_url("access.breakglassgrant", "delete", grant.pk), {"post": "yes"}).status_code == 403
    assert BreakGlassGrant.objects.get(pk=grant.pk).reason == REASON


def test_another_consortium_s_coordinator_and_the_administrators_do_not_see_it(world, client_for):
    grant = _grant(world)
    other_coordinator(world)
    c = client_for("coordinator_other")
    before = last_seq()
    r = c.get(admin_url("access.breakglassgrant"))
    assert r.status_code == 200 and not list(r.context["cl"].result_list)
    assert "陈桂芳" not in r.content.decode() and not events_since(before)
    assert c.get(admin_url("access.breakglassgrant", "change", grant.pk)).status_code == 404
    r = c.post(admin_url("access.breakglassgrant"), {"action": "mark_reviewed", "_selected_action": [str(grant.pk)]})
    assert BreakGlassGrant.objects.get(pk=grant.pk).reviewed_at is None
    for persona in ("auditadmin", "secadmin", "sysadmin"):
        assert client_for(persona).get(admin_url("access.breakglassgrant", "change", grant.pk)).status_code == 404
