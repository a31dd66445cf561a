import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# Open risky check-in alerts of one patient fold into their oldest before the index that allows
# one: it counts them all, the others are closed (acknowledged by no one at migration time).
_FOLD_SQL = """
WITH grouped AS (
    SELECT id,
        first_value(id) OVER w AS keep_id,
        count(*) OVER w AS n,
        max(created_at) OVER w AS latest
    FROM clinic_staffalert
    WHERE kind = 'risky_check_in' AND acknowledged_at IS NULL AND patient_id IS NOT NULL
    WINDOW w AS (PARTITION BY patient_id ORDER BY created_at, id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
), kept AS (
    UPDATE clinic_staffalert a
    SET occurrences = g.n, last_occurred_at = g.latest,
        message = g.n || ' check-ins need attention.'
    FROM grouped g WHERE a.id = g.id AND g.id = g.keep_id AND g.n > 1
)
UPDATE clinic_staffalert a SET acknowledged_at = %s
FROM grouped g WHERE a.id = g.id AND g.id <> g.keep_id
"""


def fold_open_alerts(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("UPDATE clinic_staffalert SET last_occurred_at = created_at")
        cursor.execute(_FOLD_SQL, [django.utils.timezone.now()])


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0009_username_lower_unique"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="staffalert",
            name="last_occurred_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="staffalert",
            name="occurrences",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.RunPython(fold_open_alerts, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="staffalert",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("acknowledged_at__isnull", True),
                    ("kind__in", ("risky_check_in",)),
                    ("patient_id__isnull", False),
                ),
                fields=("kind", "patient_id"),
                name="alert_one_open_per_patient",
                violation_error_code="alert_open",
                violation_error_message="This patient already has an open alert of this kind.",
            ),
        ),
    ]
