"""An open follow-up past its due date (the clinic's date) alerts its assignee or role once,
through the alert outbox, naming no patient."""

import datetime

import pytest
from django.core import mail

from clinic.models import AlertDelivery, AlertKind, StaffAlert
from clinic.services import alert_delivery
from programs.models import FollowUpTask
from programs.services import follow_ups
from programs.tasks import follow_ups_overdue_alert_task
from tests.programs.follow_ups.conftest import DISCHARGED_ON, at_noon, noon_in_new_york

pytestmark = pytest.mark.django_db


def run_on(day: datetime.date) -> None:
    with at_noon(day):
        follow_ups_overdue_alert_task.delay()


def test_an_overdue_task_alerts_its_assignee_once(discharge, clinician):
    # given: the 2-day call, due on the 4th
    stay = discharge(first_name="Zelda")
    task = stay.follow_up_tasks.get(days_after_discharge=2)

    # when: on its due date (not yet overdue), then the next day, then again
    run_on(task.due_date)
    assert not StaffAlert.objects.exists()
    run_on(task.due_date + datetime.timedelta(days=1))
    run_on(task.due_date + datetime.timedelta(days=2))

    # then: one alert, to the clinician, without the patient's name, one e-mail
    alert = StaffAlert.objects.get()
    assert (alert.kind, alert.recipient, alert.recipient_role, alert.patient_id) == (
        AlertKind.FOLLOW_UP_OVERDUE,
        clinician,
        "",
        stay.patient_id,
    )
    assert (alert.object_type, alert.object_id) == ("programs.followuptask", str(task.pk))
    assert alert.message == (
        "A follow-up call 2 days after a discharge was due on 2026-11-04 and is not recorded."
    )
    assert "Zelda" not in alert.message
    assert list(AlertDelivery.objects.values_list("recipient", flat=True)) == [clinician.pk]
    with at_noon(task.due_date + datetime.timedelta(days=2)):
        assert alert_delivery.deliver_due() == {"sent": 1}
    assert [message.to for message in mail.outbox] == [[clinician.email]]


def test_the_clinics_midnight_decides(discharge):
    task = discharge().follow_up_tasks.get(days_after_discharge=2)
    # 03:00 UTC on the 5th is still the 4th (the due date) in New York.
    late_evening = datetime.datetime.combine(
        task.due_date + datetime.timedelta(days=1), datetime.time(3), tzinfo=datetime.UTC
    )

    assert follow_ups.follow_ups_overdue_alert(now=late_evening) == []
    next_morning = late_evening + datetime.timedelta(hours=6)
    assert len(follow_ups.follow_ups_overdue_alert(now=next_morning)) == 1


def test_a_role_task_alerts_the_role_and_a_done_task_none(discharge, clinician):
    stay = discharge()
    FollowUpTask.objects.filter(enrollment=stay).update(
        assignee=None, assignee_role="alumni_coordinator"
    )
    done = stay.follow_up_tasks.get(days_after_discharge=2)
    with at_noon(DISCHARGED_ON + datetime.timedelta(days=2)):
        follow_ups.follow_up_complete(done, actor=clinician, outcome="reached_well")

    alerts = follow_ups.follow_ups_overdue_alert(
        now=noon_in_new_york(DISCHARGED_ON + datetime.timedelta(days=8))
    )

    assert [(a.object_id, a.recipient, a.recipient_role) for a in alerts] == [
        (str(stay.follow_up_tasks.get(days_after_discharge=7).pk), None, "alumni_coordinator")
    ]
