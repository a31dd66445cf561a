# A request past its end lapses unanswered: expired with no approved units.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0016_utilization_review"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="authorization",
            name="authorization_approved_units_iff_approved",
        ),
        migrations.AddConstraint(
            model_name="authorization",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "requested"), ("units_approved__isnull", True)),
                    models.Q(
                        ("status__in", ["approved", "partially_approved", "exhausted"]),
                        ("units_approved__isnull", False),
                    ),
                    ("status__in", ["denied", "expired"]),
                    _connector="OR",
                ),
                name="authorization_approved_units_iff_approved",
                violation_error_message="Approved units are set once the payer approves, and not before.",
            ),
        ),
    ]
