"""The database out of reach: a connection terminated under a request (what a PostgreSQL restart
does to every request in flight), a persistent connection broken between requests, a SQLite
write lock held beyond the busy timeout. Every surface answers a clear 503 in its own format
with Retry-After (never a 500), nothing is half-written, and the next request succeeds without
restarting anything.

The connection is cut for real: from a second connection, ``pg_terminate_backend`` ends the
server process of the request's connection at the moment the request sends a chosen statement.
The test client does not run Django's per-request connection housekeeping (the WSGI server
does), so the tests call ``close_old_connections()`` where a real server would."""

from __future__ import annotations

import datetime as dt
import select
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import DataError, close_old_connections, connection, connections, transaction
from django.test import Client

from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.core.errors import database_unavailable
from medunion.core.models import IdempotencyRecord
from medunion.patients.models import Patient
from medunion.web.live import RENEW_SECONDS
from tests.api.conftest import issue_token

RETRY_AFTER = "5"
MESSAGE = "The database cannot be reached at the moment. Please try again in a few seconds."


def _postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("terminating a server connection needs PostgreSQL")


def _terminate(pid: int) -> None:
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            assert cursor.fetchone() == (True,)
    finally:
        other.close()


@contextmanager
def cut_when(matches: Callable[[str], bool]) -> Iterator[list[str]]:
    """Terminate this thread's connection on the server just before the first statement for
    which ``matches(sql)`` is true; yields the statements that were cut (one at most)."""
    cut: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if not cut and matches(sql):
            cut.append(sql)
            _terminate(context["connection"].connection.info.backend_pid)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield cut


def _select_from(table: str) -> Callable[[str], bool]:
    return lambda sql: sql.lstrip().upper().startswith("SELECT") and f'"{table}"' in sql


def _end_of_request() -> None:
    """What the WSGI server does when a request ends (request_finished): a connection that met
    an error is checked and dropped when it is broken. (A transaction that lost its connection
    has dropped it already, and opened a new one to leave the atomic block.)"""
    close_old_connections()
    assert connection.connection is None or connection.is_usable(), "the broken connection was kept"


def _assert_problem(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == RETRY_AFTER
    body = response.json()
    assert body["code"] == "database_unavailable" and body["status"] == 503
    assert body["title"] == MESSAGE and body["type"].endswith("/database_unavailable")


def _assert_outcome(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["Retry-After"] == RETRY_AFTER
    [issue] = response.json()["issue"]
    assert response.json()["resourceType"] == "OperationOutcome"
    assert (issue["severity"], issue["code"]) == ("error", "transient")
    assert issue["details"]["coding"][0]["code"] == "database_unavailable"
    assert issue["diagnostics"] == MESSAGE


def _assert_page(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == RETRY_AFTER
    page = response.content.decode()
    assert MESSAGE in page and "Try again" in page


@pytest.fixture(autouse=True)
def _drop_a_broken_connection() -> Iterator[None]:
    """Whatever a test leaves behind, the next one (and the flush that ends this one) gets a
    working connection."""
    yield
    if connection.connection is not None and not connection.is_usable():
        connection.close()


@pytest.fixture
def doctor_token(world, settings) -> str:
    settings.MEDUNION_REQUIRE_MFA = False
    return issue_token("village_doctor_a")


@pytest.fixture
def bearer(doctor_token: str) -> Client:
    return Client(headers={"authorization": f"Bearer {doctor_token}", "accept-language": "en"})


# --- PostgreSQL: a connection terminated under the request ----------------------------------------

@pytest.mark.django_db(transaction=True)
def test_an_api_read_whose_connection_is_cut_answers_503_and_the_next_one_succeeds(world, bearer):
    _postgresql()
    patient = world.patients["patient_a"]
    audited = AuditEvent.objects.count()
    with cut_when(_select_from("patients_patient")) as cut:
        response = bearer.get(f"/api/v1/patients/{patient.pk}")
    assert cut
    _assert_problem(response)
    _end_of_request()
    assert AuditEvent.objects.count() == audited  # the failed read left no audit row
    again = bearer.get(f"/api/v1/patients/{patient.pk}")
    assert again.status_code == 200 and again.json()["id"] == str(patient.pk)


@pytest.mark.django_db(transaction=True)
def test_an_api_create_cut_in_its_transaction_writes_nothing_and_its_retry_creates_once(world, bearer):
    """Cut at the last write of the create (its audit row): the patient and the idempotency key
    inserted before it in the same transaction are gone; the retry with the same key creates
    the patient once."""
    _postgresql()
    payload = {"name": "断线重试", "sex": "female", "birth_date": "1980-03-04"}
    before = (Patient.objects.count(), AuditEvent.objects.count())
    key = {"HTTP_IDEMPOTENCY_KEY": "cut-0001"}
    with cut_when(lambda sql: "audit_append(" in sql) as cut:  # the audit row's one statement
        response = bearer.post("/api/v1/patients", payload, content_type="application/json", **key)
    assert cut
    _assert_problem(response)
    _end_of_request()
    assert (Patient.objects.count(), AuditEvent.objects.count()) == before
    assert not IdempotencyRecord.objects.filter(key="cut-0001").exists()
    retry = bearer.post("/api/v1/patients", payload, content_type="application/json", **key)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry, retry.content
    assert Patient.objects.filter(name="断线重试").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_fhir_read_whose_connection_is_cut_answers_an_operation_outcome(world, bearer):
    _postgresql()
    patient = world.patients["patient_a"]
    with cut_when(_select_from("patients_patient")) as cut:
        response = bearer.get(f"/fhir/Patient/{patient.pk}")
    assert cut
    _assert_outcome(response)
    _end_of_request()
    again = bearer.get(f"/fhir/Patient/{patient.pk}")
    assert again.status_code == 200 and again.json()["id"] == str(patient.pk)


@pytest.mark.django_db(transaction=True)
def test_a_fhir_read_cut_on_the_databases_own_cursor_answers_an_operation_outcome(world, bearer):
    """The hot path's compiled statements run on psycopg's own cursor, not Django's (core.statements;
    an execute wrapper, as in the tests above, would send them through Django's). Cut where nothing
    wraps them: the server restarted after the request's health check, before its first statement
    (the bearer token's). The same 503, and the next request reconnects."""
    _postgresql()
    patient = world.patients["patient_a"]
    assert bearer.get(f"/fhir/Patient/{patient.pk}").status_code == 200
    close_old_connections()  # request_started, as the WSGI server sends it
    connection.ensure_connection()
    _terminate(connection.connection.info.backend_pid)
    connection.health_check_done = True  # the restart came after this request's health check
    response = bearer.get(f"/fhir/Patient/{patient.pk}")
    _assert_outcome(response)
    _end_of_request()
    again = bearer.get(f"/fhir/Patient/{patient.pk}")
    assert again.status_code == 200 and again.json()["id"] == str(patient.pk)


@pytest.mark.django_db(transaction=True)
def test_a_page_whose_connection_is_cut_in_the_view_answers_a_readable_503(world, settings):
    _postgresql()
    settings.MEDUNION_REQUIRE_MFA = False
    client = Client(headers={"accept-language": "en"})
    client.force_login(world.users["village_doctor_a"])
    patient = world.patients["patient_a"]
    with cut_when(_select_from("patients_patient")) as cut:
        response = client.get(f"/patients/{patient.pk}")
    assert cut
    _assert_page(response)
    _end_of_request()
    assert client.get(f"/patients/{patient.pk}").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("path", "check"), [
    ("/patients/{pk}", _assert_page),
    ("/api/v1/patients/{pk}", _assert_problem),
    ("/fhir/Patient/{pk}", _assert_outcome),
])
def test_a_connection_cut_while_a_middleware_loads_the_session_answers_503_on_each_surface(
        world, settings, path, check):
    """Outside any view (the session is loaded by a middleware): the 500 handler answers the
    503 in the surface's format."""
    _postgresql()
    settings.MEDUNION_REQUIRE_MFA = False
    client = Client(headers={"accept-language": "en"}, raise_request_exception=False)
    client.force_login(world.users["village_doctor_a"])
    url = path.format(pk=world.patients["patient_a"].pk)
    with cut_when(_select_from("django_session")) as cut:
        response = client.get(url)
    assert cut
    check(response)
    _end_of_request()
    assert client.get(url).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_connection_cut_while_the_session_is_saved_after_the_page_answers_503_not_400(world, settings):
    """Django turns any database error while saving the session into "session interrupted"
    (400); the outage behind it is a 503 like the others."""
    _postgresql()
    settings.MEDUNION_REQUIRE_MFA = False
    client = Client(headers={"accept-language": "en"})
    client.force_login(world.users["village_doctor_a"])
    url = f"/patients/{world.patients['patient_a'].pk}"
    # A minute after the sign-in, so the page renews the session (web.live.RENEW_SECONDS).
    later = clock.now() + dt.timedelta(seconds=RENEW_SECONDS + 1)
    with cut_when(lambda sql: sql.lstrip().upper().startswith('UPDATE "DJANGO_SESSION"')) as cut, \
            clock.frozen(later):
        response = client.get(url)
    assert cut
    _assert_page(response)
    _end_of_request()
    assert client.get(url).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_persistent_connection_broken_between_requests_is_replaced_without_an_error(world, bearer):
    """A restart while the server is idle: the health check at the start of the next request
    (CONN_HEALTH_CHECKS) finds the connection dead and opens a new one; no 503 at all."""
    _postgresql()
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] and connection.settings_dict["CONN_MAX_AGE"] > 0
    patient = world.patients["patient_a"]
    assert bearer.get(f"/api/v1/patients/{patient.pk}").status_code == 200
    connection.ensure_connection()
    old = connection.connection.info.backend_pid
    _terminate(old)
    close_old_connections()  # request_started, as the WSGI server sends it
    response = bearer.get(f"/api/v1/patients/{patient.pk}")
    assert response.status_code == 200, response.content
    assert connection.connection.info.backend_pid != old


def _last_statement_of(pid: int) -> str:
    """What the server last ran for this backend, as a second connection sees it."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
            return cursor.fetchone()[0]
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_the_health_check_of_an_idle_connection_asks_the_server_nothing():
    """The check asks the socket (core.postgresql_backend): a live, idle connection has nothing to
    read, and passes without a statement. One with something to read (a notification here; a
    server's goodbye in the tests above) is asked ``SELECT 1``, as Django asks."""
    _postgresql()
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last statement'")
    assert connection.is_usable()
    assert _last_statement_of(pid) == "SELECT 'the last statement'"
    with connection.cursor() as cursor:
        cursor.execute("LISTEN medunion_health_check")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("NOTIFY medunion_health_check")
    finally:
        other.close()
    # The server sends the notification when it next notices it; the check does not wait for it.
    readable, _, _ = select.select([connection.connection.fileno()], [], [], 10)
    assert readable, "the notification did not arrive"
    assert connection.is_usable()
    assert _last_statement_of(pid) == "SELECT 1"
    with connection.cursor() as cursor:
        cursor.execute("UNLISTEN *")
    with transaction.atomic():
        with pytest.raises(DataError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        assert not connection.is_usable()  # the transaction failed: nothing runs until it ends
        transaction.set_rollback(True)
    assert connection.is_usable()
    _terminate(pid)
    assert not connection.is_usable()
    connection.close()


# --- SQLite: a write lock held beyond the busy timeout --------------------------------------------

@contextmanager
def _short_busy_timeout() -> Iterator[None]:
    """Reconnect with a 0.2 s busy timeout instead of 20 s, so the test does not wait."""
    options = connection.settings_dict["OPTIONS"]
    saved = dict(options)
    options["timeout"] = 0.2
    options["init_command"] = saved.get("init_command", "").replace("busy_timeout=20000", "busy_timeout=200")
    connection.close()
    try:
        yield
    finally:
        options.clear()
        options.update(saved)
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_sqlite_write_lock_held_beyond_the_busy_timeout_answers_503_and_writes_nothing(world, bearer):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite write lock")
    name = connection.settings_dict["NAME"]
    payload = {"name": "锁等待", "sex": "male", "birth_date": "1975-06-07"}
    key = {"HTTP_IDEMPOTENCY_KEY": "locked-0001"}
    before = (Patient.objects.count(), AuditEvent.objects.count())
    with _short_busy_timeout():
        holder = sqlite3.connect(name, uri=name.startswith("file:"), isolation_level=None, timeout=0)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the timeout
            response = bearer.post("/api/v1/patients", payload, content_type="application/json", **key)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        _assert_problem(response)
        assert (Patient.objects.count(), AuditEvent.objects.count()) == before
        retry = bearer.post("/api/v1/patients", payload, content_type="application/json", **key)
    assert retry.status_code == 201, retry.content
    assert Patient.objects.filter(name="锁等待").count() == 1


# --- what is (and is not) "the database is out of reach" ------------------------------------------

@pytest.mark.django_db
def test_a_programming_error_is_not_mistaken_for_an_unreachable_database():
    """A missing table is a bug (a 500 that gets fixed), not a 503 that hides it."""
    with pytest.raises(Exception) as err:  # noqa: PT011 - the backend decides which class
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_here")
    assert database_unavailable(err.value) is None
    assert database_unavailable(ValueError("x")) is None
