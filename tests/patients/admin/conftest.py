"""The fixtures the modules of admin/ share."""

import datetime

import pytest

from tests.factories import PatientFactory, staff_user
from tests.patients.admin.helpers import log_in, make_assessment

# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def admissions_client(client, admissions):
    return log_in(client, admissions)


@pytest.fixture
def clinician_client(client, clinician):
    return log_in(client, clinician)


@pytest.fixture
def alvarez(admissions, clinic):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Maria",
        last_name="Alvarez",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )


@pytest.fixture
def brennan(admissions, clinic):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Thomas",
        last_name="Brennan",
        date_of_birth=datetime.date(1972, 11, 30),
        email="",
        phone="+12025550177",
        reminder_channels=[],
    )


@pytest.fixture
def stranger(other_clinic):
    """A patient of another clinic, with a name that appears nowhere else."""
    other_staff = staff_user(role="admissions", clinics=[other_clinic])
    return PatientFactory(
        clinic=other_clinic,
        actor=other_staff,
        first_name="Zebulon",
        last_name="Quimbyfaraway",
        date_of_birth=datetime.date(1984, 3, 7),
        email="zq@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )


@pytest.fixture
def assessment(clinician, alvarez):
    return make_assessment(clinician, alvarez)
