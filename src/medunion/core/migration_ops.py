"""Migration operations the project's migrations share."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def field_index_dropped(model_name: str, name: str, field: models.Field, *, table: str, column: str,
                        index: str, like: bool = False) -> migrations.SeparateDatabaseAndState:
    """``field`` (the field as it now is, with ``db_index=False``) in the state; in the database,
    the field's own index dropped by its name, and made again on the way back.

    Altering the field would say the same, but on SQLite Django alters a field by rebuilding its
    table: every row copied, once for each field (and a table's triggers dropped with the old
    table), where dropping an index is immediate on either database. ``index`` is Django's name
    for the field's index, the same on SQLite and PostgreSQL; ``like``: a text field's, which on
    PostgreSQL has a second index for ``LIKE`` (``<index>_like``).
    """

    def forwards(apps: Any, schema_editor: Any) -> None:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{index}"')
        if like:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{index}_like"')

    def backwards(apps: Any, schema_editor: Any) -> None:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ("{column}")')
        if like and schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{index}_like" ON "{table}" ("{column}" varchar_pattern_ops)')

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model_name, name=name, field=field)],
        database_operations=[migrations.RunPython(forwards, backwards, elidable=False)],
    )
