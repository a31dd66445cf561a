import uuid

import django.contrib.postgres.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The accounting of disclosures (42 CFR §2.25) keeps its rows as written for every path into the
# database, as the audit trail (clinic 0002) and the status history (0011): UPDATE and DELETE are
# refused; TRUNCATE stays possible (test teardown uses it). A composite foreign key holds that a
# disclosure's consent is its patient's (as 0006).
SQL = """
CREATE FUNCTION programs_disclosure_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'disclosures are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'disclosure_append_only';
END;
$$;

CREATE TRIGGER programs_disclosure_append_only
    BEFORE UPDATE OR DELETE ON programs_disclosure
    FOR EACH ROW EXECUTE FUNCTION programs_disclosure_append_only();

CREATE UNIQUE INDEX patients_consent_id_patient ON patients_consent (id, patient_id);
ALTER TABLE programs_disclosure
    ADD CONSTRAINT disclosure_consent_is_patients
    FOREIGN KEY (consent_id, patient_id) REFERENCES patients_consent (id, patient_id);
"""

REVERSE_SQL = """
ALTER TABLE programs_disclosure DROP CONSTRAINT disclosure_consent_is_patients;
DROP INDEX patients_consent_id_patient;
DROP TRIGGER IF EXISTS programs_disclosure_append_only ON programs_disclosure;
DROP FUNCTION IF EXISTS programs_disclosure_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0007_consent_elements"),
        ("programs", "0014_record_version"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Disclosure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("bundle", models.JSONField(editable=False)),
                ("recipient_name", models.CharField(editable=False, max_length=200)),
                ("recipient_address", models.TextField(blank=True, editable=False)),
                (
                    "purpose",
                    models.CharField(
                        choices=[
                            ("treatment", "Treatment"),
                            ("payment", "Payment"),
                            ("operations", "Health-care operations"),
                            ("patient_request", "At the patient's request"),
                            ("other", "Other"),
                        ],
                        editable=False,
                        max_length=16,
                    ),
                ),
                ("purpose_other", models.TextField(blank=True, editable=False)),
                (
                    "categories",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(
                            choices=[
                                ("demographics", "Demographics"),
                                ("enrollments", "Enrollments and levels of care"),
                                ("assessments", "Assessments"),
                                ("attendance", "Attendance"),
                                ("aftercare", "Aftercare plan"),
                                ("measures", "Measures"),
                            ],
                            max_length=16,
                        ),
                        editable=False,
                        size=None,
                    ),
                ),
                (
                    "description",
                    models.TextField(
                        editable=False,
                        help_text="What was sent, e.g. 'FHIR R4 Bundle: Patient, EpisodeOfCare'.",
                    ),
                ),
                ("window_start", models.DateField(blank=True, editable=False, null=True)),
                ("window_end", models.DateField(blank=True, editable=False, null=True)),
                ("disclosed_at", models.DateTimeField(editable=False)),
                (
                    "consent",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="disclosures",
                        to="patients.consent",
                    ),
                ),
                (
                    "disclosed_by",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "enrollment",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="disclosures",
                        to="programs.enrollment",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="disclosures",
                        to="patients.patient",
                    ),
                ),
                (
                    "transition",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="disclosures",
                        to="programs.transition",
                    ),
                ),
            ],
            options={
                "ordering": ["-disclosed_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["patient", "-disclosed_at"], name="disclosure_patient_newest"
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("categories", []), _negated=True),
                            (
                                "categories__contained_by",
                                [
                                    "demographics",
                                    "enrollments",
                                    "assessments",
                                    "attendance",
                                    "aftercare",
                                    "measures",
                                ],
                            ),
                        ),
                        name="disclosure_categories_known",
                        violation_error_code="unknown_category",
                        violation_error_message="A disclosure sends at least one known category.",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("purpose", "other"), _negated=True),
                            models.Q(("purpose_other", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="disclosure_other_purpose_described",
                        violation_error_code="purpose_other_missing",
                        violation_error_message="Describe the other purpose.",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("window_start__isnull", True),
                            ("window_end__isnull", True),
                            ("window_end__gte", models.F("window_start")),
                            _connector="OR",
                        ),
                        name="disclosure_window_ordered",
                        violation_error_message="The window ends after it starts.",
                    ),
                ],
            },
        ),
        migrations.RunSQL(SQL, REVERSE_SQL),
    ]
