"""Measurement-based care's ground (issue 24): programs' default schedules, responses kept
append-only by the database, and what is due (``programs.selectors.measures_due``)."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from programs.models import MeasureOrder, MeasureResponse, MeasureSchedule
from programs.selectors import measures_due
from tests.conftest import TUESDAY_10AM
from tests.factories import EnrollmentFactory, MeasureResponseFactory, ProgramFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

TODAY = datetime.date(2026, 12, 1)  # the clinic's date at TUESDAY_10AM (New York)


def days(n):
    return datetime.timedelta(days=n)


def due_of(enrollment, now=TUESDAY_10AM):
    return {d.instrument: d for d in measures_due([enrollment], now=now)[enrollment.pk]}


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("residential", {"phq9", "gad7", "ciwa_ar", "cows"}),
        ("php", {"phq9", "gad7"}),
        ("iop", {"phq9", "gad7", "bam"}),
        ("outpatient", {"phq9", "gad7", "bam"}),
    ],
)
def test_a_new_program_starts_with_its_levels_schedules(clinic, level, expected):
    program = ProgramFactory(clinic=clinic, **{level: True})

    schedules = {s.instrument: s for s in program.measure_schedules.all()}

    assert set(schedules) == expected
    assert (schedules["phq9"].at_admission, schedules["phq9"].every_days) == (True, 14)
    assert all(schedules[code].by_order for code in expected & {"ciwa_ar", "cows"})


def test_a_schedule_says_when_and_the_database_refuses_one_that_never_falls_due(clinic):
    program = ProgramFactory(clinic=clinic, outpatient=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        MeasureSchedule.objects.create(program=program, instrument="audit_c")


def test_a_response_is_append_only(clinic):
    response = MeasureResponseFactory(
        enrollment=EnrollmentFactory(program=ProgramFactory(clinic=clinic, iop=True)), total=7
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        MeasureResponse.objects.filter(pk=response.pk).update(total=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        MeasureResponse.objects.filter(pk=response.pk).delete()
    MeasureResponse.objects.filter(pk=response.pk).update(alert=None)  # the one link allowed


def test_a_response_names_its_stays_patient(clinic):
    stay = EnrollmentFactory(program=ProgramFactory(clinic=clinic, iop=True))
    other = EnrollmentFactory(program=stay.program)

    with pytest.raises(IntegrityError), transaction.atomic():
        MeasureResponseFactory(enrollment=stay, patient=other.patient)


def test_at_admission_due_from_the_start_until_answered_then_every_14_days(clinic):
    stay = EnrollmentFactory(program=ProgramFactory(clinic=clinic, php=True))

    due = due_of(stay)
    assert set(due) == {"phq9", "gad7"}
    assert (due["phq9"].due_on, due["phq9"].reason, due["phq9"].overdue) == (
        TODAY,
        "admission",
        False,
    )

    MeasureResponseFactory(enrollment=stay, instrument="phq9", total=12)
    assert set(due_of(stay)) == {"gad7"}

    later = TUESDAY_10AM + days(14)
    assert due_of(stay, later)["phq9"].due_on == TODAY + days(14)
    assert due_of(stay, later)["phq9"].reason == "periodic"
    assert due_of(stay, later)["gad7"].overdue  # due since admission, 14 days ago


def test_at_discharge_due_two_days_before_the_planned_end(clinic):
    program = ProgramFactory(clinic=clinic, php=True)
    program.measure_schedules.update(every_days=None)  # at admission and discharge only
    stay = EnrollmentFactory(program=program)
    for instrument in ("phq9", "gad7"):
        MeasureResponseFactory(enrollment=stay, instrument=instrument)
    window = stay.planned_end_date - days(2)
    before = datetime.datetime.combine(window - days(1), datetime.time(15), tzinfo=datetime.UTC)
    on = datetime.datetime.combine(window, datetime.time(15), tzinfo=datetime.UTC)

    assert due_of(stay, before) == {}
    assert due_of(stay, on)["phq9"].reason == "discharge"


def test_an_ordered_instrument_is_due_at_once_then_every_so_many_hours(clinic, clinician):
    stay = EnrollmentFactory(program=ProgramFactory(clinic=clinic, residential=True))
    for instrument in ("phq9", "gad7"):
        MeasureResponseFactory(enrollment=stay, instrument=instrument)
    MeasureOrder.objects.create(
        enrollment=stay,
        instrument="ciwa_ar",
        every_hours=4,
        ordered_by=clinician,
        ordered_at=TUESDAY_10AM,
    )

    assert due_of(stay)["ciwa_ar"].due_at == TUESDAY_10AM
    MeasureResponseFactory(enrollment=stay, instrument="ciwa_ar", total=12)
    assert "ciwa_ar" not in due_of(stay, TUESDAY_10AM + datetime.timedelta(hours=3))
    due = due_of(stay, TUESDAY_10AM + datetime.timedelta(hours=5, minutes=30))["ciwa_ar"]
    assert (due.due_at, due.reason, due.overdue) == (
        TUESDAY_10AM + datetime.timedelta(hours=4),
        "order",
        True,
    )


def test_what_is_due_for_a_page_of_stays_takes_three_queries(clinic, django_assert_num_queries):
    program = ProgramFactory(clinic=clinic, iop=True)
    stays = [EnrollmentFactory(program=program) for _ in range(3)]
    for stay in stays:
        MeasureResponseFactory(enrollment=stay, instrument="bam")
    stays = list(
        type(stays[0])
        .objects.filter(pk__in=[s.pk for s in stays])
        .select_related("program__clinic")
    )

    with django_assert_num_queries(3):
        due = measures_due(stays, now=TUESDAY_10AM)

    assert all({d.instrument for d in due[s.pk]} == {"phq9", "gad7"} for s in stays)
