"""Clinician pages of the patient index: search, registration, the patient's page, edits, consent,
check-in codes, break-the-glass; and who may open them."""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from medunion.access.models import BreakGlassGrant
from medunion.audit.models import AuditEvent
from medunion.patients.identity import make_resident_id
from medunion.patients.models import CareTeamMember, Consent, Patient, QrToken

NEW_ID = make_resident_id("610424", dt.date(1988, 7, 2), 33, male=True)


def _page(response) -> str:
    return response.content.decode()


def _register(c, **data):
    page = _page(c.get(reverse("web:patient_new")))
    once = re.search(r'name="once" value="([0-9a-f]+)"', page).group(1)
    return c.post(reverse("web:patient_new"), {"once": once, "name": "赵小燕", "id_number": NEW_ID,
                                                "phone": "13912345678", **data})


def test_register_by_id_number_derives_sex_and_birth(world, client_for):
    c = client_for("village_doctor_a")
    response = _register(c)
    assert response.status_code == 302
    p = Patient.objects.get(name="赵小燕")
    assert response["Location"] == reverse("web:patient", args=[p.pk])
    assert (p.sex, p.birth_date) == ("male", dt.date(1988, 7, 2))
    assert p.registered_at_id == world.orgs["clinic_a"].pk
    page = _page(c.get(response["Location"]))
    assert "赵小燕" in page and NEW_ID not in page and f"**************{NEW_ID[-4:]}" in page
    assert "张卫国" in page  # the registering clinician joined the care team


def test_the_address_defaults_to_the_clinics_village(world, client_for):
    page = _page(client_for("village_doctor_a").get(reverse("web:patient_new")))
    assert re.search(r'<option value="610424100201" selected>', page)


def test_a_wrong_check_digit_is_refused_clearly_and_nothing_is_saved(world, client_for):
    c = client_for("village_doctor_a")
    wrong = NEW_ID[:-1] + ("0" if NEW_ID[-1] != "0" else "1")
    response = _register(c, id_number=wrong)
    assert response.status_code == 422
    assert "The check digit of this ID number is wrong" in _page(response)
    assert not Patient.objects.filter(name="赵小燕").exists()


def test_without_an_id_number_sex_and_birth_date_are_asked(world, client_for):
    c = client_for("village_doctor_a")
    response = _register(c, id_number="")
    assert response.status_code == 422
    page = _page(response)
    assert "Choose the sex, or enter the ID number." in page and "Enter the date of birth" in page
    response = _register(c, id_number="", sex="female", birth_date="2019-05-01")
    assert response.status_code == 302


def test_a_double_submission_registers_once(world, client_for):
    c = client_for("village_doctor_a")
    page = _page(c.get(reverse("web:patient_new")))
    once = re.search(r'name="once" value="([0-9a-f]+)"', page).group(1)
    data = {"once": once, "name": "赵小燕", "id_number": NEW_ID}
    first = c.post(reverse("web:patient_new"), data)
    second = c.post(reverse("web:patient_new"), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Patient.objects.filter(name="赵小燕").count() == 1


def test_registering_a_known_id_points_to_the_record_only_if_visible(world, client_for):
    number = world.patients["patient_a_id_number"]
    response = _register(client_for("village_doctor_a"), id_number=number, name="陈桂芳")
    page = _page(response)
    assert response.status_code == 409 or response.status_code == 422
    assert "registered already" in page and str(world.patients["patient_a"].pk) in page
    response = _register(client_for("village_doctor_b"), id_number=number, name="陈桂芳")
    page = _page(response)
    assert "cannot see" in page and str(world.patients["patient_a"].pk) not in page


def test_search_finds_by_id_phone_and_name_within_visibility(world, client_for):
    pid = world.patients["patient_a"].pk
    number = world.patients["patient_a_id_number"]
    c = client_for("village_doctor_a")
    for q in (number, "13800000001", "陈桂"):
        page = _page(c.get(reverse("web:patients"), {"q": q}))
        assert reverse("web:patient", args=[pid]) in page, q
    outsider = client_for("village_doctor_b")
    page = _page(outsider.get(reverse("web:patients"), {"q": number}))
    assert reverse("web:patient", args=[pid]) not in page
    assert "break-the-glass" in page  # an exact ID with no visible match offers emergency access
    assert AuditEvent.objects.filter(action="patient.search", patient_id=pid).count() == 3


def test_the_patient_page_is_404_for_the_unrelated_and_audited_once(world, client_for):
    pid = world.patients["patient_a"].pk
    url = reverse("web:patient", args=[pid])
    before = AuditEvent.objects.filter(patient_id=pid, action="patient.read").count()
    assert client_for("village_doctor_a").get(url).status_code == 200
    assert AuditEvent.objects.filter(patient_id=pid, action="patient.read", outcome="success").count() == before + 1
    for persona in ("village_doctor_b", "outsider", "cardiologist_tertiary", "coordinator", "commission_viewer",
                    "secadmin", "sysadmin", "auditadmin", "hub_radiologist"):
        assert client_for(persona).get(url).status_code == 404, persona
    assert client_for("patient_a").get(url).status_code == 404  # patients use their own pages
    assert client_for("village_doctor_a").get("/patients/00000000-0000-0000-0000-000000000000").status_code == 404


def test_showing_the_full_id_number_is_its_own_audit_row(world, client_for):
    pid = world.patients["patient_a"].pk
    page = _page(client_for("village_doctor_a").get(reverse("web:patient", args=[pid]), {"show": "id"}))
    assert world.patients["patient_a_id_number"] in page
    assert AuditEvent.objects.filter(patient_id=pid, action="patient.read_id_number").count() == 1


def test_saving_an_edit_is_one_audit_row(world, client_for):
    pid = world.patients["patient_a"].pk
    before = AuditEvent.objects.filter(patient_id=pid).count()
    response = client_for("village_doctor_a").post(reverse("web:patient_edit", args=[pid]), {
        "name": "陈桂芳", "phone": "13800000009", "region": "610424100201"})
    assert response.status_code == 302
    assert list(AuditEvent.objects.filter(patient_id=pid).order_by("seq")
                .values_list("action", flat=True))[before:] == ["patient.update"]


def test_search_by_post_keeps_numbers_out_of_the_address(world, client_for):
    number = world.patients["patient_a_id_number"]
    response = client_for("village_doctor_a").post(reverse("web:patients"), {"q": number})
    assert response.status_code == 200 and reverse("web:patient", args=[world.patients["patient_a"].pk]) \
        in _page(response)
    assert 'method="post" action="/patients"' in _page(client_for("village_doctor_a").get("/"))


def test_edit_details(world, client_for):
    pid = world.patients["patient_a"].pk
    c = client_for("village_doctor_a")
    url = reverse("web:patient_edit", args=[pid])
    response = c.post(url, {"name": "陈桂芳", "phone": "not a phone", "region": "610424100201"})
    assert response.status_code == 422 and "Enter a mobile number" in _page(response)
    response = c.post(url, {"name": "陈桂芳", "phone": "13800000009", "region": "610424100202"})
    assert response.status_code == 302
    p = Patient.objects.get(pk=pid)
    assert p.phone == "13800000009" and p.region_id == "610424100202"
    assert p.id_number == world.patients["patient_a_id_number"]  # kept when left empty
    assert client_for("village_doctor_b").get(url).status_code == 404


def test_consent_record_and_withdraw(world, client_for):
    pid = world.patients["patient_a"].pk
    c = client_for("village_doctor_a")
    response = c.post(reverse("web:patient_consent", args=[pid]),
                      {"scope": "teleconsultation", "permit": "1", "consortium": str(world.consortium.pk)})
    assert response.status_code == 302
    consent = Consent.objects.get(patient_id=pid)
    assert consent.permit and consent.consortium_id == world.consortium.pk
    response = c.post(reverse("web:patient_consent", args=[pid]), {"scope": "everything", "permit": "1"})
    assert response.status_code == 422
    c.post(reverse("web:patient_consent_revoke", args=[pid, consent.pk]))
    assert Consent.objects.get(pk=consent.pk).revoked_at is not None
    assert client_for("village_doctor_b").post(reverse("web:patient_consent_revoke", args=[pid, consent.pk])) \
        .status_code == 404


def test_check_in_code_issue_scan_and_revoke(world, client_for):
    pid = world.patients["patient_a"].pk
    c = client_for("village_doctor_a")
    c.post(reverse("web:patient_qr", args=[pid]))
    token = QrToken.objects.get(patient_id=pid, revoked_at__isnull=True).token
    page = _page(c.get(reverse("web:patient", args=[pid])))
    assert "<svg" in page and token in page
    # scanning the code (or typing it into the search box) opens the record
    before = AuditEvent.objects.filter(patient_id=pid).count()
    response = c.get(reverse("web:check_in", args=[token]))
    assert response.status_code == 200 and "陈桂芳" in _page(response)
    # one read, recorded as a check-in
    assert list(AuditEvent.objects.filter(patient_id=pid).order_by("seq")
                .values_list("action", flat=True))[before:] == ["patient.read_by_qr"]
    response = c.post(reverse("web:patients"), {"q": token})
    assert response["Location"] == reverse("web:check_in", args=[token])
    # a clinician who may not see the patient learns nothing from the code
    assert client_for("village_doctor_b").get(reverse("web:check_in", args=[token])).status_code == 404
    c.post(reverse("web:patient_qr_revoke", args=[pid]))
    assert c.get(reverse("web:check_in", args=[token])).status_code == 404


def test_adding_a_family_doctor_team_to_the_care_team(world, client_for):
    from medunion.access.actor import system_actor
    from medunion.network import actions as net

    team = net.create_team(acting=system_actor("tests"), consortium_id=world.consortium.pk, name="东村家庭医生团队",
                           kind="family_doctor")
    net.set_team_member(acting=system_actor("tests"), team_id=team.pk,
                        practitioner_id=world.users["village_doctor_b"].practitioner_id)
    pid = world.patients["patient_a"].pk
    c = client_for("village_doctor_a")
    response = c.post(reverse("web:patient_care_team", args=[pid]), {"team": str(team.pk)})
    assert response.status_code == 302
    assert CareTeamMember.objects.filter(patient_id=pid, team=team).exists()
    # the team's members now see the patient
    assert client_for("village_doctor_b").get(reverse("web:patient", args=[pid])).status_code == 200


def test_break_the_glass_by_id_number(world, client_for):
    pid = world.patients["patient_a"].pk
    number = world.patients["patient_a_id_number"]
    c = client_for("village_doctor_b")
    response = c.post(reverse("web:break_glass"), {"id_number": number, "reason": "too short"})
    assert response.status_code == 422 and "State the clinical reason" in _page(response)
    assert not BreakGlassGrant.objects.exists()
    unknown = make_resident_id("610424", dt.date(1950, 1, 1), 77, male=True)
    response = c.post(reverse("web:break_glass"), {"id_number": unknown, "reason": "Unconscious, no relatives"})
    assert response.status_code == 422 and "No patient with this ID number" in _page(response)
    response = c.post(reverse("web:break_glass"), {"id_number": number, "reason": "Unconscious, no relatives"})
    assert response.status_code == 302 and response["Location"] == reverse("web:patient", args=[pid])
    page = _page(c.get(response["Location"]))
    assert "break-the-glass access until" in page
    event = AuditEvent.objects.filter(patient_id=pid, action="patient.read").order_by("-seq").first()
    assert event.purpose == "break_glass"


def test_only_clinicians_open_these_pages(world, client_for, anon):
    for persona in ("coordinator", "patient_a", "commission_viewer", "secadmin"):
        c = client_for(persona)
        assert c.get(reverse("web:patients")).status_code == 404, persona
        assert c.get(reverse("web:patient_new")).status_code == 404, persona
    assert anon.get(reverse("web:patient_new")).status_code == 302


def test_search_query_count_does_not_grow_with_results(world, client_for):
    from medunion.patients.actions import PatientInput, register_patient

    doctor = world.actor("village_doctor_a")
    c = client_for("village_doctor_a")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(reverse("web:patients"), {"q": "王"}).status_code == 200
        return len(ctx.captured_queries)

    register_patient(acting=doctor, data=PatientInput(name="王一", sex="male", birth_date=dt.date(1970, 1, 1)))
    few = count()
    for i in range(8):
        register_patient(acting=doctor, data=PatientInput(name=f"王{i}二", sex="male",
                                                          birth_date=dt.date(1970, 1, 2 + i)))
    assert count() == few


def test_a_double_tap_records_one_consent(world, client_for):
    pid = world.patients["patient_a"].pk
    c = client_for("village_doctor_a")
    once = re.search(r'name="once" value="([0-9a-f]+)"', _page(c.get(reverse("web:patient", args=[pid])))).group(1)
    data = {"once": once, "scope": "referral", "permit": "1"}
    assert c.post(reverse("web:patient_consent", args=[pid]), data).status_code == 302
    assert c.post(reverse("web:patient_consent", args=[pid]), data).status_code == 302
    assert Consent.objects.filter(patient_id=pid, scope="referral").count() == 1
