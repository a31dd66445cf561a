from django.db import migrations, models

# Enrollments made before 0011 get a history from their own columns, and their requested start
# date from start_date (for one admitted from the waitlist the requested date was overwritten by
# the admission date before 0011: the admission date is the best there is).
#
# Which admitted stays came through the waitlist is read off the row: one that was offered a
# place, or admitted more than a minute after its request (an admission at creation stamps both
# at once). Changes other than creation and a transition's discharge have no author on record
# (changed_by empty). A discharge has no timestamp of its own: its transition's, else the row's
# last update. A transition's reason goes on its source's discharge and its target's admission,
# as the services write it. Rows with a history already are left alone.
# Checks of deferred keys fire at once, so none is pending when the table is altered next.
BACKFILL = """
SET CONSTRAINTS ALL IMMEDIATE;

UPDATE programs_enrollment SET requested_start_date = start_date
WHERE requested_start_date IS NULL;

WITH e AS (
    SELECT e.id, e.patient_id, e.status, e.start_date, e.discharge_date, e.discharge_reason,
        e.requested_at, e.admitted_at, e.cancelled_at, e.updated_at, e.created_by_id,
        c.time_zone,
        e.status IN ('admitted', 'discharged') AND e.offered_at IS NULL
            AND (e.admitted_at IS NULL OR e.admitted_at < e.requested_at + interval '1 minute')
            AS created_admitted,
        t_in.reason AS in_reason,
        t_out.reason AS out_reason,
        t_out.decided_by_id AS out_by,
        t_out.created_at AS out_at
    FROM programs_enrollment e
    JOIN programs_program p ON p.id = e.program_id
    JOIN clinic_clinic c ON c.id = p.clinic_id
    LEFT JOIN programs_transition t_in ON t_in.to_enrollment_id = e.id
    LEFT JOIN programs_transition t_out ON t_out.from_enrollment_id = e.id
    WHERE NOT EXISTS (
        SELECT 1 FROM programs_enrollmentstatuschange h WHERE h.enrollment_id = e.id
    )
)
INSERT INTO programs_enrollmentstatuschange
    (enrollment_id, patient_id, from_status, to_status, effective_date, changed_at,
     changed_by_id, reason)
SELECT id, patient_id, '',
    CASE WHEN created_admitted THEN 'admitted' ELSE 'waitlisted' END,
    CASE WHEN created_admitted THEN start_date
         ELSE (requested_at AT TIME ZONE time_zone)::date END,
    requested_at, created_by_id, COALESCE(in_reason, '')
FROM e
UNION ALL
SELECT id, patient_id, 'waitlisted', 'admitted', start_date, admitted_at, NULL, ''
FROM e WHERE status IN ('admitted', 'discharged') AND NOT created_admitted
UNION ALL
SELECT id, patient_id, 'admitted', 'discharged', discharge_date,
    COALESCE(out_at, GREATEST(updated_at, admitted_at, requested_at)), out_by,
    COALESCE(out_reason, discharge_reason)
FROM e WHERE status = 'discharged'
UNION ALL
SELECT id, patient_id, 'waitlisted', 'cancelled',
    (COALESCE(cancelled_at, updated_at) AT TIME ZONE time_zone)::date,
    COALESCE(cancelled_at, updated_at), NULL, ''
FROM e WHERE status = 'cancelled';
"""


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0007_python_clock_defaults"),
        ("programs", "0011_enrollment_status_history"),
    ]

    operations = [
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="enrollment",
            name="requested_start_date",
            field=models.DateField(
                editable=False,
                help_text="The start date asked for when the enrollment was created.",
            ),
        ),
    ]
