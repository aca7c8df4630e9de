"""Query-count pins on both databases: the statements PostgreSQL runs in addition."""

from __future__ import annotations

from django.db import connection

PG = connection.vendor == "postgresql"
# medunion.core.planner.joins_as_written: a SET before a joined list or load query, a RESET after.
AS_WRITTEN = 2 if PG else 0
# An audit append: four statements on SQLite (its transaction's two ends, or a savepoint's in a
# test's transaction; the chain's last hash; the INSERT), one on PostgreSQL (audit_append: the
# chain's lock, its last hash and the rows).
AUDIT = -3 if PG else 0
