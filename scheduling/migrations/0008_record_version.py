from django.db import migrations, models

# Each change of these rows raises their version (clinic migration 0011's function).
VERSION_TRIGGERS_SQL = """
CREATE TRIGGER scheduling_session_version
    BEFORE UPDATE ON scheduling_session
    FOR EACH ROW EXECUTE FUNCTION clinic_bump_record_version();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS scheduling_session_version ON scheduling_session;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0011_record_version_trigger"),
        ("scheduling", "0007_device_token_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="version",
            field=models.PositiveIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.RunSQL(VERSION_TRIGGERS_SQL, DROP_SQL),
    ]
