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
        ('patients', '0003_foreign_keys_indexed_by_longer_indexes'),
        ('referrals', '0001_initial'),
    ]

    operations = [
        field_index_dropped(
            model_name='followuptask',
            name='assignee',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='follow_up_tasks', to='network.practitioner', verbose_name='assigned to'),
            table='referrals_followuptask', column='assignee_id', index='referrals_followuptask_assignee_id_c8b3d227',
        ),
        field_index_dropped(
            model_name='followuptask',
            name='organisation',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='network.organisation'),
            table='referrals_followuptask', column='organisation_id', index='referrals_followuptask_organisation_id_b81c3067',
        ),
        field_index_dropped(
            model_name='referral',
            name='consortium',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='referrals', to='network.consortium'),
            table='referrals_referral', column='consortium_id', index='referrals_referral_consortium_id_caa28584',
        ),
        field_index_dropped(
            model_name='referral',
            name='patient',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='referrals', to='patients.patient', verbose_name='patient'),
            table='referrals_referral', column='patient_id', index='referrals_referral_patient_id_e1ef9d2b',
        ),
        field_index_dropped(
            model_name='referral',
            name='receiver',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='referrals_accepted', to='network.practitioner', verbose_name='accepted by'),
            table='referrals_referral', column='receiver_id', index='referrals_referral_receiver_id_1082cc9a',
        ),
        field_index_dropped(
            model_name='referral',
            name='sender',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='referrals_sent', to='network.practitioner', verbose_name='referred by'),
            table='referrals_referral', column='sender_id', index='referrals_referral_sender_id_b9046f59',
        ),
        field_index_dropped(
            model_name='referral',
            name='target_organisation',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='referrals_received', to='network.organisation', verbose_name='to'),
            table='referrals_referral', column='target_organisation_id', index='referrals_referral_target_organisation_id_78da90a9',
        ),
        field_index_dropped(
            model_name='referralentry',
            name='referral',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='referrals.referral'),
            table='referrals_referralentry', column='referral_id', index='referrals_referralentry_referral_id_ee554cc0',
        ),
    ]
