"""A group session of four rostered patients (two present, one late, one absent) and an
individual appointment, at the suite's usual clinic."""

import datetime

import pytest

from scheduling.models import Attendance, RosterEntry, Session
from tests.factories.patients import PatientFactory

SESSION_START = datetime.datetime(2026, 11, 30, 23, tzinfo=datetime.UTC)  # Monday 18:00 NY


def attend(session, patient, status, recorded_by):
    entry = RosterEntry.objects.create(session=session, patient=patient)
    return Attendance.objects.create(
        session=session, patient=patient, roster_entry=entry, status=status, recorded_by=recorded_by
    )


@pytest.fixture
def group(clinic, clinician):
    session = Session.objects.create(
        clinic=clinic,
        title="Relapse prevention",
        kind="group",
        starts_at=SESSION_START,
        ends_at=SESSION_START + datetime.timedelta(hours=3),
        facilitator=clinician,
    )
    names = [("Ana", "Díaz"), ("Ben", "Okafor"), ("Cleo", "Marsh"), ("Jo", "Quint")]
    statuses = ["present", "present", "late", "absent"]
    patients = []
    for (first, last), status in zip(names, statuses, strict=True):
        patient = PatientFactory(clinic=clinic, first_name=first, last_name=last)
        attend(session, patient, status, clinician)
        patients.append(patient)
    session.patients = patients
    return session


@pytest.fixture
def appointment(clinic, clinician):
    session = Session.objects.create(
        clinic=clinic,
        title="Individual",
        kind="individual",
        starts_at=SESSION_START,
        ends_at=SESSION_START + datetime.timedelta(hours=1),
        facilitator=clinician,
    )
    patient = PatientFactory(clinic=clinic, first_name="Dana", last_name="Reyes")
    attend(session, patient, "present", clinician)
    session.patient = patient
    return session


def parts(patients, **overrides):
    return [
        {
            "patient": p.pk,
            "participation": "Engaged",
            "response": "Receptive",
            "progress": "Steady",
            "plan": "Continue",
            **overrides,
        }
        for p in patients
    ]
