"""The ``medunion`` command: serve, worker, demo, migrate, createadmin, import-practitioners, audit …"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
    import django
    from django.apps import apps

    # Once per process: a second django.setup() configures logging again, onto whatever
    # sys.stderr is at that moment (in the test suite, a capture that is closed afterwards).
    if not apps.ready:
        django.setup()


def cmd_migrate(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    print("database is up to date")
    return 0


# The path without its query string and no Referer: searches carry resident ID numbers and phone
# numbers in their query, and the access log must never hold them. The request id ties a line
# to its audit rows.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss rid=%({x-request-id}o)s'


def _demo_allowed() -> bool:
    """The demo creates administrator accounts with a published password: only where the
    deployment says it is a demo (MEDUNION_DEMO=1, as `make run` sets) or in debug mode."""
    from django.conf import settings

    if settings.MEDUNION_DEMO or settings.DEBUG:
        return True
    print("error: the demo consortium is built only with MEDUNION_DEMO=1 (or MEDUNION_DEBUG=1): its accounts "
          "share a published password", file=sys.stderr)
    return False


def cmd_serve(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management import call_command

    from medunion.core.checks import assert_safe_to_serve

    assert_safe_to_serve()
    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    if args.demo_if_empty:
        from medunion.demo.build import build_demo, database_is_empty, print_logins

        if not _demo_allowed():
            return 2
        if database_is_empty():
            build_demo(progress=True)
        print_logins()
    if not args.no_collectstatic:
        call_command("collectstatic", interactive=False, verbosity=0)
    argv = ["gunicorn", "medunion.wsgi:application", "--bind", args.bind, "--workers", str(args.workers),
            "--threads", str(args.threads), "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT,
            "--timeout", "60"]
    from django.db import connections
    from gunicorn.app.wsgiapp import run

    # The migration and the demo above opened a database connection in this process, which gunicorn
    # is about to fork into its workers. A worker of one thread serves requests on its main thread,
    # whose (copied) connection would then be the same socket or SQLite handle in every worker:
    # PostgreSQL answered one worker's query to another ("lost synchronization with server").
    connections.close_all()
    worker = None if args.no_worker else _start_worker()
    sys.argv = argv
    try:
        run()
    finally:
        _stop_worker(worker)
    return 0


def _start_worker() -> subprocess.Popen[bytes]:
    """`medunion worker` beside the web server; it exits when the server does."""
    return subprocess.Popen([sys.executable, "-m", "medunion.cli", "worker", "--parent-pid", str(os.getpid())])


def _stop_worker(worker: subprocess.Popen[bytes] | None) -> None:
    if worker is None or worker.poll() is not None:
        return
    worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def cmd_worker(args: argparse.Namespace) -> int:
    """Background work in rounds: escalate overdue consultations; run the referral clocks
    (escalate unanswered referrals, flag missing outcomes, close finished loops, remind
    follow-ups); escalate unacknowledged critical findings; and, on the first round and then every
    MEDUNION_HOUSEKEEPING_HOURS, the housekeeping (medunion.ops.housekeeping). Database
    connections are closed between rounds; SIGTERM ends the loop after the current round."""
    _setup()
    import logging
    import signal
    import time

    from django.conf import settings
    from django.db import connections

    from medunion.consults.escalation import escalate_overdue
    from medunion.diagnostics.worker import run_round as diagnostics_round
    from medunion.ops.housekeeping import Every, run_housekeeping
    from medunion.referrals.worker import run_round

    log = logging.getLogger("medunion.worker")
    interval = args.interval if args.interval is not None else settings.MEDUNION_WORKER_INTERVAL
    housekeeping = Every(settings.MEDUNION_HOUSEKEEPING_HOURS * 3600)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not args.once:
        every = (f"; housekeeping every {settings.MEDUNION_HOUSEKEEPING_HOURS} h"
                 if settings.MEDUNION_HOUSEKEEPING_HOURS > 0 else "; no housekeeping (MEDUNION_HOUSEKEEPING_HOURS=0)")
        print(f"worker: escalating overdue consultations and running the referral clocks every {interval}s{every}",
              flush=True)
    while True:
        try:
            n = escalate_overdue()
            if n or args.once:
                print(f"worker: {n} consultation(s) escalated", flush=True)
            counts = run_round()
            if any(counts.values()) or args.once:
                print("worker: referrals " + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
            found = diagnostics_round()
            if any(found.values()) or args.once:
                print("worker: diagnosis " + ", ".join(f"{k} {v}" for k, v in found.items()), flush=True)
            if housekeeping.due():
                tidied = run_housekeeping()
                if any(tidied.values()) or args.once:
                    print("worker: " + _housekeeping_line(tidied), flush=True)
        except Exception:  # noqa: BLE001 - logged; the next round tries again
            log.exception("worker round failed")
            if args.once:
                return 1
        finally:
            for conn in connections.all(initialized_only=True):
                if not conn.in_atomic_block:  # (a test's transaction stays open)
                    conn.close()
        if args.once:
            return 0
        waited = 0.0
        while waited < interval and not stopping:
            if args.parent_pid and not _alive(args.parent_pid):
                return 0  # the server is gone
            time.sleep(min(1.0, interval - waited))
            waited += 1.0
        if stopping:
            return 0


def _housekeeping_line(tidied: dict[str, int]) -> str:
    return "housekeeping: " + ", ".join(f"{what} {n}" for what, n in tidied.items())


def cmd_housekeeping(args: argparse.Namespace) -> int:
    """The housekeeping once (what the worker does every MEDUNION_HOUSEKEEPING_HOURS)."""
    _setup()
    from medunion.ops.housekeeping import run_housekeeping

    print(_housekeeping_line(run_housekeeping()))
    return 0


def _alive(pid: int) -> bool:
    """Whether the server that started us is still our parent (an orphan is re-parented)."""
    return os.getppid() == pid


def cmd_demo(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management import call_command

    from medunion.demo.build import build_demo, database_is_empty, print_logins

    if not _demo_allowed():
        return 2
    if args.scale != "demo":
        return _generate(args)
    call_command("migrate", interactive=False, verbosity=0)
    if not database_is_empty():
        print("the database holds data already; the demo is built only into an empty database "
              "(for a fresh demo, point MEDUNION_SQLITE_PATH or DATABASE_URL at a new database)")
        print_logins()
        return 0
    build_demo(progress=not args.quiet, seed=args.seed)
    print_logins()
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """A generated data set (the demo consortium, then a province on top of it): medunion.demo.province."""
    _setup()
    if not _demo_allowed():
        return 2
    return _generate(args)


def _generate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    from medunion.core.errors import Conflict
    from medunion.demo.build import print_logins
    from medunion.demo.province import check_empty, generate
    from medunion.demo.province.sample import describe_usernames

    call_command("migrate", interactive=False, verbosity=0)
    try:
        check_empty()
        report = generate(args.scale, seed=args.seed, progress=not args.quiet)
    except Conflict as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(report.summary())
    print_logins()
    print(describe_usernames())
    return 0


def cmd_createadmin(args: argparse.Namespace) -> int:
    _setup()
    import getpass

    from medunion.access.actor import system_actor
    from medunion.accounts.actions import create_account
    from medunion.core.errors import DomainError

    password = args.password or os.environ.get("MEDUNION_ADMIN_PASSWORD") or getpass.getpass("password: ")
    try:
        user = create_account(acting=system_actor("createadmin"), username=args.username, password=password,
                              role=args.role, display_name=args.username)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for field, messages in getattr(exc, "errors", {}).items():
            for m in messages:
                print(f"  {field}: {m}", file=sys.stderr)
        return 2
    print(f"created {user.role} account {user.username}")
    return 0


def cmd_import_practitioners(args: argparse.Namespace) -> int:
    _setup()
    from medunion.access.actor import system_actor
    from medunion.core.errors import DomainError
    from medunion.network.importer import import_file

    try:
        report = import_file(args.file, acting=system_actor("import-practitioners"),
                             consortium_code=args.consortium, progress=not args.quiet)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    for row in report.rows:
        if row.status == "error":
            print(f"row {row.line}: {'; '.join(row.reasons)}")
    print(report.summary())
    return 0 if not report.errors else 1


def cmd_audit_verify(args: argparse.Namespace) -> int:
    _setup()
    from medunion.audit.verify import verify_chain

    result = verify_chain()
    if result.ok:
        print(f"audit chain verified: {result.checked} events, no broken link")
        return 0
    print(f"audit chain BROKEN at event {result.broken_seq}: {result.reason} "
          f"({result.checked} events verified before it)")
    return 1


def cmd_keygen(args: argparse.Namespace) -> int:
    import secrets

    from medunion.core.crypto import new_key

    print(f"MEDUNION_SECRET_KEY={secrets.token_urlsafe(50)}")
    print(f"MEDUNION_ENCRYPTION_KEYS=k{secrets.token_hex(3)}:{new_key()}")
    print(f"MEDUNION_LOOKUP_KEY={new_key()}")
    return 0


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    _setup()
    from medunion.core.rotation import rotate_all

    counts = rotate_all(progress=not args.quiet)
    for label, n in counts.items():
        print(f"{label}: {n} values re-encrypted under the current key")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up the database (online) and the stored files into a new directory (medunion.ops.backup)."""
    _setup()
    from pathlib import Path

    from django.db import DatabaseError
    from django.utils.translation import gettext as _

    from medunion.ops.backup import create_backup, database_from_settings, record_event, summary
    from medunion.ops.common import BackupError

    say = (lambda s: None) if args.quiet else print
    try:
        outcome = create_backup(Path(args.dest), database=database_from_settings(), progress=not args.quiet,
                                say=say, allow_missing_files=args.allow_missing_files)
    except BackupError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    try:
        record_event("backup.create", outcome.manifest, args.dest)
    except DatabaseError as exc:
        print(_("the backup is complete, but it could not be recorded in the audit log: %(error)s") % {"error": exc},
              file=sys.stderr)
    print("\n".join(summary(outcome, restored=False)))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into the configured (empty) database and file store (medunion.ops.backup)."""
    _setup()
    from pathlib import Path

    from django.db import DatabaseError, connections
    from django.utils.translation import gettext as _

    from medunion.ops.backup import (
        check_backup,
        database_from_settings,
        record_event,
        restore_backup,
        summary,
    )
    from medunion.ops.common import BackupError

    say = (lambda s: None) if args.quiet else print
    try:
        if args.check:
            _src, manifest, notes = check_backup(Path(args.src), database=database_from_settings(),
                                                 progress=not args.quiet, say=say, thorough=True)
            print("\n".join([_("the backup is complete and readable with the current keys"), *notes]))
            return 0
        outcome = restore_backup(Path(args.src), database=database_from_settings(), force=args.force,
                                 progress=not args.quiet, say=say, key_check=not args.skip_key_check)
    except BackupError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    connections.close_all()
    try:
        record_event("backup.restore", outcome.manifest, args.src)
    except DatabaseError:
        print(_("the restore could not be recorded in the audit log (is the schema older than this MedUnion? "
                "run `medunion migrate`)"), file=sys.stderr)
    print("\n".join(summary(outcome, restored=True)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medunion", description="MedUnion consortium platform")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the web server (gunicorn)")
    p.add_argument("--bind", default=os.environ.get("MEDUNION_BIND", "127.0.0.1:8000"))
    p.add_argument("--workers", type=int, default=int(os.environ.get("MEDUNION_WORKERS", "2")))
    p.add_argument("--threads", type=int, default=int(os.environ.get("MEDUNION_THREADS", "4")))
    p.add_argument("--no-migrate", action="store_true")
    p.add_argument("--demo-if-empty", action="store_true", help="build the demo consortium into an empty database")
    p.add_argument("--no-worker", action="store_true", help="do not start `medunion worker` beside the server")
    p.add_argument("--no-collectstatic", action="store_true",
                   help="the static files are collected already (a restart of the same version)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run background work (escalation of overdue consultations)")
    p.add_argument("--once", action="store_true", help="one round, then exit")
    p.add_argument("--interval", type=int, default=None, help="seconds between rounds (MEDUNION_WORKER_INTERVAL, 30)")
    p.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("housekeeping", help="remove expired idempotency keys and sessions, and stored bytes no "
                                            "record refers to; refresh SQLite's planner statistics where "
                                            "stale (the worker does it every few hours)")
    p.set_defaults(func=cmd_housekeeping)

    p = sub.add_parser("demo", help="build the demo consortium")
    p.add_argument("--seed", type=int, default=810)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--scale", default="demo", choices=["demo", "province", "small", "tiny"],
                   help="demo (default); or a generated data set on top of it, as `medunion generate` builds")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("generate", help="build a generated data set (the demo, then a province) into an empty "
                                        "database")
    p.add_argument("--scale", default="province", choices=["province", "small", "tiny"])
    p.add_argument("--seed", type=int, default=810)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("createadmin", help="create an administrator account")
    p.add_argument("username")
    p.add_argument("--role", default="secadmin", choices=["sysadmin", "secadmin", "auditadmin"])
    p.add_argument("--password", help="or MEDUNION_ADMIN_PASSWORD, or asked for")
    p.set_defaults(func=cmd_createadmin)

    p = sub.add_parser("import-practitioners", help="import practitioners from CSV or XLSX")
    p.add_argument("file")
    p.add_argument("--consortium", required=True, help="consortium code")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_import_practitioners)

    p = sub.add_parser("audit", help="audit trail tools")
    audit_sub = p.add_subparsers(dest="audit_command", required=True)
    v = audit_sub.add_parser("verify", help="verify the hash chain; report the first broken link")
    v.set_defaults(func=cmd_audit_verify)

    p = sub.add_parser("keygen", help="print fresh secret, encryption and lookup keys")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("rotate-keys", help="re-encrypt sensitive columns under the current key")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_rotate_keys)
    p = sub.add_parser("backup", help="back up the database (online) and the stored files into a new directory")
    p.add_argument("dest", help="a new directory for the backup")
    p.add_argument("--allow-missing-files", action="store_true",
                   help="back up even when stored files the database refers to are missing (they are listed)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup into an empty database and the file store")
    p.add_argument("src", help="the backup directory")
    p.add_argument("--force", action="store_true",
                   help="replace a database that holds data (its audit log included)")
    p.add_argument("--check", action="store_true", help="check the backup and the keys only; restore nothing")
    p.add_argument("--skip-key-check", action="store_true",
                   help="restore even when the current keys cannot decrypt the backup's data")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_restore)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
