"""Aggregates Django does not have for every database the project runs on."""

from __future__ import annotations

from typing import Any

from django.db.models import Aggregate, JSONField


class JSONList(Aggregate):
    """The group's values as one JSON array, each value as JSON has it (a UUID as its text): SQLite's
    ``json_group_array``, PostgreSQL's ``jsonb_agg``. Read back through ``JSONField`` as a list.
    For a list of several columns a row, aggregate ``JSONArray(a, b)``."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # jsonb, not json: Django's PostgreSQL backend reads jsonb as text for JSONField to parse.
        return self.as_sql(compiler, connection, function="JSONB_AGG", **extra_context)
