"""Converting a scheduled inquiry (issue 28, items 3 and 4): the person registered (or the
patient linked), admitted into the held place and bed, the verified benefits made their
coverage, the hold and the inquiry closed: in one transaction, all or nothing."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from clinic.errors import Conflict
from patients.models import Patient
from programs.models import (
    AdmissionHold,
    BedAssignment,
    Coverage,
    Enrollment,
    HoldStatus,
    InquiryStatus,
)
from programs.services import admission_holds
from tests.conftest import TUESDAY_10AM
from tests.factories import CoverageFactory, PatientFactory, PayerFactory, ProgramFactory
from tests.programs.admissions.holds import (
    TODAY,
    days,
    residential_with_beds,
    schedule,
    verified,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

BIRTH = datetime.date(1991, 3, 14)


def scheduled(clinic, admissions, program, admission_date=TODAY, **fields):
    inquiry = verified(
        clinic,
        admissions,
        first_name=fields.pop("first_name", "Jamie"),
        last_name=fields.pop("last_name", "Ortiz"),
        date_of_birth=fields.pop("date_of_birth", BIRTH),
        **fields,
    )
    hold = schedule(admissions, inquiry, program, admission_date)
    return inquiry, hold


def convert(admissions, inquiry, **kwargs):
    return admission_holds.inquiry_convert(
        actor=admissions, inquiry=inquiry, now=kwargs.pop("now", TUESDAY_10AM), **kwargs
    )


def nothing_written(inquiry, hold):
    inquiry.refresh_from_db()
    hold.refresh_from_db()
    return (
        inquiry.status == InquiryStatus.SCHEDULED
        and inquiry.patient_id is None
        and hold.status == HoldStatus.HELD
        and not Enrollment.objects.exists()
        and not BedAssignment.objects.exists()
        and not Coverage.objects.exists()
        and not Patient.objects.filter(first_name="Jamie").exists()
    )


def test_the_person_is_registered_and_admitted_into_the_last_place(clinic, admissions):
    # given: a one-place program whose place is held for the inquiry
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    inquiry, hold = scheduled(clinic, admissions, program, phone="202 555 0143")

    # when
    enrollment = convert(admissions, inquiry)

    # then
    patient = enrollment.patient
    assert (patient.first_name, patient.last_name, patient.date_of_birth, patient.phone) == (
        "Jamie",
        "Ortiz",
        BIRTH,
        "+12025550143",
    )
    assert (enrollment.status, enrollment.program, enrollment.start_date) == (
        "admitted",
        program,
        TODAY,
    )
    hold.refresh_from_db()
    inquiry.refresh_from_db()
    assert (hold.status, hold.enrollment, hold.closed_at) == (
        HoldStatus.CONVERTED,
        enrollment,
        TUESDAY_10AM,
    )
    assert (inquiry.status, inquiry.patient, inquiry.enrollment) == (
        InquiryStatus.ADMITTED,
        patient,
        enrollment,
    )
    assert inquiry.status_changes.last().to_status == InquiryStatus.ADMITTED


def test_the_latest_eligible_verification_becomes_the_coverage(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry, _hold = scheduled(clinic, admissions, program)
    verification = inquiry.verifications.get()

    enrollment = convert(admissions, inquiry)

    coverage = Coverage.objects.get(patient=enrollment.patient)
    assert (coverage.payer, coverage.member_id, coverage.priority, coverage.start_date) == (
        verification.payer,
        verification.member_id,
        "primary",
        TODAY,
    )
    assert coverage.end_date is None


def test_an_existing_patient_is_linked_instead_of_registered(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry, _hold = scheduled(clinic, admissions, program, date_of_birth=None)
    patient = PatientFactory(clinic=clinic)

    enrollment = convert(admissions, inquiry, patient=patient)

    assert enrollment.patient == patient
    assert Patient.objects.count() == 1
    inquiry.refresh_from_db()
    assert inquiry.patient == patient


def test_a_possible_duplicate_is_refused_with_its_ids_unless_allowed(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry, hold = scheduled(clinic, admissions, program, allow_duplicate=True)
    twin = PatientFactory(clinic=clinic, first_name="jamie", last_name="ORTIZ", date_of_birth=BIRTH)

    with pytest.raises(Conflict) as refused:
        convert(admissions, inquiry)

    assert refused.value.code == "possible_duplicate"
    assert refused.value.extra == {"duplicates": [twin.pk]}
    assert nothing_written(inquiry, hold)
    enrollment = convert(admissions, inquiry, allow_duplicate=True)
    assert enrollment.patient != twin


def test_the_held_bed_is_assigned(clinic, admissions):
    program = residential_with_beds(clinic, capacity=2, beds=2)
    inquiry, hold = scheduled(clinic, admissions, program)

    enrollment = convert(admissions, inquiry)

    assignment = BedAssignment.objects.get(enrollment=enrollment)
    assert (assignment.bed, assignment.start_date, assignment.end_date) == (hold.bed, TODAY, None)


def test_a_failure_midway_leaves_nothing_written(clinic, admissions, monkeypatch):
    # given: a conversion that fails after the patient, the admission and the bed are written
    program = residential_with_beds(clinic, capacity=2, beds=1)
    inquiry, hold = scheduled(clinic, admissions, program)

    def payer_refuses(*args, **kwargs):
        assert Enrollment.objects.exists()
        assert BedAssignment.objects.exists()
        raise Conflict("The payer's line is down.", code="test_failure")

    monkeypatch.setattr(admission_holds, "coverage_create", payer_refuses)

    # when
    with pytest.raises(Conflict):
        convert(admissions, inquiry)

    # then
    assert nothing_written(inquiry, hold)


def test_admission_is_on_or_after_the_date_and_through_the_last_day(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True, admission_hold_grace_days=1)
    inquiry, _hold = scheduled(clinic, admissions, program, TODAY + days(1))

    with pytest.raises(Conflict) as early:
        convert(admissions, inquiry)
    with pytest.raises(Conflict) as late:
        convert(admissions, inquiry, now=TUESDAY_10AM + days(3))
    enrollment = convert(admissions, inquiry, now=TUESDAY_10AM + days(2))

    assert (early.value.code, late.value.code) == ("admission_not_due", "hold_lapsed")
    assert enrollment.start_date == TODAY + days(2)


def test_only_a_scheduled_inquiry_is_converted(clinic, admissions):
    inquiry = verified(clinic, admissions, date_of_birth=BIRTH)

    with pytest.raises(Conflict) as refused:
        convert(admissions, inquiry)

    assert refused.value.code == "invalid_state"


def test_a_new_registration_needs_the_birth_date_and_a_link_the_clinics_patient(
    clinic, other_clinic, admissions
):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry, _hold = scheduled(clinic, admissions, program, date_of_birth=None)

    with pytest.raises(ValidationError) as no_birth_date:
        convert(admissions, inquiry)
    with pytest.raises(ValidationError) as elsewhere:
        convert(admissions, inquiry, patient=PatientFactory(clinic=other_clinic))

    assert "date_of_birth" in no_birth_date.value.message_dict
    assert "patient" in elsewhere.value.message_dict
    assert AdmissionHold.objects.get().status == HoldStatus.HELD


def test_another_primary_coverage_on_file_is_a_conflict(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry, hold = scheduled(clinic, admissions, program, date_of_birth=None)
    patient = PatientFactory(clinic=clinic)
    CoverageFactory(patient=patient, payer=PayerFactory(clinic=clinic), start_date=TODAY)

    with pytest.raises(Conflict) as refused:
        convert(admissions, inquiry, patient=patient)

    assert refused.value.code == "primary_coverage_on_file"
    hold.refresh_from_db()
    assert hold.status == HoldStatus.HELD
    assert not Enrollment.objects.exists()
