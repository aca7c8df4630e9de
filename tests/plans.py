"""The database's plan of the statements a block of code ran, as text, on either database."""

from __future__ import annotations

from django.db import connection


def plans_of(ctx) -> list[str]:
    """The plan of each SELECT captured by a ``CaptureQueriesContext`` (what ran, values and all).
    PostgreSQL is told not to read whole tables: a test's few rows would be read that way."""
    plans = []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL enable_seqscan = off")
        for q in ctx.captured_queries:
            if q["sql"].startswith("SELECT"):
                prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
                cur.execute(prefix + q["sql"])
                plans.append(" ".join(str(v) for row in cur.fetchall() for v in row))
    return plans
