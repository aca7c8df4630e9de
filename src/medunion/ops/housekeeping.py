"""What the platform tidies by itself, so that tables and the file store do not grow without end.

- expired ``Idempotency-Key`` records (``core.idempotency``: a key is kept for
  ``MEDUNION_IDEMPOTENCY_HOURS``; only this purge deletes them, not the creates, whose
  transactions hold SQLite's write lock);
- expired sign-in sessions (every sign-in is a row; an idle session expires after
  ``MEDUNION_IDLE_TIMEOUT_SECONDS`` but its row stays until deleted);
- stored bytes no row refers to, once a day old (``files.actions.sweep_orphans``: an upload whose
  transaction was rolled back, or a server killed between writing the bytes and committing);
- and it keeps SQLite's query planner statistics fresh (``ops.planner_statistics``: a table
  whose row count has moved by more than a quarter is analysed again; PostgreSQL's autovacuum
  does that itself).

The background worker runs it on its first round and then every ``MEDUNION_HOUSEKEEPING_HOURS``
(6; 0: never, for a deployment that runs ``medunion housekeeping`` from its own scheduler). Each
part is safe at any time and from several processes at once: rows are deleted in short
transactions (``core.batches``), so writers are never held up for long (SQLite has one write lock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import import_module

from django.conf import settings

from medunion.core import clock
from medunion.core.batches import delete_in_batches


def clear_sessions() -> int:
    """Delete expired sessions; returns how many (0 for a session engine without rows)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store, "get_model_class"):  # cache or cookie sessions expire by themselves
        store.clear_expired()
        return 0
    return delete_in_batches(store.get_model_class().objects.filter(expire_date__lt=clock.now()))


def run_housekeeping() -> dict[str, int]:
    """Every part once; how many of each it did, by a label for the worker's log."""
    from medunion.access.actor import system_actor
    from medunion.core.idempotency import purge_expired
    from medunion.files.actions import sweep_orphans

    from .planner_statistics import refresh_statistics

    return {
        "expired idempotency keys removed": purge_expired(),
        "expired sessions removed": clear_sessions(),
        "orphaned stored files removed": sweep_orphans(acting=system_actor("housekeeping")),
        "tables analysed": len(refresh_statistics()),
    }


class Every:
    """Whether a periodic task is due: at once, then every ``seconds`` (never when 0).

    ``due()`` answers and, when it says yes, starts the next period, so a task that fails is tried
    again a period later, not on every round of the worker."""

    def __init__(self, seconds: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.monotonic = monotonic
        self.next_at: float | None = None

    def due(self) -> bool:
        if self.seconds <= 0:
            return False
        now = self.monotonic()
        if self.next_at is not None and now < self.next_at:
            return False
        self.next_at = now + self.seconds
        return True
