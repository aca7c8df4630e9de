"""Each role's home page, and the patient's "who accessed my record"."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from medunion.access.actions import break_glass
from medunion.audit.models import AuditEvent
from medunion.patients.models import QrToken


def _page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_clinician_home_lists_my_patients_privileges_and_teams(world, client_for):
    page = _page(client_for("village_doctor_a").get("/"))
    assert "陈桂芳" in page and "My patients" in page and "My privileges" in page
    assert "东村卫生室" in page
    # listing a patient's name is a read: one row per patient listed
    assert AuditEvent.objects.filter(action="patient.list", patient_id=world.patients["patient_a"].pk).count() == 1
    # the privilege is missing, with what to do about it
    assert "not granted" in page and "tiered-referral training" in page
    page = _page(client_for("village_doctor_b").get("/"))
    assert "陈桂芳" not in page


def test_coordinator_and_auditor_land_on_their_work(world, client_for):
    assert client_for("coordinator").get("/")["Location"] == reverse("web:coord:network")
    assert client_for("auditadmin").get("/")["Location"] == reverse("web:coord:audit")


def test_commission_sees_figures_and_no_patient(world, client_for):
    page = _page(client_for("commission_viewer").get("/"))
    assert "乾县" in page and "Registered residents" in page
    assert "陈桂芳" not in page and world.patients["patient_a_id_number"][-4:] not in page
    assert "城关街道" in page  # registrations counted per township


def test_admin_roles_get_a_plain_home(world, client_for):
    for persona in ("secadmin", "sysadmin"):
        page = _page(client_for(persona).get("/"))
        assert "no patient data" in page


def test_patient_home_shows_own_record_care_team_and_check_in_code(world, client_for):
    c = client_for("patient_a")
    page = _page(c.get("/"))
    assert "陈桂芳" in page and "张卫国" in page and "Who accessed my record" in page
    pid = world.patients["patient_a"].pk
    response = c.post(reverse("web:patient_qr", args=[pid]))
    assert response.status_code == 302 and response["Location"] == "/"
    token = QrToken.objects.get(patient_id=pid, revoked_at__isnull=True).token
    assert token in _page(c.get("/"))
    # another patient's code is out of reach
    other = world.patients["patient_a"].pk
    assert client_for("village_doctor_b").post(reverse("web:patient_qr", args=[other])).status_code == 404


def test_access_log_shows_who_opened_the_record(world, client_for):
    pid = world.patients["patient_a"].pk
    client_for("village_doctor_a").get(reverse("web:patient", args=[pid]))
    break_glass(acting=world.actor("village_doctor_b"), patient_id=pid, reason="Found unconscious at the market")
    client_for("village_doctor_b").get(reverse("web:patient", args=[pid]))
    client_for("outsider").get(reverse("web:patient", args=[pid]))  # refused: shown as refused
    page = _page(client_for("patient_a").get(reverse("web:access_log")))
    assert "张卫国" in page and "village doctor" in page and "东村卫生室" in page
    assert "viewed your record" in page and "registered you" in page
    assert "李秀兰" in page and "emergency access" in page
    assert "孙立" in page and "refused" in page
    assert AuditEvent.objects.filter(action="patient.access_log.read", patient_id=pid).count() == 1
    for persona in ("village_doctor_a", "coordinator", "auditadmin"):
        assert client_for(persona).get(reverse("web:access_log")).status_code == 404


def test_access_log_query_count_does_not_grow(world, client_for):
    pid = world.patients["patient_a"].pk
    doctor = client_for("village_doctor_a")
    c = client_for("patient_a")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            _page(c.get(reverse("web:access_log")))
        return len(ctx.captured_queries)

    first = count()
    for _ in range(5):
        doctor.get(reverse("web:patient", args=[pid]))
    client_for("cardiologist_tertiary").get(reverse("web:patient", args=[pid]))
    assert count() == first


def test_a_clinician_without_an_active_site_still_gets_a_home(world, client_for):
    from medunion.network.models import PracticeSite

    PracticeSite.objects.filter(practitioner_id=world.users["village_doctor_a"].practitioner_id).update(active=False)
    page = _page(client_for("village_doctor_a").get("/"))
    assert "no active practice site" in page
