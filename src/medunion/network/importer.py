"""Bulk onboarding of practitioners from CSV or XLSX (the format: docs/onboarding.md).

- :func:`import_file` — the ``medunion import-practitioners`` command: runs at once, progress with tqdm.
- :func:`start_import` — the page and the API: checks the file, records an :class:`ImportJob` and runs it
  in a background thread (or at once when ``MEDUNION_IMPORT_SYNC`` is set, as in tests).
- :func:`access_import_job` — load a job for the actor (404 unless they may import into its consortium).

Only a coordinator of the consortium (``Action.IMPORT_PRACTITIONERS``) or the system actor may import.
Each batch of rows is saved in its own transaction together with one audit row per created or
updated practitioner; the job itself has one audit row. Re-running a file changes nothing that is
already right: rows come back ``unchanged``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.access.loaders import parse_uuid
from medunion.access.policy import Action, require, visible_consortia
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import DomainError, NotFound, ValidationFailed

from .importer_format import COLUMNS, MAX_ROWS, Table, read_table
from .importer_rows import (
    BATCH_SIZE,
    Context,
    RowResult,
    Stopped,
    counts,
    render_changes,
    render_reason,
    run_rows,
)
from .models import Consortium, ImportJob, ImportStatus

__all__ = ["COLUMNS", "MAX_ROWS", "BATCH_SIZE", "MAX_UPLOAD_BYTES", "ImportReport", "access_import_job", "format_columns",
           "import_file", "import_jobs", "report_rows", "run_job", "start_import", "wait_for_job"]

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# A running job writes its progress after every batch (well under a second each); one that has
# not for this long was cut off (a server restart) and is marked failed.
STALE_AFTER = dt.timedelta(minutes=5)
ACTIVE = (ImportStatus.QUEUED, ImportStatus.RUNNING)

# Stored untranslated in ImportJob.error and translated for whoever reads the job.
STALE_ERROR = gettext_noop("The import stopped without finishing (the server was restarted?). Rows saved before "
                           "that stay saved; upload the file again to finish: rows already imported come back "
                           "as unchanged.")
UNEXPECTED_ERROR = gettext_noop("An unexpected error stopped the import. Rows saved before it stay saved; upload "
                                "the file again to finish.")


@dataclass
class ImportReport:
    rows: list[RowResult]
    job: ImportJob | None = None
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[RowResult]:
        return [r for r in self.rows if r.status == "error"]

    def counts(self) -> dict[str, int]:
        return counts(self.rows)

    def summary(self) -> str:
        return str(_("%(total)d rows: %(imported)d imported, %(updated)d updated, %(unchanged)d unchanged, "
                     "%(error)d with errors.") % self.counts())


# --- policy -------------------------------------------------------------------------------------

def _consortium(actor: Actor, *, consortium_id: Any = None, code: str | None = None) -> Consortium:
    qs = visible_consortia(actor)
    c = qs.filter(code=code).first() if code is not None else qs.filter(pk=parse_uuid(consortium_id)).first()
    if c is None:
        raise NotFound()
    require(actor, Action.IMPORT_PRACTITIONERS, c)
    return c


def _new_job(actor: Actor, consortium: Consortium, filename: str, table: Table, *,
             content: bytes | None) -> ImportJob:
    """Create the job with its one audit row (inside the caller's transaction)."""
    now = clock.now()
    job = ImportJob.objects.create(
        consortium=consortium, created_by_id=actor.user_id, created_by_display=actor.display[:200],
        surface=actor.surface[:16], filename=Path(filename).name[:255] or "upload", total=len(table.rows),
        content=content, heartbeat_at=now,
        status=ImportStatus.QUEUED if content is not None else ImportStatus.RUNNING,
        started_at=None if content is not None else now)
    record(actor, "network.import.create", Verb.CREATE, obj=job,
           detail={"consortium": consortium.code, "filename": job.filename, "rows": job.total,
                   "format": table.kind})
    return job


def _heartbeat(job_id: uuid.UUID, processed: int) -> bool:
    now = clock.now()
    return ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
        processed=processed, heartbeat_at=now) == 1


def _finish(job_id: uuid.UUID, rows: list[RowResult]) -> None:
    now = clock.now()
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
        status=ImportStatus.DONE, report=[r.as_dict() for r in rows], summary=counts(rows), processed=len(rows),
        finished_at=now, heartbeat_at=now, content=None)


def _fail(job_id: uuid.UUID, error: str) -> None:
    now = clock.now()
    ImportJob.objects.filter(pk=job_id, status__in=ACTIVE).update(
        status=ImportStatus.FAILED, error=error, finished_at=now, heartbeat_at=now, content=None)


# --- the command --------------------------------------------------------------------------------

def import_file(path: str | Path, *, acting: Actor, consortium_code: str, progress: bool = False) -> ImportReport:
    """Import a roster file into the consortium with this code, now; returns the per-row report."""
    from tqdm import tqdm

    consortium = _consortium(acting, code=consortium_code)
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ValidationFailed(_("The file %(name)s could not be read: %(problem)s")
                               % {"name": path.name, "problem": exc.strerror or exc}, field="file") from exc
    table = read_table(path.name, content)
    with transaction.atomic():
        job = _new_job(acting, consortium, path.name, table, content=None)
    ctx = Context.load(acting, consortium, job.pk)
    with tqdm(total=len(table.rows), unit="row", disable=not progress, file=sys.stderr,
              desc=str(_("Importing"))) as bar:

        def tick(done: int) -> bool:
            bar.update(done - bar.n)
            return _heartbeat(job.pk, done)

        try:
            rows = run_rows(ctx, table.rows, tick)
        except Stopped:
            raise DomainError(_("The import was stopped.")) from None
        except BaseException:
            _fail(job.pk, UNEXPECTED_ERROR)
            raise
    _finish(job.pk, rows)
    job.refresh_from_db()
    return ImportReport(rows=rows, job=job, ignored_columns=table.ignored_columns)


# --- the page and the API: a job run in the background ------------------------------------------

_threads: dict[uuid.UUID, threading.Thread] = {}


def _sync() -> bool:
    return bool(getattr(settings, "MEDUNION_IMPORT_SYNC", False))


def start_import(*, acting: Actor, consortium_id: Any, filename: str, content: bytes) -> ImportJob:
    """Check the file (a ``ValidationFailed`` on ``file`` says what is wrong with it), record the job
    and start it. The job is returned queued (or finished, when imports run synchronously)."""
    consortium = _consortium(acting, consortium_id=consortium_id)
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(_("The file is larger than 10 MB; split it into parts."), field="file")
    table = read_table(filename, content)
    language = translation.get_language() or settings.LANGUAGE_CODE
    with transaction.atomic():
        job = _new_job(acting, consortium, filename, table, content=content)
        if not _sync():
            transaction.on_commit(lambda: _launch(job.pk, acting, language))
    if _sync():
        run_job(job.pk, acting)
        job.refresh_from_db()
    return job


def _launch(job_id: uuid.UUID, acting: Actor, language: str) -> None:
    context = contextvars.copy_context()  # keeps the request id for the audit rows
    thread = threading.Thread(target=context.run, args=(_thread_main, job_id, acting, language),
                              name=f"import-{job_id}", daemon=True)
    _threads[job_id] = thread
    thread.start()


def _thread_main(job_id: uuid.UUID, acting: Actor, language: str) -> None:
    try:
        with translation.override(language):
            run_job(job_id, acting)
    finally:
        connections.close_all()  # the thread's own connection
        _threads.pop(job_id, None)


def wait_for_job(job_id: Any, timeout: float = 60) -> None:
    """Wait for a job's background thread in this process (tests, the benchmark)."""
    thread = _threads.get(parse_uuid(job_id))
    if thread is not None:
        thread.join(timeout)


def run_job(job_id: Any, acting: Actor) -> None:
    """Run a queued job to its end. Never raises: a failure is written on the job."""
    pk = parse_uuid(job_id)
    now = clock.now()
    if not ImportJob.objects.filter(pk=pk, status=ImportStatus.QUEUED).update(
            status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now):
        return  # someone else runs it, or it was marked failed meanwhile
    try:
        job = ImportJob.objects.select_related("consortium").get(pk=pk)
        require(acting, Action.IMPORT_PRACTITIONERS, job.consortium)
        table = read_table(job.filename, bytes(job.content or b""))
        ctx = Context.load(acting, job.consortium, job.pk)
        rows = run_rows(ctx, table.rows, lambda done: _heartbeat(pk, done))
        _finish(pk, rows)
    except Stopped:
        return
    except DomainError as exc:
        _fail(pk, str(exc.message))
    except Exception:
        log.exception("import job %s failed", pk)
        _fail(pk, UNEXPECTED_ERROR)


def fail_stale_jobs() -> int:
    """Mark jobs that stopped reporting progress (cut off by a restart) as failed."""
    cutoff = clock.now() - STALE_AFTER
    stale = ImportJob.objects.filter(status__in=ACTIVE, heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    n = 0
    for pk in list(stale):
        now = clock.now()
        n += ImportJob.objects.filter(pk=pk, status__in=ACTIVE, heartbeat_at__lt=cutoff).update(
            status=ImportStatus.FAILED, error=STALE_ERROR, finished_at=now, content=None)
    return n


# --- reading jobs -------------------------------------------------------------------------------

def import_jobs(actor: Actor) -> QuerySet[ImportJob]:
    """The jobs of the consortia this actor may import into (without the file). Jobs cut off by a
    restart are marked failed first, so no list shows them running forever."""
    fail_stale_jobs()
    qs = ImportJob.objects.select_related("consortium").defer("content", "report")
    if actor.system:
        return qs
    if not actor.is_coordinator:
        return qs.none()
    return qs.filter(consortium_id__in=list(actor.coordinated_ids),
                     consortium__in=visible_consortia(actor).values("pk"))


def access_import_job(actor: Actor, job_id: Any) -> ImportJob:
    pk = parse_uuid(job_id)
    job = ImportJob.objects.select_related("consortium").defer("content").filter(
        pk=pk, consortium__in=visible_consortia(actor).values("pk")).first()
    if job is None:
        raise NotFound()
    require(actor, Action.IMPORT_PRACTITIONERS, job.consortium, visible=False)
    if job.status in ACTIVE and job.heartbeat_at and job.heartbeat_at < clock.now() - STALE_AFTER:
        fail_stale_jobs()
        job.refresh_from_db()
    return job


def format_columns() -> list[dict[str, Any]]:
    """The columns of the file format, for the page that explains it."""
    return [{"key": c.key, "chinese": c.aliases[0], "label": c.label, "required": c.required} for c in COLUMNS]


def job_error(job: ImportJob) -> str:
    return gettext(job.error) if job.error else ""


def report_rows(job: ImportJob, statuses: set[str] | None = None) -> list[dict[str, Any]]:
    """The job's rows with their reasons and changes in the reader's language."""
    rows = []
    for r in job.report or []:
        if statuses and r.get("status") not in statuses:
            continue
        problems = r.get("problems")
        reasons = [render_reason(p["code"], p.get("params") or {}) for p in problems] if problems is not None \
            else list(r.get("reasons", []))
        rows.append({**r, "reasons": reasons, "changes": render_changes(r.get("changed", []))})
    return rows
