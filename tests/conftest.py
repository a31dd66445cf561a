import datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from tests.factories import ClinicFactory, ProgramFactory, UserFactory, staff_user


def pytest_addoption(parser):
    parser.addoption(
        "--clock-shift-days",
        type=int,
        default=0,
        help="Run the suite with Python's clock moved this many days from the real date (the "
        "database's stays real): a test that depends on the real date, or code that mixes the "
        "two clocks, fails. Tests that freeze time still do.",
    )


# The suite's usual moment: Tuesday 2026-12-01, 10:00 in New York (the clinics' zone).
TUESDAY_10AM = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True, scope="session")
def shifted_clock(request):
    days = request.config.getoption("--clock-shift-days")
    if not days:
        yield
        return
    moved = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
    with time_machine.travel(moved, tick=True):
        yield


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
def frozen_time():
    """Python's clock stopped at ``TUESDAY_10AM`` for the test."""
    with time_machine.travel(TUESDAY_10AM, tick=False):
        yield TUESDAY_10AM


@pytest.fixture
def iop(clinic):
    """A ten-seat IOP named "Evening IOP" (no track set), with the level's cadence defaults."""
    return ProgramFactory(clinic=clinic, level="iop", name="Evening IOP", capacity=10)


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


@pytest.fixture
def send_due_reminders(django_capture_on_commit_callbacks):
    """``send_due_reminders()``: what beat and a worker do, in-process (dispatch wakes drains,
    each drain claims and sends due rows); returns every claimed row's outcome."""
    from scheduling import reminders

    def send():
        wakes = []
        with django_capture_on_commit_callbacks(execute=True):
            reminders.dispatch(lambda: wakes.append(1))
        return sorted(status for _ in wakes for status in reminders.drain().values())

    return send
