import threading
import uuid

import pytest
from django.core.management import call_command
from django.db import IntegrityError, InternalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from medunion.access.actor import system_actor
from medunion.audit import triggers
from medunion.audit.actions import Entry, record, record_many
from medunion.audit.models import GENESIS, AuditEvent, Outcome, Verb
from medunion.audit.verify import verify_chain
from medunion.cli import main
from medunion.patients.queries import access_log, readable_access_log
from tests.plans import plans_of


def _triggers_present() -> set[str]:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_auditevent'")
        else:
            cur.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass "
                        "AND NOT tgisinternal")
        return {r[0] for r in cur.fetchall()}


def _lookup_indexes() -> dict[str, list[str]]:
    """The table's indexes by patient, actor or action: their columns (and operator classes)."""
    with connection.cursor() as cur:
        found = connection.introspection.get_constraints(cur, "audit_auditevent")
        if connection.vendor == "postgresql":
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_auditevent'")
            pattern = {name for name, sql in cur.fetchall() if "varchar_pattern_ops" in sql}
        else:
            pattern = set()
    return {name: c["columns"] + (["varchar_pattern_ops"] if name in pattern else [])
            for name, c in found.items() if c["index"] and c["columns"][0] in ("patient_id", "actor_id", "action")}


NOW = {"audit_patient_seq": ["patient_id", "seq"], "audit_actor_seq": ["actor_id", "seq"],
       "audit_action": ["action"] + (["varchar_pattern_ops"] if connection.vendor == "postgresql" else [])}


@pytest.mark.django_db(transaction=True)
def test_the_migration_installs_the_append_only_triggers():
    call_command("migrate", "audit", "0001", verbosity=0)
    assert _triggers_present() == set()
    call_command("migrate", "audit", verbosity=0)
    assert len(_triggers_present()) >= 2


@pytest.mark.django_db(transaction=True)
def test_the_table_keeps_one_index_per_lookup_and_its_triggers():
    """Every read of patient data inserts a row, and each index costs every insert: migration
    0003 leaves one index by patient and one by actor, both in ``seq`` order, and one by action
    (on PostgreSQL for whole names and prefixes alike). It drops the fields' own indexes without
    rebuilding the table (which, on SQLite, would drop the triggers with it), and going back
    restores the indexes of before."""
    assert _lookup_indexes() == NOW
    triggers_before = _triggers_present()
    assert len(triggers_before) >= 2
    call_command("migrate", "audit", "0002", verbosity=0)
    before = [["action"], ["actor_id"], ["actor_id", "at"], ["patient_id"], ["patient_id", "at"]]
    if connection.vendor == "postgresql":
        before.insert(1, ["action", "varchar_pattern_ops"])  # Django's second index, for LIKE
    assert sorted(_lookup_indexes().values()) == before
    call_command("migrate", "audit", verbosity=0)
    assert _lookup_indexes() == NOW
    assert _triggers_present() == triggers_before


def test_a_patients_events_are_read_newest_first_through_their_index_without_a_sort(world):
    """The patient's access log (and its pages, before a ``seq``) walks the patient's index
    backwards and stops at the page's end, however many events the patient has.

    The patient has more events than a page, spread among twelve times as many of others', and
    the statistics are fresh: with the handful of the world's rows, the plan would turn on
    whatever statistics an earlier test or the server's autovacuum left (for a patient with two
    events a sort is the better plan)."""
    patient = world.patients["patient_a"]
    entries = []
    for _ in range(250):
        entries += [Entry("patient.read", Verb.READ, patient_id=uuid.uuid4()) for _ in range(12)]
        entries.append(Entry("patient.read", Verb.READ, patient_id=patient.pk))
    record_many(system_actor("test"), entries)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    events = list(AuditEvent.objects.filter(patient_id=patient.pk).order_by("-seq"))
    assert len(events) > 250
    with CaptureQueriesContext(connection) as ctx:
        assert [e.seq for e in access_log(world.actor("patient_a"), patient)] == [e.seq for e in events[:200]]
        page = readable_access_log(patient, limit=1, before=events[0].seq)
        assert len(page) == 1
    plans = [p for p in plans_of(ctx) if "audit_auditevent" in p or "audit_patient_seq" in p]
    assert len(plans) == 2, plans
    for plan in plans:
        assert "audit_patient_seq" in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_rows_cannot_be_changed_or_deleted(world):
    row = AuditEvent.objects.first()
    for statement in (lambda: AuditEvent.objects.filter(pk=row.pk).update(action="x"),
                      lambda: AuditEvent.objects.filter(pk=row.pk).delete()):
        with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
            statement()
    assert AuditEvent.objects.get(pk=row.pk).action == row.action


def test_chain_links_every_row(world):
    rows = list(AuditEvent.objects.order_by("seq"))
    assert rows[0].prev_hash == GENESIS
    for a, b in zip(rows, rows[1:], strict=False):
        assert b.prev_hash == a.hash
        assert b.hash == b.compute_hash()
    assert verify_chain().ok


def _tamper(sql: str, params: list) -> None:
    triggers.remove(connection)  # an attacker with database access can do this too
    with connection.cursor() as cur:
        cur.execute(sql, params)
    triggers.install(connection)


def test_verify_reports_the_first_changed_row(world, capsys):
    target = AuditEvent.objects.order_by("seq")[3]
    _tamper("UPDATE audit_auditevent SET actor_display = %s WHERE seq = %s", ["someone else", target.seq])
    result = verify_chain()
    assert not result.ok and result.broken_seq == target.seq
    assert "changed" in result.reason
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at event {target.seq}" in out


def test_verify_reports_a_deleted_row(world):
    target = AuditEvent.objects.order_by("seq")[2]
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [target.seq])
    result = verify_chain()
    assert not result.ok and result.broken_seq > target.seq
    assert "removed or inserted" in result.reason


def test_verify_passes_on_an_intact_chain(world, capsys):
    record(system_actor("test"), "test.read")
    assert main(["audit", "verify"]) == 0
    assert "no broken link" in capsys.readouterr().out


def test_verify_walks_in_batches(world):
    for _ in range(7):
        record(system_actor("test"), "test.read")
    seen = []
    assert verify_chain(progress=seen.append, batch=3).ok
    assert seen == sorted(seen) and len(seen) >= 3


def test_actions_are_found_whole_and_by_prefix_through_their_index(world):
    """The audit searches match an action by prefix ("patient."), the upload check by its whole
    name: on PostgreSQL one index serves both."""
    name = AuditEvent.objects.filter(action__startswith="patient.").values_list("action", flat=True).first()
    assert name is not None
    with CaptureQueriesContext(connection) as ctx:
        by_prefix = set(AuditEvent.objects.filter(action__startswith="patient.").values_list("action", flat=True))
        whole = AuditEvent.objects.filter(action=name).count()
    assert name in by_prefix and all(a.startswith("patient.") for a in by_prefix) and whole >= 1
    if connection.vendor == "postgresql":  # SQLite's LIKE ignores case: no index serves a prefix there
        plans = plans_of(ctx)
        assert len(plans) == 2 and all("audit_action" in plan for plan in plans), plans


def _chain_tail(n: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("-seq")[:n])[::-1]


def test_entries_are_appended_in_order_each_linked_to_the_one_before(world):
    """Several entries at once (a list page's one per row shown), with what a canonical body must
    carry through the database unchanged: Chinese text, quotes, a nested detail, no actor, no patient."""
    last = AuditEvent.objects.order_by("-seq").first()
    actor = system_actor("测试")
    patient = world.patients["patient_a"]
    rows = record_many(actor, [
        Entry(action="patient.list", verb=Verb.READ, object_type="patients.patient", object_id=str(patient.pk),
              patient_id=patient.pk, detail={"名字": "张三", "nested": {"n": [1, 2.5, None, True]}, "q": "a\"b\\c'd"}),
        Entry(action="test.none", verb=Verb.SEARCH),
        Entry(action="test.denied", verb=Verb.READ, outcome=Outcome.DENIED, detail={"why": "不在团队\n第二行"}),
    ])
    stored = _chain_tail(3)
    assert [r.seq for r in stored] == [r.seq for r in rows] and rows[0].seq > last.seq
    assert stored[0].prev_hash == last.hash
    for before, row in zip([last, *stored], stored, strict=False):
        assert row.prev_hash == before.hash
        assert row.hash == row.compute_hash()
    assert [(r.hash, r.prev_hash) for r in rows] == [(r.hash, r.prev_hash) for r in stored]
    assert stored[0].detail == {"名字": "张三", "nested": {"n": [1, 2.5, None, True]}, "q": "a\"b\\c'd"}
    assert stored[0].patient_id == patient.pk and stored[1].patient_id is None and stored[1].actor_id is None
    assert stored[2].outcome == Outcome.DENIED and stored[0].actor_display == actor.display
    assert verify_chain().ok


def test_postgresql_appends_a_row_in_one_statement(world):
    """PostgreSQL: the chain's lock, its last hash and the row in one call of ``audit_append``
    (migration 0004), in the caller's transaction without a savepoint of its own."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite appends in its BEGIN IMMEDIATE transaction")
    with CaptureQueriesContext(connection) as ctx:
        row = record(system_actor("test"), "test.read", detail={"k": "值"})
    assert [q["sql"].split("(")[0] for q in ctx.captured_queries] == [
        "SELECT new_seq, new_prev_hash, new_hash FROM audit_append"]
    assert row.hash == row.compute_hash() == AuditEvent.objects.get(seq=row.seq).hash
    assert verify_chain().ok


def test_an_append_rolled_back_with_its_work_leaves_the_chain_whole(world):
    last = AuditEvent.objects.order_by("-seq").first()
    with pytest.raises(RuntimeError), transaction.atomic():
        record(system_actor("test"), "test.lost")
        raise RuntimeError("the work failed")
    assert AuditEvent.objects.order_by("-seq").first() == last
    row = record(system_actor("test"), "test.kept")
    assert row.prev_hash == last.hash and verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_appends_from_parallel_connections_form_one_chain():
    """Writers on their own connections at once, each append outside a transaction (the reads of
    patient data): every row is in the chain once, and the chain verifies."""
    threads, per_thread = 4, 15
    start = AuditEvent.objects.count()
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(i: int) -> None:
        try:
            barrier.wait()
            for n in range(per_thread):
                record(system_actor(f"writer {i}"), "test.parallel", detail={"n": n})
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=append, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert AuditEvent.objects.count() == start + threads * per_thread
    assert AuditEvent.objects.filter(action="test.parallel").count() == threads * per_thread
    result = verify_chain()
    assert result.ok, result


@pytest.mark.django_db(transaction=True)
def test_the_migration_installs_the_append_function_on_postgresql():
    def present() -> bool:
        with connection.cursor() as cur:
            cur.execute("SELECT to_regprocedure('audit_append(text[])') IS NOT NULL")
            return cur.fetchone()[0]

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL function")
    assert present()
    call_command("migrate", "audit", "0003", verbosity=0)
    assert not present()
    call_command("migrate", "audit", verbosity=0)
    assert present()
    assert record(system_actor("test"), "test.read").hash
    assert verify_chain().ok
