"""The fixtures the modules of admin/ share."""

import pytest

from clinic.models import Bed
from patients.models import Level
from programs.models import Enrollment, EnrollmentStatus
from tests.factories import PatientFactory, ProgramFactory, staff_user
from tests.programs.admin.helpers import enroll, log_in

# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def admissions_client(client, admissions):
    return log_in(client, admissions)


@pytest.fixture
def clinician_client(client, clinician):
    return log_in(client, clinician)


@pytest.fixture
def residential(clinic):
    return ProgramFactory(clinic=clinic, name="Riverside Residential", capacity=2)


@pytest.fixture
def iop(clinic):
    return ProgramFactory(
        clinic=clinic, name="Evening IOP", level=Level.IOP, capacity=10, track="evening"
    )


@pytest.fixture
def alvarez(admissions, clinic):
    return PatientFactory(clinic=clinic, actor=admissions, last_name="Alvarez", first_name="Maria")


@pytest.fixture
def brennan(admissions, clinic):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Thomas", last_name="Brennan")


@pytest.fixture
def stay(admissions, alvarez, residential):
    """Alvarez, admitted to the residential program today."""
    return enroll(admissions, alvarez, residential)


@pytest.fixture
def waitlisted(admissions, brennan, residential):
    """Brennan on the waitlist of the (then full) residential program."""
    admitted = Enrollment.objects.filter(program=residential, status=EnrollmentStatus.ADMITTED)
    residential.capacity = admitted.count() + 1
    residential.save(update_fields=["capacity"])
    other = PatientFactory(
        clinic=residential.clinic, actor=admissions, last_name="Occupant", first_name="Maria"
    )
    enroll(admissions, other, residential)
    entry = enroll(admissions, brennan, residential, waitlist=True)
    assert entry.status == EnrollmentStatus.WAITLISTED
    return entry


@pytest.fixture
def stranger_stay(other_clinic):
    """An admitted patient of another clinic, with a name that appears nowhere else."""
    staff = staff_user(role="admissions", clinics=[other_clinic])
    patient = PatientFactory(
        clinic=other_clinic, actor=staff, first_name="Zebulon", last_name="Quimbyfaraway"
    )
    program = ProgramFactory(clinic=other_clinic, name="Faraway Residential", capacity=2)
    return enroll(staff, patient, program)


# 5. Beds ------------------------------------------------------------------------------------------


@pytest.fixture
def beds(clinic, residential):
    first = Bed.objects.create(clinic=clinic, room="R1", label="A")
    second = Bed.objects.create(clinic=clinic, room="R1", label="B")
    residential.beds.add(first, second)
    return first, second
