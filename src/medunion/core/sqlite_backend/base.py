"""Django's SQLite backend with writers taking turns through a lock file.

SQLite lets one writer at a time into the database. Transactions here begin ``IMMEDIATE``
(settings), so a writer asks for that lock at ``BEGIN``; one that finds it taken sleeps in SQLite's
busy handler and asks again, after 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then every 100 ms.
A writer that has waited a third of a second asks only ten times a second, and writers arriving
meanwhile, asking after 1 ms, take the lock first. Under the mixed load on the province the
longest wait for the lock in a 30 s step was 180 ms to 2.4 s (four runs), with no transaction
holding it longer than 0.7 s; with the turns below, 157–362 ms (benchmarks/README.md, "Writers
taking turns").

Here a writer first takes an exclusive ``flock`` on ``<database>.writers`` (the same file for every
process and thread using the database), then begins; commit or rollback gives it back. A writer
finding it taken asks again every millisecond, so the lock passes on as soon as it is free. The
database's own lock is then always free at ``BEGIN``. Writes outside a transaction and
in-memory databases (tests' default) are left to SQLite's lock alone, and so is every write when
the lock file cannot be opened (a warning says so once): the turns make waiting fair, SQLite's own
lock keeps writes apart either way. The file is opened read-only (``flock`` needs no more), so an
account that may read the database directory may take its turn whoever created the file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from typing import Any

from django.db.backends.sqlite3 import base
from django.db.utils import OperationalError

POLL_SECONDS = 0.001
log = logging.getLogger(__name__)
_warned: set[str] = set()


class DatabaseWrapper(base.DatabaseWrapper):
    _writers_fd: int | None = None
    _writers_pid = 0
    _writing = False

    def _writers_path(self) -> str | None:
        if self.is_in_memory_db():
            return None
        return f"{self.settings_dict['NAME']}.writers"

    def _take_turn(self) -> None:
        path = self._writers_path()
        if path is None:
            return
        if self._writers_fd is None or self._writers_pid != os.getpid():
            # A forked process (a server worker) opens its own: a lock taken through a descriptor
            # inherited from the parent would be the parent's lock as well.
            try:
                self._writers_fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                if path not in _warned:
                    _warned.add(path)
                    log.warning("writers take no turns: %s cannot be opened (%s)", path, exc.strerror)
                self._writers_fd = None
                return
            self._writers_pid = os.getpid()
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._writers_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationalError("database is locked (waited for the writers' lock)") from None
                time.sleep(POLL_SECONDS)
        self._writing = True

    def _end_turn(self) -> None:
        if self._writing and self._writers_fd is not None and self._writers_pid == os.getpid():
            fcntl.flock(self._writers_fd, fcntl.LOCK_UN)
        self._writing = False

    def _ended(self) -> None:
        """After a commit or rollback: the turn ends once SQLite's transaction has (a failed
        commit leaves it open until the rollback)."""
        if self.connection is None or not self.connection.in_transaction:
            self._end_turn()

    def _start_transaction_under_autocommit(self) -> None:
        self._take_turn()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # Django's, not in the stubs
        except BaseException:
            self._end_turn()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]  # Django's, not in the stubs
        finally:
            self._ended()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]  # Django's, not in the stubs
        finally:
            self._ended()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]  # Django's, not in the stubs
        finally:
            self._end_turn()
            if self._writers_fd is not None and self._writers_pid == os.getpid():
                os.close(self._writers_fd)
            self._writers_fd = None
