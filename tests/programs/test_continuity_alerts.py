"""A move between levels with no session attended a week on alerts the primary clinician, once,
through the alert outbox (DOMAIN.md: first session at the new level within 7 days)."""

import datetime

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from clinic.models import AlertDelivery, AlertKind, StaffAlert
from clinic.services import alert_delivery
from programs.models import Transition
from programs.services import enrollments
from programs.tasks import continuity_gaps_alert_task
from scheduling import services as calendar
from scheduling.services import program_session_create
from tests.factories import PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
MOVED_ON = datetime.date(2026, 12, 1)


def noon_in_new_york(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(17), tzinfo=UTC)


@pytest.fixture
def iop(clinic):
    return ProgramFactory(clinic=clinic, level="iop", name="Day IOP", capacity=5)


@pytest.fixture
def step_down(clinic, admissions, clinician, iop):
    """``step_down(name)``: a patient stepped down from a residential stay to the IOP on
    MOVED_ON, ``clinician`` their primary clinician."""
    house = ProgramFactory(clinic=clinic, level="residential", name="House", capacity=5)

    def move(first_name: str) -> Transition:
        patient = PatientFactory(clinic=clinic, actor=admissions, first_name=first_name)
        with time_machine.travel(noon_in_new_york(MOVED_ON), tick=False):
            stay = enrollments.enrollment_create(
                actor=admissions,
                patient=patient,
                program=house,
                start_date=MOVED_ON - datetime.timedelta(days=28),
                primary_clinician=clinician,
            )
            return enrollments.transition_create(
                actor=clinician,
                enrollment=stay,
                to_program=iop,
                date=MOVED_ON,
                kind="step_down",
                reason="stable",
            )

    return move


def run_on(day: datetime.date) -> None:
    with time_machine.travel(noon_in_new_york(day), tick=False):
        continuity_gaps_alert_task.delay()


def test_a_week_without_a_session_alerts_the_primary_clinician_once(step_down, clinician):
    # given
    move = step_down("Ana")

    # when: seven days on (still within the target), then eight, then again
    run_on(MOVED_ON + datetime.timedelta(days=7))
    assert not StaffAlert.objects.exists()
    run_on(MOVED_ON + datetime.timedelta(days=8))
    run_on(MOVED_ON + datetime.timedelta(days=9))

    # then: one alert to the primary clinician, with no name in it, and one e-mail planned
    alert = StaffAlert.objects.get()
    assert (alert.kind, alert.recipient, alert.recipient_role) == (
        AlertKind.CONTINUITY_GAP,
        clinician,
        "",
    )
    assert (alert.object_type, alert.object_id, alert.patient_id) == (
        "programs.transition",
        str(move.pk),
        move.patient_id,
    )
    assert alert.message == (
        "A patient moved to Day IOP on 2026-12-01 has attended no session there after 7 days."
    )
    assert "Ana" not in alert.message
    assert list(AlertDelivery.objects.values_list("recipient", flat=True)) == [clinician.pk]
    with time_machine.travel(noon_in_new_york(MOVED_ON + datetime.timedelta(days=9))):
        assert alert_delivery.deliver_due() == {"sent": 1}
    assert [message.to for message in mail.outbox] == [[clinician.email]]


def test_a_first_session_attended_in_time_or_a_discharge_raises_none(
    step_down, clinic, clinician, iop
):
    attended, discharged = step_down("Ben"), step_down("Cy")
    with time_machine.travel(noon_in_new_york(MOVED_ON), tick=False):
        session = program_session_create(
            actor=clinician,
            clinic=clinic,
            program=iop,
            title="Morning group",
            kind="group",
            starts_at=noon_in_new_york(MOVED_ON + datetime.timedelta(days=2)),
            ends_at=noon_in_new_york(MOVED_ON + datetime.timedelta(days=2))
            + datetime.timedelta(hours=3),
        )
    with time_machine.travel(session.starts_at, tick=False):
        calendar.attendance_record(
            actor=clinician, session=session, patient=attended.patient, status="present"
        )
        enrollments.enrollment_discharge(
            actor=clinician,
            enrollment=discharged.to_enrollment,
            date=MOVED_ON + datetime.timedelta(days=3),
            reason="ama",
        )

    run_on(MOVED_ON + datetime.timedelta(days=10))

    assert not StaffAlert.objects.exists()


def test_beat_runs_the_check():
    entry = settings.CELERY_BEAT_SCHEDULE["continuity-gaps-alert"]
    assert entry["task"] == continuity_gaps_alert_task.name
