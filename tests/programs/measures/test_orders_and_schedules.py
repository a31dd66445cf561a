"""Clinicians' orders of CIWA-Ar and COWS in a stay, and supervisors' schedules of a program;
and the rules of what is due they drive (``measures_due``)."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError

from clinic.errors import Conflict
from programs.models import MeasureOrder, MeasureSchedule
from programs.selectors import measures_due
from programs.services.measures import (
    measure_order_start,
    measure_order_stop,
    measure_schedule_delete,
    measure_schedule_save,
)
from tests.conftest import TUESDAY_10AM
from tests.factories import EnrollmentFactory, MeasureResponseFactory, ProgramFactory, staff_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

TODAY = datetime.date(2026, 12, 1)


def due_of(stay, now=TUESDAY_10AM):
    return {d.instrument: d for d in measures_due([stay], now=now)[stay.pk]}


@pytest.fixture
def stay(clinic):
    return EnrollmentFactory(program=ProgramFactory(clinic=clinic, residential=True))


# Orders -------------------------------------------------------------------------------------------


def test_an_order_is_due_at_once_and_no_longer_once_stopped(stay, clinician):
    order = measure_order_start(
        actor=clinician, enrollment=stay, instrument="ciwa_ar", every_hours=4
    )

    assert (order.ordered_by, order.ordered_at) == (clinician, TUESDAY_10AM)
    assert due_of(stay)["ciwa_ar"].reason == "order"

    stopped = measure_order_stop(actor=clinician, order=order)

    assert (stopped.stopped_by, stopped.stopped_at) == (clinician, TUESDAY_10AM)
    assert "ciwa_ar" not in due_of(stay)
    with pytest.raises(Conflict) as refused:
        measure_order_stop(actor=clinician, order=order)
    assert refused.value.code == "invalid_state"


def test_one_running_order_per_instrument_and_stay(stay, supervisor):
    measure_order_start(actor=supervisor, enrollment=stay, instrument="cows", every_hours=6)

    with pytest.raises(Conflict) as refused:
        measure_order_start(actor=supervisor, enrollment=stay, instrument="cows", every_hours=2)

    assert refused.value.code == "order_running"
    assert MeasureOrder.objects.count() == 1


def test_an_order_needs_an_admitted_stay_a_rated_instrument_and_1_to_24_hours(
    clinic, stay, clinician
):
    discharged = EnrollmentFactory(program=stay.program, discharged=True)
    with pytest.raises(Conflict) as refused:
        measure_order_start(
            actor=clinician, enrollment=discharged, instrument="cows", every_hours=6
        )
    assert refused.value.code == "invalid_state"
    with pytest.raises(ValidationError):
        measure_order_start(actor=clinician, enrollment=stay, instrument="phq9", every_hours=6)
    with pytest.raises(ValidationError) as refused:
        measure_order_start(actor=clinician, enrollment=stay, instrument="cows", every_hours=25)
    assert "__all__" in refused.value.message_dict or "every_hours" in refused.value.message_dict
    assert not MeasureOrder.objects.exists()


@pytest.mark.parametrize("role", ["admissions", "utilization_review"])
def test_only_clinicians_and_supervisors_of_the_clinic_order(clinic, other_clinic, stay, role):
    for actor in (
        staff_user(role=role, clinics=[clinic]),
        staff_user(role="clinician", clinics=[other_clinic]),
    ):
        with pytest.raises(PermissionDenied):
            measure_order_start(actor=actor, enrollment=stay, instrument="cows", every_hours=6)


# Schedules ----------------------------------------------------------------------------------------


def test_a_supervisor_schedules_changes_and_removes_a_measure(clinic, supervisor):
    program = ProgramFactory(clinic=clinic, php=True)

    audit = measure_schedule_save(
        actor=supervisor, program=program, instrument="audit_c", every_days=30
    )
    stay = EnrollmentFactory(program=program)
    assert "audit_c" not in due_of(stay)  # every 30 days from the start
    assert due_of(stay, TUESDAY_10AM + datetime.timedelta(days=30))["audit_c"].reason == "periodic"

    changed = measure_schedule_save(
        actor=supervisor,
        program=program,
        instrument="audit_c",
        at_admission=True,
        schedule=audit,
    )
    assert (changed.pk, changed.at_admission, changed.every_days) == (audit.pk, True, None)
    assert due_of(stay)["audit_c"].reason == "admission"

    measure_schedule_delete(actor=supervisor, schedule=changed)
    assert "audit_c" not in due_of(stay)


def test_a_schedule_that_never_falls_due_or_repeats_out_of_range_is_a_400(clinic, supervisor):
    program = ProgramFactory(clinic=clinic, php=True)

    with pytest.raises(ValidationError):
        measure_schedule_save(actor=supervisor, program=program, instrument="audit_c")
    with pytest.raises(ValidationError):
        measure_schedule_save(
            actor=supervisor, program=program, instrument="audit_c", every_days=400
        )
    with pytest.raises(ValidationError):
        measure_schedule_save(actor=supervisor, program=program, instrument="bam", by_order=True)
    assert not MeasureSchedule.objects.filter(program=program, instrument="audit_c").exists()


def test_a_second_schedule_of_an_instrument_is_refused_by_the_database(clinic, supervisor):
    program = ProgramFactory(clinic=clinic, php=True)

    with pytest.raises(IntegrityError) as refused:
        measure_schedule_save(actor=supervisor, program=program, instrument="phq9", every_days=7)

    assert "measure_schedule_once_per_program" in str(refused.value)


def test_only_supervisors_set_schedules(clinic, clinician, other_clinic):
    program = ProgramFactory(clinic=clinic, php=True)
    outsider = staff_user(role="supervisor", clinics=[other_clinic])

    for actor in (clinician, outsider):
        with pytest.raises(PermissionDenied):
            measure_schedule_save(actor=actor, program=program, instrument="bam", every_days=30)
        with pytest.raises(PermissionDenied):
            measure_schedule_delete(actor=actor, schedule=program.measure_schedules.first())


# What is due, by hand -----------------------------------------------------------------------------


def test_overdue_three_days_past_due(clinic):
    program = ProgramFactory(clinic=clinic, php=True)
    stay = EnrollmentFactory(program=program, start_date=TODAY - datetime.timedelta(days=2))
    MeasureResponseFactory(enrollment=stay, instrument="gad7")

    assert due_of(stay)["phq9"].overdue is False
    assert due_of(stay, TUESDAY_10AM + datetime.timedelta(days=1))["phq9"].overdue is True


def test_a_discharged_stay_has_nothing_due(clinic):
    stay = EnrollmentFactory(program=ProgramFactory(clinic=clinic, php=True), discharged=True)

    assert measures_due([stay], now=TUESDAY_10AM) == {stay.pk: []}


def test_a_response_of_another_stay_does_not_satisfy(clinic):
    first = EnrollmentFactory(program=ProgramFactory(clinic=clinic, php=True))
    MeasureResponseFactory(enrollment=first, instrument="phq9")
    second = EnrollmentFactory(
        program=ProgramFactory(clinic=clinic, iop=True), patient=first.patient
    )

    assert "phq9" not in due_of(first)
    assert due_of(second)["phq9"].reason == "admission"
