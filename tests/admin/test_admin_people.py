"""Practitioners, practice sites and credentials in the back office."""

from __future__ import annotations

import datetime as dt

from medunion.network.models import ExamResult, Licence, PracticeSite, Practitioner, Training
from tests.admin.helpers import admin_url, events_since, form_data, inline_management, last_seq


def test_adding_a_practitioner_goes_through_create_practitioner(world, client_for):
    c = client_for("coordinator")
    before = last_seq()
    r = c.post(admin_url("network.practitioner", "add"), {
        "organisation": str(world.orgs["township"].pk), "name": "周敏", "gender": "female", "title": "resident",
        "licence_number": "110610424000077", "years_independent": "3", "phone": "",
        "specialties": ["general_practice", "paediatrics"]})
    assert r.status_code == 302
    p = Practitioner.objects.get(licence_number="110610424000077")
    assert set(p.specialties.values_list("specialty", flat=True)) == {"general_practice", "paediatrics"}
    assert PracticeSite.objects.get(practitioner=p).organisation_id == world.orgs["township"].pk
    assert [(e.action, e.surface) for e in events_since(before)] == [("network.practitioner.create", "admin")]


def test_a_bad_licence_number_shows_the_action_s_message(world, client_for):
    r = client_for("coordinator").post(admin_url("network.practitioner", "add"), {
        "organisation": str(world.orgs["township"].pk), "name": "周敏", "title": "resident",
        "licence_number": "12-34", "years_independent": "3"})
    assert r.status_code == 200
    assert r.context["adminform"].form.errors["licence_number"] == ["A licence number has 8 to 20 letters and digits."]
    assert not Practitioner.objects.filter(name="周敏").exists()


def test_a_practitioner_is_deactivated_and_corrected_in_one_audited_update(world, client_for):
    c = client_for("coordinator")
    pid = world.users["village_doctor_b"].practitioner_id
    url = admin_url("network.practitioner", "change", pid)
    data = form_data(c.get(url))
    assert data["specialties"] == ["general_practice"]
    data.pop("active")
    before = last_seq()
    r = c.post(url, data | {"title": "resident", "specialties": ["general_practice", "tcm"]})
    assert r.status_code == 302
    p = Practitioner.objects.get(pk=pid)
    assert (p.active, p.title, p.licence_number) == (False, "resident", "V610424000002")
    assert set(p.specialties.values_list("specialty", flat=True)) == {"general_practice", "tcm"}
    [event] = events_since(before)
    assert (event.action, event.surface, event.object_id) == ("network.practitioner.update", "admin", str(pid))
    assert event.detail == {"changed": {"title": "resident", "active": False,
                                        "specialties": ["general_practice", "tcm"]}}


def test_a_practice_site_is_added_through_add_practice_site(world, client_for):
    c = client_for("coordinator")
    pid = world.users["cardiologist_tertiary"].practitioner_id
    url = admin_url("network.practitioner", "change", pid)
    data = form_data(c.get(url))
    before = last_seq()
    data |= inline_management("sites", 2, 1) | {"sites-1-organisation": str(world.orgs["county"].pk)}
    r = c.post(url, data)
    assert r.status_code == 302
    assert set(PracticeSite.objects.filter(practitioner_id=pid).values_list("organisation__code", flat=True)) == {
        "T001", "C001"}
    assert [e.action for e in events_since(before)] == ["network.practice_site.add"]


def test_credentials_are_recorded_through_the_record_actions(world, client_for):
    c = client_for("coordinator")
    pid = world.users["village_doctor_a"].practitioner_id
    before = last_seq()
    assert c.post(admin_url("network.training", "add"), {
        "practitioner": str(pid), "consortium": str(world.consortium.pk), "course": "referral",
        "completed_on": "2026-01-10", "valid_until": "2028-01-10"}).status_code == 302
    assert c.post(admin_url("network.examresult", "add"), {
        "practitioner": str(pid), "consortium": str(world.consortium.pk), "course": "referral",
        "taken_on": "2026-01-20", "score": "82.5", "pass_mark": "60"}).status_code == 302
    assert c.post(admin_url("network.licence", "add"), {
        "practitioner": str(pid), "number": "LIC12345678", "scope": "全科", "valid_from": "2025-06-01"}
    ).status_code == 302
    assert Training.objects.filter(practitioner_id=pid).count() == 1
    assert ExamResult.objects.get(practitioner_id=pid).passed
    assert [(e.action, e.surface) for e in events_since(before)] == [
        ("network.training.record", "admin"), ("network.exam.record", "admin"), ("network.licence.record", "admin")]
    # The practitioner's page lists them, read-only.
    body = c.get(admin_url("network.practitioner", "change", pid)).content.decode()
    assert "LIC12345678" in body and "82.5" in body
    # Recorded credentials are not edited.
    training = Training.objects.get(practitioner_id=pid)
    assert c.post(admin_url("network.training", "change", training.pk), {"course": "referral"}).status_code == 403
    assert c.post(admin_url("network.training", "delete", training.pk), {"post": "yes"}).status_code == 403


def test_an_end_before_the_start_is_refused(world, client_for):
    r = client_for("coordinator").post(admin_url("network.training", "add"), {
        "practitioner": str(world.users["village_doctor_a"].practitioner_id),
        "consortium": str(world.consortium.pk), "course": "referral",
        "completed_on": "2026-01-10", "valid_until": "2025-01-10"})
    assert r.status_code == 200
    assert r.context["adminform"].form.errors["valid_until"] == ["The end date is before the start date."]
    assert not Training.objects.exists()


def test_credentials_for_another_consortium_s_practitioner_are_refused(world, client_for):
    r = client_for("coordinator").post(admin_url("network.examresult", "add"), {
        "practitioner": str(world.users["outsider"].practitioner_id), "consortium": str(world.consortium.pk),
        "course": "referral", "taken_on": "2026-01-20", "score": "90", "pass_mark": "60"})
    assert r.status_code == 200 and "practitioner" in r.context["adminform"].form.errors
    assert not ExamResult.objects.exists()


def test_a_licence_is_revoked_not_edited(world, client_for):
    from medunion.access.actor import system_actor
    from medunion.network import actions as net

    pid = world.users["village_doctor_a"].practitioner_id
    lic = net.record_licence(acting=system_actor("tests"), practitioner_id=pid, number="LIC12345678",
                             valid_from="2025-06-01")
    other = net.record_licence(acting=system_actor("tests"), practitioner_id=pid, number="LIC87654321",
                               valid_from="2025-06-01")
    c = client_for("coordinator")
    url = admin_url("network.licence", "change", lic.pk)
    before = last_seq()
    # Only the revocation date is taken; the number stays what it was.
    r = c.post(url, {"revoked_on": "2026-02-01", "number": "CHANGED000"})
    assert r.status_code == 302
    lic.refresh_from_db()
    assert (lic.revoked_on, lic.number) == (dt.date(2026, 2, 1), "LIC12345678")
    assert [(e.action, e.surface) for e in events_since(before)] == [("network.licence.revoke", "admin")]
    assert c.post(url, {"revoked_on": "2026-03-01"}).status_code == 403  # revoked once, for good
    assert c.get(url).status_code == 200  # and shown read-only
    # The bulk action revokes as of today.
    r = c.post(admin_url("network.licence"), {"action": "revoke_today", "_selected_action": [str(other.pk)]})
    assert r.status_code == 302
    assert Licence.objects.get(pk=other.pk).revoked_on is not None


def test_the_security_administrator_sees_a_practitioner_read_only(world, client_for):
    pid = world.users["village_doctor_a"].practitioner_id
    r = client_for("secadmin").get(admin_url("network.practitioner", "change", pid))
    assert r.status_code == 200
    body = r.content.decode()
    assert "general practice" in body and "V610424000001" in body and 'name="name"' not in body
