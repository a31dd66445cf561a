"""The last place under concurrent holds and admissions (issue 28, item 4): a hold is made under
the program's lock, the one every admission takes, so of two requests for the last place the
second waits for the first and is refused; the last bed likewise."""

import pytest
import time_machine

from clinic.errors import Conflict
from programs.models import AdmissionHold, Enrollment, HoldStatus
from programs.services import enrollments
from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock
from tests.conftest import TUESDAY_10AM
from tests.factories import PatientFactory, ProgramFactory, staff_user
from tests.programs.admissions.holds import TODAY, days, residential_with_beds, schedule, verified


def race(first, second):
    """``first`` holds its transaction open while ``second`` runs; returns whether the second
    waited for a lock, the first's result and the second's error (None if it succeeded)."""
    with held_transaction(first) as result:
        contender = InThread(second).start()
        waited = someone_waits_for_a_lock()
    try:
        contender.join()
    except Conflict as error:
        return waited, result, error
    return waited, result, None


@pytest.fixture
def desk(clinic):
    return staff_user(role="admissions", clinics=[clinic])


@pytest.mark.django_db(transaction=True)
@time_machine.travel(TUESDAY_10AM, tick=False)
def test_of_a_hold_and_an_admission_for_the_last_place_the_hold_first_wins(clinic, desk):
    # given: a one-place program
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    inquiry = verified(clinic, desk)
    patient = PatientFactory(clinic=clinic)

    # when: the hold's transaction is open while the admission is asked for
    waited, hold, refusal = race(
        lambda: schedule(desk, inquiry, program, TODAY + days(1)),
        lambda: enrollments.enrollment_create(
            actor=desk, patient=patient, program=program, start_date=TODAY + days(2)
        ),
    )

    # then
    assert waited, "the admission did not wait for the hold's program lock"
    assert refusal is not None
    assert refusal.code == "program_full"
    assert list(AdmissionHold.objects.values_list("pk", "status")) == [(hold.pk, HoldStatus.HELD)]
    assert not Enrollment.objects.exists()


@pytest.mark.django_db(transaction=True)
@time_machine.travel(TUESDAY_10AM, tick=False)
def test_of_an_admission_and_a_hold_for_the_last_place_the_admission_first_wins(clinic, desk):
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    inquiry = verified(clinic, desk)
    patient = PatientFactory(clinic=clinic)

    waited, enrollment, refusal = race(
        lambda: enrollments.enrollment_create(
            actor=desk, patient=patient, program=program, start_date=TODAY
        ),
        lambda: schedule(desk, inquiry, program, TODAY + days(3)),
    )

    assert waited, "the hold did not wait for the admission's program lock"
    assert refusal is not None
    assert refusal.code == "program_full"
    assert list(Enrollment.objects.values_list("pk", flat=True)) == [enrollment.pk]
    assert not AdmissionHold.objects.exists()


@pytest.mark.django_db(transaction=True)
@time_machine.travel(TUESDAY_10AM, tick=False)
def test_of_two_holds_for_the_last_place_exactly_one_wins(clinic, desk):
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    first, second = verified(clinic, desk), verified(clinic, desk)

    waited, _hold, refusal = race(
        lambda: schedule(desk, first, program, TODAY),
        lambda: schedule(desk, second, program, TODAY),
    )

    assert waited
    assert refusal is not None
    assert refusal.code == "program_full"
    assert list(AdmissionHold.objects.values_list("inquiry_id", flat=True)) == [first.pk]


@pytest.mark.django_db(transaction=True)
@time_machine.travel(TUESDAY_10AM, tick=False)
def test_of_two_holds_for_the_last_free_bed_exactly_one_gets_it(clinic, desk):
    # given: places to spare but one bed
    program = residential_with_beds(clinic, capacity=5, beds=1)
    first, second = verified(clinic, desk), verified(clinic, desk)

    waited, hold, refusal = race(
        lambda: schedule(desk, first, program, TODAY),
        lambda: schedule(desk, second, program, TODAY),
    )

    assert waited
    assert refusal is not None
    assert refusal.code == "no_free_bed"
    assert list(AdmissionHold.objects.values_list("inquiry_id", "bed_id")) == [
        (first.pk, hold.bed_id)
    ]
