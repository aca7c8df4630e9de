"""One index for each way audit events are looked up (every read of patient data inserts a row,
and each index costs every insert): a patient's and an actor's events by ``seq``, the order every
audit page reads them in, instead of four indexes by patient or actor; and on PostgreSQL one index
on the action for whole names and prefixes, instead of two.

The fields' own indexes are dropped by name rather than by altering the fields: on SQLite,
altering a field rebuilds the table, which would copy every row and drop the append-only
triggers of migration 0002 with the old table."""

from django.db import migrations, models

from medunion.core.migration_ops import field_index_dropped

TABLE = "audit_auditevent"
# Django's names for the fields' own indexes (the same on SQLite and PostgreSQL), and whether
# PostgreSQL also had a second one for LIKE (a CharField's).
FIELD_INDEXES = {"actor_id": ("audit_auditevent_actor_id_270bb4b7", False),
                 "patient_id": ("audit_auditevent_patient_id_82c45eaf", False),
                 "action": ("audit_auditevent_action_2131bb77", True)}


def _unindexed(column: str, field: models.Field) -> migrations.SeparateDatabaseAndState:
    name, like = FIELD_INDEXES[column]
    return field_index_dropped("auditevent", column, field, table=TABLE, column=column, index=name, like=like)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_append_only"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="auditevent", name="audit_audit_patient_75268e_idx"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_audit_actor_i_6c9c9e_idx"),
        _unindexed("actor_id", models.UUIDField(blank=True, null=True)),
        _unindexed("patient_id", models.UUIDField(blank=True, null=True)),
        _unindexed("action", models.CharField(max_length=64)),
        migrations.AddIndex(model_name="auditevent",
                            index=models.Index(fields=["patient_id", "seq"], name="audit_patient_seq")),
        migrations.AddIndex(model_name="auditevent",
                            index=models.Index(fields=["actor_id", "seq"], name="audit_actor_seq")),
        migrations.AddIndex(model_name="auditevent",
                            index=models.Index(fields=["action"], name="audit_action",
                                               opclasses=["varchar_pattern_ops"])),
    ]
