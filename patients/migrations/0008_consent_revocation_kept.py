from django.db import migrations

# A consent is the patient's signed record and its revocation is part of it (42 CFR §2.31):
# for every path into the database, a consent row is never deleted and a recorded revocation
# is never cleared or rewritten. TRUNCATE stays possible (test teardown uses it).
SQL = """
CREATE FUNCTION patients_consent_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'consents are kept: DELETE is not allowed'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'consent_kept';
    END IF;
    IF OLD.revoked_on IS NOT NULL AND (
        NEW.revoked_on IS DISTINCT FROM OLD.revoked_on
        OR NEW.revoked_at IS DISTINCT FROM OLD.revoked_at
        OR NEW.revoked_by_id IS DISTINCT FROM OLD.revoked_by_id
    ) THEN
        RAISE EXCEPTION 'a recorded revocation is kept as recorded'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'consent_revocation_kept';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER patients_consent_kept
    BEFORE UPDATE OR DELETE ON patients_consent
    FOR EACH ROW EXECUTE FUNCTION patients_consent_kept();
"""

REVERSE_SQL = """
DROP TRIGGER patients_consent_kept ON patients_consent;
DROP FUNCTION patients_consent_kept();
"""


class Migration(migrations.Migration):
    dependencies = [("patients", "0007_consent_elements")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
