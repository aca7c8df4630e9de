"""The generated data set (issue 6 §1) at the tiny scale: counts, the audit chain, foreign keys,
the accounts and pages working on it, determinism for a seed, and the refusal to build twice."""

from __future__ import annotations

import pytest
from django.db import connection

from medunion.accounts.models import User
from medunion.audit.models import AuditEvent
from medunion.audit.verify import verify_chain
from medunion.consults.models import Consult, ConsultMessage
from medunion.core.errors import Conflict
from medunion.demo.personas import PASSWORD
from medunion.demo.province import SCALES, generate, sample
from medunion.demo.province.build import totals
from medunion.diagnostics.models import Examination, Report
from medunion.network.models import Department, Organisation, PracticeSite
from medunion.patients.models import Patient
from medunion.referrals.models import Referral

pytestmark = pytest.mark.django_db

TINY = SCALES["tiny"]
GENERATED = {"consortium__code__startswith": "PV-"}


def test_counts_are_those_of_the_scale(tiny):
    assert Organisation.objects.filter(code__startswith="PV-").count() == TINY.organisations
    assert PracticeSite.objects.filter(primary=True, organisation__code__startswith="PV-").count() == TINY.clinicians
    assert Patient.objects.filter(registered_at__code__startswith="PV-").count() == TINY.patients
    assert Patient.objects.count() == TINY.demo_patients + TINY.patients
    assert User.objects.filter(role="patient", username__startswith="pt").count() == TINY.patient_logins
    assert Consult.objects.filter(**GENERATED).count() == TINY.consults
    assert ConsultMessage.objects.filter(consult__consortium__code__startswith="PV-").count() == TINY.messages
    assert Referral.objects.filter(**GENERATED).count() == TINY.referrals
    assert Examination.objects.filter(**GENERATED).count() == TINY.examinations
    assert tiny.totals == totals()
    # Every signed report is immutable-shaped: signed, with its content digest.
    assert not Report.objects.filter(examination__consortium__code__startswith="PV-").exclude(status="signed").exists()
    assert not Report.objects.filter(examination__consortium__code__startswith="PV-", content_sha256="").exists()


def test_audit_chain_verifies_and_has_a_row_per_record(tiny):
    result = verify_chain()
    assert result.ok, result
    assert AuditEvent.objects.filter(action="patient.register", object_id__in=[
        str(p) for p in Patient.objects.filter(registered_at__code__startswith="PV-").values_list("pk", flat=True)
    ]).count() == TINY.patients
    assert AuditEvent.objects.filter(action="consult.create", object_id__in=[
        str(c) for c in Consult.objects.filter(**GENERATED).values_list("pk", flat=True)]).count() == TINY.consults
    assert AuditEvent.objects.filter(action="demo.generate").count() == 1


def test_foreign_keys_hold(tiny):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA foreign_key_check")
            assert cursor.fetchall() == []
        else:  # the constraints are deferred: check them now, inside the test's transaction
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_green_channel_places_within_what_departments_reserve(tiny):
    for d in Department.objects.filter(organisation__code__startswith="PV-"):
        held = Referral.objects.filter(target_department=d, green_held=True)
        assert d.green_channel_beds_in_use == held.filter(green_place="bed").count() <= d.green_channel_beds
        assert d.green_channel_slots_in_use == held.filter(green_place="slot").count() <= d.green_channel_slots


def _login(client, username: str) -> None:
    response = client.post("/login", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]


def test_a_specialist_logs_in_and_works_the_queue(tiny, client, hashers):
    specialist = next(u for u in sample.users("specialist", 50) if sample.open_consults_for(u))
    _login(client, specialist)
    assert client.get("/consults").status_code == 200
    consult = sample.open_consults_for(specialist)[0]
    assert client.get(f"/consults/{consult}").status_code == 200


def test_the_fullest_pools_come_first_and_the_first_one_s_pool_page_shows_them(tiny, client, hashers):
    """What the benchmarks pick a specialist by (load runs drain the pools they work on)."""
    candidates = sample.users("specialist", 50)
    sizes = {u: sample.pool_size(u) for u in candidates}
    ranked = sample.fullest_pools(candidates)
    assert ranked and [sizes[u] for u in ranked] == sorted((n for n in sizes.values() if n), reverse=True)
    assert sample.fullest_pools(candidates, at_least=sizes[ranked[0]]) == [u for u in ranked
                                                                           if sizes[u] == sizes[ranked[0]]]
    _login(client, ranked[0])
    page = client.get("/consults?queue=pool").content.decode()
    assert page.count('class="case-link"') == min(sizes[ranked[0]], 20)


def test_a_reader_opens_the_worklist_and_an_examination(tiny, client, hashers):
    reader = next(u for u in sample.users("reader", 20) if sample.awaiting_examinations_for(u))
    _login(client, reader)
    response = client.get("/reading")
    assert response.status_code == 200
    exam = sample.awaiting_examinations_for(reader)[0]
    assert client.get(f"/examinations/{exam}").status_code == 200


def test_a_referring_clinician_opens_a_referral_and_their_examinations(tiny, client, hashers):
    gp = next(u for u in sample.users("township", 20) if sample.referrals_of(u))
    _login(client, gp)
    assert client.get(f"/referrals/{sample.referrals_of(gp)[0]}").status_code == 200
    assert client.get("/examinations").status_code == 200
    assert client.get("/consults").status_code == 200


def test_a_generated_patient_opens_their_page_and_reports(tiny, client, hashers):
    username, _patient = sample.patients_with_reports(1)[0]
    _login(client, username)
    assert client.get("/").status_code == 200
    assert client.get("/me/reports").status_code == 200
    assert client.get("/me/consults").status_code == 200
    assert client.get("/me/referrals").status_code == 200


def test_a_second_run_is_refused_and_changes_nothing(tiny, hashers):
    before = totals() | {"audit": AuditEvent.objects.count()}
    with pytest.raises(Conflict):
        generate("tiny", seed=1)
    assert totals() | {"audit": AuditEvent.objects.count()} == before
