"""Migration operations the project's migrations share."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def field_index_dropped(model_name: str, name: str, field: models.Field, *, table: str, column: str,
                        index: str) -> migrations.SeparateDatabaseAndState:
    """``field`` (the field as it now is, with ``db_index=False``) in the state; in the database,
    the field's own index dropped by its name, and made again on the way back.

    Altering the field would say the same, but on SQLite Django alters a field by rebuilding its
    table: every row copied, once for each field, where dropping an index is immediate on either
    database. ``index`` is Django's name for the field's index, the same on SQLite and PostgreSQL.
    """

    def forwards(apps: Any, schema_editor: Any) -> None:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{index}"')

    def backwards(apps: Any, schema_editor: Any) -> None:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ("{column}")')

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model_name, name=name, field=field)],
        database_operations=[migrations.RunPython(forwards, backwards, elidable=False)],
    )
