"""A clinic's ended group session with five patients on its roster, its facilitator, a
clinician off their care team, and staff of another clinic."""

import pytest
import time_machine

from scheduling.models import RosterEntry
from tests.factories import PatientFactory, SessionFactory, staff_user
from tests.programs.notes_show.helpers import START, after_end


@pytest.fixture(autouse=True)
def clock():
    """71 hours after the session's end (its drafts not yet late), whatever the real date;
    a test travels further where it needs to."""
    with time_machine.travel(after_end(71), tick=False):
        yield


@pytest.fixture
def facilitator(clinician):
    return clinician


@pytest.fixture
def off_team(clinic):
    """A clinician of the clinic who neither wrote, facilitated nor is primary clinician."""
    return staff_user(role="clinician", clinics=[clinic], first_name="Olga", last_name="Off")


@pytest.fixture
def outside_supervisor(other_clinic):
    return staff_user(role="supervisor", clinics=[other_clinic])


@pytest.fixture
def patients(clinic, admissions):
    return [
        PatientFactory(clinic=clinic, actor=admissions, first_name=name, last_name="Rivera")
        for name in ("Ana", "Ben", "Cy", "Dee", "Eve")
    ]


def ended_session(clinic, facilitator, iop, patients, *, start=START):
    with time_machine.travel(after_end(1), tick=False):
        session = SessionFactory(
            clinic=clinic,
            actor=facilitator,
            starts_at=start,
            program=iop,
            facilitator=facilitator,
        )
    RosterEntry.objects.bulk_create(RosterEntry(session=session, patient=p) for p in patients)
    return session


@pytest.fixture
def session(clinic, facilitator, iop, patients):
    return ended_session(clinic, facilitator, iop, patients)
