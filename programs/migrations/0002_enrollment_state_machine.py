from django.db import migrations

# The enrollment state machine (DESIGN.md): waitlisted -> admitted -> discharged, and
# waitlisted -> cancelled. Held by the database so no code path, admin action or bulk update
# can move an enrollment backwards (a discharged stay re-opened, a cancellation revived).
STATE_MACHINE_SQL = """
CREATE FUNCTION programs_enrollment_state_machine() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = OLD.status
       OR (OLD.status = 'waitlisted' AND NEW.status IN ('admitted', 'cancelled'))
       OR (OLD.status = 'admitted' AND NEW.status = 'discharged') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'an enrollment cannot go from % to %', OLD.status, NEW.status
        USING ERRCODE = 'check_violation', CONSTRAINT = 'enrollment_state_machine';
END;
$$;

CREATE TRIGGER programs_enrollment_state_machine
    BEFORE UPDATE OF status ON programs_enrollment
    FOR EACH ROW EXECUTE FUNCTION programs_enrollment_state_machine();

CREATE FUNCTION programs_enrollment_new_state() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('waitlisted', 'admitted') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'an enrollment starts waitlisted or admitted, not %', NEW.status
        USING ERRCODE = 'check_violation', CONSTRAINT = 'enrollment_state_machine';
END;
$$;

CREATE TRIGGER programs_enrollment_new_state
    BEFORE INSERT ON programs_enrollment
    FOR EACH ROW EXECUTE FUNCTION programs_enrollment_new_state();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS programs_enrollment_state_machine ON programs_enrollment;
DROP FUNCTION IF EXISTS programs_enrollment_state_machine();
DROP TRIGGER IF EXISTS programs_enrollment_new_state ON programs_enrollment;
DROP FUNCTION IF EXISTS programs_enrollment_new_state();
"""


class Migration(migrations.Migration):
    dependencies = [("programs", "0001_programs_enrollments_aftercare")]

    operations = [migrations.RunSQL(STATE_MACHINE_SQL, DROP_SQL)]
