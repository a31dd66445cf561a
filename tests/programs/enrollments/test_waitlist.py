"""The waitlist: offers of a freed place, expiry, cancelling, one entry per patient and program."""

import datetime

import pytest
import time_machine

from clinic.errors import Conflict
from clinic.models import StaffAlert
from programs.services import enrollments as services
from programs.tasks import waitlist_expire_offers_task
from tests.factories import ProgramFactory
from tests.programs.enrollments.helpers import NOW, TODAY, enroll, frozen

pytestmark = pytest.mark.django_db


# Waitlist -----------------------------------------------------------------------------------------


def test_a_freed_place_is_offered_to_the_head_of_the_waitlist_once(admissions, clinic, patients):
    program = ProgramFactory(clinic=clinic, level="residential", capacity=1)
    with time_machine.travel(NOW, tick=False):
        present = services.enrollment_create(
            actor=admissions, patient=patients[0], program=program, start_date=TODAY
        )
        routine = services.enrollment_create(
            actor=admissions, patient=patients[1], program=program, start_date=TODAY, waitlist=True
        )
        urgent = services.enrollment_create(
            actor=admissions,
            patient=patients[2],
            program=program,
            start_date=TODAY,
            waitlist=True,
            priority=5,
        )

        services.enrollment_discharge(
            actor=admissions, enrollment=present, date=TODAY, reason="completed"
        )

    urgent.refresh_from_db()
    routine.refresh_from_db()
    assert urgent.offered_at == NOW
    assert urgent.offer_expires_at == NOW + datetime.timedelta(hours=48)
    assert routine.offered_at is None
    alert = StaffAlert.objects.get()
    assert (alert.kind, alert.recipient_role, alert.patient_id) == (
        "waitlist_offer",
        "admissions",
        patients[2].pk,
    )
    # The held place is not free for anyone else...
    with time_machine.travel(NOW, tick=False), pytest.raises(Conflict):
        services.enrollment_create(
            actor=admissions, patient=patients[3], program=program, start_date=TODAY
        )
    # ...but the offered patient is admitted into it (a staff action, never automatic).
    with time_machine.travel(NOW, tick=False):
        admitted = services.enrollment_admit(actor=admissions, enrollment=urgent)
    assert admitted.status == "admitted"


def test_an_expired_offer_passes_on_and_the_patient_goes_behind(admissions, clinic, patients):
    program = ProgramFactory(
        clinic=clinic, level="residential", capacity=1, waitlist_offer_hours=24
    )
    with time_machine.travel(NOW, tick=False):
        present = services.enrollment_create(
            actor=admissions, patient=patients[0], program=program, start_date=TODAY
        )
        first = services.enrollment_create(
            actor=admissions, patient=patients[1], program=program, start_date=TODAY, waitlist=True
        )
        second = services.enrollment_create(
            actor=admissions, patient=patients[2], program=program, start_date=TODAY, waitlist=True
        )
        services.enrollment_discharge(
            actor=admissions, enrollment=present, date=TODAY, reason="completed"
        )

    with time_machine.travel(NOW + datetime.timedelta(hours=23), tick=False):
        assert waitlist_expire_offers_task() == 0
    with time_machine.travel(NOW + datetime.timedelta(hours=25), tick=False):
        assert waitlist_expire_offers_task() == 1
        assert waitlist_expire_offers_task() == 0  # idempotent

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.passed_over, first.offer_expires_at) == (True, None)
    assert second.offer_expires_at is not None
    assert list(services.waitlist_queue(program)) == [second, first]
    assert StaffAlert.objects.filter(kind="waitlist_offer").count() == 2


@frozen
def test_cancelling_a_waitlisted_enrollment(client_for, admissions, residential, patients):
    client = client_for(admissions)
    enroll(client, patients[0], residential)
    enroll(client, patients[1], residential)
    waiting = enroll(client, patients[2], residential, waitlist=True).json()

    response = client.post(f"/api/v1/enrollments/{waiting['id']}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = enroll(client, patients[2], residential, waitlist=True)
    assert again.status_code == 201  # a new waitlist entry is possible after a cancellation


@frozen
def test_one_waitlist_entry_per_patient_and_program(client_for, admissions, residential, patients):
    client = client_for(admissions)
    enroll(client, patients[0], residential)
    enroll(client, patients[1], residential)
    enroll(client, patients[2], residential, waitlist=True)

    response = enroll(client, patients[2], residential, waitlist=True)

    assert response.status_code == 409
    assert response.json()["code"] == "already_waitlisted"
