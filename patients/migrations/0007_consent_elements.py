import django.contrib.postgres.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The §2.31 elements (issue 22). Existing consents keep their free text and get the elements
# empty (no purposes, categories or recipients, treatment_conditioned unknown): incomplete, so
# they permit no disclosure until someone completes them on a new form.


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_record_version"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="consent",
            name="consent_has_expiry",
        ),
        migrations.AddField(
            model_name="consent",
            name="categories",
            field=django.contrib.postgres.fields.ArrayField(
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
                blank=True,
                default=list,
                help_text="The kinds of information that may be disclosed.",
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="discloser_program_id",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="The program that may disclose (empty: the clinic).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="no_expiry",
            field=models.BooleanField(
                default=False,
                help_text="No expiry: allowed only for a treatment/payment/operations one.",
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="purpose_other",
            field=models.TextField(blank=True, help_text="The purpose, when it is 'other'."),
        ),
        migrations.AddField(
            model_name="consent",
            name="purposes",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("treatment", "Treatment"),
                        ("payment", "Payment"),
                        ("operations", "Health-care operations"),
                        ("patient_request", "At the patient's request"),
                        ("other", "Other"),
                    ],
                    max_length=16,
                ),
                blank=True,
                default=list,
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="recipient_names",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=200),
                blank=True,
                default=list,
                help_text="Named organisations or people the records may go to.",
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="recipients_tpo",
            field=models.BooleanField(
                default=False,
                help_text="My treating providers, health plans, third-party payers and those helping operate this program.",
                verbose_name="treatment, payment and operations recipients",
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="revocation_how",
            field=models.TextField(
                blank=True, help_text="The right to revoke and how, as told to the patient."
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="revoked_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="consent",
            name="revoked_by",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="signer_name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="consent",
            name="signer_relation",
            field=models.CharField(
                blank=True,
                help_text="Empty when the patient signed; else the representative's relation.",
                max_length=100,
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="treatment_conditioned",
            field=models.BooleanField(
                blank=True,
                help_text="Whether treatment was conditioned on this consent.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="consent",
            name="expiry_event",
            field=models.CharField(
                blank=True,
                help_text="An event or condition on which it expires ('end_of_treatment' is applied by the clinic's services).",
                max_length=200,
            ),
        ),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("expires_on__isnull", False),
                    models.Q(("expiry_event", ""), _negated=True),
                    ("no_expiry", True),
                    _connector="OR",
                ),
                name="consent_has_expiry",
                violation_error_code="consent_needs_expiry",
                violation_error_message="A consent needs an expiry date or an expiry event.",
            ),
        ),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.CheckConstraint(
                condition=models.Q(("no_expiry", False), ("recipients_tpo", True), _connector="OR"),
                name="consent_no_expiry_only_tpo",
                violation_error_code="consent_needs_expiry",
                violation_error_message="Only a treatment, payment and operations consent may have no expiry.",
            ),
        ),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("no_expiry", False),
                    models.Q(("expires_on__isnull", True), ("expiry_event", "")),
                    _connector="OR",
                ),
                name="consent_no_expiry_alone",
                violation_error_code="consent_expiry_ambiguous",
                violation_error_message="A consent without expiry has no expiry date or event.",
            ),
        ),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "purposes__contained_by",
                        ["treatment", "payment", "operations", "patient_request", "other"],
                    )
                ),
                name="consent_purposes_known",
                violation_error_code="unknown_purpose",
                violation_error_message="Unknown purpose of disclosure.",
            ),
        ),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.CheckConstraint(
                condition=models.Q(
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
                    )
                ),
                name="consent_categories_known",
                violation_error_code="unknown_category",
                violation_error_message="Unknown category of information.",
            ),
        ),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("purposes__contains", ["other"]), _negated=True),
                    models.Q(("purpose_other", ""), _negated=True),
                    _connector="OR",
                ),
                name="consent_other_purpose_described",
                violation_error_code="purpose_other_missing",
                violation_error_message="Describe the other purpose.",
            ),
        ),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("signer_relation", ""),
                    models.Q(("signer_name", ""), _negated=True),
                    _connector="OR",
                ),
                name="consent_representative_named",
                violation_error_code="signer_name_missing",
                violation_error_message="Give the name of the representative who signed.",
            ),
        ),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("revoked_at__isnull", True), ("revoked_on__isnull", False), _connector="OR"
                ),
                name="consent_revoked_at_has_date",
                violation_error_message="A recorded revocation has its date.",
            ),
        ),
        # The form's free text is optional beside the structured elements.
        migrations.AlterField(
            model_name="consent",
            name="information",
            field=models.TextField(blank=True, help_text="How much and what kind of information."),
        ),
        migrations.AlterField(
            model_name="consent",
            name="purpose",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="consent",
            name="recipients",
            field=models.TextField(
                blank=True, help_text="The persons or organisations it may go to."
            ),
        ),
    ]
