from django.db import migrations

# Continuity of care: a transition records the first attended session at the new level.
# Attendance is written by the scheduling app, which does not know programs; a trigger keeps
# the record whatever code path writes attendance (API, admin, import), so it cannot be missed.
# The session's date is its local date in the clinic's zone; a correction that makes an earlier
# session attended moves the date back, never forward.
FIRST_SESSION_SQL = """
CREATE FUNCTION programs_transition_first_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('present', 'late') THEN
        UPDATE programs_transition t
        SET first_session_on = local_day.day
        FROM programs_enrollment e
        JOIN programs_program p ON p.id = e.program_id
        JOIN clinic_clinic c ON c.id = p.clinic_id
        JOIN scheduling_session s ON s.id = NEW.session_id AND s.program_id = e.program_id
        CROSS JOIN LATERAL (SELECT (s.starts_at AT TIME ZONE c.time_zone)::date AS day)
            AS local_day
        WHERE t.to_enrollment_id = e.id
          AND e.patient_id = NEW.patient_id
          AND local_day.day >= t.date
          AND (t.first_session_on IS NULL OR t.first_session_on > local_day.day);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER programs_transition_first_session
    AFTER INSERT OR UPDATE OF status ON scheduling_attendance
    FOR EACH ROW EXECUTE FUNCTION programs_transition_first_session();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS programs_transition_first_session ON scheduling_attendance;
DROP FUNCTION IF EXISTS programs_transition_first_session();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0003_census_index"),
        ("scheduling", "0001_calendar"),
    ]

    operations = [migrations.RunSQL(FIRST_SESSION_SQL, DROP_SQL)]
