"""The foreign keys that an index of their table already begins with lose their own index, which
served no look-up the longer one does not and cost every insert (tests/core/test_schema_indexes.py
keeps it so). The indexes are dropped by name: altering the fields would rebuild each table on
SQLite."""

import django.db.models.deletion
from django.db import migrations, models

from medunion.core.migration_ops import field_index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('consults', '0003_consult_patient_covering_index'),
        ('network', '0004_foreign_keys_indexed_by_longer_indexes'),
    ]

    operations = [
        field_index_dropped(
            model_name='consult',
            name='asker',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='consults_asked', to='network.practitioner', verbose_name='asked by'),
            table='consults_consult', column='asker_id', index='consults_consult_asker_id_19fee505',
        ),
        field_index_dropped(
            model_name='consult',
            name='assignee',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='consults_assigned', to='network.practitioner', verbose_name='specialist'),
            table='consults_consult', column='assignee_id', index='consults_consult_assignee_id_b2cb812a',
        ),
        field_index_dropped(
            model_name='consult',
            name='consortium',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='consults', to='network.consortium'),
            table='consults_consult', column='consortium_id', index='consults_consult_consortium_id_27d91ea6',
        ),
        field_index_dropped(
            model_name='consult',
            name='target_practitioner',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='consults_targeted', to='network.practitioner', verbose_name='named specialist'),
            table='consults_consult', column='target_practitioner_id', index='consults_consult_target_practitioner_id_7127868d',
        ),
        field_index_dropped(
            model_name='consultdecline',
            name='practitioner',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='network.practitioner'),
            table='consults_consultdecline', column='practitioner_id', index='consults_consultdecline_practitioner_id_574b6f58',
        ),
        field_index_dropped(
            model_name='consultmessage',
            name='consult',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='consults.consult'),
            table='consults_consultmessage', column='consult_id', index='consults_consultmessage_consult_id_a4c985ea',
        ),
        field_index_dropped(
            model_name='consultparticipant',
            name='practitioner',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='consult_roles', to='network.practitioner'),
            table='consults_consultparticipant', column='practitioner_id', index='consults_consultparticipant_practitioner_id_9012694c',
        ),
    ]
