"""The two requests of the FHIR throughput benchmark (benchmarks/fhir_throughput.py): a Patient
read and a Patient search by resident ID number, with a bearer token. Their SQL is pinned, and
what they serve is still valid FHIR with exactly one audit row in the chain per patient served."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.access.actor import actor_for
from medunion.access.loaders import access_patient
from medunion.access.models import BreakGlassGrant
from medunion.access.policy import Action, can, relationship_to
from medunion.audit.models import AuditEvent
from medunion.audit.verify import verify_chain
from medunion.core import clock
from medunion.core.errors import NotFound
from medunion.patients.actions import PatientInput, register_patient
from medunion.patients.identity import make_resident_id
from medunion.patients.models import CareTeamMember, Patient
from tests.fhir.conftest import get, ids, validate
from tests.world import VILLAGE_A

RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"
# Without the savepoints: the audit row is the chain's last hash and the INSERT on SQLite, one
# statement on PostgreSQL (``audit_append``).
AUDIT = -1 if connection.vendor == "postgresql" else 0


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
    # the token with its user and the user's places (organisations with their consortia) and
    # teams; the patient with the reader's relationship to it; the chain's last hash and the audit
    # row; the regions.
    assert len(_statements(ctx)) == 5 + AUDIT, _statements(ctx)
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
    # the token with its user, places and teams; the page of visible patients; last hash; audit
    # row; regions.
    assert len(_statements(ctx)) == 5 + AUDIT, _statements(ctx)
    assert AuditEvent.objects.count() == before + 1


def test_reads_keep_the_audit_chain_whole(world, bearer_for):
    c = bearer_for("village_doctor_a")
    for _ in range(3):
        assert get(c, f"Patient/{world.patients['patient_a'].pk}")[0] == 200
        assert get(c, "Patient", identifier=world.patients["patient_a_id_number"])[0] == 200
    assert verify_chain().ok


def test_viewing_is_the_relationship(world):
    """access_patient does not ask the VIEW_PATIENT rule again after finding the relationship:
    the rule is exactly "has a relationship" for every persona and patient. A clinician's read
    loads the patient with the relationship in one statement: what it records is what
    relationship_to answers, and a refused look at a real patient is recorded as refused."""
    for persona, user in world.users.items():
        actor = actor_for(user, "fhir")
        for key, patient in world.patients.items():
            if not hasattr(patient, "pk"):
                continue
            relation = relationship_to(actor, patient.pk)
            assert can(actor, Action.VIEW_PATIENT, patient) == (relation is not None), (persona, key)
            if relation is not None:
                assert access_patient(actor, patient.pk).pk == patient.pk
                event = AuditEvent.objects.order_by("-seq").first()
                assert (event.outcome, event.detail.get("relationship")) == ("success", relation), (persona, key)
            elif actor.user_id is not None:
                with pytest.raises(NotFound):
                    access_patient(actor, patient.pk)
                event = AuditEvent.objects.order_by("-seq").first()
                assert (event.actor_id, event.patient_id, event.outcome) == (actor.user_id, patient.pk, "denied")


def test_a_clinician_s_relationship_is_the_first_that_holds(world):
    """Care team before organisation before break-the-glass, as access_patient records it; a
    grant that has expired, or a care-team link that has ended, no longer counts."""
    actor = world.actor("village_doctor_a")
    patient = world.patients["patient_a"]
    assert relationship_to(actor, patient.pk) == "care_team"
    CareTeamMember.objects.filter(patient=patient, practitioner_id=actor.practitioner_id).update(
        until=clock.now() - dt.timedelta(seconds=1))
    assert patient.registered_at_id in actor.org_ids
    assert relationship_to(actor, patient.pk) == "same_organisation"
    Patient.objects.filter(pk=patient.pk).update(registered_at=world.orgs["other"])
    assert relationship_to(actor, patient.pk) is None
    with pytest.raises(NotFound):
        access_patient(actor, patient.pk)
    grant = BreakGlassGrant.objects.create(user_id=actor.user_id, patient=patient, reason="test",
                                           expires_at=clock.now() + dt.timedelta(hours=1))
    assert relationship_to(actor, patient.pk) == "break_glass"
    assert access_patient(actor, patient.pk).pk == patient.pk
    assert AuditEvent.objects.order_by("-seq").first().purpose == "break_glass"
    BreakGlassGrant.objects.filter(pk=grant.pk).update(expires_at=clock.now() - dt.timedelta(seconds=1))
    assert relationship_to(actor, patient.pk) is None
    assert relationship_to(actor, uuid.uuid4()) is None


def test_identifier_search_answers_as_the_general_search(world, bearer_for):
    """A clinician's search by identifier alone takes its own compiled path; with a second
    parameter that matches every patient (``_id`` of them all) the general path answers. Both give
    the same patients, totals and links, for every clinician, one number, several, an unknown one,
    and pages of one."""
    registrars = (("village_doctor_a", 33, 2), ("village_doctor_b", 45, 9), ("cardiologist_tertiary", 57, 21))
    for persona, seq, day in registrars:
        register_patient(acting=world.actor(persona), data=PatientInput(
            name=f"患者{seq}", id_number=make_resident_id("610424", dt.date(1970, 5, day), seq, male=True),
            region_code=VILLAGE_A))
    numbers = {p.pk: p.id_number for p in Patient.objects.all() if p.id_number}
    every = ",".join(str(pk) for pk in numbers)
    assert len(numbers) >= 3
    ordered = list(numbers.values())
    searches = [{"identifier": f"{RESIDENT_ID}|{n}"} for n in ordered]
    searches += [{"identifier": ",".join(ordered)}, {"identifier": "110101199001011234"},
                 {"identifier": ",".join(ordered), "_count": "1"},
                 {"identifier": ",".join(ordered), "_count": "1", "_offset": "1"},
                 {"identifier": ",".join(ordered), "_count": "1", "_total": "none"},
                 {"identifier": ",".join(ordered), "_count": "2", "_offset": "9"},
                 # more numbers than a compiled statement takes: the database pages them
                 {"identifier": ",".join(ordered + [f"1101011990010{i:05d}" for i in range(40)]), "_count": "1"}]
    compared = 0
    for persona, user in world.users.items():
        if not actor_for(user).is_practitioner:
            continue
        c = bearer_for(persona)
        for query in searches:
            fast = get(c, "Patient", **query)
            general = get(c, "Patient", **query, _id=every)
            assert fast[0] == general[0] == 200, (persona, query)
            assert ids(fast[1]) == ids(general[1]), (persona, query)
            assert fast[1].get("total") == general[1].get("total"), (persona, query)
            assert ([link["relation"] for link in fast[1]["link"]]
                    == [link["relation"] for link in general[1]["link"]]), (persona, query)
            compared += bool(ids(fast[1]))
    assert compared >= 5  # some clinicians do find patients
