"""The fixtures the modules of follow_ups/ share: stays discharged on ``DISCHARGED_ON``, the
clock at noon in New York (the test clinics' zone)."""

import datetime

import pytest
import time_machine

from programs.services import aftercare, enrollments
from tests.factories import PatientFactory, ProgramFactory, staff_user

DISCHARGED_ON = datetime.date(2026, 11, 2)


def noon_in_new_york(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(17), tzinfo=datetime.UTC)


def at_noon(day: datetime.date):
    """The clock stopped at noon of ``day`` in New York."""
    return time_machine.travel(noon_in_new_york(day), tick=False)


@pytest.fixture
def house(clinic):
    return ProgramFactory(clinic=clinic, level="residential", name="House", capacity=5)


@pytest.fixture
def alumni_coordinator(clinic):
    return staff_user(role="alumni_coordinator", clinics=[clinic])


@pytest.fixture
def discharge(clinic, admissions, clinician, house):
    """``discharge(program=house, first_name=..., primary_clinician=clinician, with_plan=True)``:
    a patient admitted 20 days before ``DISCHARGED_ON`` and discharged that day (an active
    aftercare plan made before it, unless ``with_plan`` is false); returns the enrollment."""

    def make(program=None, *, first_name="Ana", primary_clinician=clinician, with_plan=True):
        program = program or house
        patient = PatientFactory(clinic=clinic, actor=admissions, first_name=first_name)
        with at_noon(DISCHARGED_ON):
            stay = enrollments.enrollment_create(
                actor=admissions,
                patient=patient,
                program=program,
                start_date=DISCHARGED_ON - datetime.timedelta(days=20),
                primary_clinician=primary_clinician,
            )
            if with_plan:
                plan = aftercare.aftercare_plan_create(actor=clinician, enrollment=stay)
                aftercare.aftercare_plan_update(actor=clinician, plan=plan, status="active")
            return enrollments.enrollment_discharge(
                actor=clinician, enrollment=stay, date=DISCHARGED_ON, reason="completed"
            )

    return make
