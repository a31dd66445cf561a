"""The fixtures the modules of activation/ share."""

import pytest

from tests.factories import PatientFactory
from tests.patients.activation.helpers import BIRTH, issue


@pytest.fixture
def patient(clinic, admissions):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Robin",
        last_name="Okafor",
        date_of_birth=BIRTH,
        reachable=True,
        phone="",
        reminder_channels=[],
    )


@pytest.fixture
def staff(client_for, admissions):
    return client_for(admissions)


@pytest.fixture
def code(staff, patient):
    response = issue(staff, patient)
    assert response.status_code == 201
    return response.json()["activation_code"]
