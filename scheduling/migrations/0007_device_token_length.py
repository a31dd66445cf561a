from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0006_python_clock_defaults"),
    ]

    operations = [
        # No FCM or APNs token is this long: such a row never received a push, and the column
        # could not shrink with it in place.
        migrations.RunSQL(
            "DELETE FROM scheduling_device WHERE length(token) > 512", migrations.RunSQL.noop
        ),
        migrations.AlterField(
            model_name="device",
            name="token",
            field=models.CharField(max_length=512),
        ),
    ]
