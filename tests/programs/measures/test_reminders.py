"""The patients' reminders of measures due: planned once per due occurrence for the measures
they answer, sent once on the shared outbox with a neutral text, skipped when answered first."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from clinic.notifications import backends
from programs.models import MeasureReminder
from programs.services.measures import measure_reminders_plan, measure_reminders_send
from tests.conftest import TUESDAY_10AM
from tests.factories import (
    EnrollmentFactory,
    MeasureResponseFactory,
    PatientFactory,
    ProgramFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]


@pytest.fixture
def stay(clinic):
    patient = PatientFactory(clinic=clinic, reachable=True)
    return EnrollmentFactory(
        program=ProgramFactory(clinic=clinic, residential=True), patient=patient
    )


def reminders():
    return {(r.instrument, r.due_on, r.status) for r in MeasureReminder.objects.all()}


def test_one_reminder_per_due_patient_measure_planned_once(stay, clinician):
    today = TUESDAY_10AM.date()
    # A clinician's order is due too, but the patient does not answer it.
    from programs.services.measures import measure_order_start

    measure_order_start(actor=clinician, enrollment=stay, instrument="cows", every_hours=6)

    assert measure_reminders_plan() == 2
    assert measure_reminders_plan() == 0
    assert reminders() == {("phq9", today, "pending"), ("gad7", today, "pending")}
    assert MeasureReminder.objects.filter(due_at=TUESDAY_10AM, patient=stay.patient).count() == 2


def test_no_reminder_without_a_channel_or_a_stay(clinic):
    program = ProgramFactory(clinic=clinic, php=True)
    EnrollmentFactory(program=program)  # no e-mail or SMS consent
    EnrollmentFactory(program=program, patient=PatientFactory(clinic=clinic, reachable=True))
    EnrollmentFactory(
        program=program, patient=PatientFactory(clinic=clinic, reachable=True), discharged=True
    )

    assert measure_reminders_plan() == 2  # the reachable admitted patient's PHQ-9 and GAD-7


def test_sent_once_with_the_neutral_text(stay, clinic):
    measure_reminders_plan()
    mail.outbox.clear()

    outcomes = measure_reminders_send()
    again = measure_reminders_send()

    assert outcomes == {"sent": 2}
    assert again == {}
    assert {(m.subject, m.body) for m in mail.outbox} == {
        (f"Message from {clinic.public_name}", "You have a check-in waiting in the app.")
    }
    assert not backends.sms_outbox()  # e-mail first


def test_a_measure_answered_before_its_reminder_went_out_is_skipped(stay):
    measure_reminders_plan()
    MeasureResponseFactory(enrollment=stay, instrument="phq9", total=4)
    mail.outbox.clear()

    outcomes = measure_reminders_send()

    assert outcomes == {"sent": 1, "skipped": 1}
    skipped = MeasureReminder.objects.get(status="skipped")
    assert skipped.instrument == "phq9"
    assert len(mail.outbox) == 1


def test_a_new_occurrence_is_reminded_again(stay):
    measure_reminders_plan()
    for instrument in ("phq9", "gad7"):
        MeasureResponseFactory(enrollment=stay, instrument=instrument, total=4)

    with time_machine.travel(TUESDAY_10AM + datetime.timedelta(days=14), tick=False):
        assert measure_reminders_plan() == 2

    assert MeasureReminder.objects.count() == 4


def test_the_beat_entries(settings):
    plan = settings.CELERY_BEAT_SCHEDULE["measure-reminders-plan"]
    send = settings.CELERY_BEAT_SCHEDULE["measure-reminders-send"]

    assert plan["task"] == "programs.tasks.measure_reminders_plan_task"
    assert plan["schedule"] == settings.MEASURE_SCAN_SECONDS == 3600
    assert send["task"] == "programs.tasks.measure_reminders_send_task"
    assert send["schedule"] == settings.REMINDER_SCAN_SECONDS


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_the_tasks_plan_and_send(stay):
    from programs import tasks

    assert tasks.measure_reminders_plan_task() == 2
    assert tasks.measure_reminders_send_task() == {"sent": 2}
