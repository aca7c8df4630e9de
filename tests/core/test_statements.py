"""core.statements: a queryset compiled once per connection gives exactly the ORM's rows, for every
shape of its values; what cannot be compiled safely is refused or run through the ORM."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Q
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from medunion.access.actor import Actor
from medunion.access.models import BreakGlassGrant
from medunion.access.policy import clinician_patients, clinician_terms, relationship_to, visible_patients
from medunion.audit.actions import Entry, _last_hash, _lock_chain, record_many
from medunion.audit.models import AuditEvent, Verb
from medunion.audit.verify import verify_chain
from medunion.core import clock
from medunion.core.statements import _CACHE_ATTR, Insert, Statement, StatementError
from medunion.network.models import Organisation, PracticeSite, Region
from medunion.patients.models import Patient


def _fields(p: Patient) -> tuple:
    return (p.pk, p.name, p.id_number, p.phone, p.birth_date, p.registered_at_id, p.region_id,
            p.registered_at.name if p.registered_at_id else None, p.region.name if p.region_id else None)


def test_models_with_related_objects_equal_the_orm(world):
    stmt = Statement(lambda pk: Patient.objects.select_related("region", "registered_at").filter(pk=pk))
    for p in Patient.objects.all():
        got = stmt.first(p.pk)
        want = Patient.objects.select_related("region", "registered_at").get(pk=p.pk)
        assert _fields(got) == _fields(want)  # the ID number and phone decrypted, the joins filled
        assert got._state.adding is False and got._state.db == "default"
    assert stmt.first(uuid.uuid4()) is None


def test_values_lists_equal_the_orm(world):
    with_patients = list(dict.fromkeys(
        Patient.objects.order_by("pk").values_list("registered_at_id", flat=True)))
    others = Organisation.objects.exclude(pk__in=with_patients).values_list("pk", flat=True)
    orgs = (with_patients + list(others))[:5]
    pairs = Statement(lambda ids: Patient.objects.filter(registered_at_id__in=ids).order_by("pk")
                      .values_list("pk", "registered_at_id"))
    flat = Statement(lambda ids: Patient.objects.filter(registered_at_id__in=ids).order_by("pk")
                     .values_list("pk", flat=True))
    for n in (0, 1, 2, 5):  # each length its own compiled SQL; 0 matches nothing
        want = list(Patient.objects.filter(registered_at_id__in=orgs[:n]).order_by("pk")
                    .values_list("pk", "registered_at_id"))
        assert pairs.all(orgs[:n]) == want
        assert flat.all(orgs[:n]) == [p for p, _o in want]
    assert pairs.all(orgs[:2]) and not pairs.all([])  # the data set gives both answers


def test_compiled_once_per_connection_and_shape(world):
    calls = []

    def build(pk):
        calls.append(pk)
        return Patient.objects.filter(pk=pk)

    stmt = Statement(build)
    patients = list(Patient.objects.all()[:3])
    for p in patients:
        assert stmt.exists(p.pk)
    # Compiled once, from two sets of stand-ins (which must give the same SQL), none of them real.
    assert len(calls) == 2 and calls[0] != calls[1] and not {p.pk for p in patients} & set(calls)
    with CaptureQueriesContext(connection) as ctx:
        assert not stmt.exists(uuid.uuid4())
    assert len(ctx.captured_queries) == 1  # one statement, through Django's cursor (logged, counted)
    assert any(key[0] is stmt for key in connections["default"].__dict__[_CACHE_ATTR])


def test_none_and_booleans_are_part_of_the_shape(world):
    by_patient = Statement(lambda pid: AuditEvent.objects.filter(patient_id=pid).order_by("seq")
                           .values_list("seq", flat=True))
    for pid in (world.patients["patient_a"].pk, None):  # = %s, then IS NULL (not "= NULL")
        want = list(AuditEvent.objects.filter(patient_id=pid).order_by("seq").values_list("seq", flat=True))
        assert want and by_patient.all(pid) == want, pid
    PracticeSite.objects.filter(pk=PracticeSite.objects.order_by("pk").values("pk")[:1]).update(active=False)
    by_state = Statement(lambda active: PracticeSite.objects.filter(active=active).order_by("pk")
                         .values_list("pk", flat=True))
    for active in (True, False):
        want = list(PracticeSite.objects.filter(active=active).order_by("pk").values_list("pk", flat=True))
        assert want and by_state.all(active) == want, active


def test_times_are_parameters_in_the_database_form(world):
    p = world.patients["patient_a"]
    actor = world.actor("outsider")
    now = clock.now()
    BreakGlassGrant.objects.create(user_id=actor.user_id, patient=p, reason="test",
                                   expires_at=now + dt.timedelta(minutes=5))
    stmt = Statement(lambda user, pk, at: BreakGlassGrant.objects.filter(user_id=user, patient_id=pk,
                                                                          expires_at__gt=at))
    assert stmt.exists(actor.user_id, p.pk, now)
    assert not stmt.exists(actor.user_id, p.pk, now + dt.timedelta(minutes=6))
    assert relationship_to(actor, p.pk) == "break_glass"


def test_integers_within_any_fields_range_compile_on_every_database(world):
    """Django decides that a lookup with an integer out of its field's range matches nothing before
    writing SQL (on PostgreSQL a smallint ends at 32,767): a stand-in out of range would have made
    every later run of the statement match nothing."""
    at_least = Statement(lambda level: Region.objects.filter(level__gte=level).order_by("code")
                         .values_list("code", flat=True))
    exactly = Statement(lambda level: Region.objects.filter(level=level).values_list("code", flat=True))
    for level in range(1, 6):
        want = list(Region.objects.filter(level__gte=level).order_by("code").values_list("code", flat=True))
        assert want and at_least.all(level) == want, level
        want = Region.objects.filter(level=level).values_list("code", flat=True)
        assert sorted(exactly.all(level)) == sorted(want), level


def test_a_constant_equal_to_a_stand_in_stays_a_constant(world, monkeypatch):
    from medunion.core import statements

    draws = iter([20000, 20001])  # the first compile's stand-in equals the query's own constant
    monkeypatch.setattr(statements, "_draw", lambda kind: next(draws) if kind is int else uuid.uuid4())
    stmt = Statement(lambda level: Region.objects.filter(level__lt=20000, level__gte=level)
                     .values_list("code", flat=True))
    compiled = stmt.compile("all", [3])
    places = [slot[0] for slot in compiled.slots]
    assert len(places) == 1 and compiled.params == tuple(20000 for _ in compiled.params)  # both 20000 here
    monkeypatch.undo()
    _sql, params = Region.objects.filter(level__lt=20000, level__gte=3).query.sql_with_params()
    assert params[places[0]] == 3  # the slot is the value's place, not the constant's
    assert sorted(stmt.all(3)) == sorted(Region.objects.filter(level__gte=3).values_list("code", flat=True))


def test_a_queryset_that_depends_on_what_a_value_holds_is_refused(monkeypatch):
    from medunion.core import statements

    draws = iter([16385, 16386])  # odd, then even: the two compiles disagree
    monkeypatch.setattr(statements, "_draw", lambda kind: next(draws))
    stmt = Statement(lambda n: Region.objects.none() if n % 2 else Region.objects.filter(level=n))
    with pytest.raises(StatementError):
        stmt.compile("all", [1])


def test_a_transformed_value_is_refused():
    stmt = Statement(lambda text: Region.objects.filter(name__icontains=text))
    with pytest.raises(StatementError):
        stmt.compile("all", ["西安"])


def test_values_that_cannot_be_compiled_run_through_the_orm(world):
    region = Region.objects.first()
    mixed = Statement(lambda codes: Region.objects.filter(code__in=codes).values_list("code", flat=True))
    assert mixed.all([region.code, 7]) == [region.code]  # a mixed list: not compiled, still answered
    long = [region.code] + [f"x{i}" for i in range(40)]
    assert mixed.all(long) == [region.code]
    odd = Statement(lambda level: Region.objects.filter(level=level).values_list("code", flat=True))
    assert sorted(odd.all(Decimal(region.level))) == sorted(Region.objects.filter(level=region.level)
                                                            .values_list("code", flat=True))
    assert not any(key[0] in (mixed, odd) for key in connections["default"].__dict__.get(_CACHE_ATTR, {}))


def test_each_thread_compiles_on_its_own_connection(world):
    stmt = Statement(lambda pk: Patient.objects.filter(pk=pk))
    p = world.patients["patient_a"]
    assert stmt.exists(p.pk)
    seen = {}

    def other():
        seen["cache"] = dict(connections["default"].__dict__.get(_CACHE_ATTR, {}))
        connections.close_all()

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert not any(key[0] is stmt for key in seen["cache"])


def test_the_policy_through_statements_equals_the_orm(world):
    """relationship_to and the clinician's patients, compiled, against the same rules written out
    with the ORM for every persona and patient."""
    now = clock.now()
    for name in world.users:
        actor: Actor = world.actor(name)
        if not actor.is_practitioner:
            continue
        terms = clinician_terms(actor)
        assert set(visible_patients(actor).values_list("pk", flat=True)) == set(
            clinician_patients(*terms).values_list("pk", flat=True))
        for p in Patient.objects.all():
            care = p.care_team.filter(Q(until__isnull=True) | Q(until__gt=now)).filter(
                Q(practitioner_id=actor.practitioner_id) | Q(team_id__in=list(actor.team_ids))).exists()
            own = p.registered_at_id in actor.org_ids
            glass = BreakGlassGrant.objects.filter(user_id=actor.user_id, patient=p,
                                                   expires_at__gt=now).exists()
            want = "care_team" if care else "same_organisation" if own else "break_glass" if glass else None
            assert relationship_to(actor, p.pk) == want, (name, p.name)


def test_insert_stores_what_bulk_create_stores(world):
    """Audit rows through ``Insert`` (SQLite's audit append; on PostgreSQL the one array a column
    of its UNNEST form): JSON, times and UUIDs stored as bulk_create stores them, keys returned."""
    actor = world.actor("village_doctor_a")
    p = world.patients["patient_a"]
    with transaction.atomic():
        _lock_chain()
        prev = _last_hash()
        rows = []
        for i in range(3):
            row = AuditEvent(actor_id=actor.user_id, actor_display=actor.display, action="test.insert",
                             verb=Verb.READ, object_type="patients.patient", object_id=str(p.pk),
                             patient_id=p.pk, detail={"n": i, "名": "张"}, prev_hash=prev)
            row.hash = prev = row.compute_hash()
            rows.append(row)
        with CaptureQueriesContext(connection) as ctx:
            Insert(AuditEvent)(rows)
    assert len(ctx.captured_queries) == 1  # three rows, one statement
    assert all(r.seq for r in rows) and len({r.seq for r in rows}) == 3
    for row in rows:
        stored = AuditEvent.objects.get(seq=row.seq)
        assert (stored.uid, stored.at, stored.actor_id, stored.patient_id, stored.detail, stored.hash) == (
            row.uid, row.at, row.actor_id, row.patient_id, row.detail, row.hash)
        assert stored.compute_hash() == stored.hash
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert verify_chain().ok


def test_insert_falls_back_for_rows_with_keys(world):
    insert = Insert(Region)
    region = Region(code="999999999999", name="测试村", level=5)
    insert([region])
    assert Region.objects.filter(code="999999999999").exists()


def _spy_on_djangos_cursor(monkeypatch) -> list[str]:
    """The SQL run through Django's cursor of the default connection from now on."""
    conn = connections["default"]
    real = conn.cursor
    seen: list[str] = []

    def cursor():
        wrapped = real()
        execute = wrapped.execute

        def spied(sql, params=None):
            seen.append(sql)
            return execute(sql, params)

        wrapped.execute = spied
        return wrapped

    monkeypatch.setattr(conn, "cursor", cursor)
    return seen


def test_compiled_sql_runs_on_the_databases_own_cursor_unless_queries_are_logged(world, monkeypatch):
    """Run for real, not logged: the statement and the audit row's insert pass over Django's cursor
    (the rows still the ORM's); logged (DEBUG, a test counting queries), both go through it."""
    stmt = Statement(lambda pk: Patient.objects.select_related("region", "registered_at").filter(pk=pk))
    p = world.patients["patient_a"]
    want = _fields(Patient.objects.select_related("region", "registered_at").get(pk=p.pk))
    actor = world.actor("village_doctor_a")
    entry = Entry(action="test.cursor", verb=Verb.READ, object_type="patients.patient", object_id=str(p.pk),
                  patient_id=p.pk)
    # the audit row: an INSERT on SQLite, the function that appends it on PostgreSQL
    appended = "AUDIT_APPEND" if connection.vendor == "postgresql" else "INSERT"
    seen = _spy_on_djangos_cursor(monkeypatch)
    assert _fields(stmt.first(p.pk)) == want
    [row] = record_many(actor, [entry])
    assert not [sql for sql in seen if "patients_patient" in sql or appended in sql.upper()], seen
    assert AuditEvent.objects.get(seq=row.seq).hash == row.hash
    with CaptureQueriesContext(connection) as ctx:
        assert _fields(stmt.first(p.pk)) == want
        record_many(actor, [entry])
    assert [sql for sql in seen if "patients_patient" in sql] and [sql for sql in seen if appended in sql.upper()]
    assert len([q for q in ctx.captured_queries if "patients_patient" in q["sql"]]) == 1
    assert verify_chain().ok


def test_the_databases_own_cursor_raises_as_django_does(world):
    """Errors on the fast path are Django's (what the 503 handler and the connection's housekeeping
    look for), and a transaction that must be rolled back is refused as Django refuses it."""
    stmt = Statement(lambda code: Region.objects.filter(code=code).values_list("name", flat=True))
    region = Region.objects.first()
    assert stmt.all(region.code) == [region.name]
    with transaction.atomic():
        connection.set_rollback(True)  # what an error caught inside the block leaves
        with pytest.raises(TransactionManagementError):
            stmt.all(region.code)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute('ALTER TABLE "network_region" RENAME TO "network_region_gone"')
        try:
            with pytest.raises(DatabaseError) as raised:
                stmt.all(region.code)
            assert type(raised.value).__module__ == "django.db.utils", type(raised.value)
        finally:
            connection.set_rollback(True)
    assert stmt.all(region.code) == [region.name]
