"""The factories build only states the product reaches, through its services."""

import pytest

from clinic.models import AuditEvent
from programs.models import EnrollmentStatus, Level
from tests.factories import (
    ConsentFactory,
    ContactFactory,
    EnrollmentFactory,
    PatientFactory,
    ProgramFactory,
    SeriesFactory,
    SessionFactory,
)

pytestmark = pytest.mark.django_db


def test_a_patient_is_registered_with_an_mrn_and_an_audit_row(clinic, admissions):
    patient = PatientFactory(clinic=clinic, actor=admissions, reachable=True)

    assert patient.mrn
    assert patient.reminder_channels == ["email", "sms"]
    assert patient.email
    assert patient.phone
    assert AuditEvent.objects.filter(actor=admissions, object_id=str(patient.pk)).exists()


def test_contacts_and_consents_belong_to_the_patient(clinic):
    patient = PatientFactory(clinic=clinic)

    assert ContactFactory(patient=patient).patient == patient
    assert ConsentFactory(patient=patient).patient == patient


@pytest.mark.parametrize("level", list(Level))
def test_each_level_starts_from_its_defaults(clinic, level):
    program = ProgramFactory(clinic=clinic, **{level: True})

    assert program.level == level
    assert program.capacity > 0


def test_an_override_wins_over_the_level_defaults(clinic):
    program = ProgramFactory(clinic=clinic, iop=True, sessions_per_week_min=4)

    assert (program.sessions_per_week_min, program.session_hours_min) == (4, 3)


def test_enrollments_reach_their_states_through_the_services(clinic):
    program = ProgramFactory(clinic=clinic, capacity=1)

    admitted = EnrollmentFactory(program=program)
    waitlisted = EnrollmentFactory(program=program, waitlisted=True)
    discharged = EnrollmentFactory(discharged=True)

    assert admitted.status == EnrollmentStatus.ADMITTED
    assert admitted.patient.clinic == clinic
    assert waitlisted.status == EnrollmentStatus.WAITLISTED
    assert discharged.status == EnrollmentStatus.DISCHARGED
    assert list(discharged.status_changes.values_list("to_status", flat=True)) == [
        "admitted",
        "discharged",
    ]


def test_a_waitlisted_enrollment_needs_a_full_program(clinic):
    with pytest.raises(ValueError, match="free place"):
        EnrollmentFactory(program=ProgramFactory(clinic=clinic), waitlisted=True)


def test_sessions_and_series_are_made_by_the_scheduling_services(clinic):
    session = SessionFactory(clinic=clinic, hours=2)
    series = SeriesFactory(clinic=clinic)

    assert (session.ends_at - session.starts_at).total_seconds() == 2 * 3600
    assert series.weekdays == [1, 3, 5]
