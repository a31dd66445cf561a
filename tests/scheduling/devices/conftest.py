"""The fixtures the modules of devices/ share."""

import datetime

import pytest
import time_machine

from programs.services import enrollments
from scheduling.models import Reminder
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, app_account, client_of
from tests.scheduling.devices.helpers import DUE, SESSION_START, FakePushBackend, frozen


@pytest.fixture(autouse=True)
def fake_push(settings):
    settings.PUSH_BACKEND = f"{__name__}.FakePushBackend"
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    FakePushBackend.sent.clear()
    FakePushBackend.failures.clear()
    yield FakePushBackend
    FakePushBackend.sent.clear()
    FakePushBackend.failures.clear()


# Patients and their app accounts ------------------------------------------------------------------


@pytest.fixture
def ana(clinic, admissions):
    return PatientFactory(
        clinic=clinic, actor=admissions, reachable=True, phone="", reminder_channels=["push"]
    )


@pytest.fixture
def ben(clinic, admissions):
    return PatientFactory(
        clinic=clinic, actor=admissions, reachable=True, phone="", reminder_channels=["push"]
    )


@pytest.fixture
def ana_client(ana):
    return client_of(app_account(ana))


@pytest.fixture
def ben_client(ben):
    return client_of(app_account(ben))


@pytest.fixture
def program(clinic):
    return ProgramFactory(
        clinic=clinic,
        name="Evening IOP",
        level="iop",
        track="evening",
        capacity=10,
        reminder_offsets_minutes=[1440],
    )


@pytest.fixture
def reminded(clinic, clinician, admissions, program):
    """``reminded(patient)``: the patient is on a session on 4 December at 18:00 and gets one
    push reminder 24 hours before."""

    def make(patient):
        with frozen:
            session = SessionFactory(
                clinic=clinic,
                actor=clinician,
                program=program,
                title="Group",
                kind="group",
                starts_at=SESSION_START,
                ends_at=SESSION_START + datetime.timedelta(hours=3),
            )
            enrollments.enrollment_create(
                actor=admissions,
                patient=patient,
                program=program,
                start_date=datetime.date(2026, 12, 1),
            )
        return Reminder.objects.get(session=session, patient=patient, channel="push")

    return make


@pytest.fixture
def run(send_due_reminders):
    def dispatch_and_send(when=DUE):
        with time_machine.travel(when, tick=False):
            return send_due_reminders()

    return dispatch_and_send
