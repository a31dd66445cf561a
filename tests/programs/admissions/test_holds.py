"""Scheduling an admission (issue 28, item 4): a held place (a bed in a program with beds) from
the admission date, counted by the one count of free places and by the census as reserved;
rescheduling; the refusals."""

import pytest
from django.core.exceptions import ValidationError

from clinic.errors import Conflict
from clinic.models import AuditAction, AuditEvent, Bed
from programs import reports
from programs.models import AdmissionHold, HoldStatus, InquiryStatus
from programs.selectors import program_free_places, program_places
from programs.services import admission_holds, enrollments
from tests.conftest import TUESDAY_10AM
from tests.factories import EnrollmentFactory, InquiryFactory, PatientFactory, ProgramFactory
from tests.programs.admissions.holds import (
    TODAY,
    days,
    residential_with_beds,
    schedule,
    verified,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]


def test_scheduling_holds_a_place_until_the_grace_days_past_the_date(clinic, admissions):
    # given
    program = ProgramFactory(clinic=clinic, outpatient=True, admission_hold_grace_days=2)
    inquiry = verified(clinic, admissions)

    # when
    hold = schedule(admissions, inquiry, program, TODAY + days(3))

    # then
    inquiry.refresh_from_db()
    assert (hold.status, hold.admission_date, hold.lapses_on) == (
        HoldStatus.HELD,
        TODAY + days(3),
        TODAY + days(5),
    )
    assert (hold.bed, hold.created_by, hold.created_at) == (None, admissions, TUESDAY_10AM)
    assert (inquiry.status, inquiry.program) == (InquiryStatus.SCHEDULED, program)
    assert inquiry.status_changes.last().to_status == InquiryStatus.SCHEDULED
    audit = AuditEvent.objects.get(object_type="programs.admissionhold", object_id=str(hold.pk))
    assert (audit.action, audit.actor, audit.clinic_id) == (
        AuditAction.CREATE,
        admissions,
        clinic.pk,
    )


def test_a_held_place_is_taken_from_its_date_on_but_no_one_is_present_yet(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=3)
    schedule(admissions, verified(clinic, admissions), program, TODAY)
    hold = schedule(admissions, verified(clinic, admissions), program, TODAY + days(7))

    places = program_places([program])[program.pk]

    assert places == {"active_count": 0, "free_places": 1}
    assert program_free_places(program, TODAY + days(7)) == 1
    # The place of the hold being converted is free for its own admission.
    assert program_free_places(program, TODAY + days(7), for_hold=hold) == 2


def test_a_full_program_refuses_the_hold_and_a_hold_fills_the_program(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    schedule(admissions, verified(clinic, admissions), program, TODAY + days(2))
    patient = PatientFactory(clinic=clinic)

    with pytest.raises(Conflict) as hold_refused:
        schedule(admissions, verified(clinic, admissions), program, TODAY + days(5))
    # An admission before the hold's date would still be there on it: refused too.
    with pytest.raises(Conflict) as admission_refused:
        enrollments.enrollment_create(
            actor=admissions, patient=patient, program=program, start_date=TODAY
        )

    assert hold_refused.value.code == "program_full"
    assert admission_refused.value.code == "program_full"
    waitlisted = enrollments.enrollment_create(
        actor=admissions, patient=patient, program=program, start_date=TODAY, waitlist=True
    )
    assert waitlisted.status == "waitlisted"


def test_rescheduling_releases_the_previous_hold_in_the_same_transaction(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    inquiry = verified(clinic, admissions)
    first = schedule(admissions, inquiry, program, TODAY + days(1))

    # The program's one place is the inquiry's own: moving the date is allowed.
    second = schedule(admissions, inquiry, program, TODAY + days(4))

    first.refresh_from_db()
    assert (first.status, first.closed_at) == (HoldStatus.RELEASED, TUESDAY_10AM)
    assert (second.status, second.admission_date) == (HoldStatus.HELD, TODAY + days(4))
    assert list(inquiry.status_changes.values_list("to_status", flat=True)) == [
        "new",
        "screening",
        "verifying",
        "scheduled",
    ]
    assert AdmissionHold.objects.filter(inquiry=inquiry, status=HoldStatus.HELD).count() == 1


@pytest.mark.parametrize("status", ["new", "screening"])
def test_an_inquiry_is_scheduled_once_its_benefits_are_verified(clinic, admissions, status):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry = InquiryFactory(clinic=clinic, actor=admissions, status=status)

    with pytest.raises(Conflict) as refused:
        schedule(admissions, inquiry, program)

    assert refused.value.code == "invalid_state"
    assert not AdmissionHold.objects.exists()


def test_a_closed_inquiry_is_not_scheduled(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry = verified(clinic, admissions)
    admission_holds.inquiry_close(actor=admissions, inquiry=inquiry, reason="chose_elsewhere")

    with pytest.raises(Conflict) as refused:
        schedule(admissions, inquiry, program)

    assert refused.value.code == "invalid_state"


def test_the_date_and_the_program_are_checked(clinic, other_clinic, admissions):
    inquiry = verified(clinic, admissions)
    program = ProgramFactory(clinic=clinic, outpatient=True)

    with pytest.raises(ValidationError) as past:
        schedule(admissions, inquiry, program, TODAY - days(1))
    with pytest.raises(ValidationError) as elsewhere:
        schedule(admissions, inquiry, ProgramFactory(clinic=other_clinic, outpatient=True))
    program.is_active = False
    program.save(update_fields=["is_active"])
    with pytest.raises(ValidationError) as closed:
        schedule(admissions, inquiry, program)

    assert "admission_date" in past.value.message_dict
    assert "program" in elsewhere.value.message_dict
    assert "program" in closed.value.message_dict
    assert not AdmissionHold.objects.exists()


# Beds ---------------------------------------------------------------------------------------------


def test_a_program_with_beds_holds_its_first_free_bed(clinic, admissions):
    program = residential_with_beds(clinic, capacity=3, beds=2)
    first_bed, second_bed = program.beds.order_by("label")
    occupant = EnrollmentFactory(program=program, start_date=TODAY)
    enrollments.bed_assign(actor=admissions, enrollment=occupant, bed=first_bed)

    hold = schedule(admissions, verified(clinic, admissions), program, TODAY + days(1))

    assert hold.bed == second_bed


def test_a_named_bed_must_be_the_programs_and_free(clinic, admissions):
    program = residential_with_beds(clinic, capacity=4, beds=2)
    first_bed, second_bed = program.beds.order_by("label")
    occupant = EnrollmentFactory(program=program, start_date=TODAY)
    enrollments.bed_assign(actor=admissions, enrollment=occupant, bed=first_bed)
    schedule(admissions, verified(clinic, admissions), program, TODAY, bed=second_bed)
    stranger = Bed.objects.create(clinic=clinic, room="Z", label="9")

    with pytest.raises(Conflict) as taken:
        schedule(admissions, verified(clinic, admissions), program, bed=first_bed)
    with pytest.raises(Conflict) as held:
        schedule(admissions, verified(clinic, admissions), program, bed=second_bed)
    with pytest.raises(Conflict) as none_free:
        schedule(admissions, verified(clinic, admissions), program)
    with pytest.raises(ValidationError) as not_its:
        schedule(admissions, verified(clinic, admissions), program, bed=stranger)

    assert (taken.value.code, held.value.code, none_free.value.code) == (
        "bed_taken",
        "bed_held",
        "no_free_bed",
    )
    assert "bed" in not_its.value.message_dict


def test_the_database_backs_the_one_hold_per_bed_up(clinic, admissions, monkeypatch):
    program = residential_with_beds(clinic, capacity=4, beds=1)
    (bed,) = program.beds.all()
    schedule(admissions, verified(clinic, admissions), program, bed=bed)
    # As if the check had run before the other hold was committed.
    monkeypatch.setattr(admission_holds, "_bed_free", lambda *args, **kwargs: "")

    with pytest.raises(Conflict) as refused:
        schedule(admissions, verified(clinic, admissions), program, bed=bed)

    assert refused.value.code == "bed_held"
    assert AdmissionHold.objects.count() == 1


def test_a_held_bed_is_not_assigned_to_another_patient(clinic, admissions):
    program = residential_with_beds(clinic, capacity=4, beds=1)
    (bed,) = program.beds.all()
    schedule(admissions, verified(clinic, admissions), program, TODAY + days(3), bed=bed)
    other = EnrollmentFactory(program=program, start_date=TODAY)

    with pytest.raises(Conflict) as refused:
        enrollments.bed_assign(actor=admissions, enrollment=other, bed=bed)

    assert refused.value.code == "bed_held"


def test_a_rescheduled_admission_keeps_its_bed(clinic, admissions):
    program = residential_with_beds(clinic, capacity=4, beds=2)
    second_bed = program.beds.order_by("label").last()
    inquiry = verified(clinic, admissions)
    schedule(admissions, inquiry, program, TODAY, bed=second_bed)

    moved = schedule(admissions, inquiry, program, TODAY + days(2))

    assert moved.bed == second_bed


# The census ---------------------------------------------------------------------------------------


def test_the_census_counts_a_live_hold_as_reserved_from_its_date(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=3)
    schedule(admissions, verified(clinic, admissions), program, TODAY + days(2))
    released = verified(clinic, admissions)
    schedule(admissions, released, program, TODAY + days(1))
    admission_holds.inquiry_close(actor=admissions, inquiry=released, reason="no_coverage")

    (row,) = reports.census(
        user=admissions, start=TODAY, end=TODAY + days(3), programs_queryset=[program]
    )

    assert [(day["reserved"], day["free"], day["admitted"]) for day in row["days"]] == [
        (0, 3, 0),
        (0, 3, 0),
        (1, 2, 0),
        (1, 2, 0),
    ]
