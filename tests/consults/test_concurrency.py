import threading

import pytest
from django.db import connection, connections

from medunion.audit.models import AuditEvent
from medunion.consults.actions import claim_consult
from medunion.consults.models import Consult, ConsultParticipant
from medunion.core.errors import Conflict
from medunion.patients.models import CareTeamMember
from tests.consults.conftest import add_practitioner, ask, build_consult_world


@pytest.mark.django_db(transaction=True)
def test_twenty_specialists_claim_one_case_at_once_and_exactly_one_wins():
    """Real threads on real connections; on SQLite the IMMEDIATE transactions serialise them."""
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections are exercised on PostgreSQL")
    from tests.world import build_world

    cw = build_consult_world(build_world())
    for i in range(18):
        add_practitioner(cw.world, cw.users, f"cardio_{i}", f"心内{i}", "tertiary", f"1106100000001{i:02d}",
                         ["cardiology"])
    personas = ["cardiologist_tertiary", "cardiologist_b"] + [f"cardio_{i}" for i in range(18)]
    consult = ask(cw)
    actors = [cw.actor(p) for p in personas]
    barrier = threading.Barrier(len(actors))
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim(actor) -> None:
        try:
            barrier.wait()
            claim_consult(acting=actor, consult_id=consult.pk)
            result = "won"
        except Conflict as exc:
            result = f"conflict:{exc.details.get('assignee', '')}"
        except Exception as exc:  # noqa: BLE001 - anything else is a failure to report
            result = f"error:{exc!r}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("won") == 1, outcomes
    winner = Consult.objects.select_related("assignee").get(pk=consult.pk)
    assert winner.state == "in_progress" and winner.version == 1
    # Every loser is told who won.
    assert sorted(outcomes) == sorted(["won"] + [f"conflict:{winner.assignee.name}"] * 19), outcomes
    assert ConsultParticipant.objects.filter(consult=consult).count() == 1
    assert CareTeamMember.objects.filter(source_id=str(consult.pk)).count() == 1
    assert AuditEvent.objects.filter(action="consult.claim").count() == 1
