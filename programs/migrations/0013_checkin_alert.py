import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0010_alert_coalescing"),
        ("programs", "0012_enrollment_history_backfill"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkin",
            name="alert",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="clinic.staffalert",
            ),
        ),
        # Each risky check-in of before raised its own alert.
        migrations.RunSQL(
            """
            UPDATE programs_checkin c SET alert_id = a.id
            FROM clinic_staffalert a
            WHERE a.kind = 'risky_check_in' AND a.object_type = 'programs.checkin'
                AND a.object_id = c.id::text
            """,
            migrations.RunSQL.noop,
        ),
    ]
