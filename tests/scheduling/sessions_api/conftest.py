"""The fixtures the modules of sessions_api/ share."""

import datetime

import pytest

from clinic.models import Room
from programs.services import enrollments
from scheduling import services
from scheduling.models import RosterEntry
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, staff_user
from tests.scheduling.sessions_api.helpers import TODAY, at


@pytest.fixture
def room(clinic):
    return Room.objects.create(clinic=clinic, name="Room 1")


@pytest.fixture
def patients(clinic, admissions):
    return [
        PatientFactory(clinic=clinic, actor=admissions, first_name=name, last_name="Rivera")
        for name in ("Ana", "Ben", "Cy")
    ]


@pytest.fixture
def enrolled(frozen_time, admissions, iop, patients):
    for patient in patients[:2]:
        enrollments.enrollment_create(
            actor=admissions, patient=patient, program=iop, start_date=TODAY
        )
    return patients[:2]


@pytest.fixture
def stranger(other_clinic):
    return staff_user(role="clinician", clinics=[other_clinic])


# Listing and filtering ------------------------------------------------------------------------


@pytest.fixture
def calendar(frozen_time, clinician, supervisor, iop, patients, enrolled, clinic):
    """Last week's ended group (roster, no attendance), tomorrow's group, an individual
    appointment of a third patient with the supervisor, and an outpatient session."""
    outpatient = ProgramFactory(clinic=clinic, level="outpatient", name="Outpatient", capacity=10)
    past = SessionFactory(
        clinic=clinic, actor=clinician, starts_at=at(days=-7), program=iop, facilitator=clinician
    )
    RosterEntry.objects.bulk_create(
        [RosterEntry(session=past, patient=patient) for patient in enrolled]
    )
    tomorrow = SessionFactory(clinic=clinic, actor=clinician, starts_at=at(days=1), program=iop)
    RosterEntry.objects.bulk_create(
        [RosterEntry(session=tomorrow, patient=patient) for patient in enrolled]
    )
    appointment = SessionFactory(
        clinic=clinic,
        actor=supervisor,
        starts_at=at(days=2),
        hours=1,
        kind="individual",
        title="Check-in",
        patient=patients[2],
        facilitator=supervisor,
    )
    other = SessionFactory(clinic=clinic, actor=clinician, starts_at=at(days=3), program=outpatient)
    return {"past": past, "tomorrow": tomorrow, "appointment": appointment, "other": other}


@pytest.fixture
def weekly(frozen_time, clinician, clinic):
    """A Tuesday/Thursday series at 18:00 New York, from a week ago for four weeks: two past
    occurrences, six future ones."""
    series = services.series_create(
        actor=clinician,
        clinic=clinic,
        title="Skills group",
        weekdays=[2, 4],
        local_start_time=datetime.time(18),
        duration_minutes=120,
        starts_on=TODAY - datetime.timedelta(days=7),
        ends_on=TODAY + datetime.timedelta(days=20),
        location="Hall",
    )
    services.series_materialize(series=series)
    return series


# Attendance -----------------------------------------------------------------------------------


@pytest.fixture
def started(frozen_time, clinician, clinic, iop, enrolled):
    """A program session that began half an hour ago, both enrolled patients on its roster,
    the second one having declined in the app."""
    session = SessionFactory(clinic=clinic, actor=clinician, starts_at=at(hours=-0.5), program=iop)
    RosterEntry.objects.bulk_create(
        [RosterEntry(session=session, patient=patient) for patient in enrolled]
    )
    RosterEntry.objects.filter(session=session, patient=enrolled[1]).update(response="declined")
    return session
