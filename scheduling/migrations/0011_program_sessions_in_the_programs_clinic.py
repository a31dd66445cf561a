"""A program's sessions and series belong to the program's clinic: (program, clinic) refers to
the program's (id, clinic), a foreign key Django cannot declare (it has no composite foreign
keys). Reports join a session's clinic and its program's interchangeably (continuity's first
visits); services check it first for a clear error (``scheduling.services``)."""

from django.db import migrations

TABLES = {"scheduling_session": "session", "scheduling_series": "series"}

FORWARD = "\n".join(
    f"ALTER TABLE {table} ADD CONSTRAINT {name}_program_in_its_clinic "
    f"FOREIGN KEY (program_id, clinic_id) REFERENCES programs_program (id, clinic_id);"
    for table, name in TABLES.items()
)
BACKWARD = "\n".join(
    f"ALTER TABLE {table} DROP CONSTRAINT {name}_program_in_its_clinic;"
    for table, name in TABLES.items()
)


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0023_program_id_clinic"),
        ("scheduling", "0010_attendance_patient_sessions"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
