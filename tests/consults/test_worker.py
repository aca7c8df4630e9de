import subprocess
import sys

import pytest

from medunion import cli


def test_serve_starts_the_worker_and_stops_it_with_the_server(monkeypatch):
    started: list[subprocess.Popen] = []

    def fake_worker():
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        started.append(proc)
        return proc

    running: list[bool] = []

    def gunicorn_exits():
        running.append(bool(started) and started[-1].poll() is None)  # the worker runs beside the server
        raise SystemExit(0)

    monkeypatch.setattr(cli, "_start_worker", fake_worker)
    monkeypatch.setattr("gunicorn.app.wsgiapp.run", gunicorn_exits)
    monkeypatch.setattr("django.core.management.call_command", lambda *a, **k: None)
    monkeypatch.setattr("medunion.core.checks.assert_safe_to_serve", lambda: None)
    with pytest.raises(SystemExit):
        cli.main(["serve", "--no-migrate"])
    assert running == [True]
    assert started[0].wait(timeout=10) is not None  # terminated when the server stopped

    started.clear()
    with pytest.raises(SystemExit):
        cli.main(["serve", "--no-migrate", "--no-worker"])
    assert started == [] and running == [True, False]


def test_the_worker_command_line():
    args = cli.build_parser().parse_args(["worker", "--once", "--interval", "5"])
    assert (args.once, args.interval, args.func) == (True, 5, cli.cmd_worker)
    assert cli.build_parser().parse_args(["worker"]).interval is None


@pytest.mark.django_db(transaction=True)
def test_serve_hands_gunicorn_no_open_database_connection(monkeypatch):
    """gunicorn forks its workers from this process after the migration ran in it. A worker of one
    thread serves on its main thread: an inherited connection would be shared by every worker."""
    from django.db import connection

    at_fork: list[object] = []

    def gunicorn_forks():
        at_fork.append(connection.connection)
        raise SystemExit(0)

    monkeypatch.setattr("gunicorn.app.wsgiapp.run", gunicorn_forks)
    monkeypatch.setattr("medunion.core.checks.assert_safe_to_serve", lambda: None)  # the test keys
    connection.ensure_connection()
    with pytest.raises(SystemExit):
        cli.main(["serve", "--no-worker", "--no-collectstatic", "--workers", "2", "--threads", "1"])
    assert at_fork == [None]
