"""How the outbox is stored: a claim rewrites its rows in place, the open-rows invariants hold in
the database, and a group's outcomes reach PostgreSQL whatever their text."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from scheduling import reminders
from scheduling.models import Reminder
from tests.factories import due_sms

pytestmark = pytest.mark.django_db


def updates_so_far() -> tuple[int, int]:
    """Rows of the reminder table updated in this transaction, and how many of them in place."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
            " WHERE relname = 'scheduling_reminder'"
        )
        return cursor.fetchone()


def test_a_claim_rewrites_its_rows_in_place(clinic):
    # A claim changes no indexed value: PostgreSQL updates each row without touching an index
    # (a HOT update). An index over ``status`` (or ``claimed_at``, ``attempts``…) would end it.
    due_sms(clinic, 5)
    updated, in_place = updates_so_far()
    with transaction.atomic():
        claimed = reminders.draining._claim_group(10)
    assert len(claimed) == 5
    assert updates_so_far() == (updated + 5, in_place + 5)
    assert set(Reminder.objects.values_list("status", "is_open")) == {("sending", True)}


def test_only_rows_on_their_way_are_open(clinic):
    [row_id] = due_sms(clinic, 1)
    expected = {
        "pending": True,
        "sent": False,
        "failed": False,
        "skipped": False,
        "cancelled": False,
        "unknown": False,
    }
    for status, is_open in expected.items():
        Reminder.objects.filter(pk=row_id).update(
            status=status, sent_at=timezone.now() if status == "sent" else None
        )
        assert Reminder.objects.get(pk=row_id).is_open is is_open, status


def test_the_legacy_queued_status_is_refused_and_migrates_to_pending(clinic):
    # ``queued`` (the dispatcher of before drains) is gone: migration 0009 moves such rows to
    # ``pending``, what they meant, and the known-status constraint refuses it from then on.
    import importlib

    from django.apps import apps

    [row_id] = due_sms(clinic, 1)
    migration = importlib.import_module("scheduling.migrations.0009_remove_queued_reminder_status")
    with connection.cursor() as cursor, transaction.atomic():
        # (ALTER TABLE waits for no deferred foreign-key check of the row just made.)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE scheduling_reminder DROP CONSTRAINT reminder_status_known")
        Reminder.objects.filter(pk=row_id).update(status="queued")
        migration.queued_to_pending(apps, None)
        assert Reminder.objects.get(pk=row_id).status == "pending"
        transaction.set_rollback(True)
    with pytest.raises(IntegrityError, match="reminder_status_known"), transaction.atomic():
        Reminder.objects.filter(pk=row_id).update(status="queued")


@pytest.mark.parametrize(
    ("claimed_at", "scheduled_for"),
    [
        (None, -1),  # sending, never claimed
        (-1, 0),  # claimed before it was due
    ],
)
def test_a_row_is_sending_only_once_claimed_when_due(clinic, claimed_at, scheduled_for):
    [row_id] = due_sms(clinic, 1)
    now = timezone.now()

    def at(minutes):
        return None if minutes is None else now + datetime.timedelta(minutes=minutes)

    with pytest.raises(IntegrityError, match="reminder_claimed_when_due"), transaction.atomic():
        Reminder.objects.filter(pk=row_id).update(
            status="sending", claimed_at=at(claimed_at), scheduled_for=at(scheduled_for)
        )


def test_texts_go_into_an_array_literal_unchanged():
    values = [
        "",
        "plain",
        'a "quoted" word',
        "back\\slash\\",
        "comma, {braces} and 'single quotes'",
        "NULL",
        None,
        " padded ",
        "Ünïcode — 予約",
        "line\nbreak\ttab",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [reminders.sql.text_array_literal(values)])
        assert cursor.fetchone()[0] == values
