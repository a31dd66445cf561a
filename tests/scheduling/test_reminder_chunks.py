"""Chunked sending: dispatch enqueues chunks of ids; a send task claims, sends and records a group
at a time with a constant number of statements, and a send cut off mid-group leaves at most that
group's rows ``sending``."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.notifications import backends
from patients.models import Patient
from scheduling import reminders
from scheduling.models import Reminder, RosterEntry, Session

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_channels(settings):
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    settings.PUSH_BACKEND = "clinic.notifications.backends.LocmemPushBackend"
    backends.outbox.clear()


def due_sms(clinic, count: int) -> list[int]:
    """``count`` patients with one SMS reminder each, due now, for a session in an hour."""
    starts = timezone.now() + datetime.timedelta(hours=1)
    session = Session.objects.create(
        clinic=clinic,
        title="Group",
        kind="group",
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=1),
    )
    patients = Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            mrn=f"C{n}",
            first_name="Pat",
            last_name=f"Number {n}",
            date_of_birth=datetime.date(1980, 1, 1),
            phone=f"+1202555{n:04d}",
            reminder_channels=["sms"],
        )
        for n in range(count)
    )
    entries = RosterEntry.objects.bulk_create(
        RosterEntry(session=session, patient=patient) for patient in patients
    )
    rows = Reminder.objects.bulk_create(
        Reminder(
            session=session,
            patient_id=entry.patient_id,
            roster_entry=entry,
            offset_minutes=120,
            channel="sms",
            scheduled_for=timezone.now() - datetime.timedelta(minutes=1),
        )
        for entry in entries
    )
    return sorted(r.pk for r in rows)


def claim(django_capture_on_commit_callbacks) -> list[list[int]]:
    chunks = []
    with django_capture_on_commit_callbacks(execute=True):
        reminders.dispatch(chunks.append)
    return chunks


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Reminder.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_dispatch_enqueues_chunks_of_ids(clinic, settings, django_capture_on_commit_callbacks):
    settings.REMINDER_SEND_CHUNK = 2
    ids = due_sms(clinic, 5)

    chunks = claim(django_capture_on_commit_callbacks)

    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert sorted(pk for chunk in chunks for pk in chunk) == ids
    assert statuses() == {"queued": 5}


def test_a_group_costs_the_same_statements_whatever_its_size(
    clinic, settings, django_capture_on_commit_callbacks
):
    settings.REMINDER_SEND_GROUP = 50
    due_sms(clinic, 31)
    ids = [pk for chunk in claim(django_capture_on_commit_callbacks) for pk in chunk]
    warm, small, large = ids[:1], ids[1:4], ids[4:]
    reminders.send_chunk(warm)  # prepares the statements on this connection

    with CaptureQueriesContext(connection) as few:
        assert set(reminders.send_chunk(small).values()) == {"sent"}
    with CaptureQueriesContext(connection) as many:
        assert set(reminders.send_chunk(large).values()) == {"sent"}

    assert len(few) == len(many)
    assert statuses() == {"sent": 31}
    assert len(backends.sms_outbox()) == 31
    assert Reminder.objects.filter(attempts=1, sent_at__isnull=False).count() == 31


def test_a_send_cut_off_mid_group_leaves_only_that_group_sending(
    clinic, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.REMINDER_SEND_GROUP = 4
    due_sms(clinic, 10)
    ids = [pk for chunk in claim(django_capture_on_commit_callbacks) for pk in chunk]
    deliver = reminders._deliver
    calls = []

    def dies_on_the_sixth(reminder, subject, text):
        calls.append(reminder.id)
        if len(calls) == 6:
            raise SystemExit("worker killed")
        return deliver(reminder, subject, text)

    monkeypatch.setattr(reminders, "_deliver", dies_on_the_sixth)
    with pytest.raises(SystemExit):
        reminders.send_chunk(ids)

    by_id = dict(Reminder.objects.values_list("id", "status"))
    # Group 1 recorded, group 2: one sent, one cut off, two given back untried; group 3 untouched.
    assert [by_id[pk] for pk in ids] == ["sent"] * 5 + ["sending"] + ["queued"] * 4
    assert Reminder.objects.get(pk=ids[6]).attempts == 0

    monkeypatch.setattr(reminders, "_deliver", deliver)
    again = reminders.send_chunk(ids)  # the redelivered message (acks late)
    assert [again[pk] for pk in ids] == ["not-claimed"] * 6 + ["sent"] * 4
    assert len(backends.sms_outbox()) == 9


def test_a_slow_group_gives_its_unsent_rows_back_and_sends_them_next(
    clinic, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.REMINDER_SEND_GROUP = 5
    settings.REMINDER_SEND_TIMEOUT_SECONDS = 0  # every send is past half the timeout
    due_sms(clinic, 5)
    ids = [pk for chunk in claim(django_capture_on_commit_callbacks) for pk in chunk]
    claims = []
    claim_group = reminders._claim_group

    def counted(group):
        rows = claim_group(group)
        claims.append(len(rows))
        return rows

    monkeypatch.setattr(reminders, "_claim_group", counted)

    outcomes = reminders.send_chunk(ids)

    assert set(outcomes.values()) == {"sent"}
    assert claims[:5] == [5, 4, 3, 2, 1]  # one row out per claim, the rest given back
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {1}
    assert len(backends.sms_outbox()) == 5
