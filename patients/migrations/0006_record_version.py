from django.db import migrations, models

# Each change of these rows raises their version (clinic migration 0011's function).
VERSION_TRIGGERS_SQL = """
CREATE TRIGGER patients_patient_version
    BEFORE UPDATE ON patients_patient
    FOR EACH ROW EXECUTE FUNCTION clinic_bump_record_version();
CREATE TRIGGER patients_patientcontact_version
    BEFORE UPDATE ON patients_patientcontact
    FOR EACH ROW EXECUTE FUNCTION clinic_bump_record_version();
CREATE TRIGGER patients_assessment_version
    BEFORE UPDATE ON patients_assessment
    FOR EACH ROW EXECUTE FUNCTION clinic_bump_record_version();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS patients_patient_version ON patients_patient;
DROP TRIGGER IF EXISTS patients_patientcontact_version ON patients_patientcontact;
DROP TRIGGER IF EXISTS patients_assessment_version ON patients_assessment;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0011_record_version_trigger"),
        ("patients", "0005_admin_log_without_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="assessment",
            name="version",
            field=models.PositiveIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.AddField(
            model_name="patient",
            name="version",
            field=models.PositiveIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.AddField(
            model_name="patientcontact",
            name="version",
            field=models.PositiveIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.RunSQL(VERSION_TRIGGERS_SQL, DROP_SQL),
    ]
