"""Demo programs and patients' paths through them (API.md, "Demo data").

Residential (28–90 days, 5 beds), a day IOP and an evening IOP track (3–5 sessions a week of 3–4
hours), a standard outpatient program and a small PHP that is full with a waitlist. Patients are
admitted, waitlisted, stepped down and discharged; at least two residential beds and two places in
each IOP track stay free (places held for scheduled admissions counted), so a new admission always
fits on a fresh demo. The admissions desk has an inquiry at every stage. Dates are relative to
today, so the demo looks alive whenever it is seeded. Idempotent: a patient who already has an
enrollment is left alone.
"""

import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic.models import Bed, Clinic, ClinicMembership, Room
from patients.models import Level, Patient, Track
from programs.models import (
    LEVEL_DEFAULTS,
    Enrollment,
    EnrollmentStatus,
    GroupNote,
    Inquiry,
    Payer,
    PayerKind,
    Program,
    ProgramService,
    ProgressNote,
    ProgressNoteFormat,
    ProgressNoteStatus,
)
from programs.services import (
    admission_holds,
    aftercare,
    authorizations,
    discharge_summaries,
    follow_ups,
    inquiries,
    measures,
)
from programs.services import enrollments as services
from scheduling import services as calendar
from scheduling.models import (
    ATTENDED,
    Attendance,
    RosterEntry,
    Series,
    SessionKind,
)

PROGRAMS = {
    "residential": {
        "name": "Residential",
        "level": Level.RESIDENTIAL,
        "capacity": 5,
        "services": [
            ProgramService.DETOX,
            ProgramService.INDIVIDUAL_THERAPY,
            ProgramService.GROUP_THERAPY,
            ProgramService.MAT,
            ProgramService.RECREATION,
            ProgramService.AFTERCARE_PLANNING,
        ],
    },
    "php": {
        "name": "Partial Hospitalization",
        "level": Level.PHP,
        "track": Track.DAY,
        "capacity": 1,
        "services": [ProgramService.GROUP_THERAPY, ProgramService.MAT],
    },
    "iop_day": {
        "name": "IOP Day Track",
        "level": Level.IOP,
        "track": Track.DAY,
        "capacity": 8,
        "services": [
            ProgramService.GROUP_THERAPY,
            ProgramService.EDUCATION,
            ProgramService.RELAPSE_PREVENTION,
        ],
    },
    "iop_evening": {
        "name": "IOP Evening Track",
        "level": Level.IOP,
        "track": Track.EVENING,
        "capacity": 8,
        "services": [
            ProgramService.GROUP_THERAPY,
            ProgramService.FAMILY,
            ProgramService.RELAPSE_PREVENTION,
        ],
    },
    "outpatient": {
        "name": "Outpatient",
        "level": Level.OUTPATIENT,
        "capacity": 30,
        "services": [ProgramService.INDIVIDUAL_THERAPY, ProgramService.AFTERCARE_PLANNING],
    },
}
BEDS = [("A", "1"), ("A", "2"), ("B", "1"), ("B", "2"), ("C", "1")]


def seed_demo_programs(*, clinic: Clinic) -> dict[str, Program]:
    programs = {}
    for key, spec in PROGRAMS.items():
        program, _ = Program.objects.get_or_create(
            clinic=clinic,
            name=spec["name"],
            defaults={**LEVEL_DEFAULTS[spec["level"]], **spec},
        )
        programs[key] = program
    for room, label in BEDS:
        bed, _ = Bed.objects.get_or_create(clinic=clinic, room=room, label=label)
        programs["residential"].beds.add(bed)
    return programs


@transaction.atomic
def seed_demo_enrollments(*, clinic: Clinic, admissions, clinician) -> int:
    """Every path of care once; returns how many patients got a path this time."""
    programs = seed_demo_programs(clinic=clinic)
    today = clinic.today()

    def ago(days):
        return today - datetime.timedelta(days=days)

    def patient(first, last):
        return Patient.objects.filter(clinic=clinic, first_name=first, last_name=last).first()

    def admit(who, key, start, **extra):
        return services.enrollment_create(
            actor=admissions,
            patient=who,
            program=programs[key],
            start_date=start,
            primary_clinician=clinician,
            assessment=who.assessments.first(),
            **extra,
        )

    beds = list(programs["residential"].beds.order_by("room", "label"))
    paths = 0
    for first, last, path in [
        ("Jordan", "Reyes", "residential"),
        ("Casey", "Morgan", "residential_new"),
        ("Sam", "Okafor", "stepped_down"),
        ("Riley", "Chen", "php"),
        ("Quinn", "Baker", "php_waitlist"),
        ("Avery", "Patel", "iop_evening"),
        ("Morgan", "Silva", "iop_evening_new"),
        ("Taylor", "Nguyen", "discharged"),
    ]:
        who = patient(first, last)
        if who is None or Enrollment.objects.filter(patient=who).exists():
            continue
        paths += 1
        if path == "residential":
            stay = admit(who, "residential", ago(12))
            services.bed_assign(actor=admissions, enrollment=stay, bed=beds[0], date=ago(12))
        elif path == "residential_new":
            stay = admit(who, "residential", ago(2))
            services.bed_assign(actor=admissions, enrollment=stay, bed=beds[1], date=ago(2))
        elif path == "stepped_down":
            stay = admit(who, "residential", ago(29))
            services.transition_create(
                actor=clinician,
                enrollment=stay,
                to_program=programs["iop_day"],
                date=ago(1),
                kind="step_down",
                reason="Withdrawal complete, stable for two weeks; steps "
                "down to the day IOP track while living at home.",
            )
        elif path == "php":
            admit(who, "php", ago(6))
        elif path == "php_waitlist":
            admit(who, "php", today, waitlist=True)
        elif path == "iop_evening":
            admit(who, "iop_evening", ago(20))
        elif path == "iop_evening_new":
            admit(who, "iop_evening", today)
        elif path == "discharged":
            stay = admit(who, "outpatient", ago(25))
            _seed_aftercare(stay, clinician=clinician, today=today)
            services.enrollment_discharge(
                actor=clinician, enrollment=stay, date=ago(1), reason="completed"
            )
            _seed_discharge_summary(stay, clinician=clinician)
    _seed_schedule(clinic=clinic, programs=programs, clinician=clinician, today=today)
    return paths


# (program key, title, weekdays, local start, minutes, room)
SERIES = [
    ("iop_day", "Morning group", [1, 3, 5], datetime.time(9), 180, "Group Room 1"),
    ("iop_evening", "Evening group", [1, 2, 4], datetime.time(18), 180, "Group Room 1"),
    ("outpatient", "Weekly check-in group", [3], datetime.time(17), 60, "Group Room 2"),
]


def _seed_schedule(*, clinic, programs, clinician, today) -> None:
    """Three weeks of history and the horizon ahead; past sessions get attendance (mostly
    present, some absences), so adherence and the step-down board have something to show."""
    starts_on = today - datetime.timedelta(weeks=3)
    for key, title, weekdays, start, minutes, room_name in SERIES:
        program = programs[key]
        if Series.objects.filter(program=program, title=title).exists():
            continue
        room, _ = Room.objects.get_or_create(clinic=clinic, name=room_name)
        _series, sessions = calendar.program_series_create(
            actor=clinician,
            program=program,
            title=title,
            weekdays=weekdays,
            local_start_time=start,
            duration_minutes=minutes,
            starts_on=starts_on,
            location="Main building",
            room=room,
            facilitator=clinician,
        )
        now = timezone.now()
        entries = (
            RosterEntry.objects.filter(session__in=[x for x in sessions if x.ends_at <= now])
            .select_related("session", "patient")
            .order_by("session__starts_at", "patient_id")
        )
        for index, entry in enumerate(entries):
            status = "absent" if index % 7 == 3 else ("late" if index % 11 == 5 else "present")
            calendar.attendance_record(
                actor=clinician, session=entry.session, patient=entry.patient, status=status
            )


def _seed_aftercare(enrollment: Enrollment, *, clinician, today: datetime.date) -> None:
    """A plan built during discharge planning, then in force, with a check-in."""
    plan = aftercare.aftercare_plan_create(
        actor=clinician,
        enrollment=enrollment,
        review_date=today + datetime.timedelta(days=30),
        medication_continuation="Continue naltrexone 50 mg daily; refill with primary care.",
        sober_living="Lives with a supportive sibling; no sober-living referral needed.",
    )
    for kind, text in [
        ("trigger", "Payday Fridays and old friends from the bar"),
        ("coping_skill", "Call sponsor, then a 20-minute walk (urge surfing)"),
        ("support_group", "SMART Recovery, Tuesdays 7 pm, community center"),
        ("emergency_contact", "Alex Nguyen (sibling), +1 202 555 0107"),
    ]:
        aftercare.aftercare_item_add(actor=clinician, plan=plan, kind=kind, text=text)
    follow_up = timezone.now().replace(minute=0, second=0, microsecond=0) + datetime.timedelta(
        days=14
    )
    aftercare.aftercare_item_add(
        actor=clinician,
        plan=plan,
        kind="follow_up",
        text="Follow-up with the outpatient counselor",
        scheduled_for=follow_up,
    )
    aftercare.aftercare_goal_add(
        actor=clinician,
        plan=plan,
        description="Attend a support group every week",
        status="in_progress",
    )
    aftercare.aftercare_goal_add(
        actor=clinician,
        plan=plan,
        description="Return to full-time work",
        target_date=today + datetime.timedelta(days=60),
    )
    aftercare.aftercare_plan_update(actor=clinician, plan=plan, status="active")
    aftercare.checkin_record(
        actor=clinician, plan=plan, craving=3, mood=4, used_substance=False, note="Good week."
    )


def _seed_discharge_summary(enrollment: Enrollment, *, clinician) -> None:
    """The summary the discharge made, completed, signed, and corrected by an addendum."""
    summary = discharge_summaries.discharge_summary_update(
        enrollment.discharge_summary,
        actor=clinician,
        data={
            "course_of_treatment": "Weekly outpatient group for four weeks; attended most "
            "sessions and worked on a relapse-prevention plan.",
            "condition_at_discharge": "Stable, abstinent throughout, motivated to continue "
            "with a support group.",
            "instructions": "Keep the follow-up with the outpatient counselor; call the clinic "
            "or the crisis line if cravings return.",
            "staff_notes": "Sibling is the main support; ask about work stress at follow-up.",
        },
    )
    now = timezone.now()
    summary = discharge_summaries.discharge_summary_sign(summary, actor=clinician, now=now)
    discharge_summaries.discharge_summary_addendum_add(
        summary,
        actor=clinician,
        text="Naltrexone refill confirmed with primary care after discharge.",
        now=now,
    )


# Utilization review: the demo clinic's payers, one of each kind.
PAYERS = [
    ("Harborview Health Plan", PayerKind.COMMERCIAL),
    ("State Medicaid", PayerKind.MEDICAID),
    ("Northstar Medicare Advantage", PayerKind.MEDICARE),
    ("Self-pay", PayerKind.SELF_PAY),
    ("County Behavioral Health Fund", PayerKind.OTHER),
]


@transaction.atomic
def seed_demo_utilization_review(*, clinic: Clinic, admissions, reviewer) -> int:
    """Payers of every kind and the coverage of the demo's stays, each path once (after
    ``seed_demo_enrollments``); returns how many patients got coverage this time.

    - Jordan Reyes (residential, commercial): 7 days approved at admission, 7 more at a
      concurrent review, nearly used up; the next review is booked for tomorrow.
    - Avery Patel (evening IOP, Medicaid): 12 sessions approved, used by attendance.
    - Riley Chen (PHP, Medicare): 5 days approved, then denied at a concurrent review with the
      payer recommending IOP, then an appeal that approved 5 more; the next review is booked.
    - Morgan Silva (evening IOP): self-pay, so no authorization.
    - Casey Morgan (residential, commercial): covered, no authorization asked for yet.

    Idempotent: a patient who already has a coverage is left alone.
    """
    payers = {}
    for name, kind in PAYERS:
        payer = Payer.objects.filter(clinic=clinic, name=name).first()
        payers[kind] = payer or authorizations.payer_create(
            actor=admissions, clinic=clinic, name=name, kind=kind
        )
    today = clinic.today()

    def day(offset):
        return today + datetime.timedelta(days=offset)

    paths = 0
    for first, last, kind, path in [
        ("Jordan", "Reyes", PayerKind.COMMERCIAL, "covered_stay"),
        ("Avery", "Patel", PayerKind.MEDICAID, "covered_sessions"),
        ("Riley", "Chen", PayerKind.MEDICARE, "denied_then_appealed"),
        ("Morgan", "Silva", PayerKind.SELF_PAY, "self_pay"),
        ("Casey", "Morgan", PayerKind.COMMERCIAL, "awaiting_request"),
    ]:
        patient = Patient.objects.filter(clinic=clinic, first_name=first, last_name=last).first()
        stay = (
            Enrollment.objects.filter(patient=patient, status=EnrollmentStatus.ADMITTED)
            .select_related("program")
            .first()
        )
        if stay is None or patient.coverages.exists():
            continue
        paths += 1
        coverage = authorizations.coverage_create(
            actor=admissions,
            patient=patient,
            payer=payers[kind],
            start_date=day(-365),
            member_id="" if kind == PayerKind.SELF_PAY else f"DEMO{patient.pk:06d}",
        )
        if path == "covered_stay":
            _seed_covered_stay(stay, coverage, reviewer=reviewer, day=day)
        elif path == "covered_sessions":
            authorization = authorizations.authorization_request(
                actor=reviewer,
                enrollment=stay,
                coverage=coverage,
                authorized_level=stay.level,
                units_requested=12,
                start_date=stay.start_date,
                end_date=stay.start_date + datetime.timedelta(days=41),
                next_review_on=day(5),
                reviewer_name="M. Okonkwo, State Medicaid UM",
                reviewer_phone="+1 202 555 0142",
            )
            authorizations.authorization_decide(
                actor=reviewer, authorization=authorization, decision="approved", number="MCD-4471"
            )
        elif path == "denied_then_appealed":
            _seed_denied_then_appealed(stay, coverage, reviewer=reviewer, day=day)
    return paths


def _seed_covered_stay(stay, coverage, *, reviewer, day) -> None:
    authorization = authorizations.authorization_request(
        actor=reviewer,
        enrollment=stay,
        coverage=coverage,
        authorized_level=stay.level,
        units_requested=7,
        start_date=stay.start_date,
        end_date=stay.start_date + datetime.timedelta(days=6),
        reviewer_name="J. Alvarado, RN (Harborview UM)",
        reviewer_phone="+1 202 555 0139",
    )
    authorizations.authorization_decide(
        actor=reviewer, authorization=authorization, decision="approved", number="HV-20931"
    )
    review = authorizations.review_schedule(
        actor=reviewer, authorization=authorization, kind="concurrent", scheduled_on=day(-6)
    )
    authorizations.review_record(
        actor=reviewer,
        review=review,
        outcome="approved_more",
        done_on=day(-6),
        units_added=7,
        end_date=stay.start_date + datetime.timedelta(days=13),
        next_review_on=day(1),
        notes="Still withdrawal-related sleep disturbance; cravings daily.",
    )
    authorizations.review_schedule(
        actor=reviewer, authorization=authorization, kind="concurrent", scheduled_on=day(1)
    )


def _seed_denied_then_appealed(stay, coverage, *, reviewer, day) -> None:
    authorization = authorizations.authorization_request(
        actor=reviewer,
        enrollment=stay,
        coverage=coverage,
        authorized_level=stay.level,
        units_requested=5,
        start_date=stay.start_date,
        end_date=stay.start_date + datetime.timedelta(days=4),
        reviewer_name="Northstar UM line",
        reviewer_phone="+1 202 555 0177",
    )
    authorizations.authorization_decide(
        actor=reviewer, authorization=authorization, decision="approved", number="NS-5530"
    )
    review = authorizations.review_schedule(
        actor=reviewer, authorization=authorization, kind="concurrent", scheduled_on=day(-3)
    )
    authorizations.review_record(
        actor=reviewer,
        review=review,
        outcome="denied",
        done_on=day(-3),
        payer_recommended_level="iop",
        notes="Payer: medically stable, step down to IOP.",
    )
    appeal = authorizations.review_schedule(
        actor=reviewer, authorization=authorization, kind="appeal", scheduled_on=day(-1)
    )
    authorizations.review_record(
        actor=reviewer,
        review=appeal,
        outcome="approved_more",
        done_on=day(-1),
        units_added=5,
        end_date=stay.start_date + datetime.timedelta(days=9),
        next_review_on=day(3),
        notes="Peer reviewer agreed after the attending's call: new-onset panic attacks.",
    )
    authorizations.review_schedule(
        actor=reviewer, authorization=authorization, kind="concurrent", scheduled_on=day(3)
    )


# The admissions desk's pipeline: (first name, last name, stage, referral source kind, days ago).
INQUIRIES = [
    ("Drew", "Hollis", "new", "family", 0),
    ("Jamie", "Ortega", "screening", "hospital", 1),
    ("Robin", "Achebe", "verifying", "employer", 3),
    ("Kerry", "Lindqvist", "scheduled_iop", "self", 5),
    ("Alex", "Moreau", "scheduled_residential", "court", 4),
    ("Sasha", "Ibarra", "admitted", "online", 9),
    ("Lee", "Fontaine", "not_admitted", "another_program", 14),
]
# The order of the stages: an inquiry at a stage went through all those before it.
STAGES = ["new", "screening", "verifying", "scheduled", "admitted"]


@transaction.atomic
def seed_demo_admissions(*, clinic: Clinic, admissions, clinician) -> int:
    """An inquiry at every stage of the admissions pipeline (after
    ``seed_demo_utilization_review``, whose payers it uses); returns how many inquiries it took
    this time.

    - Drew Hollis: his mother called today; new, to be called back tomorrow.
    - Jamie Ortega: referred by a hospital yesterday, screened with a withdrawal sign (the
      clinicians' alert), no next contact set: overdue on the admissions board.
    - Robin Achebe: screened, benefits being verified with the commercial payer.
    - Kerry Lindqvist: verified, admitted to the day IOP track today (a place held).
    - Alex Moreau: verified, a residential bed held from the day after tomorrow.
    - Sasha Ibarra: admitted today through the pipeline (registered, enrolled, covered).
    - Lee Fontaine: screened, not admitted: chose another provider.

    Idempotent: a person who already has an inquiry is left alone.
    """
    programs = seed_demo_programs(clinic=clinic)
    sources = {source.kind: source for source in clinic.referral_sources.all()}
    commercial = Payer.objects.get(clinic=clinic, kind=PayerKind.COMMERCIAL)
    now = timezone.now()
    today = clinic.today(now)
    taken = 0
    for number, (first, last, stage, source, days_ago) in enumerate(INQUIRIES):
        if Inquiry.objects.filter(clinic=clinic, first_name=first, last_name=last).exists():
            continue
        taken += 1
        by_parent = stage == "new"
        inquiry = inquiries.inquiry_create(
            actor=admissions,
            clinic=clinic,
            referral_source=sources[source],
            first_name=first,
            last_name=last,
            received_at=now - datetime.timedelta(days=days_ago, hours=2),
            date_of_birth=datetime.date(1980 + 3 * number, 1 + number, 10 + number),
            phone=f"+1202555{160 + number:04d}",
            caller_relation="parent" if by_parent else "self",
            caller_name=f"Pat {last}" if by_parent else "",
            substances="Alcohol daily, benzodiazepines some days"
            if stage == "screening"
            else "Opioids (pills), alcohol at weekends",
            urgency="Wants to start this week",
            callback_consent=True,
            callback_method="phone",
            next_contact_on=today + datetime.timedelta(days=1) if stage == "new" else None,
        )
        if stage == "new":
            continue
        residential = stage == "scheduled_residential"
        inquiries.inquiry_screen(
            actor=admissions,
            inquiry=inquiry,
            criteria_count=7 if residential or stage == "screening" else 4,
            dimensions=dict(
                zip(
                    ["d1", "d2", "d3", "d4", "d5", "d6"],
                    [3, 1, 2, 2, 3, 2] if residential else [1, 1, 1, 2, 2, 1],
                    strict=True,
                )
            ),
            daytime_obligations=not residential,
            withdrawal_flags=["heavy_daily_alcohol", "daily_benzodiazepines"]
            if stage == "screening"
            else [],
        )
        if stage == "screening":
            continue
        if stage == "not_admitted":
            admission_holds.inquiry_close(
                actor=admissions,
                inquiry=inquiry,
                reason="chose_elsewhere",
                note="Chose a program closer to home.",
            )
            continue
        inquiries.inquiry_verify_benefits(
            actor=admissions,
            inquiry=inquiry,
            payer=commercial,
            level="residential" if residential else "iop",
            outcome="eligible",
            member_id=f"HHP{70000 + number}",
            in_network=True,
            deductible_remaining=Decimal("500.00"),
            out_of_pocket_remaining=Decimal("2500.00"),
            prior_authorization_required=residential,
        )
        if stage == "verifying":
            continue
        admission_holds.admission_schedule(
            actor=admissions,
            inquiry=inquiry,
            program=programs["residential" if residential else "iop_day"],
            admission_date=today + datetime.timedelta(days=2 if residential else 0),
        )
        if stage == "admitted":
            admission_holds.inquiry_convert(
                actor=admissions, inquiry=inquiry, primary_clinician=clinician
            )
    return taken


# Measures on file: (patient, instrument, days ago, answers). Avery's PHQ-9 falls from moderate
# to mild over the evening IOP; Morgan, admitted today, answered the GAD-7 at admission.
MEASURES = [
    (
        "Avery",
        "Patel",
        "phq9",
        20,
        {"1": 2, "2": 2, "3": 2, "4": 2, "5": 1, "6": 2, "7": 1, "8": 1, "9": 0},
    ),
    ("Avery", "Patel", "gad7", 20, {"1": 2, "2": 1, "3": 2, "4": 1, "5": 1, "6": 1, "7": 1}),
    (
        "Avery",
        "Patel",
        "phq9",
        6,
        {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 0, "8": 0, "9": 0},
    ),
    ("Morgan", "Silva", "gad7", 0, {"1": 1, "2": 1, "3": 1, "4": 0, "5": 0, "6": 1, "7": 0}),
]


@transaction.atomic
def seed_demo_measures(*, clinic: Clinic, clinician) -> int:
    """A few measures on file for the step-down board's trends and the patient page's charts
    (after ``seed_demo_enrollments``); returns how many it recorded this time. Idempotent: a
    response already on file that day is not recorded again."""
    now = timezone.now()
    recorded = 0
    for first, last, instrument, days_ago, answers in MEASURES:
        patient = Patient.objects.filter(clinic=clinic, first_name=first, last_name=last).first()
        completed_at = now - datetime.timedelta(days=days_ago)
        day = (
            completed_at - datetime.timedelta(hours=12),
            completed_at + datetime.timedelta(hours=12),
        )
        if (
            patient is None
            or patient.measure_responses.filter(
                instrument=instrument, completed_at__range=day
            ).exists()
        ):
            continue
        measures.measure_record(
            actor=clinician,
            patient=patient,
            instrument=instrument,
            answers=answers,
            completed_at=completed_at,
        )
        recorded += 1
    return recorded


@transaction.atomic
def seed_demo_follow_ups(*, clinic: Clinic, admissions, clinician) -> int:
    """Drew Ellis, discharged from residential care ten days ago, and the follow-up calls of
    that discharge (after ``seed_demo_enrollments``): the 2-day call done after a missed try,
    the 7-day call overdue, the 30-day call ahead. Returns 1 when seeded now, 0 when Drew was
    already there."""
    from patients import services as patient_services

    if Patient.objects.filter(clinic=clinic, first_name="Drew", last_name="Ellis").exists():
        return 0
    today = clinic.today()
    drew = patient_services.patient_create(
        actor=admissions,
        clinic=clinic,
        first_name="Drew",
        last_name="Ellis",
        date_of_birth=datetime.date(1988, 9, 14),
        email="drew.ellis@example.org",
        reminder_channels=["email"],
    )
    stay = services.enrollment_create(
        actor=admissions,
        patient=drew,
        program=Program.objects.get(clinic=clinic, name="Residential"),
        start_date=today - datetime.timedelta(days=30),
        primary_clinician=clinician,
    )
    services.enrollment_discharge(
        actor=clinician,
        enrollment=stay,
        date=today - datetime.timedelta(days=10),
        reason="completed",
    )
    two_days = stay.follow_up_tasks.get(days_after_discharge=2)
    follow_ups.follow_up_attempt_record(
        two_days, actor=clinician, method="phone", reached=False, note="Voicemail; left no name."
    )
    follow_ups.follow_up_attempt_record(two_days, actor=clinician, method="phone", reached=True)
    follow_ups.follow_up_complete(
        two_days,
        actor=clinician,
        outcome="reached_well",
        note="Settled at home; first outpatient visit booked.",
    )
    return 1


# Progress notes (issue 26) ------------------------------------------------------------------------

DEMO_GROUP_PART = {
    "topic": "Coping with cravings in the evening",
    "interventions": "Psychoeducation on the craving curve; urge surfing practice; CBT thought "
    "records in pairs.",
    "group_dynamics": "Engaged; members gave one another concrete suggestions.",
}
DEMO_ATTENDEE_PARTS = [
    {
        "participation": "Active; shared an example from the past week.",
        "response": "Practised urge surfing and rated a craving from 7 to 4.",
        "progress": "Calls the sponsor most evenings, as the aftercare goal asks.",
        "plan": "Keep the craving log; review it at the next individual session.",
    },
    {
        "participation": "Quiet at first, joined the pairs exercise.",
        "response": "Named two triggers at home.",
        "progress": "",
        "plan": "",
    },
    {
        "participation": "Attentive; asked about evening routines.",
        "response": "Completed a thought record with help.",
        "progress": "Two weeks without use reported.",
        "plan": "Try the evening routine plan; bring it to group.",
    },
]


@transaction.atomic
def seed_demo_notes(*, clinic: Clinic, clinician, supervisor, intern) -> int:
    """Session notes to look at (after ``seed_demo_enrollments``): a past IOP group session
    with its group part and three attendee notes — one signed and co-signed, one draft past the
    late limit, one signed by ``intern`` (a clinician whose membership needs co-signature) and
    awaiting the supervisor — and an individual session with a signed DAP note. Written with
    the ORM (the rows the note services would write). Returns how many notes it wrote; 0 when
    the clinic has notes already."""
    if ProgressNote.objects.filter(session__clinic=clinic).exists():
        return 0
    ClinicMembership.objects.filter(user=intern, clinic=clinic).update(requires_cosignature=True)
    now = timezone.now()
    session = _seed_group_session(clinic, clinician=clinician, now=now)
    written = 0
    if session is not None:
        attended = list(
            Attendance.objects.filter(session=session, status__in=ATTENDED)
            .select_related("patient")
            .order_by("patient_id")
        )
        group = GroupNote.objects.create(session=session, author=clinician, **DEMO_GROUP_PART)
        signed_at = session.ends_at + datetime.timedelta(hours=2)
        kinds = (
            ProgressNoteStatus.SIGNED,
            ProgressNoteStatus.DRAFT,
            ProgressNoteStatus.AWAITING_COSIGNATURE,
        )
        for attendance, kind, sections in zip(attended, kinds, DEMO_ATTENDEE_PARTS, strict=True):
            author = intern if kind == ProgressNoteStatus.AWAITING_COSIGNATURE else clinician
            note = ProgressNote(
                session=session,
                patient=attendance.patient,
                attendance=attendance,
                group_note=group,
                format=ProgressNoteFormat.GROUP,
                sections=sections,
                author=author,
            )
            if kind != ProgressNoteStatus.DRAFT:
                note.signed_at = signed_at
                note.cosignature_required = _needs_cosignature(author, clinic)
            note.save()
            if kind == ProgressNoteStatus.SIGNED and note.cosignature_required:
                note.cosigned_by, note.cosigned_at = supervisor, signed_at
                note.save(update_fields=["cosigned_by", "cosigned_at", "updated_at"])
            written += 1
        patient = attended[0].patient if attended else None
    else:
        patient = (
            Patient.objects.filter(clinic=clinic, enrollments__status=EnrollmentStatus.ADMITTED)
            .order_by("id")
            .first()
        )
    if patient is not None:
        written += _seed_individual_note(
            clinic, patient=patient, clinician=clinician, supervisor=supervisor, now=now
        )
    return written


def _seed_group_session(clinic, *, clinician, now):
    """A one-off IOP process group, past the late limit, attended by three patients in care that
    day (IOP patients first: the demo's IOP tracks have one patient each); None without three."""
    day = clinic.today(now) - datetime.timedelta(days=clinic.note_late_hours // 24 + 2)
    stays = Enrollment.objects.filter(
        program__clinic=clinic,
        status__in=[EnrollmentStatus.ADMITTED, EnrollmentStatus.DISCHARGED],
        start_date__lte=day,
    ).filter(Q(discharge_date__isnull=True) | Q(discharge_date__gt=day))
    stays = sorted(stays, key=lambda stay: (stay.level != Level.IOP, stay.start_date, stay.pk))
    patient_ids = list(dict.fromkeys(stay.patient_id for stay in stays))[:3]
    if len(patient_ids) < 3:
        return None
    program = Program.objects.filter(clinic=clinic, level=Level.IOP).order_by("id").first()
    # 13:00 local: between the groups the demo clinician facilitates.
    starts_at = datetime.datetime.combine(day, datetime.time(13), tzinfo=clinic.zone)
    session = calendar.session_create(
        actor=clinician,
        clinic=clinic,
        program=program,
        title="IOP process group",
        kind=SessionKind.GROUP,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=2),
        facilitator=clinician,
    )
    for patient_id, status in zip(patient_ids, ("present", "present", "late"), strict=True):
        patient = Patient.objects.get(pk=patient_id)
        RosterEntry.objects.create(session=session, patient=patient)
        calendar.attendance_record(actor=clinician, session=session, patient=patient, status=status)
    return session


def _needs_cosignature(user, clinic) -> bool:
    return ClinicMembership.objects.filter(
        user=user, clinic=clinic, requires_cosignature=True
    ).exists()


def _seed_individual_note(clinic, *, patient, clinician, supervisor, now) -> int:
    # Two days ago at 14:00, between the demo groups the clinician facilitates.
    starts_at = datetime.datetime.combine(
        clinic.today(now) - datetime.timedelta(days=2), datetime.time(14), tzinfo=clinic.zone
    )
    session = calendar.session_create(
        actor=clinician,
        clinic=clinic,
        title="Individual session",
        kind=SessionKind.INDIVIDUAL,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=50),
        facilitator=clinician,
        patient=patient,
    )
    attendance = calendar.attendance_record(
        actor=clinician, session=session, patient=patient, status="present"
    )
    signed_at = session.ends_at + datetime.timedelta(hours=1)
    note = ProgressNote.objects.create(
        session=session,
        patient=patient,
        attendance=attendance,
        format=ProgressNoteFormat.DAP,
        sections={
            "data": "Reports steady mood; attended all groups this week; one strong craving "
            "on Friday, managed with a call to the sponsor.",
            "assessment": "Using the coping skills from the plan; motivation holding.",
            "plan": "Continue the IOP; review the relapse-prevention plan next week.",
        },
        author=clinician,
        signed_at=signed_at,
        cosignature_required=_needs_cosignature(clinician, clinic),
    )
    if note.cosignature_required:
        note.cosigned_by, note.cosigned_at = supervisor, signed_at + datetime.timedelta(hours=3)
        note.save(update_fields=["cosigned_by", "cosigned_at", "updated_at"])
    return 1
