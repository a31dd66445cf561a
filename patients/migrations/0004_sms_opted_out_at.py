from django.db import migrations, models

# Opt-outs texted before the marker existed: the STOP is the only writer that records a change of
# channels without an actor (staff and the app always name theirs), and it only ever takes SMS
# away, so a record still left that way is a STOP that nothing has changed since.
BACKFILL = """
UPDATE patients_patient
SET sms_opted_out_at = reminder_channels_recorded_at
WHERE reminder_channels_recorded_by_id IS NULL
  AND reminder_channels_recorded_at IS NOT NULL
  AND phone <> ''
  AND NOT reminder_channels @> ARRAY['sms']::varchar(8)[]
"""


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0003_python_clock_defaults"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="sms_opted_out_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("sms_opted_out_at__isnull", True),
                    models.Q(("reminder_channels__contains", ["sms"]), _negated=True),
                    _connector="OR",
                ),
                name="patient_sms_opt_out_without_sms",
                violation_error_code="sms_opted_out",
                violation_error_message="A patient who texted STOP has no SMS reminders.",
            ),
        ),
    ]
