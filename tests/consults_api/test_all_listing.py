"""The list of every case a clinician may see (``GET /consults`` without a queue) is asked as a
UNION of the visibility clauses; it must show exactly what ``visible_consults`` allows, newest
first, page by page, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.access.policy import live_care_patients, visible_consults, visible_patients
from medunion.consults import queries
from medunion.core import clock
from medunion.patients.actions import add_to_care_team
from medunion.patients.models import CareTeamMember
from medunion.patients.queries import my_patients
from tests.pins import AS_WRITTEN, AUDIT

from .conftest import ask

PERSONAS = ("village_doctor_a", "village_doctor_b", "cardiologist_tertiary", "cardiologist_b", "oncologist",
            "patient_a", "outsider")


def test_the_union_shows_what_the_policy_allows_newest_first(cw, api):
    start = clock.now()
    for i, extra in enumerate([{}, {"target_kind": "team", "target_team_id": str(cw.team.pk)},
                               {"target_kind": "practitioner", "target_practitioner_id": str(cw.pid("oncologist")),
                                "specialty": "oncology"}, {}, {"urgency": "routine"}]):
        with clock.frozen(start + dt.timedelta(minutes=i)):
            ask(api, cw, **extra)
    with clock.frozen(start + dt.timedelta(minutes=9)):
        api("cardiologist_tertiary").post(f"/consults/{ask(api, cw)['summary']['id']}/claim")
    for persona in PERSONAS:
        actor = cw.actor(persona, "api")
        expected = [str(c) for c in visible_consults(actor).order_by("-created_at", "-id").values_list("pk", flat=True)]
        page, more = queries.newest_visible(actor, limit=200)
        assert [str(c.pk) for c in page] == expected and not more, persona
        shown: list[str] = []
        for offset in range(0, len(expected) + 1, 2):
            page, more = queries.newest_visible(actor, limit=2, offset=offset)
            shown += [str(c.pk) for c in page]
            assert more == (offset + 2 < len(expected)), (persona, offset)
        assert shown == expected, persona
        routine, _more = queries.newest_visible(actor, limit=200, urgency="routine")
        assert [str(c.pk) for c in routine] == [str(c) for c in visible_consults(actor).filter(urgency="routine")
                                                 .order_by("-created_at", "-id").values_list("pk", flat=True)]


def test_care_team_links_in_person_and_through_a_team_reach_the_cases_while_they_last(cw, api):
    """The care-team clause is one arm per kind of link (``access.policy.care_team_patients``): a
    family doctor named in person and a team each reach the patient's cases; an ended link does not."""
    named = ask(api, cw, target_kind="practitioner", target_practitioner_id=str(cw.pid("oncologist")),
                specialty="oncology")["summary"]["id"]

    def reach(persona: str) -> tuple[bool, bool, bool, bool]:
        actor = cw.actor(persona, "api")
        page, _more = queries.newest_visible(actor, limit=200)
        return (named in {str(c.pk) for c in page}, cw.patient.pk in set(live_care_patients(actor)
                                                                           .values_list("patient_id", flat=True)),
                visible_patients(actor).filter(pk=cw.patient.pk).exists(),
                cw.patient in my_patients(actor, limit=200))

    # cardiologist_b is in cw.team; cardiologist_tertiary leads it; village_doctor_b is in neither.
    assert reach("village_doctor_b") == reach("cardiologist_b") == (False, False, False, False)
    doctor = cw.actor("village_doctor_a")
    links = [add_to_care_team(acting=doctor, patient_id=cw.patient.pk, role="family_doctor",
                              practitioner_id=cw.pid("village_doctor_b")),
             add_to_care_team(acting=doctor, patient_id=cw.patient.pk, role="attending", team_id=cw.team.pk)]
    for persona in ("village_doctor_b", "cardiologist_b", "cardiologist_tertiary"):
        assert reach(persona) == (True, True, True, True), persona
    assert reach("oncologist")[1:] == (False, False, False)  # the case's target, not in the care team
    CareTeamMember.objects.filter(pk__in=[link.pk for link in links]).update(until=clock.now() - dt.timedelta(seconds=1))
    assert reach("village_doctor_b") == reach("cardiologist_b") == (False, False, False, False)


def test_the_listing_costs_a_fixed_number_of_queries(cw, api):
    for _ in range(3):
        ask(api, cw)
    doctor = api("village_doctor_a")
    doctor.get("/consults", {"limit": 2})
    with CaptureQueriesContext(connection) as few:
        assert len(doctor.get("/consults", {"limit": 2}).json()["items"]) == 2
    for _ in range(3):
        ask(api, cw)
    with CaptureQueriesContext(connection) as more:
        assert len(doctor.get("/consults", {"limit": 5}).json()["items"]) == 5
    assert len(more) == len(few) <= 12 + AUDIT + AS_WRITTEN
