"""The foreign keys that an index of their table already begins with lose their own index, which
served no look-up the longer one does not and cost every insert (tests/core/test_schema_indexes.py
keeps it so). The indexes are dropped by name: altering the fields would rebuild each table on
SQLite."""

import django.db.models.deletion
from django.db import migrations, models

from medunion.core.migration_ops import field_index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('network', '0004_foreign_keys_indexed_by_longer_indexes'),
        ('patients', '0002_care_team_covering_indexes'),
    ]

    operations = [
        field_index_dropped(
            model_name='patient',
            name='registered_at',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='patients', to='network.organisation', verbose_name='registered at'),
            table='patients_patient', column='registered_at_id', index='patients_patient_registered_at_id_00a91fde',
        ),
    ]
