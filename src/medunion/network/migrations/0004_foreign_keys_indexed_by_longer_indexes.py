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
        ('network', '0003_green_channel_in_use'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        field_index_dropped(
            model_name='consortiummembership',
            name='consortium',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='network.consortium'),
            table='network_consortiummembership', column='consortium_id', index='network_consortiummembership_consortium_id_0ff5b1cc',
        ),
        field_index_dropped(
            model_name='coordinatorassignment',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='coordinates', to=settings.AUTH_USER_MODEL),
            table='network_coordinatorassignment', column='user_id', index='network_coordinatorassignment_user_id_1fffaea7',
        ),
        field_index_dropped(
            model_name='department',
            name='organisation',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='departments', to='network.organisation', verbose_name='organisation'),
            table='network_department', column='organisation_id', index='network_department_organisation_id_96b2b0a3',
        ),
        field_index_dropped(
            model_name='importjob',
            name='consortium',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='import_jobs', to='network.consortium', verbose_name='consortium'),
            table='network_importjob', column='consortium_id', index='network_importjob_consortium_id_5785d627',
        ),
        field_index_dropped(
            model_name='practicesite',
            name='practitioner',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='sites', to='network.practitioner'),
            table='network_practicesite', column='practitioner_id', index='network_practicesite_practitioner_id_178ca7dc',
        ),
        field_index_dropped(
            model_name='practitionerspecialty',
            name='practitioner',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='specialties', to='network.practitioner'),
            table='network_practitionerspecialty', column='practitioner_id', index='network_practitionerspecialty_practitioner_id_653f2401',
        ),
        field_index_dropped(
            model_name='teammember',
            name='team',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='members', to='network.team'),
            table='network_teammember', column='team_id', index='network_teammember_team_id_0cb63e10',
        ),
    ]
