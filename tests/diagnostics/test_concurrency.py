"""Many people at once, on PostgreSQL: real threads, each on its own connection. On SQLite the
IMMEDIATE transactions serialise writers, so these races are exercised on PostgreSQL only.

Readers claiming one examination at once: exactly one wins and every other is told who; two
acknowledgements of one critical finding: one; the same instance uploaded twice at once (a
phone's retry racing the original): kept once; a series' slices uploaded in parallel: one study,
one series, every slice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import translation
from django.utils.translation import gettext as _

from medunion.audit.models import AuditEvent
from medunion.core.errors import Conflict
from medunion.diagnostics import actions_reading as reading
from medunion.diagnostics.actions import upload_file
from medunion.diagnostics.models import CriticalFinding, Examination, Instance, Series, Study
from medunion.files.models import StoredFile
from tests.consults.conftest import add_practitioner
from tests.diagnostics.conftest import (
    DiagnosisWorld,
    build_diagnosis_world,
    ct_series,
    identity_of,
    new_ct,
    signed_ct,
    stored_keys,
    upload,
    uploaded_ct,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _world() -> DiagnosisWorld:
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections are exercised on PostgreSQL")
    from tests.world import build_world

    return build_diagnosis_world(build_world())


def race(jobs: list[Callable[[], Any]]) -> list[str]:
    """Run the jobs at once (a barrier releases them together); each answers ``won`` (or what it
    returned, when that is a string) or the error it met."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            answer = job()
            result = answer if isinstance(answer, str) else "won"
        except Conflict as exc:
            result = f"{exc.code}:{exc.details.get('reader') or exc.message}"
        except Exception as exc:  # noqa: BLE001 - anything else is a failure to report
            result = f"error:{exc!r}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _claim(dw: DiagnosisWorld, persona: str, exam: Examination) -> Callable[[], Any]:
    actor = dw.actor(persona)
    return lambda: reading.claim(acting=actor, examination_id=exam.pk)


@pytest.mark.parametrize("readers", [2, 10])
def test_readers_claim_at_once_and_exactly_one_wins(readers):
    dw = _world()
    personas = ["hub_radiologist", "hub_radiologist_b"]
    for i in range(readers - 2):
        persona = f"hub_reader_{i}"
        add_practitioner(dw.world, dw.users, persona, f"影像{i}", "imaging_hub", f"1106104240001{i:02d}",
                         ["radiology"])
        personas.append(persona)
    exam = uploaded_ct(dw, slices=1)
    outcomes = race([_claim(dw, p, exam) for p in personas])
    assert outcomes.count("won") == 1, outcomes
    won = Examination.objects.select_related("reader").get(pk=exam.pk)
    assert won.state == "in_reading" and won.version == exam.version + 1
    # Every loser is told who claimed it.
    assert sorted(outcomes) == sorted(["won"] + [f"examination_claimed:{won.reader.name}"] * (readers - 1)), outcomes
    assert AuditEvent.objects.filter(action="examination.claim").count() == 1
    [row] = AuditEvent.objects.filter(action="examination.claim")
    assert row.actor_id == dw.actor(next(p for p in personas if dw.pid(p) == won.reader_id)).user_id


def test_two_acknowledgements_at_once_make_one():
    dw = _world()
    finding = CriticalFinding.objects.get(examination=signed_ct(dw, critical=True))
    actors = [dw.actor("township_doctor"), dw.actor("county_doctor")]

    def ack(actor: Any) -> Callable[[], Any]:
        return lambda: reading.acknowledge_critical(acting=actor, finding_id=finding.pk)

    outcomes = race([ack(a) for a in actors])
    assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "won"], outcomes
    finding.refresh_from_db()
    loser = next(o for o in outcomes if o != "won")
    with translation.override(settings.LANGUAGE_CODE):  # the threads speak the default language
        expected = _("%(who)s acknowledged this critical finding already.") % {"who": finding.acknowledged_by_name}
    assert loser == f"conflict:{expected}"
    assert finding.acknowledged_by_name in {"冯家医", "吴县内"}
    assert AuditEvent.objects.filter(action="examination.critical.acknowledge").count() == 1


def _identity(dw: DiagnosisWorld) -> dict[str, str]:
    return identity_of(dw.patient, dw.world.patients["patient_a_id_number"])


def test_the_same_instance_uploaded_twice_at_once_is_kept_once(archive, file_root):
    dw = _world()
    exam = new_ct(dw)
    data = ct_series(_identity(dw), 1)[0]
    doctors = [dw.actor("township_doctor"), dw.actor("township_doctor", "api")]

    def send(actor: Any, name: str) -> Callable[[], str]:
        return lambda: "created" if upload_file(acting=actor, examination_id=exam.pk,
                                                upload=upload(name, data)).created else "kept"

    outcomes = race([send(doctors[0], "IM0001.dcm"), send(doctors[1], "IM0001 (retry).dcm")])
    assert sorted(outcomes) == ["created", "kept"], outcomes
    assert Instance.objects.filter(examination=exam).count() == 1
    assert Examination.objects.get(pk=exam.pk).instance_count == 1
    assert Series.objects.get(examination=exam).instance_count == 1
    if archive == "local":
        assert StoredFile.objects.count() == 1
        assert len([k for k in stored_keys(file_root) if not k.endswith(".png")]) == 1  # no orphan bytes


def test_a_series_uploaded_in_parallel_is_one_study_and_one_series(archive):
    dw = _world()
    exam = new_ct(dw)
    slices = ct_series(_identity(dw), 8)
    actor = dw.actor("township_doctor")

    def send(i: int, data: bytes) -> Callable[[], Any]:
        return lambda: upload_file(acting=actor, examination_id=exam.pk, upload=upload(f"IM{i:04d}.dcm", data))

    outcomes = race([send(i, d) for i, d in enumerate(slices)])
    assert outcomes == ["won"] * 8, outcomes
    assert Study.objects.filter(examination=exam).count() == 1
    series = Series.objects.get(examination=exam)
    assert series.instance_count == 8
    assert sorted(Instance.objects.filter(examination=exam).values_list("number", flat=True)) == list(range(1, 9))
    assert Examination.objects.get(pk=exam.pk).instance_count == 8
