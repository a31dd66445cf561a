from django.db import migrations, models

# Each change of these rows raises their version (clinic migration 0011's function).
VERSION_TRIGGERS_SQL = """
CREATE TRIGGER programs_aftercareplan_version
    BEFORE UPDATE ON programs_aftercareplan
    FOR EACH ROW EXECUTE FUNCTION clinic_bump_record_version();
CREATE TRIGGER programs_aftercaregoal_version
    BEFORE UPDATE ON programs_aftercaregoal
    FOR EACH ROW EXECUTE FUNCTION clinic_bump_record_version();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS programs_aftercareplan_version ON programs_aftercareplan;
DROP TRIGGER IF EXISTS programs_aftercaregoal_version ON programs_aftercaregoal;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0011_record_version_trigger"),
        ("programs", "0013_checkin_alert"),
    ]

    operations = [
        migrations.AddField(
            model_name="aftercaregoal",
            name="version",
            field=models.PositiveIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.AddField(
            model_name="aftercareplan",
            name="version",
            field=models.PositiveIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.RunSQL(VERSION_TRIGGERS_SQL, DROP_SQL),
    ]
