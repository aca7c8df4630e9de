"""The audit log in the back office: read-only, scoped, and every look at it recorded."""

from __future__ import annotations

from medunion.audit.models import AuditEvent
from tests.admin.helpers import admin_url, events_since, last_seq
from tests.web_coordinator.helpers import other_coordinator


def _registration(world) -> AuditEvent:
    return AuditEvent.objects.get(action="patient.register")


def test_the_audit_administrator_searches_and_the_search_is_recorded(world, client_for):
    c = client_for("auditadmin")
    before = last_seq()
    r = c.get(admin_url("audit.auditevent"), {"family": "patient.", "surface": "page"})
    assert r.status_code == 200
    shown = list(r.context["cl"].result_list)
    assert shown and all(e.action.startswith("patient.") and e.surface == "page" for e in shown)
    [event] = events_since(before)
    assert (event.action, event.verb, event.purpose, event.surface, event.actor_role) == (
        "audit.search", "search", "audit", "admin", "auditadmin")
    assert event.detail["filters"] == {"family": "patient.", "surface": "page"}
    assert event.detail["results"] == len(shown)


def test_search_by_patient_object_or_actor_and_nonsense_is_harmless(world, client_for):
    c = client_for("auditadmin")
    patient = world.patients["patient_a"]
    r = c.get(admin_url("audit.auditevent"), {"q": str(patient.pk)})
    assert r.status_code == 200
    assert {e.patient_id for e in r.context["cl"].result_list} == {patient.pk}
    r = c.get(admin_url("audit.auditevent"), {"q": "张卫国"})
    assert r.context["cl"].result_list and all(e.actor_display == "张卫国" for e in r.context["cl"].result_list)
    assert c.get(admin_url("audit.auditevent"), {"q": "'; drop table --", "at__gte": "nonsense"}).status_code in (
        200, 302)


def test_an_event_opens_by_its_uuid_and_the_reading_is_recorded(world, client_for):
    c = client_for("auditadmin")
    event = _registration(world)
    before = last_seq()
    r = c.get(admin_url("audit.auditevent", "change", event.uid))
    assert r.status_code == 200 and event.hash in r.content.decode()
    [read] = events_since(before)
    assert (read.action, read.object_id, read.patient_id, read.purpose, read.surface) == (
        "audit.read", str(event.uid), event.patient_id, "audit", "admin")
    # Sequence numbers are not addresses.
    assert c.get(admin_url("audit.auditevent", "change", event.seq)).status_code == 404
    # The list links by uuid.
    assert admin_url("audit.auditevent", "change", event.uid) in c.get(admin_url("audit.auditevent")).content.decode()


def test_nobody_changes_or_deletes_an_event(world, client_for):
    c = client_for("auditadmin")
    event = _registration(world)
    before = last_seq()
    change = admin_url("audit.auditevent", "change", event.uid)
    assert c.post(change, {"action": "forged", "outcome": "denied"}).status_code == 403
    assert c.get(admin_url("audit.auditevent", "delete", event.uid)).status_code == 403
    assert c.post(admin_url("audit.auditevent", "delete", event.uid), {"post": "yes"}).status_code == 403
    assert c.get(admin_url("audit.auditevent", "add")).status_code == 403
    assert c.post(admin_url("audit.auditevent", "add"), {"action": "forged"}).status_code == 403
    r = c.post(admin_url("audit.auditevent"), {"action": "delete_selected", "_selected_action": [str(event.seq)]})
    assert r.status_code in (200, 302)
    fresh = AuditEvent.objects.get(seq=event.seq)
    assert (fresh.action, fresh.outcome, fresh.hash) == (event.action, event.outcome, event.hash)
    assert "forged" not in set(AuditEvent.objects.filter(seq__gt=before).values_list("action", flat=True))
    assert c.get(admin_url("audit.auditevent", "history", event.uid)).status_code == 404


def test_a_coordinator_reads_only_their_clinicians_events(world, client_for):
    from medunion.audit.actions import record

    record(world.actor("outsider"), "patient.search", "search")
    outsider_event = AuditEvent.objects.filter(actor_display="孙立").latest("seq")
    c = client_for("coordinator")
    r = c.get(admin_url("audit.auditevent"))
    actors = {e.actor_display for e in r.context["cl"].result_list}
    assert "张卫国" in actors and "孙立" not in actors
    assert c.get(admin_url("audit.auditevent", "change", outsider_event.uid)).status_code == 404
    assert c.get(admin_url("audit.auditevent", "change", _registration(world).uid)).status_code == 200
    other_coordinator(world)
    r = client_for("coordinator_other").get(admin_url("audit.auditevent"))
    assert {e.actor_display for e in r.context["cl"].result_list} == {"孙立"}
