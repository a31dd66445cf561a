"""The reminder outbox in the admin: scoped to the staff member's clinics, audited, read-only,
with a retry of failed rows for admissions and supervisors only."""

import datetime

import pytest
from django.utils import timezone

from clinic.models import AuditAction, AuditEvent, Clinic
from patients.models import Patient
from scheduling.models import Reminder, RosterEntry
from tests.factories import admin_login, group_session, staff_user

pytestmark = pytest.mark.django_db

LIST = "/admin/scheduling/reminder/"


def log_in(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return client


def failed_reminder(clinic: Clinic, *, mrn: str, last_name: str) -> Reminder:
    starts = timezone.now() + datetime.timedelta(days=1)
    session = group_session(clinic, starts)
    patient = Patient.objects.create(
        clinic=clinic,
        mrn=mrn,
        first_name="Ann",
        last_name=last_name,
        date_of_birth=datetime.date(1985, 5, 5),
        phone="+12025550142",
        reminder_channels=["sms"],
    )
    entry = RosterEntry.objects.create(session=session, patient=patient)
    return Reminder.objects.create(
        session=session,
        patient=patient,
        roster_entry=entry,
        offset_minutes=120,
        channel="sms",
        scheduled_for=starts - datetime.timedelta(hours=2),
        status="failed",
        attempts=5,
        last_error="The SMS provider answered HTTP 503.",
    )


@pytest.fixture
def reminder(clinic):
    return failed_reminder(clinic, mrn="A-1", last_name="Ours")


@pytest.fixture
def outside(other_clinic):
    return failed_reminder(other_clinic, mrn="B-1", last_name="Theirs")


def test_the_list_shows_own_clinics_rows_with_status_and_error_and_is_audited(
    client, admissions, reminder, outside
):
    page = log_in(client, admissions).get(LIST).content.decode()
    assert "Ours" in page
    assert "Theirs" not in page
    assert "The SMS provider answered HTTP 503." in page
    assert "Failed" in page
    audit = AuditEvent.objects.get(action=AuditAction.LIST, object_id=str(reminder.pk))
    assert audit.patient_id == reminder.patient_id
    assert audit.actor == admissions
    assert client.get(f"{LIST}{outside.pk}/change/").status_code == 302  # not found: redirect


def test_admissions_retry_a_failed_row(client, admissions, reminder):
    response = log_in(client, admissions).post(
        LIST, {"action": "retry_failed", "_selected_action": [reminder.pk]}, follow=True
    )
    assert "1 reminder(s) will be sent again shortly." in response.content.decode()
    reminder.refresh_from_db()
    assert reminder.status == "pending"
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(reminder.pk), actor=admissions
    ).exists()


def test_a_clinician_reads_but_cannot_retry(client, clinic, reminder):
    clinician = staff_user(role="clinician", clinics=[clinic])
    log_in(client, clinician)
    assert "retry_failed" not in client.get(LIST).content.decode()
    client.post(LIST, {"action": "retry_failed", "_selected_action": [reminder.pk]})
    reminder.refresh_from_db()
    assert reminder.status == "failed"


def test_rows_are_read_only(client, supervisor, reminder):
    log_in(client, supervisor)
    assert client.get(f"{LIST}add/").status_code == 403
    client.post(f"{LIST}{reminder.pk}/change/", {"status": "sent"})
    client.post(f"{LIST}{reminder.pk}/delete/", {"post": "yes"})
    reminder.refresh_from_db()
    assert reminder.status == "failed"
