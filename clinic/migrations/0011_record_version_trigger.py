from django.db import migrations

# The version of a record staff edit concurrently (clinic.versions): raised by the database on
# every UPDATE that changes the row, so every path (services, bulk updates, raw SQL) moves it
# and none can forget. A stale ``version`` the caller wrote back is ignored (the comparison
# leaves the column out), and an UPDATE that changes nothing keeps it. Each versioned table
# attaches this function with its own BEFORE UPDATE trigger.
BUMP_VERSION_SQL = """
CREATE FUNCTION clinic_bump_record_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version;
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END;
$$;
"""

DROP_SQL = "DROP FUNCTION IF EXISTS clinic_bump_record_version();"


class Migration(migrations.Migration):
    dependencies = [("clinic", "0010_alert_coalescing")]

    operations = [migrations.RunSQL(BUMP_VERSION_SQL, DROP_SQL)]
