from django.db import migrations

# Rows that name a patient next to the record they hang on must name the same patient. Composite
# foreign keys hold that in the database (whatever the code path): an aftercare plan's patient is
# its enrollment's, a check-in's is its plan's, an attendance row's session and patient are its
# roster entry's. The unique indexes are the keys those foreign keys point at.
SQL = """
CREATE UNIQUE INDEX programs_enrollment_id_patient ON programs_enrollment (id, patient_id);
ALTER TABLE programs_aftercareplan
    ADD CONSTRAINT aftercareplan_patient_is_enrollments
    FOREIGN KEY (enrollment_id, patient_id) REFERENCES programs_enrollment (id, patient_id);

CREATE UNIQUE INDEX programs_aftercareplan_id_patient ON programs_aftercareplan (id, patient_id);
ALTER TABLE programs_checkin
    ADD CONSTRAINT checkin_patient_is_plans
    FOREIGN KEY (plan_id, patient_id) REFERENCES programs_aftercareplan (id, patient_id);

CREATE UNIQUE INDEX scheduling_rosterentry_id_session_patient
    ON scheduling_rosterentry (id, session_id, patient_id);
ALTER TABLE scheduling_attendance
    ADD CONSTRAINT attendance_matches_roster_entry
    FOREIGN KEY (roster_entry_id, session_id, patient_id)
    REFERENCES scheduling_rosterentry (id, session_id, patient_id);
"""

REVERSE_SQL = """
ALTER TABLE scheduling_attendance DROP CONSTRAINT attendance_matches_roster_entry;
DROP INDEX scheduling_rosterentry_id_session_patient;
ALTER TABLE programs_checkin DROP CONSTRAINT checkin_patient_is_plans;
DROP INDEX programs_aftercareplan_id_patient;
ALTER TABLE programs_aftercareplan DROP CONSTRAINT aftercareplan_patient_is_enrollments;
DROP INDEX programs_enrollment_id_patient;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0005_reminder_offsets"),
        ("scheduling", "0002_reminders"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
