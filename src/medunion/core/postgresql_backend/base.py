"""Django's PostgreSQL backend with a health check that costs no round trip.

With ``CONN_HEALTH_CHECKS`` (settings) a persistent connection is checked at the start of each
request, so that one the server dropped while it was idle (a restart, ``pg_terminate_backend``)
is replaced before the request uses it (docs/faults.md). Django checks by running ``SELECT 1``:
one round trip a request, ≈60 µs of the web server's CPU, a tenth of a FHIR read's statements
(benchmarks/README.md, "FHIR throughput").

An idle connection has nothing to read: the server speaks only when asked. A server that drops
the connection first sends its reason (``FATAL: terminating connection``) and closes the socket,
so the socket becomes readable. Here the check asks the operating system, without waiting,
whether the socket has anything to read; if not, the connection is as the last request left it.
If it has (the server's goodbye, or a notice it may send unasked), Django's own check runs and
decides. What else ``SELECT 1`` would fail on, a transaction that failed or a command still
running, the connection itself knows. A connection that goes silent without a word (a cable cut,
no reset) passes either way until the network gives up on it; then the request meets the error
and answers 503 (core.errors).
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.info.transaction_status not in (TransactionStatus.IDLE, TransactionStatus.INTRANS):
            return False  # a failed transaction, or a command still running: SELECT 1 would fail
        try:
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
            waiting = poller.poll(0)  # POLLHUP and POLLERR are reported whether asked or not
        except (OSError, ValueError, psycopg.Error):  # no socket: the connection is gone
            return False
        if not waiting:
            return True
        return super().is_usable()  # type: ignore[no-any-return]
