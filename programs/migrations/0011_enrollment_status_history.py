import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# An enrollment's status history (issue 18): the services append a row per change in the same
# transaction. The database keeps the rows as written, for every path into it (as the audit
# trail, clinic 0002): UPDATE and DELETE are refused; TRUNCATE stays possible (test teardown
# uses it). A composite foreign key holds that a row's patient is its enrollment's (as 0006).
SQL = """
CREATE FUNCTION programs_enrollmentstatuschange_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'enrollment status changes are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'enrollment_status_change_append_only';
END;
$$;

CREATE TRIGGER programs_enrollmentstatuschange_append_only
    BEFORE UPDATE OR DELETE ON programs_enrollmentstatuschange
    FOR EACH ROW EXECUTE FUNCTION programs_enrollmentstatuschange_append_only();

ALTER TABLE programs_enrollmentstatuschange
    ADD CONSTRAINT enrollmentstatuschange_patient_is_enrollments
    FOREIGN KEY (enrollment_id, patient_id) REFERENCES programs_enrollment (id, patient_id);
"""

REVERSE_SQL = """
ALTER TABLE programs_enrollmentstatuschange
    DROP CONSTRAINT enrollmentstatuschange_patient_is_enrollments;
DROP TRIGGER IF EXISTS programs_enrollmentstatuschange_append_only
    ON programs_enrollmentstatuschange;
DROP FUNCTION IF EXISTS programs_enrollmentstatuschange_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0003_python_clock_defaults"),
        ("programs", "0010_waitlist_offers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="enrollment",
            name="requested_start_date",
            field=models.DateField(
                editable=False,
                help_text="The start date asked for when the enrollment was created.",
                null=True,
            ),
        ),
        migrations.CreateModel(
            name="EnrollmentStatusChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "from_status",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("waitlisted", "Waitlisted"),
                            ("admitted", "Admitted"),
                            ("discharged", "Discharged"),
                            ("cancelled", "Cancelled"),
                        ],
                        editable=False,
                        max_length=12,
                    ),
                ),
                (
                    "to_status",
                    models.CharField(
                        choices=[
                            ("waitlisted", "Waitlisted"),
                            ("admitted", "Admitted"),
                            ("discharged", "Discharged"),
                            ("cancelled", "Cancelled"),
                        ],
                        editable=False,
                        max_length=12,
                    ),
                ),
                (
                    "effective_date",
                    models.DateField(
                        editable=False,
                        help_text="When the change takes effect in the clinic: the start date of an admission, the discharge date of a discharge, the clinic's date of a waitlisting or cancellation.",
                    ),
                ),
                ("changed_at", models.DateTimeField(editable=False)),
                ("reason", models.TextField(blank=True, editable=False)),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        help_text="Empty for a change the system made, or one backfilled without its author.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "enrollment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="status_changes",
                        to="programs.enrollment",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
            ],
            options={
                "ordering": ["changed_at", "id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("from_status", ""), ("to_status__in", ["waitlisted", "admitted"])
                            ),
                            models.Q(
                                ("from_status", "waitlisted"),
                                ("to_status__in", ["admitted", "cancelled"]),
                            ),
                            models.Q(("from_status", "admitted"), ("to_status", "discharged")),
                            _connector="OR",
                        ),
                        name="enrollment_status_change_follows_state_machine",
                        violation_error_message="An enrollment's status change follows its state machine.",
                    ),
                    models.UniqueConstraint(
                        fields=("enrollment", "to_status"),
                        name="enrollment_status_change_once",
                        violation_error_message="This enrollment reached this status already.",
                    ),
                ],
            },
        ),
        migrations.RunSQL(SQL, REVERSE_SQL),
    ]
