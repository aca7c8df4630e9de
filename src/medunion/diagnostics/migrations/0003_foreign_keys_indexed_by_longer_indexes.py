"""The foreign keys that an index of their table already begins with lose their own index, which
served no look-up the longer one does not and cost every insert (tests/core/test_schema_indexes.py
keeps it so). The indexes are dropped by name: altering the fields would rebuild each table on
SQLite."""

import django.db.models.deletion
from django.db import migrations, models

from medunion.core.migration_ops import field_index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('diagnostics', '0002_worklist_index_covers_keys'),
        ('network', '0004_foreign_keys_indexed_by_longer_indexes'),
        ('patients', '0003_foreign_keys_indexed_by_longer_indexes'),
    ]

    operations = [
        field_index_dropped(
            model_name='examattachment',
            name='examination',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='attachments', to='diagnostics.examination'),
            table='diagnostics_examattachment', column='examination_id', index='diagnostics_examattachment_examination_id_fe120b11',
        ),
        field_index_dropped(
            model_name='examination',
            name='hub',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='network.organisation', verbose_name='reading hub'),
            table='diagnostics_examination', column='hub_id', index='diagnostics_examination_hub_id_37f25e5a',
        ),
        field_index_dropped(
            model_name='examination',
            name='patient',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='examinations', to='patients.patient'),
            table='diagnostics_examination', column='patient_id', index='diagnostics_examination_patient_id_cd0a89d0',
        ),
        field_index_dropped(
            model_name='examination',
            name='requester',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='network.practitioner', verbose_name='requesting clinician'),
            table='diagnostics_examination', column='requester_id', index='diagnostics_examination_requester_id_69e81ed3',
        ),
        field_index_dropped(
            model_name='examination',
            name='requesting_organisation',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='network.organisation', verbose_name='requesting organisation'),
            table='diagnostics_examination', column='requesting_organisation_id', index='diagnostics_examination_requesting_organisation_id_b92adc4b',
        ),
        field_index_dropped(
            model_name='instance',
            name='examination',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='instances', to='diagnostics.examination'),
            table='diagnostics_instance', column='examination_id', index='diagnostics_instance_examination_id_62e44f16',
        ),
        field_index_dropped(
            model_name='instance',
            name='patient',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='patients.patient'),
            table='diagnostics_instance', column='patient_id', index='diagnostics_instance_patient_id_eeb7c9bc',
        ),
        field_index_dropped(
            model_name='readingroute',
            name='consortium',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='reading_routes', to='network.consortium', verbose_name='consortium'),
            table='diagnostics_readingroute', column='consortium_id', index='diagnostics_readingroute_consortium_id_d5ea6412',
        ),
        field_index_dropped(
            model_name='recognition',
            name='consortium',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='network.consortium'),
            table='diagnostics_recognition', column='consortium_id', index='diagnostics_recognition_consortium_id_64171727',
        ),
        field_index_dropped(
            model_name='report',
            name='patient',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='patients.patient'),
            table='diagnostics_report', column='patient_id', index='diagnostics_report_patient_id_e3e78d5d',
        ),
        field_index_dropped(
            model_name='series',
            name='examination',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='series', to='diagnostics.examination'),
            table='diagnostics_series', column='examination_id', index='diagnostics_series_examination_id_3526ce59',
        ),
        field_index_dropped(
            model_name='study',
            name='examination',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='studies', to='diagnostics.examination'),
            table='diagnostics_study', column='examination_id', index='diagnostics_study_examination_id_3f964875',
        ),
    ]
