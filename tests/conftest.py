import pytest
from rest_framework.test import APIClient

from tests.factories import ClinicFactory, UserFactory, staff_user


@pytest.fixture(autouse=True)
def empty_channel_outbox():
    """The in-memory SMS/push outbox starts empty in every test (like Django's mail.outbox)."""
    from clinic.notifications import backends

    backends.clear()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def clinic(db):
    return ClinicFactory()


@pytest.fixture
def other_clinic(db):
    return ClinicFactory()


@pytest.fixture
def admissions(clinic):
    return staff_user(role="admissions", clinics=[clinic])


@pytest.fixture
def clinician(clinic):
    return staff_user(role="clinician", clinics=[clinic])


@pytest.fixture
def supervisor(clinic):
    return staff_user(role="supervisor", clinics=[clinic])


@pytest.fixture
def user_without_role(db):
    """An authenticated account with no staff role (what a patient's app account looks like)."""
    return UserFactory()


@pytest.fixture
def client_for(api_client):
    """``client_for(user)``: an API client authenticated as ``user`` (no token round trip)."""

    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make
