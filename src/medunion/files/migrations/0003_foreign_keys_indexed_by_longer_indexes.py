"""The foreign keys that an index of their table already begins with lose their own index, which
served no look-up the longer one does not and cost every insert (tests/core/test_schema_indexes.py
keeps it so). The indexes are dropped by name: altering the fields would rebuild each table on
SQLite."""

import django.db.models.deletion
from django.db import migrations, models

from medunion.core.migration_ops import field_index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('files', '0002_file_once'),
        ('patients', '0003_foreign_keys_indexed_by_longer_indexes'),
    ]

    operations = [
        field_index_dropped(
            model_name='storedfile',
            name='patient',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='files', to='patients.patient'),
            table='files_storedfile', column='patient_id', index='files_storedfile_patient_id_37fa9cfc',
        ),
    ]
