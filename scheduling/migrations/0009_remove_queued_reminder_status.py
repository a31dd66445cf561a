"""Remove the ``queued`` reminder status.

``queued`` was where the dispatcher of before drains left due rows, each waiting for a broker
message of its id; since drains claim due rows themselves, every dispatch put such rows back to
``pending`` (``release_queued``), and the old messages only woke a drain. So a ``queued`` row
means ``pending`` today: it is moved there, and a drain claims it (it was due when queued).
Then the status leaves the choices, the known-status constraint and the open rows
(``is_open``: PostgreSQL cannot change a generated column's expression, so it is dropped and
added again with the index on it; the table keeps its fillfactor from 0005).
"""

from django.db import migrations, models


def queued_to_pending(apps, schema_editor):
    Reminder = apps.get_model("scheduling", "Reminder")
    Reminder.objects.filter(status="queued").update(status="pending")


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_record_version"),
        ("scheduling", "0008_record_version"),
    ]

    operations = [
        # (Not reversible as data: a row moved to pending cannot be told from any other.)
        migrations.RunPython(queued_to_pending, migrations.RunPython.noop, elidable=True),
        migrations.RemoveConstraint(
            model_name="reminder",
            name="reminder_status_known",
        ),
        migrations.RemoveIndex(
            model_name="reminder",
            name="reminder_open",
        ),
        migrations.RemoveField(
            model_name="reminder",
            name="is_open",
        ),
        migrations.AddField(
            model_name="reminder",
            name="is_open",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Q(("status__in", ["pending", "sending"])),
                output_field=models.BooleanField(),
            ),
        ),
        migrations.AddIndex(
            model_name="reminder",
            index=models.Index(
                condition=models.Q(("is_open", True)),
                fields=["scheduled_for"],
                name="reminder_open",
            ),
        ),
        migrations.AlterField(
            model_name="reminder",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("sending", "Being sent"),
                    ("sent", "Sent"),
                    ("failed", "Failed"),
                    ("skipped", "Skipped"),
                    ("cancelled", "Cancelled"),
                    ("unknown", "Outcome unknown (cut off mid-send; never resent)"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        ["pending", "sending", "sent", "failed", "skipped", "cancelled", "unknown"],
                    )
                ),
                name="reminder_status_known",
                violation_error_message="Unknown reminder status.",
            ),
        ),
    ]
