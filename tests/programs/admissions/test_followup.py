"""Following up open inquiries (issue 28, item 5): an inquiry past its next contact date raises
one alert to admissions per overdue date, whoever and however often beat runs it."""

import datetime

import pytest
import time_machine
from django.conf import settings
from django.db import transaction

from clinic.models import AlertDelivery, AlertKind, StaffAlert
from programs.locks import inquiry_lock
from programs.models import InquiryStatus
from programs.services import inquiries, inquiry_followup
from programs.tasks import inquiries_overdue_alert_task
from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock
from tests.conftest import TUESDAY_10AM
from tests.factories import ClinicFactory, InquiryFactory, staff_user

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 12, 1)  # TUESDAY_10AM in New York, the clinics' zone
YESTERDAY = TODAY - datetime.timedelta(days=1)
LAST_WEEK = TUESDAY_10AM - datetime.timedelta(days=7)


def inquiry_due(clinic, next_contact_on, **fields):
    """An inquiry taken last week whose next contact is ``next_contact_on``."""
    with time_machine.travel(LAST_WEEK, tick=False):
        inquiry = InquiryFactory(clinic=clinic, **fields)
    if next_contact_on is not None:
        actor = staff_user(role="admissions", clinics=[clinic])
        with time_machine.travel(LAST_WEEK, tick=False):
            inquiry = inquiries.inquiry_update(
                actor=actor, inquiry=inquiry, next_contact_on=next_contact_on
            )
    return inquiry


def overdue_alerts():
    return list(
        StaffAlert.objects.filter(kind=AlertKind.INQUIRY_OVERDUE)
        .order_by("id")
        .values_list("object_type", "object_id", "recipient_role", "clinic_id")
    )


def test_an_overdue_inquiry_raises_one_alert_to_admissions_that_names_no_one(clinic):
    late = inquiry_due(clinic, YESTERDAY, first_name="Quinlan")
    inquiry_due(clinic, TODAY)  # due today: not overdue yet
    inquiry_due(clinic, TODAY + datetime.timedelta(days=2))
    admissions = staff_user(role="admissions", clinics=[clinic])

    with time_machine.travel(TUESDAY_10AM, tick=False):
        raised = inquiry_followup.inquiries_overdue_alert()
        again = inquiries_overdue_alert_task()

    assert (raised, again) == (1, 0)
    assert overdue_alerts() == [
        ("programs.inquiry", f"{late.pk}@{YESTERDAY.isoformat()}", "admissions", clinic.pk)
    ]
    alert = StaffAlert.objects.get(kind=AlertKind.INQUIRY_OVERDUE)
    assert alert.message == inquiry_followup.OVERDUE_ALERT_MESSAGE
    assert "Quinlan" not in alert.message
    assert late.last_name not in alert.message
    # The clinic's admissions members get one e-mail each about it.
    recipients = list(AlertDelivery.objects.filter(alert=alert).values_list("recipient", flat=True))
    assert admissions.pk in recipients
    assert len(recipients) == len(set(recipients))


def test_an_inquiry_with_no_next_contact_is_alerted_the_day_after_it_came_in(clinic):
    with time_machine.travel(TUESDAY_10AM - datetime.timedelta(hours=1), tick=False):
        this_morning = InquiryFactory(clinic=clinic)
    forgotten = inquiry_due(clinic, None)

    with time_machine.travel(TUESDAY_10AM, tick=False):
        inquiry_followup.inquiries_overdue_alert()

    assert [object_id for _type, object_id, *_ in overdue_alerts()] == [f"{forgotten.pk}@received"]
    assert this_morning.pk != forgotten.pk


def test_a_new_next_contact_date_that_passes_in_turn_alerts_again(clinic, admissions):
    inquiry = inquiry_due(clinic, YESTERDAY)
    with time_machine.travel(TUESDAY_10AM, tick=False):
        inquiry_followup.inquiries_overdue_alert()
        # The desk reaches the caller and plans the next contact for Thursday.
        inquiries.inquiry_contact_record(
            actor=admissions,
            inquiry=inquiry,
            method="phone",
            direction="outbound",
            outcome="reached",
            next_contact_on=TODAY + datetime.timedelta(days=2),
        )
        assert inquiry_followup.inquiries_overdue_alert() == 0
    with time_machine.travel(TUESDAY_10AM + datetime.timedelta(days=2), tick=False):
        assert inquiry_followup.inquiries_overdue_alert() == 0  # Thursday: due today
    with time_machine.travel(TUESDAY_10AM + datetime.timedelta(days=3), tick=False):
        assert inquiry_followup.inquiries_overdue_alert() == 1
        assert inquiry_followup.inquiries_overdue_alert() == 0

    assert [object_id for _type, object_id, *_ in overdue_alerts()] == [
        f"{inquiry.pk}@2026-11-30",
        f"{inquiry.pk}@2026-12-03",
    ]


def test_a_closed_inquiry_is_never_overdue(clinic, admissions):
    inquiry = inquiry_due(clinic, YESTERDAY)
    with time_machine.travel(TUESDAY_10AM, tick=False), transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk),
            to_status=InquiryStatus.NOT_ADMITTED,
            not_admitted_reason="chose_elsewhere",
            actor=admissions,
            now=TUESDAY_10AM,
        )
        assert inquiry_followup.inquiries_overdue_alert() == 0
    assert overdue_alerts() == []


def test_each_clinic_s_inquiries_alert_that_clinic_s_admissions(clinic):
    other = ClinicFactory()
    here = inquiry_due(clinic, YESTERDAY)
    there = inquiry_due(other, YESTERDAY)

    with time_machine.travel(TUESDAY_10AM, tick=False):
        assert inquiry_followup.inquiries_overdue_alert() == 2

    assert {(object_id, clinic_id) for _t, object_id, _r, clinic_id in overdue_alerts()} == {
        (f"{here.pk}@2026-11-30", clinic.pk),
        (f"{there.pk}@2026-11-30", other.pk),
    }


def test_beat_runs_the_alert_every_inquiry_scan_interval():
    entry = settings.CELERY_BEAT_SCHEDULE["inquiries-overdue-alert"]
    assert entry["task"] == "programs.tasks.inquiries_overdue_alert_task"
    assert entry["schedule"] == 900  # INQUIRY_SCAN_SECONDS' default


@pytest.mark.django_db(transaction=True)
def test_two_passes_at_once_raise_the_alert_once():
    """The first pass holds its new alert uncommitted; the second, which did not see it, waits on
    the alerts' unique index, then finds it committed and raises nothing more."""
    clinic = ClinicFactory()
    inquiry = inquiry_due(clinic, YESTERDAY)

    with time_machine.travel(TUESDAY_10AM, tick=False):
        with held_transaction(inquiry_followup.inquiries_overdue_alert) as first:
            second = InThread(inquiry_followup.inquiries_overdue_alert).start()
            assert someone_waits_for_a_lock()
        # It counts the alert it found raised by the pass it raced (its docstring says so).
        assert second.join() == 1

    assert first == 1
    assert overdue_alerts() == [
        ("programs.inquiry", f"{inquiry.pk}@2026-11-30", "admissions", clinic.pk)
    ]
    deliveries = list(AlertDelivery.objects.values_list("recipient", flat=True))
    assert len(deliveries) == len(set(deliveries))
