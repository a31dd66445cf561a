"""Drains: dispatch wakes a few drains; a drain claims due rows, sends and records them a group at a
time with a constant number of statements per group, and a send cut off mid-group leaves at most
that group's rows ``sending``."""

import datetime
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.notifications import ChannelError, backends
from patients.models import Patient
from scheduling import reminders
from scheduling.models import Reminder
from tests.factories import due_sms

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_channels(settings):
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    settings.PUSH_BACKEND = "clinic.notifications.backends.LocmemPushBackend"
    backends.outbox.clear()


def wake(django_capture_on_commit_callbacks) -> int:
    wakes = []
    with django_capture_on_commit_callbacks(execute=True):
        reminders.dispatch(lambda: wakes.append(1))
    return len(wakes)


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Reminder.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_dispatch_wakes_one_drain_per_group_due_up_to_the_limit(
    clinic, settings, django_capture_on_commit_callbacks
):
    settings.REMINDER_SEND_GROUP = 2
    settings.REMINDER_DRAIN_TASKS = 3
    assert wake(django_capture_on_commit_callbacks) == 0
    due_sms(clinic, 3)
    assert wake(django_capture_on_commit_callbacks) == 2
    due_sms(clinic, 5)
    assert wake(django_capture_on_commit_callbacks) == 3
    # Waking claims nothing: the rows wait, pending, for a drain.
    assert statuses() == {"pending": 8}


def test_a_drain_sends_every_due_row_a_group_at_a_time(clinic, settings):
    settings.REMINDER_SEND_GROUP = 3
    ids = due_sms(clinic, 10)
    Reminder.objects.filter(pk=ids[-1]).update(
        scheduled_for=timezone.now() + datetime.timedelta(minutes=5)
    )
    claims = []
    claim_group = reminders.draining._claim_group

    def counted(size, outcomes=()):
        rows = claim_group(size, outcomes)
        claims.append(len(rows))
        return rows

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reminders.draining, "_claim_group", counted)
        outcomes = reminders.drain()

    assert sorted(outcomes) == ids[:-1]
    assert set(outcomes.values()) == {"sent"}
    assert claims == [3, 3, 3, 0]
    assert statuses() == {"sent": 9, "pending": 1}
    assert len(backends.sms_outbox()) == 9
    assert reminders.drain() == {}


def test_a_group_costs_the_same_statements_whatever_its_size(clinic, settings):
    settings.REMINDER_SEND_GROUP = 50
    due_sms(clinic, 1)
    reminders.drain()  # prepares the statements on this connection
    due_sms(clinic, 3)

    with CaptureQueriesContext(connection) as few:
        assert set(reminders.drain().values()) == {"sent"}
    due_sms(clinic, 27)
    with CaptureQueriesContext(connection) as many:
        assert set(reminders.drain().values()) == {"sent"}

    assert len(few) == len(many)
    assert statuses() == {"sent": 31}
    assert len(backends.sms_outbox()) == 31
    assert Reminder.objects.filter(attempts=1, sent_at__isnull=False).count() == 31


def test_a_groups_outcomes_of_every_kind_are_recorded_together(clinic, settings, monkeypatch):
    # Sent rows are written by a statement of their own, the rest by the general one: one group
    # holding both gets each row's own outcome.
    settings.REMINDER_SEND_GROUP = 10
    ids = due_sms(clinic, 6)
    sent_first, busy, refused, opted_out, left, sent_last = ids
    Patient.objects.filter(reminders__pk=opted_out).update(reminder_channels=[])
    Reminder.objects.filter(pk=left).update(roster_entry=None)
    deliver = reminders.sending._deliver

    def provider(reminder, subject, text, email_connection):
        if reminder.id == busy:
            raise ChannelError("Busy.", retryable=True)
        if reminder.id == refused:
            raise ChannelError("Refused.", retryable=False)
        return deliver(reminder, subject, text, email_connection)

    monkeypatch.setattr(reminders.sending, "_deliver", provider)
    before = timezone.now()
    outcomes = reminders.drain()

    assert outcomes == {
        sent_first: "sent",
        busy: "pending",
        refused: "failed",
        opted_out: "cancelled",
        left: "cancelled",
        sent_last: "sent",
    }
    rows = Reminder.objects.in_bulk(ids)
    provider_ids = [message.id for message in backends.sms_outbox()]
    assert [rows[pk].provider_message_id for pk in (sent_first, sent_last)] == provider_ids
    for pk in (sent_first, sent_last):
        assert rows[pk].sent_at >= before
        assert rows[pk].last_error == ""
    for pk in (busy, refused, opted_out, left):
        assert rows[pk].sent_at is None
        assert rows[pk].provider_message_id == ""
    assert rows[busy].last_error == "Busy."
    assert rows[busy].attempts == 1
    assert rows[busy].scheduled_for >= before + reminders.backoff(1)
    assert rows[refused].last_error == "Refused."
    assert rows[refused].attempts == 1
    assert rows[opted_out].last_error == "The patient opted out of this channel."
    assert rows[left].last_error == "The patient left the roster."


def test_a_send_cut_off_mid_group_leaves_only_that_group_sending(clinic, settings, monkeypatch):
    settings.REMINDER_SEND_GROUP = 4
    due_sms(clinic, 10)
    deliver = reminders.sending._deliver
    calls = []

    def dies_on_the_sixth(reminder, subject, text, email_connection):
        calls.append(reminder.id)
        if len(calls) == 6:
            raise SystemExit("worker killed")
        return deliver(reminder, subject, text, email_connection)

    monkeypatch.setattr(reminders.sending, "_deliver", dies_on_the_sixth)
    with pytest.raises(SystemExit):
        reminders.drain()

    # Group 1 recorded, group 2: one sent, one cut off, two given back untried; group 3 untouched.
    assert statuses() == {"sent": 5, "sending": 1, "pending": 4}
    assert Reminder.objects.get(status="sending").pk == calls[-1]
    assert set(Reminder.objects.filter(status="pending").values_list("attempts", flat=True)) == {0}

    monkeypatch.setattr(reminders.sending, "_deliver", deliver)
    again = reminders.drain()  # another drain (or the redelivered message: acks late)
    assert sorted(again.values()) == ["sent"] * 4
    assert calls[-1] not in again
    assert statuses() == {"sent": 9, "sending": 1}
    assert len(backends.sms_outbox()) == 9


def test_a_group_costs_one_query_its_outcomes_going_with_the_next_claim(clinic, settings):
    """Behind a pooler every query crosses it twice: a group's outcomes go with the next claim
    (one query, one transaction), so three groups and the last, empty claim are four."""
    settings.REMINDER_SEND_GROUP = 3
    ids = due_sms(clinic, 9)

    with CaptureQueriesContext(connection) as captured:
        outcomes = reminders.drain()

    assert sorted(outcomes) == ids
    assert statuses() == {"sent": 9}
    claims = [q["sql"] for q in captured if "SKIP LOCKED" in q["sql"]]
    assert len(captured) == len(claims) == 4, [q["sql"][:60] for q in captured]
    # The first claim has no outcomes before it; each later one starts with its group's.
    assert [claim.lstrip().startswith("UPDATE") for claim in claims] == [False, True, True, True]


def test_a_slow_group_gives_its_unsent_rows_back_and_sends_them_next(clinic, settings, monkeypatch):
    settings.REMINDER_SEND_GROUP = 5
    settings.REMINDER_SEND_TIMEOUT_SECONDS = 0  # every send is past half the timeout
    due_sms(clinic, 5)
    claims = []
    claim_group = reminders.draining._claim_group

    def counted(size, outcomes=()):
        rows = claim_group(size, outcomes)
        claims.append(len(rows))
        return rows

    monkeypatch.setattr(reminders.draining, "_claim_group", counted)

    outcomes = reminders.drain()

    assert set(outcomes.values()) == {"sent"}
    assert claims == [5, 4, 3, 2, 1, 0]  # one row out per claim, the rest given back
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {1}
    assert len(backends.sms_outbox()) == 5


def test_a_drain_stops_claiming_when_its_time_budget_is_used(clinic, settings):
    settings.REMINDER_SEND_GROUP = 2
    due_sms(clinic, 5)

    assert reminders.drain(budget_seconds=0) == {}
    assert statuses() == {"pending": 5}
    assert len(reminders.drain(budget_seconds=60)) == 5


class SlowSMSBackend:
    """Takes half a second per message (a provider near its timeout)."""

    def send(self, to, text):
        time.sleep(0.5)
        return backends.LocmemSMSBackend().send(to, text)


def test_a_drain_stops_within_a_group_when_its_budget_is_spent(clinic, settings):
    # given: one group of five rows and a provider slower than the drain's whole budget
    settings.REMINDER_SEND_GROUP = 5
    settings.SMS_BACKEND = f"{__name__}.SlowSMSBackend"
    ids = due_sms(clinic, 5)

    # when
    outcomes = reminders.drain(budget_seconds=0.25)

    # then: the first row went out; the rest were given back untried for the next drain
    assert outcomes == {ids[0]: "sent"}
    assert statuses() == {"sent": 1, "pending": 4}
    assert set(Reminder.objects.filter(status="pending").values_list("attempts", flat=True)) == {0}
    assert len(backends.sms_outbox()) == 1


def test_the_texts_of_a_sessions_rows_are_built_once(clinic):
    reminders.texts.texts_of.cache_clear()
    due_sms(clinic, 5)

    assert set(reminders.drain().values()) == {"sent"}

    info = reminders.texts.texts_of.cache_info()
    assert (info.misses, info.hits) == (1, 4)
    assert len({message.text for message in backends.sms_outbox()}) == 1


def test_the_emails_of_a_group_share_one_connection(clinic, settings, monkeypatch):
    from tests.clinic.notifications.helpers import CountingEmailBackend

    settings.EMAIL_BACKEND = "tests.clinic.notifications.helpers.CountingEmailBackend"
    settings.REMINDER_SEND_GROUP = 3
    monkeypatch.setattr(CountingEmailBackend, "events", [])
    ids = due_sms(clinic, 5)
    Reminder.objects.filter(pk__in=ids).update(channel="email")
    Patient.objects.filter(reminders__pk__in=ids).update(
        reminder_channels=["email"], email="pat@example.com"
    )

    assert set(reminders.drain().values()) == {"sent"}

    sends = ["send pat@example.com"]
    assert CountingEmailBackend.events == [
        *["open", *sends * 3, "close"],
        *["open", *sends * 2, "close"],
    ]
