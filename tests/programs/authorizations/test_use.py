"""Use against an authorization, counted in SQL (``programs.selectors.authorization_use``): days
from the census's occupancy, sessions from attendance (present or late), with the remaining
units and the day they run out at the pace so far. Each case is computed by hand."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from programs.selectors import authorization_list
from programs.services import enrollments
from scheduling import services as calendar
from scheduling.services import program_session_create
from tests.factories import (
    AuthorizationFactory,
    CoverageFactory,
    EnrollmentFactory,
    PatientFactory,
    ProgramFactory,
)

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
TODAY = datetime.date(2026, 11, 10)  # a Tuesday


def noon_in_new_york(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(17), tzinfo=UTC)


def nov(day: int) -> datetime.date:
    return datetime.date(2026, 11, day)


def used(authorization, *, user, on: datetime.date = TODAY) -> tuple:
    row = authorization_list(user=user, now=noon_in_new_york(on)).get(pk=authorization.pk)
    return (
        row.units_used,
        row.units_remaining,
        row.used_through,
        row.projected_exhaustion_on,
    )


def test_a_residential_stay_counts_the_days_present_and_not_the_gap_day(
    clinic, admissions, supervisor
):
    # given: Ana in from Nov 1, discharged Nov 5, back on Nov 6 (Nov 5 is a gap day); the payer
    # approved 14 days from Nov 1 through Nov 20
    house = ProgramFactory(clinic=clinic, level="residential", name="House")
    ana = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    with time_machine.travel(noon_in_new_york(TODAY), tick=False):
        first = enrollments.enrollment_create(
            actor=admissions, patient=ana, program=house, start_date=nov(1)
        )
        enrollments.enrollment_discharge(
            actor=admissions, enrollment=first, date=nov(5), reason="ama"
        )
        enrollments.enrollment_create(
            actor=admissions, patient=ana, program=house, start_date=nov(6)
        )
        authorization = AuthorizationFactory(
            enrollment=first,
            units_requested=14,
            start_date=nov(1),
            end_date=nov(20),
            approved=True,
            actor=admissions,
        )

    # then: Nov 1-4 and Nov 6-10 are used (9 days), 5 remain; 9 days in 10 is the pace, so
    # the 5 last ceil(5 × 10 / 9) = 6 days: they run out on Nov 16
    assert used(authorization, user=supervisor) == (9, 5, nov(10), nov(16))
    # the first day alone: one day used, one a day, 13 left from Nov 1
    assert used(authorization, user=supervisor, on=nov(1)) == (1, 13, nov(1), nov(14))
    # past the end, use stops at the end (Nov 1-4, 6-20: 19 days, none remaining); the
    # authorization is over, so nothing is projected
    assert used(authorization, user=supervisor, on=nov(25)) == (19, 0, nov(20), None)


def test_an_iop_patient_uses_the_sessions_attended_present_or_late(
    clinic, admissions, clinician, supervisor
):
    # given: Ben in the IOP from Mon Nov 2, a session each weekday at noon; 12 sessions
    # approved from Nov 3 through Dec 31
    iop = ProgramFactory(clinic=clinic, level="iop", name="Evening IOP")
    ben = PatientFactory(clinic=clinic, actor=admissions, first_name="Ben")
    days = [nov(d) for d in (2, 3, 4, 5, 6, 9, 10, 11)]
    with time_machine.travel(noon_in_new_york(nov(1)), tick=False):
        stay = enrollments.enrollment_create(
            actor=admissions, patient=ben, program=iop, start_date=nov(2)
        )
        sessions = {
            day: program_session_create(
                actor=clinician,
                clinic=clinic,
                program=iop,
                title="Group",
                kind="group",
                starts_at=noon_in_new_york(day),
                ends_at=noon_in_new_york(day) + datetime.timedelta(hours=3),
            )
            for day in days
        }
    attendance = {2: "present", 3: "absent", 4: "late", 5: "excused", 6: "present", 9: "present"}
    with time_machine.travel(noon_in_new_york(TODAY), tick=False):
        for day, status in attendance.items():
            calendar.attendance_record(
                actor=clinician, session=sessions[nov(day)], patient=ben, status=status
            )
        authorization = AuthorizationFactory(
            enrollment=stay,
            units_requested=12,
            start_date=nov(3),
            end_date=datetime.date(2026, 12, 31),
            approved=True,
            actor=admissions,
        )

    # then: Nov 2 is before the authorization, Nov 3 absent and Nov 5 excused do not count,
    # Nov 10 is not recorded yet: Nov 4 (late), 6 and 9 are 3 sessions in the 8 days from
    # Nov 3; the 9 left last ceil(9 × 8 / 3) = 24 days: Dec 4
    assert used(authorization, user=supervisor) == (3, 9, nov(10), datetime.date(2026, 12, 4))
    with time_machine.travel(noon_in_new_york(TODAY), tick=False):
        calendar.attendance_record(
            actor=clinician, session=sessions[nov(10)], patient=ben, status="present"
        )
    # 4 in 8 days: the 8 left last 16 days
    assert used(authorization, user=supervisor) == (4, 8, nov(10), nov(26))
    # at that pace through Dec 31 the 8 would outlast an end on Nov 25: no projection
    authorization.__class__.objects.filter(pk=authorization.pk).update(end_date=nov(25))
    assert used(authorization, user=supervisor) == (4, 8, nov(10), None)


def test_before_a_decision_or_any_use_nothing_is_projected(clinic, admissions, supervisor):
    with time_machine.travel(noon_in_new_york(TODAY), tick=False):
        requested = AuthorizationFactory(
            enrollment=EnrollmentFactory(program=ProgramFactory(clinic=clinic, level="iop")),
            actor=admissions,
        )
    # requested, nothing approved yet: used counts, no remaining, no projection
    assert used(requested, user=supervisor) == (0, None, TODAY, None)


def test_the_list_counts_in_one_query_whatever_the_page_size(clinic, admissions, supervisor):
    house = ProgramFactory(clinic=clinic, level="residential", name="House", capacity=30)
    iop = ProgramFactory(clinic=clinic, level="iop", name="IOP", capacity=30)

    def page_query_count(size: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            rows = list(authorization_list(user=supervisor, now=noon_in_new_york(TODAY))[:size])
        assert len(rows) == size
        return len(queries)

    with time_machine.travel(noon_in_new_york(nov(1)), tick=False):
        for program in [house, iop] * 5:
            patient = PatientFactory(clinic=clinic, actor=admissions)
            AuthorizationFactory(
                enrollment=EnrollmentFactory(program=program, patient=patient, actor=admissions),
                coverage=CoverageFactory(patient=patient, actor=admissions),
                approved=True,
                actor=admissions,
            )
    # the caller's clinics are read once and kept on the user; then one query per page
    assert page_query_count(1) == 2
    assert page_query_count(2) == page_query_count(10) == 1
