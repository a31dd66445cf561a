"""Attendance and what it feeds: adherence, hours a week, no-shows, the falling-short flag, and
the continuity gap of a transition (a hand-computed week)."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction

from clinic.errors import Conflict
from programs.models import Transition
from programs.reports import step_down_queryset, step_down_rows
from programs.services import enrollments
from scheduling import services
from scheduling.metrics import stay_figures
from scheduling.models import Attendance
from scheduling.services import program_series_create
from tests.factories import PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
UTC = datetime.UTC


def at(day: int, hour: int) -> datetime.datetime:
    """December 2026, New York local time."""
    return datetime.datetime(2026, 12, day, hour, tzinfo=NY)


@pytest.fixture
def iop(clinic):
    return ProgramFactory(clinic=clinic, name="Day IOP", level="iop", track="day", capacity=10)


@pytest.fixture
def patient(clinic, admissions):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ivy",
        last_name="Moss",
        date_of_birth=datetime.date(1991, 5, 5),
    )


@pytest.fixture
def week(clinic, clinician, admissions, iop, patient):
    """Mon/Wed/Fri 09:00–12:00 from Monday 2026-12-07; the patient enrolled from that day."""
    with time_machine.travel(at(6, 12), tick=False):
        _series, sessions = program_series_create(
            actor=clinician,
            program=iop,
            starts_on=datetime.date(2026, 12, 7),
            ends_on=datetime.date(2026, 12, 20),
            title="Morning group",
            weekdays=[1, 3, 5],
            local_start_time=datetime.time(9),
            duration_minutes=180,
        )
        stay = enrollments.enrollment_create(
            actor=admissions, patient=patient, program=iop, start_date=datetime.date(2026, 12, 7)
        )
    return stay, sessions


def record(clinician, session, patient, status):
    with time_machine.travel(session.starts_at + datetime.timedelta(minutes=10), tick=False):
        return services.attendance_record(
            actor=clinician, session=session, patient=patient, status=status
        )


def test_figures_match_a_hand_computed_week(clinician, patient, week):
    stay, sessions = week
    monday, wednesday, friday = sessions[:3]
    record(clinician, monday, patient, "present")
    record(clinician, wednesday, patient, "absent")

    # Thursday noon: Monday attended (3 h), Wednesday missed, Friday still ahead (3 h).
    figures = stay_figures([stay.pk], zone=NY, now=at(10, 12).astimezone(UTC))[stay.pk]

    assert (figures.expected, figures.attended, figures.no_shows) == (2, 1, 1)
    assert (figures.present, figures.late, figures.excused) == (1, 0, 0)
    assert figures.adherence == 0.5
    assert figures.no_show_rate == 0.5
    assert figures.hours_this_week == Decimal("3.00")
    assert figures.hours_possible_this_week == Decimal("6.00")
    assert figures.falling_short(Decimal(9))  # 6 possible hours < the 9-hour minimum
    assert not figures.falling_short(Decimal(6))
    assert friday.starts_at > at(10, 12)


def test_a_stay_that_ended_counts_no_session_after_it(clinician, patient, week):
    stay, sessions = week
    record(clinician, sessions[0], patient, "present")
    record(clinician, sessions[1], patient, "absent")

    # Thursday noon, the stay ended with Tuesday: Wednesday's session is not the stay's.
    figures = stay_figures([stay.pk], zone=NY, now=at(10, 12).astimezone(UTC), until=at(9, 0))[
        stay.pk
    ]

    assert (figures.expected, figures.attended, figures.no_shows) == (1, 1, 0)


def test_excused_absences_are_not_no_shows_and_a_declined_session_is_not_possible(
    clinician, patient, week
):
    stay, sessions = week
    record(clinician, sessions[0], patient, "excused")
    with time_machine.travel(at(8, 12), tick=False):
        services.session_respond(
            actor=patient.app_user, session=sessions[2], patient=patient, response="declined"
        )

    figures = stay_figures([stay.pk], zone=NY, now=at(8, 12).astimezone(UTC))[stay.pk]

    assert (figures.expected, figures.attended, figures.no_shows) == (1, 0, 0)
    assert figures.excused == 1
    assert figures.hours_possible_this_week == Decimal("3.00")  # only Wednesday remains


def test_a_week_without_sessions_on_the_roster_is_not_falling_short(
    patient, iop, clinic, admissions
):
    with time_machine.travel(at(6, 12), tick=False):
        stay = enrollments.enrollment_create(
            actor=admissions, patient=patient, program=iop, start_date=datetime.date(2026, 12, 7)
        )

    figures = stay_figures([stay.pk], zone=NY, now=at(8, 12).astimezone(UTC))[stay.pk]

    assert figures.adherence is None
    assert not figures.falling_short(Decimal(9))


def test_the_step_down_board_shows_adherence_and_the_falling_short_flag(
    clinician, supervisor, patient, week
):
    stay, sessions = week
    record(clinician, sessions[0], patient, "present")
    record(clinician, sessions[1], patient, "absent")

    with time_machine.travel(at(10, 12), tick=False):
        [row] = step_down_rows(step_down_queryset(user=supervisor))

    assert row["enrollment"] == stay.pk
    assert row["adherence"] == 0.5
    assert row["hours_this_week"] == Decimal("3.00")
    assert "falling_short_this_week" in row["flags"]


def test_attendance_is_once_per_session_and_patient_and_corrections_update_it(
    clinician, patient, week
):
    _stay, sessions = week
    record(clinician, sessions[0], patient, "absent")
    corrected = record(clinician, sessions[0], patient, "late")

    assert Attendance.objects.count() == 1
    assert corrected.status == "late"
    assert corrected.checked_in_at is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Attendance.objects.create(
            session=sessions[0],
            patient=patient,
            roster_entry=corrected.roster_entry,
            status="present",
            recorded_by=clinician,
        )


def test_attendance_is_refused_for_future_and_cancelled_sessions(clinician, patient, week):
    _stay, sessions = week
    with time_machine.travel(at(6, 12), tick=False), pytest.raises(Conflict) as early:
        services.attendance_record(
            actor=clinician, session=sessions[0], patient=patient, status="present"
        )
    services.session_cancel(actor=clinician, session=sessions[1])
    with pytest.raises(Conflict) as cancelled:
        record(clinician, sessions[1], patient, "present")

    assert early.value.code == "session_not_started"
    assert cancelled.value.code == "session_cancelled"


def test_a_transition_records_its_first_attended_session(
    clinic, clinician, admissions, patient, iop
):
    residential = ProgramFactory(clinic=clinic, name="House", level="residential", capacity=4)
    with time_machine.travel(at(1, 12), tick=False):
        _series, sessions = program_series_create(
            actor=clinician,
            program=iop,
            starts_on=datetime.date(2026, 12, 7),
            ends_on=datetime.date(2026, 12, 20),
            title="Morning group",
            weekdays=[1, 3, 5],
            local_start_time=datetime.time(9),
            duration_minutes=180,
        )
        stay = enrollments.enrollment_create(
            actor=admissions,
            patient=patient,
            program=residential,
            start_date=datetime.date(2026, 12, 1),
        )
        move = enrollments.transition_create(
            actor=clinician,
            enrollment=stay,
            to_program=iop,
            date=datetime.date(2026, 12, 4),
            kind="step_down",
            reason="stable",
        )
    monday, wednesday = sessions[0], sessions[1]

    record(clinician, monday, patient, "absent")
    move.refresh_from_db()
    assert move.first_session_on is None  # an absence is not a first session
    record(clinician, wednesday, patient, "present")
    move.refresh_from_db()

    assert move.first_session_on == datetime.date(2026, 12, 9)
    assert move.gap_days == 5
    assert not move.gap_flagged(datetime.date(2026, 12, 30))
    assert Transition.objects.get().first_session_on == datetime.date(2026, 12, 9)


def test_attendance_must_match_its_roster_entry(clinician, patient, week):
    _stay, sessions = week
    attendance = record(clinician, sessions[0], patient, "present")

    with (
        pytest.raises(IntegrityError, match="attendance_matches_roster_entry"),
        transaction.atomic(),
    ):
        Attendance.objects.filter(pk=attendance.pk).update(session=sessions[1])
