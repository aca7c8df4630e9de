"""The two requests of the FHIR throughput benchmark (benchmarks/fhir_throughput.py): a Patient
read and a Patient search by resident ID number, with a bearer token. Their SQL is pinned, and
what they serve is still valid FHIR with exactly one audit row in the chain per patient served."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.access.actor import actor_for
from medunion.access.loaders import access_patient
from medunion.access.policy import Action, can, relationship_to
from medunion.audit.models import AuditEvent
from medunion.audit.verify import verify_chain
from tests.fhir.conftest import get, validate

RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"
# PostgreSQL takes the audit chain's advisory lock in one more statement.
PG = 1 if connection.vendor == "postgresql" else 0


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    """The SQL run, without the savepoints the test's transaction turns atomic blocks into."""
    return [q["sql"] for q in ctx.captured_queries
            if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))]


def test_patient_read_sql_is_pinned(world, bearer_for):
    p = world.patients["patient_a"]
    c = bearer_for("village_doctor_a")  # in patient_a's care team
    get(c, f"Patient/{p.pk}")  # the token's first use stamps last_used_at
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        status, body, _r = get(c, f"Patient/{p.pk}")
    assert status == 200
    validate(body)
    # token + user; the actor's places (organisations with their consortia) and teams; the
    # relationship (care team); the patient; the chain's last hash; the audit row; the regions.
    assert len(_statements(ctx)) == 8 + PG, _statements(ctx)
    assert AuditEvent.objects.count() == before + 1


def test_patient_identifier_search_sql_is_pinned(world, bearer_for):
    p = world.patients["patient_a"]
    c = bearer_for("village_doctor_a")
    query = {"identifier": f"{RESIDENT_ID}|{world.patients['patient_a_id_number']}"}
    get(c, "Patient", **query)
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        status, body, _r = get(c, "Patient", **query)
    assert status == 200 and body["total"] == 1 and body["entry"][0]["resource"]["id"] == str(p.pk)
    validate(body)
    # token + user; places; teams; the page of visible patients; last hash; audit row; regions.
    assert len(_statements(ctx)) == 7 + PG, _statements(ctx)
    assert AuditEvent.objects.count() == before + 1


def test_reads_keep_the_audit_chain_whole(world, bearer_for):
    c = bearer_for("village_doctor_a")
    for _ in range(3):
        assert get(c, f"Patient/{world.patients['patient_a'].pk}")[0] == 200
        assert get(c, "Patient", identifier=world.patients["patient_a_id_number"])[0] == 200
    assert verify_chain().ok


def test_viewing_is_the_relationship(world):
    """access_patient does not ask the VIEW_PATIENT rule again after finding the relationship:
    the rule is exactly "has a relationship" for every persona and patient."""
    for persona, user in world.users.items():
        actor = actor_for(user, "fhir")
        for key, patient in world.patients.items():
            if not hasattr(patient, "pk"):
                continue
            related = relationship_to(actor, patient.pk) is not None
            assert can(actor, Action.VIEW_PATIENT, patient) == related, (persona, key)
            if related:
                assert access_patient(actor, patient.pk, audit=False).pk == patient.pk
