"""PostgreSQL appends to the chain in one statement: the function ``audit_append``
(``medunion.audit.actions``). SQLite keeps appending in its ``BEGIN IMMEDIATE`` transaction."""

from django.db import migrations


def up(apps, schema_editor):
    from medunion.audit.actions import PG_APPEND_FUNCTION

    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_APPEND_FUNCTION)


def down(apps, schema_editor):
    from medunion.audit.actions import PG_DROP_APPEND_FUNCTION

    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP_APPEND_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_one_index_per_lookup")]
    operations = [migrations.RunPython(up, down)]
