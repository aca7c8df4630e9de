"""Reviewing break-the-glass accesses."""

from __future__ import annotations

from medunion.access.actions import break_glass
from medunion.access.models import BreakGlassGrant
from medunion.audit.models import AuditEvent

from .helpers import url

REASON = "Patient unconscious in the emergency room, history needed"


def test_pending_accesses_are_listed_and_reviewed(world, coord):
    patient = world.patients["patient_a"]
    grant = break_glass(acting=world.actor("village_doctor_b"), patient_id=patient.pk, reason=REASON)
    break_glass(acting=world.actor("outsider"), patient_id=patient.pk, reason="Another consortium's clinician")
    response = coord.get(url("break_glass"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "李秀兰" in html and "陈桂芳" in html and REASON in html and "still active" in html
    assert "Another consortium" not in html and html.count('data-grant="') == 1
    # Showing the patient's name to the reviewer is recorded against the patient.
    shown = AuditEvent.objects.filter(action="access.break_glass.review_list", object_id=str(grant.pk))
    assert shown.filter(patient_id=patient.pk, actor_id=world.users["coordinator"].pk).exists()

    response = coord.post(url("break_glass_review", grant.pk), {"note": "Confirmed with the ER log."})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.reviewed_at and grant.reviewed_by_id == world.users["coordinator"].pk
    assert grant.review_note == "Confirmed with the ER log."
    after = coord.get(url("break_glass")).content.decode()
    assert "Nothing to review" in after and "Access reviewed" in after
    # A second review (say, from a second tab) is refused with a message, not an error page.
    again = coord.post(url("break_glass_review", grant.pk), {"note": "again"}, follow=True)
    assert again.status_code == 200 and "reviewed already" in again.content.decode()


def test_review_errors_and_outsiders(world, coord, client_for):
    grant = break_glass(acting=world.actor("village_doctor_b"), patient_id=world.patients["patient_a"].pk,
                        reason=REASON)
    response = coord.post(url("break_glass_review", grant.pk), {"note": "x" * 2001})
    assert response.status_code == 422 and "at most 2000 characters" in response.content.decode()
    outsider_grant = break_glass(acting=world.actor("outsider"), patient_id=world.patients["patient_a"].pk,
                                 reason="Another consortium's clinician")
    assert coord.post(url("break_glass_review", outsider_grant.pk), {"note": ""}).status_code == 404
    assert client_for("auditadmin").post(url("break_glass_review", grant.pk)).status_code == 404
    assert coord.get(url("break_glass_review", grant.pk)).status_code == 405
    assert not BreakGlassGrant.objects.filter(reviewed_at__isnull=False).exists()
