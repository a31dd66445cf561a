"""Recurring series across daylight-saving time, their expansion, and rosters that follow
enrollments (DESIGN.md "Time"; issue: scheduling)."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from programs.services import enrollments
from scheduling import services
from scheduling.models import Attendance, RosterEntry, Session
from scheduling.recurrence import local_to_utc, occurrences
from scheduling.services import materialize_all_series, program_series_create
from tests.factories import PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db

NY = "America/New_York"
NY_ZONE = zoneinfo.ZoneInfo(NY)
UTC = datetime.UTC


def local(dt: datetime.datetime) -> datetime.datetime:
    return dt.astimezone(NY_ZONE)


# The rule ----------------------------------------------------------------------------------------


def test_an_evening_session_stays_at_18_local_across_spring_forward():
    # 2027-03-14: clocks jump from 02:00 to 03:00 in New York.
    weekly = occurrences(
        weekdays=[6, 1],
        wall_time=datetime.time(18),
        zone=NY,
        duration=datetime.timedelta(hours=3),
        first=datetime.date(2027, 3, 13),
        last=datetime.date(2027, 3, 15),
    )

    assert [o.date for o in weekly] == [datetime.date(2027, 3, 13), datetime.date(2027, 3, 15)]
    assert [local(o.starts_at).time() for o in weekly] == [datetime.time(18)] * 2
    assert [o.starts_at.astimezone(UTC).hour for o in weekly] == [23, 22]  # EST, then EDT
    assert all(o.ends_at - o.starts_at == datetime.timedelta(hours=3) for o in weekly)


def test_an_evening_session_stays_at_18_local_across_fall_back():
    # 2026-11-01: clocks fall back from 02:00 to 01:00.
    weekly = occurrences(
        weekdays=[6, 1],
        wall_time=datetime.time(18),
        zone=NY,
        duration=datetime.timedelta(hours=3),
        first=datetime.date(2026, 10, 31),
        last=datetime.date(2026, 11, 2),
    )

    assert [local(o.starts_at).time() for o in weekly] == [datetime.time(18)] * 2
    assert [o.starts_at.astimezone(UTC).hour for o in weekly] == [22, 23]  # EDT, then EST


def test_a_time_in_the_spring_forward_gap_moves_forward_by_the_gap():
    start = local_to_utc(datetime.date(2027, 3, 14), datetime.time(2, 30), NY)

    assert local(start) == datetime.datetime(2027, 3, 14, 3, 30, tzinfo=NY_ZONE)
    assert start == datetime.datetime(2027, 3, 14, 7, 30, tzinfo=UTC)


def test_a_time_that_happens_twice_takes_the_first_occurrence():
    start = local_to_utc(datetime.date(2026, 11, 1), datetime.time(1, 30), NY)

    assert start == datetime.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert local(start).utcoffset() == datetime.timedelta(hours=-4)


# Expansion ----------------------------------------------------------------------------------------


@pytest.fixture
def evening_iop(clinic):
    return ProgramFactory(
        clinic=clinic, name="Evening IOP", level="iop", track="evening", capacity=40
    )


SERIES = {
    "title": "Evening group",
    "weekdays": [1, 3, 4],
    "local_start_time": datetime.time(18),
    "duration_minutes": 180,
}


@time_machine.travel(datetime.datetime(2026, 10, 26, 12, tzinfo=UTC), tick=False)
def test_a_12_week_evening_track_for_30_patients_materializes_in_one_bulk_pass(
    clinic, clinician, admissions, evening_iop, django_assert_max_num_queries
):
    for patient in PatientFactory.create_batch(
        30, clinic=clinic, actor=admissions, last_name="Roe"
    ):
        enrollments.enrollment_create(
            actor=admissions,
            patient=patient,
            program=evening_iop,
            start_date=datetime.date(2026, 10, 26),
        )
    start = datetime.date(2026, 10, 26)

    # program lock, series insert + audit, lock, existing dates, session insert, horizon
    # update, the program's weeks counted, stays, roster insert, the new entries' reminder plan
    # (check + insert in a savepoint of its own), savepoints: constant, not per session or
    # patient.
    with django_assert_max_num_queries(18):
        series, sessions = program_series_create(
            actor=clinician,
            program=evening_iop,
            starts_on=start,
            ends_on=start + datetime.timedelta(weeks=12, days=-1),
            until=start + datetime.timedelta(weeks=12),
            **SERIES,
        )

    assert len(sessions) == 36
    assert RosterEntry.objects.filter(session__series=series).count() == 36 * 30
    # All at 18:00 local, across the fall-back weekend of 2026-11-01.
    assert {local(s.starts_at).time() for s in sessions} == {datetime.time(18)}


@time_machine.travel(datetime.datetime(2026, 10, 26, 12, tzinfo=UTC), tick=False)
def test_expansion_is_idempotent_and_keeps_cancelled_and_moved_occurrences(
    clinic, clinician, evening_iop
):
    series, sessions = program_series_create(
        actor=clinician, program=evening_iop, starts_on=datetime.date(2026, 10, 26), **SERIES
    )
    services.session_cancel(actor=clinician, session=sessions[0])
    moved = services.session_move(
        actor=clinician,
        session=sessions[1],
        starts_at=sessions[1].starts_at + datetime.timedelta(hours=1),
        ends_at=sessions[1].ends_at + datetime.timedelta(hours=1),
    )

    assert materialize_all_series() == 0
    assert services.series_materialize(series=series) == []

    assert Session.objects.filter(series=series).count() == len(sessions)
    assert Session.objects.get(pk=sessions[0].pk).status == "cancelled"
    assert Session.objects.get(pk=moved.pk).starts_at == moved.starts_at


def test_the_nightly_pass_extends_the_horizon(clinic, clinician, evening_iop):
    with time_machine.travel(datetime.datetime(2026, 10, 26, 12, tzinfo=UTC), tick=False):
        series, first = program_series_create(
            actor=clinician, program=evening_iop, starts_on=datetime.date(2026, 10, 26), **SERIES
        )
    with time_machine.travel(datetime.datetime(2026, 11, 9, 12, tzinfo=UTC), tick=False):
        added = materialize_all_series()

    assert added == 6  # two more weeks of three sessions
    assert Session.objects.filter(series=series).count() == len(first) + 6


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"weekdays": [1, 3]}, "weekdays", "3–5 times a week"),
        ({"weekdays": [1, 2, 3, 4, 5, 6]}, "weekdays", "3–5 times a week"),
        ({"duration_minutes": 300}, "duration_minutes", "3–4 hours"),
        ({"duration_minutes": 120}, "duration_minutes", "3–4 hours"),
    ],
)
def test_an_iop_series_must_follow_the_programs_rules(
    clinic, clinician, evening_iop, changes, field, words
):
    with pytest.raises(ValidationError) as refused:
        program_series_create(
            actor=clinician,
            program=evening_iop,
            starts_on=datetime.date(2026, 12, 1),
            **{**SERIES, **changes},
        )

    assert words in refused.value.message_dict[field][0]
    assert not Session.objects.exists()


# Rosters follow enrollments -----------------------------------------------------------------------


@pytest.fixture
def schedule(clinic, clinician, evening_iop):
    with time_machine.travel(datetime.datetime(2026, 11, 30, 12, tzinfo=UTC), tick=False):
        _series, sessions = program_series_create(
            actor=clinician, program=evening_iop, starts_on=datetime.date(2026, 11, 30), **SERIES
        )
    return sessions


def sessions_of(patient):
    return set(RosterEntry.objects.filter(patient=patient).values_list("session_id", flat=True))


def test_an_admission_joins_future_sessions_from_its_start(
    clinic, admissions, evening_iop, schedule
):
    [patient] = PatientFactory.create_batch(1, clinic=clinic, actor=admissions, last_name="Roe")

    with time_machine.travel(datetime.datetime(2026, 12, 1, 12, tzinfo=UTC), tick=False):
        enrollments.enrollment_create(
            actor=admissions,
            patient=patient,
            program=evening_iop,
            start_date=datetime.date(2026, 12, 3),
        )

    expected = {s.pk for s in schedule if local(s.starts_at).date() >= datetime.date(2026, 12, 3)}
    assert sessions_of(patient) == expected


def test_a_discharge_leaves_future_sessions_and_keeps_the_past(
    clinic, admissions, clinician, evening_iop, schedule
):
    [patient] = PatientFactory.create_batch(1, clinic=clinic, actor=admissions, last_name="Roe")
    with time_machine.travel(datetime.datetime(2026, 11, 30, 12, tzinfo=UTC), tick=False):
        stay = enrollments.enrollment_create(
            actor=admissions,
            patient=patient,
            program=evening_iop,
            start_date=datetime.date(2026, 11, 30),
        )
    first = schedule[0]  # Monday 2026-11-30, 18:00 local
    with time_machine.travel(first.starts_at + datetime.timedelta(minutes=5), tick=False):
        services.attendance_record(
            actor=clinician, session=first, patient=patient, status="present"
        )

    with time_machine.travel(datetime.datetime(2026, 12, 8, 12, tzinfo=UTC), tick=False):
        enrollments.enrollment_discharge(
            actor=clinician, enrollment=stay, date=datetime.date(2026, 12, 10), reason="completed"
        )

    remaining = {Session.objects.get(pk=pk) for pk in sessions_of(patient)}
    assert max(local(s.starts_at).date() for s in remaining) < datetime.date(2026, 12, 10)
    assert first in remaining
    assert Attendance.objects.filter(session=first, patient=patient).exists()


def test_rosters_follow_a_transition_in_the_same_transaction(
    clinic, admissions, clinician, evening_iop, schedule
):
    residential = ProgramFactory(clinic=clinic, name="House", level="residential", capacity=5)
    [patient] = PatientFactory.create_batch(1, clinic=clinic, actor=admissions, last_name="Roe")
    with time_machine.travel(datetime.datetime(2026, 12, 1, 12, tzinfo=UTC), tick=False):
        stay = enrollments.enrollment_create(
            actor=admissions,
            patient=patient,
            program=residential,
            start_date=datetime.date(2026, 12, 1),
        )
        assert sessions_of(patient) == set()

        enrollments.transition_create(
            actor=clinician,
            enrollment=stay,
            to_program=evening_iop,
            date=datetime.date(2026, 12, 7),
            kind="step_down",
            reason="stable",
        )

    expected = {s.pk for s in schedule if local(s.starts_at).date() >= datetime.date(2026, 12, 7)}
    assert sessions_of(patient) == expected


def test_a_failed_transition_leaves_the_rosters_as_they_were(
    clinic, admissions, clinician, evening_iop, schedule
):
    from clinic.errors import Conflict

    full = ProgramFactory(clinic=clinic, name="Full", level="outpatient", capacity=1)
    others = PatientFactory.create_batch(2, clinic=clinic, actor=admissions, last_name="Roe")
    with time_machine.travel(datetime.datetime(2026, 12, 1, 12, tzinfo=UTC), tick=False):
        enrollments.enrollment_create(
            actor=admissions, patient=others[0], program=full, start_date=datetime.date(2026, 12, 1)
        )
        stay = enrollments.enrollment_create(
            actor=admissions,
            patient=others[1],
            program=evening_iop,
            start_date=datetime.date(2026, 12, 1),
        )
        before = sessions_of(others[1])

        with pytest.raises(Conflict):
            enrollments.transition_create(
                actor=clinician,
                enrollment=stay,
                to_program=full,
                date=datetime.date(2026, 12, 7),
                kind="step_down",
                reason="stable",
            )

    assert sessions_of(others[1]) == before


def test_session_capacity_is_respected(clinic, admissions, clinician, evening_iop):
    with time_machine.travel(datetime.datetime(2026, 11, 30, 12, tzinfo=UTC), tick=False):
        _series, sessions = program_series_create(
            actor=clinician,
            program=evening_iop,
            starts_on=datetime.date(2026, 11, 30),
            capacity=2,
            **SERIES,
        )
        for patient in PatientFactory.create_batch(
            3, clinic=clinic, actor=admissions, last_name="Roe"
        ):
            enrollments.enrollment_create(
                actor=admissions,
                patient=patient,
                program=evening_iop,
                start_date=datetime.date(2026, 11, 30),
            )

    counts = {RosterEntry.objects.filter(session=s).count() for s in sessions}
    assert counts == {2}


def test_seeding_new_sessions_respects_their_capacity(clinic, admissions, clinician, evening_iop):
    with time_machine.travel(datetime.datetime(2026, 11, 30, 12, tzinfo=UTC), tick=False):
        for patient in PatientFactory.create_batch(
            3, clinic=clinic, actor=admissions, last_name="Roe"
        ):
            enrollments.enrollment_create(
                actor=admissions,
                patient=patient,
                program=evening_iop,
                start_date=datetime.date(2026, 11, 30),
            )
        _series, sessions = program_series_create(
            actor=clinician,
            program=evening_iop,
            starts_on=datetime.date(2026, 11, 30),
            capacity=2,
            **SERIES,
        )

    assert {RosterEntry.objects.filter(session=s).count() for s in sessions} == {2}


@time_machine.travel(datetime.datetime(2026, 10, 26, 12, tzinfo=UTC), tick=False)
def test_the_nightly_pass_costs_the_same_queries_for_2_and_10_series_of_two_programs(
    clinic, clinician, admissions, evening_iop
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from patients.models import Patient
    from scheduling.models import Reminder

    morning_iop = ProgramFactory(
        clinic=clinic, name="Morning IOP", level="iop", track="morning", capacity=40
    )
    start = datetime.date(2026, 10, 26)
    patients = PatientFactory.create_batch(6, clinic=clinic, actor=admissions, last_name="Roe")
    Patient.objects.filter(pk__in=[p.pk for p in patients]).update(
        reminder_channels=["email"], email="someone@example.org"
    )
    for n, patient in enumerate(patients):
        enrollments.enrollment_create(
            actor=admissions,
            patient=patient,
            program=evening_iop if n % 2 else morning_iop,
            start_date=start,
        )

    def add_series(count):
        return [
            services.series_create(
                actor=clinician,
                clinic=clinic,
                program=evening_iop if n % 2 else morning_iop,
                starts_on=start + datetime.timedelta(days=1),
                ends_on=start + datetime.timedelta(weeks=12),
                **{**SERIES, "title": f"Track {n}"},
            )
            for n in range(count)
        ]

    counts = []
    for count in (2, 10):
        made = add_series(count)
        with CaptureQueriesContext(connection) as captured:
            created = materialize_all_series(until=start + datetime.timedelta(weeks=12))
        counts.append(len(captured))
        assert created == 36 * count
        for series in made:
            sessions = Session.objects.filter(series=series)
            assert sessions.count() == 36
            # Each session has its own program's three patients, and their reminders.
            entries = RosterEntry.objects.filter(session__series=series)
            assert entries.count() == 36 * 3
            assert {e.patient_id for e in entries} == {
                p.pk for n, p in enumerate(patients) if (n % 2) == (series.program == evening_iop)
            }
            # Planned for every new entry (2 offsets x email).
            assert Reminder.objects.filter(roster_entry__in=entries).count() == 36 * 3 * 2
            series.refresh_from_db()
            assert series.materialized_until == start + datetime.timedelta(weeks=12)

    assert counts[0] == counts[1], counts
    assert materialize_all_series(until=start + datetime.timedelta(weeks=12)) == 0
