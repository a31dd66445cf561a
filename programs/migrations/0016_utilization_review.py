import django.contrib.postgres.constraints
import django.db.models.deletion
import django.db.models.functions.datetime
import django.db.models.functions.text
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import programs.models

# What the models' constraints cannot say, composite foreign keys hold whatever the code path
# (as in 0006 and 0008): a coverage's payer and patient are of its clinic; an authorization's
# enrollment and coverage are one patient's, and its payer is its coverage's. Coverages and
# authorizations are edited concurrently, so their version rises on each change (clinic 0011).
SQL = """
CREATE UNIQUE INDEX patients_patient_id_clinic ON patients_patient (id, clinic_id);
CREATE UNIQUE INDEX programs_payer_id_clinic ON programs_payer (id, clinic_id);
ALTER TABLE programs_coverage
    ADD CONSTRAINT coverage_patient_of_clinic
    FOREIGN KEY (patient_id, clinic_id) REFERENCES patients_patient (id, clinic_id);
ALTER TABLE programs_coverage
    ADD CONSTRAINT coverage_payer_of_clinic
    FOREIGN KEY (payer_id, clinic_id) REFERENCES programs_payer (id, clinic_id);

CREATE UNIQUE INDEX programs_coverage_id_patient_payer
    ON programs_coverage (id, patient_id, payer_id);
ALTER TABLE programs_authorization
    ADD CONSTRAINT authorization_enrollment_of_patient
    FOREIGN KEY (enrollment_id, patient_id) REFERENCES programs_enrollment (id, patient_id);
ALTER TABLE programs_authorization
    ADD CONSTRAINT authorization_coverage_of_patient_and_payer
    FOREIGN KEY (coverage_id, patient_id, payer_id)
    REFERENCES programs_coverage (id, patient_id, payer_id);

CREATE TRIGGER programs_coverage_version
    BEFORE UPDATE ON programs_coverage
    FOR EACH ROW EXECUTE FUNCTION clinic_bump_record_version();
CREATE TRIGGER programs_authorization_version
    BEFORE UPDATE ON programs_authorization
    FOR EACH ROW EXECUTE FUNCTION clinic_bump_record_version();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS programs_authorization_version ON programs_authorization;
DROP TRIGGER IF EXISTS programs_coverage_version ON programs_coverage;
ALTER TABLE programs_authorization DROP CONSTRAINT authorization_coverage_of_patient_and_payer;
ALTER TABLE programs_authorization DROP CONSTRAINT authorization_enrollment_of_patient;
DROP INDEX programs_coverage_id_patient_payer;
ALTER TABLE programs_coverage DROP CONSTRAINT coverage_payer_of_clinic;
ALTER TABLE programs_coverage DROP CONSTRAINT coverage_patient_of_clinic;
DROP INDEX programs_payer_id_clinic;
DROP INDEX patients_patient_id_clinic;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0011_record_version_trigger"),
        ("patients", "0008_consent_revocation_kept"),
        ("programs", "0015_disclosures"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Payer",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("commercial", "Commercial"),
                            ("medicaid", "Medicaid"),
                            ("medicare", "Medicare"),
                            ("self_pay", "Self-pay"),
                            ("other", "Other"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(),
                        default=django.utils.timezone.now,
                        editable=False,
                    ),
                ),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payers",
                        to="clinic.clinic",
                    ),
                ),
            ],
            options={
                "ordering": ["clinic", "name", "id"],
            },
        ),
        migrations.CreateModel(
            name="Coverage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("member_id", models.CharField(blank=True, max_length=80)),
                ("group_number", models.CharField(blank=True, max_length=80)),
                (
                    "subscriber_relation",
                    models.CharField(
                        choices=[
                            ("self", "Self"),
                            ("spouse", "Spouse"),
                            ("child", "Child"),
                            ("other", "Other"),
                        ],
                        default="self",
                        max_length=8,
                    ),
                ),
                (
                    "priority",
                    models.CharField(
                        choices=[("primary", "Primary"), ("secondary", "Secondary")],
                        default="primary",
                        max_length=10,
                    ),
                ),
                ("start_date", models.DateField()),
                ("end_date", models.DateField(blank=True, null=True)),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(),
                        default=django.utils.timezone.now,
                        editable=False,
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("version", models.PositiveIntegerField(db_default=1, default=1, editable=False)),
                (
                    "clinic",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="clinic.clinic",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="coverages",
                        to="patients.patient",
                    ),
                ),
                (
                    "payer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="coverages",
                        to="programs.payer",
                    ),
                ),
            ],
            options={
                "ordering": ["patient", "priority", "-start_date", "id"],
            },
        ),
        migrations.CreateModel(
            name="Authorization",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "number",
                    models.CharField(blank=True, help_text="The payer's reference.", max_length=80),
                ),
                (
                    "authorized_level",
                    models.CharField(
                        choices=[
                            ("residential", "Residential"),
                            ("php", "Partial hospitalization"),
                            ("iop", "Intensive outpatient"),
                            ("outpatient", "Outpatient"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "unit",
                    models.CharField(
                        choices=[("days", "Days"), ("sessions", "Sessions"), ("units", "Units")],
                        max_length=8,
                    ),
                ),
                ("units_requested", models.PositiveIntegerField()),
                ("units_approved", models.PositiveIntegerField(blank=True, null=True)),
                ("approved_exceeds_request", models.BooleanField(default=False)),
                ("start_date", models.DateField()),
                ("end_date", models.DateField(help_text="The last day the authorization covers.")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("requested", "Requested"),
                            ("approved", "Approved"),
                            ("partially_approved", "Partially approved"),
                            ("denied", "Denied"),
                            ("exhausted", "Exhausted"),
                            ("expired", "Expired"),
                        ],
                        default="requested",
                        max_length=20,
                    ),
                ),
                ("next_review_on", models.DateField(blank=True, null=True)),
                ("reviewer_name", models.CharField(blank=True, max_length=200)),
                ("reviewer_phone", models.CharField(blank=True, max_length=40)),
                ("notes", models.TextField(blank=True)),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(),
                        default=django.utils.timezone.now,
                        editable=False,
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("version", models.PositiveIntegerField(db_default=1, default=1, editable=False)),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "enrollment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="authorizations",
                        to="programs.enrollment",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
                (
                    "coverage",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="authorizations",
                        to="programs.coverage",
                    ),
                ),
                (
                    "payer",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="authorizations",
                        to="programs.payer",
                    ),
                ),
            ],
            options={
                "ordering": ["-start_date", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ConcurrentReview",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("initial", "Initial"),
                            ("concurrent", "Concurrent"),
                            ("peer_to_peer", "Peer-to-peer"),
                            ("appeal", "Appeal"),
                            ("expedited_appeal", "Expedited appeal"),
                        ],
                        max_length=16,
                    ),
                ),
                ("scheduled_on", models.DateField()),
                ("done_on", models.DateField(blank=True, null=True)),
                (
                    "reviewer",
                    models.CharField(blank=True, help_text="The payer's reviewer.", max_length=200),
                ),
                (
                    "outcome",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("approved_more", "Approved more units"),
                            ("denied", "Denied"),
                            ("pending_information", "Pending information"),
                        ],
                        max_length=20,
                    ),
                ),
                ("units_added", models.PositiveIntegerField(blank=True, null=True)),
                ("next_review_on", models.DateField(blank=True, null=True)),
                (
                    "payer_recommended_level",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("residential", "Residential"),
                            ("php", "Partial hospitalization"),
                            ("iop", "Intensive outpatient"),
                            ("outpatient", "Outpatient"),
                        ],
                        max_length=12,
                    ),
                ),
                ("notes", models.TextField(blank=True)),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(),
                        default=django.utils.timezone.now,
                        editable=False,
                    ),
                ),
                (
                    "authorization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reviews",
                        to="programs.authorization",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["scheduled_on", "id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("done_on__isnull", True)),
                        fields=["scheduled_on"],
                        name="review_open_due",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("done_on__isnull", True), ("outcome", "")),
                            models.Q(
                                ("done_on__isnull", False), models.Q(("outcome", ""), _negated=True)
                            ),
                            _connector="OR",
                        ),
                        name="review_outcome_iff_done",
                        violation_error_message="A review has an outcome exactly when it is done.",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("outcome", "approved_more"), ("units_added__gt", 0)),
                            models.Q(
                                models.Q(("outcome", "approved_more"), _negated=True),
                                ("units_added__isnull", True),
                            ),
                            _connector="OR",
                        ),
                        name="review_units_added_iff_approved_more",
                        violation_error_message="Units are added exactly when the payer approved more.",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("payer_recommended_level", ""), ("outcome", "denied"), _connector="OR"
                        ),
                        name="review_payer_level_only_on_denial",
                        violation_error_message="The payer recommends a level only with a denial.",
                    ),
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="payer",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                models.F("clinic"),
                name="payer_name_unique_per_clinic",
                violation_error_code="payer_name_taken",
                violation_error_message="This clinic already has a payer with this name.",
            ),
        ),
        migrations.AddConstraint(
            model_name="payer",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("kind__in", ["commercial", "medicaid", "medicare", "self_pay", "other"])
                ),
                name="payer_kind_known",
                violation_error_message="Unknown payer kind.",
            ),
        ),
        migrations.AddConstraint(
            model_name="coverage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("end_date__isnull", True),
                    ("end_date__gte", models.F("start_date")),
                    _connector="OR",
                ),
                name="coverage_dates_ordered",
                violation_error_message="A coverage cannot end before it starts.",
            ),
        ),
        migrations.AddConstraint(
            model_name="coverage",
            constraint=django.contrib.postgres.constraints.ExclusionConstraint(
                condition=models.Q(("priority", "primary")),
                expressions=[
                    ("patient", "="),
                    (programs.models.InclusiveDateRange("start_date", "end_date"), "&&"),
                ],
                name="coverage_one_primary_at_a_time",
                violation_error_code="overlapping_primary_coverage",
                violation_error_message="The patient already has a primary coverage on these dates.",
            ),
        ),
        migrations.AddIndex(
            model_name="authorization",
            index=models.Index(
                fields=["enrollment", "-start_date"], name="authorization_enrollment"
            ),
        ),
        migrations.AddConstraint(
            model_name="authorization",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "requested",
                            "approved",
                            "partially_approved",
                            "denied",
                            "exhausted",
                            "expired",
                        ],
                    )
                ),
                name="authorization_status_known",
                violation_error_message="Unknown authorization status.",
            ),
        ),
        migrations.AddConstraint(
            model_name="authorization",
            constraint=models.CheckConstraint(
                condition=models.Q(("end_date__gte", models.F("start_date"))),
                name="authorization_dates_ordered",
                violation_error_message="An authorization cannot end before it starts.",
            ),
        ),
        migrations.AddConstraint(
            model_name="authorization",
            constraint=models.CheckConstraint(
                condition=models.Q(("units_requested__gt", 0)),
                name="authorization_requests_units",
                violation_error_message="Request at least one unit.",
            ),
        ),
        migrations.AddConstraint(
            model_name="authorization",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("units_approved__isnull", True),
                    ("approved_exceeds_request", True),
                    ("units_approved__lte", models.F("units_requested")),
                    _connector="OR",
                ),
                name="authorization_approved_within_request",
                violation_error_code="approved_exceeds_request",
                violation_error_message="More units approved than requested: state that the payer approved more than asked.",
            ),
        ),
        migrations.AddConstraint(
            model_name="authorization",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "requested"), ("units_approved__isnull", True)),
                    models.Q(
                        ("status__in", ["approved", "partially_approved", "exhausted", "expired"]),
                        ("units_approved__isnull", False),
                    ),
                    ("status", "denied"),
                    _connector="OR",
                ),
                name="authorization_approved_units_iff_approved",
                violation_error_message="Approved units are set once the payer approves, and not before.",
            ),
        ),
        migrations.AddConstraint(
            model_name="authorization",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("unit", "days"), ("authorized_level__in", ["residential", "php"])),
                    models.Q(
                        ("unit__in", ["sessions", "units"]),
                        models.Q(("authorized_level__in", ["residential", "php"]), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="authorization_unit_fits_level",
                violation_error_code="unit_does_not_fit_level",
                violation_error_message="Residential and PHP are authorized in days, IOP and outpatient in sessions or units.",
            ),
        ),
        migrations.AddConstraint(
            model_name="authorization",
            constraint=django.contrib.postgres.constraints.ExclusionConstraint(
                condition=models.Q(("status__in", ["approved", "partially_approved"])),
                expressions=[
                    ("enrollment", "="),
                    ("payer", "="),
                    (programs.models.InclusiveDateRange("start_date", "end_date"), "&&"),
                ],
                name="authorization_no_overlap_per_payer",
                violation_error_code="overlapping_authorization",
                violation_error_message="This payer already authorized this enrollment on these dates.",
            ),
        ),
        migrations.RunSQL(SQL, REVERSE_SQL),
    ]
