"""The foreign keys that an index of their table already begins with lose their own index, which
served no look-up the longer one does not and cost every insert (tests/core/test_schema_indexes.py
keeps it so). The indexes are dropped by name: altering the fields would rebuild each table on
SQLite."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from medunion.core.migration_ops import field_index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('access', '0002_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        field_index_dropped(
            model_name='breakglassgrant',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='break_glass', to=settings.AUTH_USER_MODEL),
            table='access_breakglassgrant', column='user_id', index='access_breakglassgrant_user_id_0eb5d3ca',
        ),
    ]
