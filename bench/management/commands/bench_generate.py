"""Build a realistic clinic data set for the benchmarks, set-based (INSERT … SELECT over
generate_series inside PostgreSQL: no row goes through Python).

``--scale 1``: 1 clinic, 2,000 patients, 20 programs, 50,000 sessions (two years back, two
months ahead), ~250,000 roster entries and ~230,000 attendance rows (past sessions), ~3,000
enrollments (discharged history, current stays, waitlists), three payers, a primary coverage per
patient and ~500 authorizations of current stays with their reviews (the UR queue's and the
step-down board's authorization columns), and 3,000 inquiries over the last two years with
their screenings, verifications and status history (the admissions report): one in five
admitted (linked to one of the clinic's stays), the others at every stage or not admitted; the
programs' default measure schedules and ~27,000 measure responses (the outcomes report): a
PHQ-9 and a GAD-7 every 14 days of every stay, a BAM every 30 in IOP and outpatient.
``--scale N``: N such clinics.
Plus the benchmark's accounts: ``bench-patient`` (an app account on a patient with a dense
schedule for the next 60 days), ``bench-clinician`` (clinic 1) and ``bench-supervisor`` (every
clinic).

Wipes the project's tables first: it refuses a database whose name does not contain "bench".
Loads with ``session_replication_role = replica`` (triggers and foreign-key checks off; the rows
are valid by construction; unique and exclusion constraints still hold).
"""

import datetime
import sys
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from clinic.models import Clinic, ClinicMembership, Role
from patients.models import Level, Track
from programs.models import LEVEL_DEFAULTS, Program
from programs.services.measures import measure_schedules_seed

PATIENTS = 2000
PROGRAMS = 20
SESSIONS_PER_PROGRAM = 2500
ROSTER_PER_SESSION = 5
CLINICIANS = 20
DAYS_BACK = 700
# Sessions of one program follow each other every 7 h 18 min: 2,500 of them span ~760 days.
SESSION_STEP = "7 hours 18 minutes"
BENCH_PATIENT_SESSIONS = 300
INQUIRIES = 3000
PASSWORD = "bench-password-0123"  # noqa: S105 (a throwaway database's accounts)

# Tables the generator owns (wiped first, identities restarted).
TABLES = [
    "programs_inquirystatuschange",
    "programs_benefitsverification",
    "programs_inquiryscreening",
    "programs_inquiry",
    "programs_concurrentreview",
    "programs_authorization",
    "programs_coverage",
    "programs_payer",
    "scheduling_reminder",
    "scheduling_attendance",
    "scheduling_rosterentry",
    "scheduling_session",
    "scheduling_series",
    "programs_measureresponse",
    "programs_enrollmentstatuschange",
    "programs_enrollment",
    "programs_measureschedule",
    "programs_program",
    "patients_patient",
    "clinic_auditevent",
    "clinic_clinicmembership",
    "clinic_clinic",
    "auth_user",
]


class Progress:
    """A one-line progress bar on stderr: one tick per step."""

    def __init__(self, steps: int):
        self.steps, self.done, self.started = steps, 0, time.monotonic()

    def step(self, label: str):
        self.done += 1
        width = 30
        filled = int(width * self.done / self.steps)
        elapsed = time.monotonic() - self.started
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.steps} "
            f"{elapsed:6.1f}s {label:<40}"
        )
        sys.stderr.flush()
        if self.done == self.steps:
            sys.stderr.write("\n")


def generated_scale() -> int | None:
    """The scale the database holds (None when it was not generated or was changed since)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM clinic_clinic WHERE name LIKE 'Bench clinic %%'),"
            " (SELECT count(*) FROM clinic_clinic),"
            " (SELECT count(*) FROM scheduling_session),"
            " (SELECT count(*) FROM auth_user WHERE username = 'bench-patient'),"
            " EXISTS (SELECT 1 FROM programs_measureresponse)"
        )
        bench, clinics, sessions, patient, measures = cursor.fetchone()
    if bench and bench == clinics and sessions == bench * PROGRAMS * SESSIONS_PER_PROGRAM:
        # A data set generated before the measures is generated again.
        return bench if patient and measures else None
    return None


class Command(BaseCommand):
    help = "Generate the benchmark data set (wipes the project's tables of a bench database)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=int, default=1)
        parser.add_argument(
            "--if-needed",
            action="store_true",
            help="Do nothing when the database holds this scale already.",
        )

    def handle(self, *args, scale, if_needed, **options):
        name = connection.settings_dict["NAME"]
        if "bench" not in name:
            raise CommandError(f"Refusing to wipe {name!r}: use a database named *bench*.")
        if scale < 1:
            raise CommandError("--scale is 1 or more.")
        if if_needed and generated_scale() == scale:
            self.stdout.write(f"{name}: scale {scale} present.")
            return
        started = time.monotonic()
        progress = Progress(len(STEPS) + 3)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
            progress.step("wiped")
            clinic_ids, clinicians = self._clinics_and_staff(scale)
            progress.step("clinics, staff, programs")
            cursor.execute("SET LOCAL session_replication_role = replica")
            today = timezone.localdate()
            base = datetime.datetime.combine(
                today - datetime.timedelta(days=DAYS_BACK),
                datetime.time(9),
                tzinfo=Clinic.objects.get(pk=clinic_ids[0]).zone,
            )
            params = {
                "scale": scale,
                "patients": PATIENTS,
                "programs": PROGRAMS,
                "per_program": SESSIONS_PER_PROGRAM,
                "roster": ROSTER_PER_SESSION,
                "clinicians": CLINICIANS,
                "today": today,
                "base": base,
                "now": timezone.now(),
                "first_clinician": clinicians[0],
                "inquiries": INQUIRIES,
            }
            for label, sql in STEPS:
                cursor.execute(sql, params)
                progress.step(label)
            self._bench_accounts(cursor, clinic_ids)
            progress.step("bench accounts, identities")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(
            f"{name}: scale {scale} generated in {time.monotonic() - started:.1f}s "
            f"({scale * PATIENTS} patients, {scale * PROGRAMS * SESSIONS_PER_PROGRAM} sessions)."
        )

    def _clinics_and_staff(self, scale):
        users = get_user_model().objects
        clinician_group = Group.objects.get(name=Role.CLINICIAN)
        levels = [Level.RESIDENTIAL, Level.PHP, Level.IOP, Level.OUTPATIENT]
        clinic_ids, clinicians = [], []
        template = users.model(username="x")
        template.set_password(PASSWORD)
        hashed = template.password
        for c in range(1, scale + 1):
            clinic = Clinic.objects.create(
                name=f"Bench clinic {c}",
                public_name=f"Riverside Health {c}",
                time_zone="America/New_York",
            )
            clinic_ids.append(clinic.pk)
            staff = users.bulk_create(
                [
                    users.model(
                        username=f"clin-{c}-{i}",
                        first_name="Clinician",
                        last_name=f"{c}-{i}",
                        password=hashed,
                    )
                    for i in range(CLINICIANS)
                ]
            )
            clinicians += [u.pk for u in staff]
            clinician_group.user_set.add(*staff)
            ClinicMembership.objects.bulk_create(
                [ClinicMembership(clinic=clinic, user=u) for u in staff]
            )
            programs = []
            for p in range(PROGRAMS):
                level = levels[p % len(levels)]
                programs.append(
                    Program(
                        **LEVEL_DEFAULTS[level],
                        clinic=clinic,
                        name=f"{level.label} {p + 1}",
                        level=level,
                        track=Track.DAY if level in (Level.IOP, Level.PHP) else "",
                        capacity=40,
                    )
                )
            Program.objects.bulk_create(programs)
            for program in Program.objects.filter(clinic=clinic):
                measure_schedules_seed(program)
        return clinic_ids, clinicians

    def _bench_accounts(self, cursor, clinic_ids):
        for table in TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                f" GREATEST((SELECT max(id) FROM {table}), 1))"
            )
        users = get_user_model().objects
        patient_user = users.create_user(username="bench-patient", password=PASSWORD)
        clinician = users.create_user(username="bench-clinician", password=PASSWORD)
        supervisor = users.create_user(username="bench-supervisor", password=PASSWORD)
        Group.objects.get(name=Role.CLINICIAN).user_set.add(clinician)
        Group.objects.get(name=Role.SUPERVISOR).user_set.add(supervisor)
        ClinicMembership.objects.create(clinic_id=clinic_ids[0], user=clinician)
        ClinicMembership.objects.bulk_create(
            [ClinicMembership(clinic_id=c, user=supervisor) for c in clinic_ids]
        )
        cursor.execute(
            "UPDATE patients_patient SET app_user_id = %s WHERE id = 1", [patient_user.pk]
        )
        # The bench patient's dense schedule: the next sessions of the first clinic.
        cursor.execute(
            """
            INSERT INTO scheduling_rosterentry (session_id, patient_id, response, created_at)
            SELECT s.id, 1, 'none', now() FROM scheduling_session s
            WHERE s.clinic_id = %s AND s.starts_at > now() AND s.status = 'scheduled'
            ORDER BY s.starts_at LIMIT %s
            ON CONFLICT DO NOTHING
            """,
            [clinic_ids[0], BENCH_PATIENT_SESSIONS],
        )


# Ids are computed, not returned: clinic c's patient i has id (c-1)*patients + i (1-based);
# program p (0-based) of clinic c has id (c-1)*programs + p + 1 (bulk_create above, in order);
# session k (0-based) of program id P has id (P-1)*per_program + k + 1.
STEPS = [
    (
        "patients",
        """
        INSERT INTO patients_patient (id, clinic_id, mrn, first_name, last_name, date_of_birth,
            email, phone, reminder_channels, screening_sex, created_at, updated_at)
        SELECT (c - 1) * %(patients)s + i, c, 'B' || c || '-' || i,
            (ARRAY['Avery','Blake','Casey','Drew','Emery','Finley','Harper','Jordan',
                   'Kendall','Logan','Morgan','Parker','Quinn','Riley','Sawyer','Taylor'])
                [1 + i %% 16],
            (ARRAY['Adams','Brooks','Chen','Diaz','Evans','Garcia','Hughes','Ito','Jones',
                   'Khan','Lopez','Miller','Nguyen','Okafor','Patel','Reyes','Smith','Walsh'])
                [1 + (i * 7) %% 18] || '-' || i,
            DATE '1960-01-01' + (i * 37) %% 15000,
            'patient' || c || '-' || i || '@example.com',
            '+1555' || lpad(((c * 100000 + i) %% 10000000)::text, 7, '0'),
            CASE i %% 4 WHEN 0 THEN ARRAY['email','sms'] WHEN 1 THEN ARRAY['sms']
                        ELSE ARRAY['email'] END::varchar(8)[],
            '', %(now)s, %(now)s
        FROM generate_series(1, %(scale)s) AS c, generate_series(1, %(patients)s) AS i
        """,
    ),
    (
        "enrollments",
        """
        INSERT INTO programs_enrollment (patient_id, program_id, level, status, start_date,
            requested_start_date, planned_end_date, discharge_date, discharge_reason, priority,
            requested_at, passed_over, admitted_at, updated_at)
        -- A discharged stay in the past for every patient ...
        SELECT pt.id, pr.id, pr.level, 'discharged', d.start, d.start,
            d.start + pr.default_stay_days,
            d.start + 30 + i %% 60, 'completed', 0, %(now)s, false, %(now)s, %(now)s
        FROM generate_series(1, %(scale)s) AS c CROSS JOIN generate_series(1, %(patients)s) AS i
        JOIN patients_patient pt ON pt.id = (c - 1) * %(patients)s + i
        JOIN programs_program pr ON pr.id = (c - 1) * %(programs)s + 1 + i %% %(programs)s
        CROSS JOIN LATERAL (SELECT %(today)s::date - 500 + i %% 300 AS start) d
        UNION ALL
        -- ... a current stay for one in three ...
        SELECT pt.id, pr.id, pr.level, 'admitted', d.start, d.start,
            d.start + pr.default_stay_days, NULL, '', 0, %(now)s, false, %(now)s, %(now)s
        FROM generate_series(1, %(scale)s) AS c CROSS JOIN generate_series(1, %(patients)s) AS i
        JOIN patients_patient pt ON pt.id = (c - 1) * %(patients)s + i
        JOIN programs_program pr
            ON pr.id = (c - 1) * %(programs)s + 1 + (i + 7) %% %(programs)s
        CROSS JOIN LATERAL (SELECT %(today)s::date - i %% 90 AS start) d
        WHERE i %% 3 = 0
        UNION ALL
        -- ... and a waitlist request for one in seven.
        SELECT pt.id, pr.id, pr.level, 'waitlisted', d.start, d.start,
            d.start + pr.default_stay_days, NULL, '', 0, %(now)s, false, NULL, %(now)s
        FROM generate_series(1, %(scale)s) AS c CROSS JOIN generate_series(1, %(patients)s) AS i
        JOIN patients_patient pt ON pt.id = (c - 1) * %(patients)s + i
        JOIN programs_program pr
            ON pr.id = (c - 1) * %(programs)s + 1 + (i + 3) %% %(programs)s
        CROSS JOIN LATERAL (SELECT %(today)s::date + i %% 20 AS start) d
        WHERE i %% 7 = 1
        """,
    ),
    (
        "enrollment history",
        """
        INSERT INTO programs_enrollmentstatuschange (enrollment_id, patient_id, from_status,
            to_status, effective_date, changed_at, reason)
        SELECT id, patient_id, '', CASE status WHEN 'waitlisted' THEN 'waitlisted'
            ELSE 'admitted' END, CASE status WHEN 'waitlisted' THEN %(today)s ELSE start_date END,
            %(now)s, ''
        FROM programs_enrollment
        UNION ALL
        SELECT id, patient_id, 'admitted', 'discharged', discharge_date, %(now)s,
            discharge_reason
        FROM programs_enrollment WHERE status = 'discharged'
        """,
    ),
    (
        "sessions",
        """
        INSERT INTO scheduling_session (id, clinic_id, program_id, detached, kind, title,
            starts_at, ends_at, location, status, sequence, created_at, updated_at,
            facilitator_id)
        SELECT (pr.id - 1) * %(per_program)s + k + 1, pr.clinic_id, pr.id, false, 'group',
            pr.name || ' group', t.starts_at, t.starts_at + interval '90 minutes',
            'Room ' || (1 + pr.id %% 8),
            CASE WHEN k %% 25 = 7 THEN 'cancelled'
                 WHEN t.starts_at < %(now)s THEN 'completed' ELSE 'scheduled' END,
            0, %(now)s, %(now)s,
            %(first_clinician)s + (pr.clinic_id - 1) * %(clinicians)s
                + (pr.id - 1) %% %(programs)s
        FROM programs_program pr
        CROSS JOIN generate_series(0, %(per_program)s - 1) AS k
        CROSS JOIN LATERAL (
            SELECT %(base)s::timestamptz + k * interval '7 hours 18 minutes'
                + (pr.id %% %(programs)s) * interval '11 minutes' AS starts_at
        ) t
        """,
    ),
    (
        "roster entries",
        """
        INSERT INTO scheduling_rosterentry (id, session_id, patient_id, response, created_at)
        SELECT (s.id - 1) * %(roster)s + j + 1, s.id,
            (s.clinic_id - 1) * %(patients)s + 1
                + (((s.id - 1) * %(roster)s + j) * 7919) %% %(patients)s,
            CASE WHEN j = 0 AND s.starts_at > %(now)s THEN 'confirmed' ELSE 'none' END,
            %(now)s
        FROM scheduling_session s CROSS JOIN generate_series(0, %(roster)s - 1) AS j
        """,
    ),
    (
        "attendance",
        """
        INSERT INTO scheduling_attendance (session_id, patient_id, roster_entry_id, status,
            recorded_by_id, recorded_at)
        SELECT r.session_id, r.patient_id, r.id,
            CASE WHEN r.id %% 7 = 0 THEN 'absent' WHEN r.id %% 19 = 0 THEN 'late'
                 ELSE 'present' END,
            s.facilitator_id, s.ends_at
        FROM scheduling_rosterentry r JOIN scheduling_session s ON s.id = r.session_id
        WHERE s.ends_at < %(now)s AND s.status <> 'cancelled'
        """,
    ),
    (
        "roster links to enrollments",
        """
        UPDATE scheduling_rosterentry r SET enrollment_id = e.id
        FROM scheduling_session s, programs_enrollment e
        WHERE s.id = r.session_id AND e.patient_id = r.patient_id
          AND e.program_id = s.program_id AND e.status = 'admitted'
          AND s.starts_at >= e.start_date
        """,
    ),
    (
        "payers and coverage",
        """
        INSERT INTO programs_payer (id, clinic_id, name, kind, created_at)
        SELECT (c - 1) * 3 + k + 1, c, (ARRAY['Bench Health Plan', 'State Medicaid',
            'Self-pay'])[k + 1], (ARRAY['commercial', 'medicaid', 'self_pay'])[k + 1], %(now)s
        FROM generate_series(1, %(scale)s) AS c CROSS JOIN generate_series(0, 2) AS k;
        -- Every patient has a primary coverage: one in three self-pay.
        INSERT INTO programs_coverage (id, clinic_id, patient_id, payer_id, member_id,
            group_number, subscriber_relation, priority, start_date, end_date, created_by_id,
            created_at, updated_at, version)
        SELECT pt.id, pt.clinic_id, pt.id, (pt.clinic_id - 1) * 3 + 1 + pt.id %% 3,
            'M' || pt.id, '', 'self', 'primary', %(today)s::date - 800, NULL,
            %(first_clinician)s, %(now)s, %(now)s, 1
        FROM patients_patient pt
        """,
    ),
    (
        "authorizations and reviews",
        """
        -- Each current stay of a covered patient, but one in nine, has its current 14-day
        -- authorization, started on one of the last 14 days (as successive authorizations
        -- of a long stay are): mostly approved in full; every fifth partially approved, every
        -- thirteenth denied; a level below the clinical one for every seventh.
        INSERT INTO programs_authorization (id, enrollment_id, coverage_id, patient_id, payer_id,
            number, authorized_level, unit, units_requested, units_approved,
            approved_exceeds_request, start_date, end_date, status, next_review_on,
            reviewer_name, reviewer_phone, notes, created_by_id, created_at, updated_at, version)
        SELECT e.id, e.id, cv.id, e.patient_id, cv.payer_id, 'A-' || e.id, a.level,
            CASE WHEN a.level IN ('residential', 'php') THEN 'days' ELSE 'sessions' END,
            14, CASE a.status WHEN 'denied' THEN NULL WHEN 'partially_approved' THEN 10
                ELSE 14 END,
            false, a.start_date, a.start_date + 13, a.status, a.start_date + 12,
            'Reviewer ' || k.i %% 17, '+15550100', '',
            %(first_clinician)s, %(now)s, %(now)s, 1
        FROM programs_enrollment e
        JOIN programs_coverage cv ON cv.patient_id = e.patient_id
        JOIN programs_payer py ON py.id = cv.payer_id
        -- Decided by the patient's number within the clinic, so every clinic gets the same mix.
        CROSS JOIN LATERAL (SELECT (e.patient_id - 1) %% %(patients)s + 1 AS i) k
        CROSS JOIN LATERAL (SELECT
            CASE WHEN k.i %% 7 = 0 THEN (CASE e.level WHEN 'residential' THEN 'php'
                WHEN 'php' THEN 'iop' ELSE 'outpatient' END) ELSE e.level END AS level,
            CASE WHEN k.i %% 13 = 0 THEN 'denied' WHEN k.i %% 5 = 0 THEN 'partially_approved'
                ELSE 'approved' END AS status,
            GREATEST(e.start_date, %(today)s::date - (k.i %% 14)::integer) AS start_date) a
        WHERE e.status = 'admitted' AND py.kind <> 'self_pay' AND k.i %% 9 <> 0;
        -- One open review each, on its next review date; a done initial one before it.
        INSERT INTO programs_concurrentreview (authorization_id, kind, scheduled_on, done_on,
            reviewer, outcome, units_added, next_review_on, payer_recommended_level, notes,
            created_by_id, created_at)
        SELECT au.id, 'concurrent', au.next_review_on, NULL::date, au.reviewer_name, '',
            NULL::integer, NULL::date, '', '', %(first_clinician)s, %(now)s
        FROM programs_authorization au
        UNION ALL
        SELECT au.id, 'initial', au.start_date, au.start_date,
            au.reviewer_name, CASE au.status WHEN 'denied' THEN 'denied'
                ELSE 'pending_information' END, NULL, NULL,
            CASE au.status WHEN 'denied' THEN 'outpatient' ELSE '' END, '',
            %(first_clinician)s, %(now)s
        FROM programs_authorization au
        """,
    ),
    (
        "inquiries",
        """
        -- Inquiry i of clinic c came in (INQUIRIES - i) × 5 h 36 min ago (the last two years),
        -- from one of the clinic's referral sources in turn. By i mod 10: 7 and 8 admitted (the
        -- clinic's k-th stay, 1 to 14 days after the call), 0 and 1 new, 2 screening, 3
        -- verifying, 4 scheduled, else not admitted.
        WITH stays AS (
            SELECT e.id, e.patient_id, pt.clinic_id, e.start_date,
                row_number() OVER (PARTITION BY pt.clinic_id ORDER BY e.id) AS k
            FROM programs_enrollment e JOIN patients_patient pt ON pt.id = e.patient_id
            WHERE e.status IN ('admitted', 'discharged')
        )
        INSERT INTO programs_inquiry (id, clinic_id, status, received_at, first_name, last_name,
            date_of_birth, phone, email, caller_relation, caller_name, caller_phone,
            caller_email, referral_source_id, referring_organization, referring_contact,
            substances, urgency, callback_consent, callback_method, program_id, next_contact_on,
            not_admitted_reason, patient_id, enrollment_id, notes, created_by_id, created_at,
            updated_at, version)
        SELECT (c - 1) * %(inquiries)s + i, c, st.status,
            COALESCE(
                (s.start_date - 1 - i %% 14)::timestamp AT TIME ZONE 'UTC' + interval '15 hours',
                %(now)s::timestamptz - (%(inquiries)s - i) * interval '5 hours 36 minutes'
            ),
            'Caller', 'Bench-' || i, NULL, '', '', 'self', '', '', '', src.id, '', '', '', '',
            false, '', NULL,
            CASE WHEN st.status IN ('new', 'screening', 'verifying', 'scheduled')
                THEN %(today)s::date + i %% 5 - 2 END,
            CASE st.status WHEN 'not_admitted' THEN 'no_show' ELSE '' END,
            s.patient_id, s.id, '', %(first_clinician)s, %(now)s, %(now)s, 1
        FROM generate_series(1, %(scale)s) AS c CROSS JOIN generate_series(1, %(inquiries)s) AS i
        CROSS JOIN LATERAL (
            SELECT r.id FROM programs_referralsource r WHERE r.clinic_id = c
            ORDER BY r.id OFFSET i %% 7 LIMIT 1
        ) src
        LEFT JOIN stays s ON s.clinic_id = c AND i %% 10 IN (7, 8)
            AND s.k = (i / 10) * 2 + i %% 10 - 6
        CROSS JOIN LATERAL (SELECT CASE
            WHEN s.id IS NOT NULL THEN 'admitted' WHEN i %% 10 IN (0, 1) THEN 'new'
            WHEN i %% 10 = 2 THEN 'screening' WHEN i %% 10 = 3 THEN 'verifying'
            WHEN i %% 10 = 4 THEN 'scheduled' ELSE 'not_admitted' END AS status) st;
        -- A screening for every inquiry past new (but half the not admitted), an hour in.
        INSERT INTO programs_inquiryscreening (inquiry_id, screened_by_id, screened_at,
            criteria_count, d1, d2, d3, d4, d5, d6, prior_outpatient_relapse,
            daytime_obligations, withdrawal_flags, provisional_level, provisional_track,
            rationale, notes)
        SELECT id, created_by_id, received_at + interval '1 hour', 4, 1, 1, 2, 2, 2, 1, false,
            false, '{}', 'iop', 'day', '{}', ''
        FROM programs_inquiry
        WHERE status <> 'new' AND NOT (status = 'not_admitted' AND id %% 2 = 0);
        -- A verification of benefits from verifying on, a day in.
        INSERT INTO programs_benefitsverification (inquiry_id, payer_id, member_id,
            group_number, subscriber_relation, level, outcome, reference, notes,
            verified_by_id, verified_at)
        SELECT id, (clinic_id - 1) * 3 + 1, 'M-' || id, '', 'self', 'iop', 'eligible', '', '',
            created_by_id, received_at + interval '1 day'
        FROM programs_inquiry WHERE status IN ('verifying', 'scheduled', 'admitted');
        -- The status history: the creation, the move to scheduled, the admission or not.
        INSERT INTO programs_inquirystatuschange (inquiry_id, from_status, to_status,
            changed_at, changed_by_id, reason)
        SELECT id, '', 'new', received_at, created_by_id, '' FROM programs_inquiry
        UNION ALL
        SELECT id, 'verifying', 'scheduled', received_at + interval '3 days', created_by_id, ''
        FROM programs_inquiry WHERE status IN ('scheduled', 'admitted')
        UNION ALL
        SELECT id, 'scheduled', 'admitted', received_at + interval '7 days', created_by_id, ''
        FROM programs_inquiry WHERE status = 'admitted'
        UNION ALL
        SELECT id, 'new', 'not_admitted', received_at + interval '2 days', created_by_id, ''
        FROM programs_inquiry WHERE status = 'not_admitted'
        """,
    ),
    (
        "measure responses",
        """
        -- A PHQ-9 and a GAD-7 every 14 days of every stay so far (10:00 in New York), the
        -- totals falling over the stay from a start set by the stay's number ...
        INSERT INTO programs_measureresponse (patient_id, enrollment_id, instrument, answers,
            total, band, subscales, safety_flags, severe, source, recorded_by_id, completed_at)
        SELECT e.patient_id, e.id, m.code, '{}'::jsonb, t.total,
            CASE WHEN t.total < 5 THEN 'minimal' WHEN t.total < 10 THEN 'mild'
                 WHEN t.total < 15 THEN 'moderate'
                 WHEN m.code = 'phq9' AND t.total < 20 THEN 'moderately_severe'
                 ELSE 'severe' END,
            '{}'::jsonb, '{}', t.total >= m.severe, 'patient', %(first_clinician)s,
            ((e.start_date + k * 14)::timestamp + interval '15 hours') AT TIME ZONE 'UTC'
        FROM programs_enrollment e
        CROSS JOIN (VALUES ('phq9', 27, 20), ('gad7', 21, 15)) AS m(code, top, severe)
        CROSS JOIN LATERAL generate_series(
            0, (LEAST(COALESCE(e.discharge_date, %(today)s), %(today)s) - e.start_date) / 14
        ) AS k
        CROSS JOIN LATERAL (
            SELECT GREATEST(0, LEAST(m.top, 8 + e.id %% 10 - 2 * k + (k + e.id) %% 3)) AS total
        ) t
        WHERE e.status IN ('admitted', 'discharged') AND e.start_date <= %(today)s;
        -- ... and a BAM every 30 days in IOP and outpatient.
        INSERT INTO programs_measureresponse (patient_id, enrollment_id, instrument, answers,
            total, band, subscales, safety_flags, severe, source, recorded_by_id, completed_at)
        SELECT e.patient_id, e.id, 'bam', '{}'::jsonb, NULL, '',
            jsonb_build_object('use', GREATEST(0, 10 - 2 * k), 'risk', 12 + e.id %% 5,
                               'protective', 10 + k),
            '{}', false, 'patient', %(first_clinician)s,
            ((e.start_date + k * 30)::timestamp + interval '15 hours') AT TIME ZONE 'UTC'
        FROM programs_enrollment e
        CROSS JOIN LATERAL generate_series(
            0, (LEAST(COALESCE(e.discharge_date, %(today)s), %(today)s) - e.start_date) / 30
        ) AS k
        WHERE e.status IN ('admitted', 'discharged') AND e.start_date <= %(today)s
          AND e.level IN ('iop', 'outpatient')
        """,
    ),
]
