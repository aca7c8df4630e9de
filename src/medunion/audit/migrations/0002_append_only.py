"""The audit log is append-only: the database itself refuses UPDATE, DELETE (and TRUNCATE)."""

from django.db import migrations


def up(apps, schema_editor):
    from medunion.audit.triggers import install

    install(schema_editor.connection)


def down(apps, schema_editor):
    from medunion.audit.triggers import remove

    remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(up, down)]
