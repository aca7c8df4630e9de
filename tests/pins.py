"""Query-count pins on both databases: the statements PostgreSQL runs in addition."""

from __future__ import annotations

from django.db import connection

PG = connection.vendor == "postgresql"
# medunion.core.planner.joins_as_written: a SET before a joined list or load query, a RESET after.
AS_WRITTEN = 2 if PG else 0
