import django.db.models.deletion
from django.db import migrations, models

# A transition moves one patient: both its enrollments, and the reassessment it followed, are
# that patient's; an enrollment's assessment is its patient's. The services check it; composite
# foreign keys hold it whatever the code path (as in 0006), and they also refuse changing the
# patient of an enrollment or assessment that a transition names. The transition gets the
# patient column those keys need, filled from its source enrollment.
# Checks of deferred keys fire at once here, so none is pending when the table is altered next.
BACKFILL = """
SET CONSTRAINTS ALL IMMEDIATE;
UPDATE programs_transition t SET patient_id = e.patient_id
FROM programs_enrollment e WHERE e.id = t.from_enrollment_id;
"""

SQL = """
ALTER TABLE programs_transition
    ADD CONSTRAINT transition_from_enrollment_of_patient
    FOREIGN KEY (from_enrollment_id, patient_id) REFERENCES programs_enrollment (id, patient_id);
ALTER TABLE programs_transition
    ADD CONSTRAINT transition_to_enrollment_of_patient
    FOREIGN KEY (to_enrollment_id, patient_id) REFERENCES programs_enrollment (id, patient_id);

CREATE UNIQUE INDEX patients_assessment_id_patient ON patients_assessment (id, patient_id);
ALTER TABLE programs_transition
    ADD CONSTRAINT transition_assessment_of_patient
    FOREIGN KEY (assessment_id, patient_id) REFERENCES patients_assessment (id, patient_id);
ALTER TABLE programs_enrollment
    ADD CONSTRAINT enrollment_assessment_of_patient
    FOREIGN KEY (assessment_id, patient_id) REFERENCES patients_assessment (id, patient_id);
"""

REVERSE_SQL = """
ALTER TABLE programs_enrollment DROP CONSTRAINT enrollment_assessment_of_patient;
ALTER TABLE programs_transition DROP CONSTRAINT transition_assessment_of_patient;
DROP INDEX patients_assessment_id_patient;
ALTER TABLE programs_transition DROP CONSTRAINT transition_to_enrollment_of_patient;
ALTER TABLE programs_transition DROP CONSTRAINT transition_from_enrollment_of_patient;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_activation_codes"),
        ("programs", "0007_enrollment_admitted_start"),
    ]

    operations = [
        migrations.AddField(
            model_name="transition",
            name="patient",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="transitions",
                to="patients.patient",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="transition",
            name="patient",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="transitions",
                to="patients.patient",
            ),
        ),
        migrations.RunSQL(SQL, REVERSE_SQL),
    ]
