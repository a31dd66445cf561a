"""Every refusal of an activation is one and the same answer, and wrong birth dates lock the
code."""

import datetime

import pytest

from clinic.models import AuditEvent
from patients.models import ActivationCode
from tests.factories import PatientFactory
from tests.patients.activation.helpers import BIRTH, REFUSALS, REFUSED, activate, issue

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("refuse", REFUSALS, ids=lambda f: f.__name__)
def test_every_refusal_is_one_and_the_same_answer(refuse, code, staff, patient):
    response = refuse(code, staff, patient)

    assert response.status_code == 400
    assert response.json() == REFUSED
    assert response["Cache-Control"].count("no-store") == 1


def test_the_refusals_are_byte_for_byte_identical(staff, clinic, admissions):
    bodies = set()
    for index, refuse in enumerate(REFUSALS):
        patient = PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name=f"Sam{'x' * index}",
            last_name="Okafor",
            date_of_birth=BIRTH,
            reachable=True,
            phone="",
            reminder_channels=[],
        )
        code = issue(staff, patient).json()["activation_code"]
        response = refuse(code, staff, patient)
        bodies.add((response.status_code, response.content, response["Content-Type"]))

    assert len(bodies) == 1


def test_a_wrong_birth_date_does_not_use_the_code_up(code, patient):
    for _ in range(4):
        assert activate(code, date_of_birth=datetime.date(1990, 1, 1)).json() == REFUSED

    assert activate(code).status_code == 201
    row = ActivationCode.objects.get(patient=patient)
    assert row.failed_attempts == 4
    assert row.used_at is not None


def test_five_wrong_birth_dates_lock_the_code(code, patient):
    for _ in range(5):
        activate(code, date_of_birth=datetime.date(1990, 1, 1))

    row = ActivationCode.objects.get(patient=patient)
    assert row.failed_attempts == 5
    assert row.locked_at is not None
    assert activate(code).json() == REFUSED
    patient.refresh_from_db()
    assert patient.app_user is None
    # The failed tries are on the patient's audit trail, with no actor.
    tries = AuditEvent.objects.filter(
        object_type="patients.activationcode", action="update", patient_id=patient.pk
    )
    assert tries.count() == 5
    assert {event.actor_id for event in tries} == {None}


def test_a_new_code_after_a_lock_works(code, staff, patient):
    for _ in range(5):
        activate(code, date_of_birth=datetime.date(1990, 1, 1))

    fresh = issue(staff, patient).json()["activation_code"]

    assert activate(fresh).status_code == 201
