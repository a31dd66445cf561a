"""Claiming and draining due reminders: the beat's dispatch wakes drains, each drain claims a
group of due rows at a time, sends them (``sending``) and records their outcomes."""

import datetime
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

from clinic import notifications
from clinic.models import Clinic
from clinic.sql import Table, statement
from patients.models import Patient
from scheduling.models import Device, Reminder, ReminderStatus, RosterEntry, Session
from scheduling.reminders.sending import Claimed, record, record_statements, send_one


def send_timeout() -> datetime.timedelta:
    """A row ``sending`` for longer was cut off mid-call (REMINDER_SEND_TIMEOUT_SECONDS)."""
    return datetime.timedelta(seconds=settings.REMINDER_SEND_TIMEOUT_SECONDS)


def mark_cut_off_sends() -> int:
    """Rows stuck in ``sending`` (the worker died mid-call): the provider may or may not have
    delivered, so they are never resent; staff see them as ``unknown``."""
    cutoff = timezone.now() - send_timeout()
    # Through the index of open rows: a row claimed before the cutoff was due before it.
    return Reminder.objects.filter(
        is_open=True,
        scheduled_for__lt=cutoff,
        status=ReminderStatus.SENDING,
        claimed_at__lt=cutoff,
    ).update(
        status=ReminderStatus.UNKNOWN,
        last_error="Cut off while sending; not resent.",
        updated_at=timezone.now(),
    )


def send_group_size() -> int:
    """Rows a drain claims at once (REMINDER_SEND_GROUP): also the most a killed worker leaves
    ``unknown`` per drain it was running (so per worker thread or process)."""
    return max(1, settings.REMINDER_SEND_GROUP)


def drain_tasks() -> int:
    """Drains woken per dispatch at most (REMINDER_DRAIN_TASKS): about the worker processes and
    threads that may send at once."""
    return max(1, settings.REMINDER_DRAIN_TASKS)


_COUNT_DUE_SQL = statement(
    """
SELECT count(*) FROM (
    SELECT 1 FROM {reminder}
    WHERE {reminder.is_open} AND {reminder.scheduled_for} <= %(now)s
      AND {reminder.status} = 'pending'
    LIMIT %(cap)s
) due
""",
    reminder=Table(Reminder),
)


def dispatch(wake) -> int:
    """One dispatch pass (beat): mark cut-off sends, count the due rows (up to what the drains
    would take in one group each) and call ``wake()`` once per drain wanted: one per
    ``REMINDER_SEND_GROUP`` due rows, at most ``REMINDER_DRAIN_TASKS``. Claims nothing
    itself: drains claim due rows as they go, so a lost message loses nothing (the rows stay
    ``pending``; the next tick wakes drains again). Returns the drains woken."""
    mark_cut_off_sends()
    size, most = send_group_size(), drain_tasks()
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_DUE_SQL, {"now": timezone.now(), "cap": size * most})
        due = cursor.fetchone()[0]
    wanted = min(most, -(-due // size))
    for _ in range(wanted):
        wake()
    return wanted


# A group of due rows claimed in one statement and committed before any provider call: SKIP
# LOCKED gives each row to one drain while drains run side by side. The rows come back with what
# deciding and sending them needs, as it is at claim time.
_CLAIM_GROUP_SQL = statement(
    """
WITH picked AS MATERIALIZED (
    SELECT {reminder.id} AS id FROM {reminder}
    WHERE {reminder.is_open} AND {reminder.scheduled_for} <= %(now)s
      AND {reminder.status} = 'pending'
    ORDER BY {reminder.scheduled_for}
    LIMIT %(size)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE {r}
    SET {reminder.status} = 'sending', {reminder.claimed_at} = %(now)s,
        {reminder.attempts} = {r.attempts} + 1, {reminder.updated_at} = %(now)s
    -- By primary key (as a join, a small table may be hashed whole to find the group's rows).
    WHERE {r.id} = ANY(ARRAY(SELECT id FROM picked))
    RETURNING {r.id} AS id, {r.session_id} AS session_id, {r.patient_id} AS patient_id,
        {r.roster_entry_id} AS roster_entry_id, {r.kind} AS kind, {r.channel} AS channel,
        {r.attempts} AS attempts, {r.scheduled_for} AS scheduled_for
)
SELECT c.id, c.kind, c.channel, c.attempts, {s.status}, {s.starts_at}, {cl.public_name},
    {cl.time_zone}, {p.email}, {p.phone}, c.channel = ANY({p.reminder_channels}) AS consented,
    c.roster_entry_id, {e.response},
    d.devices
FROM claimed c
JOIN {s} ON {s.id} = c.session_id
JOIN {cl} ON {cl.id} = {s.clinic_id}
JOIN {p} ON {p.id} = c.patient_id
LEFT JOIN {e} ON {e.id} = c.roster_entry_id
LEFT JOIN LATERAL (
    SELECT array_agg(ARRAY[{dv.id}::text, {dv.platform}, {dv.token}] ORDER BY {dv.id}) AS devices
    FROM {dv} WHERE c.channel = 'push' AND {dv.patient_id} = c.patient_id
) d ON true
ORDER BY c.scheduled_for, c.id
""",
    reminder=Table(Reminder),
    r=Table(Reminder, "r"),
    s=Table(Session, "s"),
    cl=Table(Clinic, "cl"),
    p=Table(Patient, "p"),
    e=Table(RosterEntry, "e"),
    dv=Table(Device, "dv"),
)


def _claim_group(size: int, outcomes: list[tuple] = ()) -> list[Claimed]:
    """Record ``outcomes`` (the previous group's), then claim up to ``size`` due rows for sending
    and read them with their session, clinic, patient, roster entry and, for push, devices;
    oldest due first. One round trip: the statements go as one query, which PostgreSQL runs as
    one transaction (all or nothing), each seeing the one before (the claim takes rows just
    given back)."""
    statements, params = record_statements(list(outcomes))
    with connection.cursor() as cursor:
        cursor.execute(
            ";\n".join([*statements, _CLAIM_GROUP_SQL]),
            {**params, "size": size, "now": timezone.now()},
        )
        return [Claimed(*row) for row in cursor.fetchall()]


def drain(*, budget_seconds: float | None = None) -> dict[int, str]:
    """Send due reminders, ``REMINDER_SEND_GROUP`` at a time, until none is left or the time
    budget (``REMINDER_DRAIN_SECONDS``) is used: one statement claims a group of due rows
    (``pending`` → ``sending``, SKIP LOCKED, committed before any of its provider calls), each
    row is checked and sent, and the group's outcomes are recorded in the transaction (and
    the round trip) that claims the next group. A killed worker leaves at most one group per drain
    it was running ``sending`` (``unknown`` later, never resent); a group running past half the
    send timeout gives its unsent rows back. A group's e-mails share one connection of the
    e-mail backend (one SMTP session), closed after the group. Returns each claimed id's final
    or next status. Any number of drains may run at once."""
    if budget_seconds is None:
        budget_seconds = settings.REMINDER_DRAIN_SECONDS
    result: dict[int, str] = {}
    size = send_group_size()
    limit = send_timeout().total_seconds() / 2
    stop_at = time.monotonic() + budget_seconds
    outcomes: list[tuple] = []
    # Built before any row is claimed (it connects on its first message).
    email_connection = notifications.email_connection()
    while True:
        claimed = _claim_group(size if time.monotonic() < stop_at else 0, outcomes)
        outcomes = []
        if not claimed:
            return result
        started = time.monotonic()
        now = timezone.now()
        position = 0
        try:
            for position, reminder in enumerate(claimed):
                if position and (time.monotonic() - started > limit or time.monotonic() >= stop_at):
                    # Slow provider, or the drain's budget spent: give the rest back untried
                    # (before the send timeout calls them cut off); the next group or drain
                    # takes them first (they are the oldest due). Each row itself is bounded
                    # by the providers' timeouts (EMAIL_TIMEOUT, SMS_ and FCM_TIMEOUT_SECONDS).
                    outcomes.extend(
                        (r.id, ReminderStatus.PENDING, "", "", None) for r in claimed[position:]
                    )
                    break
                outcome = send_one(reminder, now, email_connection)
                outcomes.append(outcome)
                result[reminder.id] = outcome[1]
        except BaseException:
            # An unexpected error mid-send: record what went out, give back the rows not
            # tried; the row that raised stays ``sending`` (its fate is unknown).
            outcomes.extend(
                (r.id, ReminderStatus.PENDING, "", "", None) for r in claimed[position + 1 :]
            )
            record(outcomes)
            raise
        finally:
            notifications.close_email_connection(email_connection)
