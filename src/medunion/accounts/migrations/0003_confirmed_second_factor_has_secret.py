"""A confirmed second factor has its secret: ``User.has_mfa`` reads the confirmation time alone, so
a request with a token need not load (and decrypt) the secret."""

from django.db import migrations, models


def unconfirm_without_secret(apps, schema_editor):
    # A confirmation without a secret was never a second factor (has_mfa asked for both); none is
    # expected, and clearing it keeps what has_mfa answered for such an account.
    apps.get_model("accounts", "User").objects.filter(totp_secret="", totp_confirmed_at__isnull=False).update(
        totp_confirmed_at=None)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_initial'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('network', '0003_green_channel_in_use'),
        ('patients', '0002_care_team_covering_indexes'),
    ]

    operations = [
        migrations.RunPython(unconfirm_without_secret, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.CheckConstraint(condition=models.Q(('totp_confirmed_at__isnull', True), models.Q(('totp_secret', ''), _negated=True), _connector='OR'), name='confirmed_second_factor_has_secret'),
        ),
    ]
