"""Session reminders: an outbox in the database, sent by Celery workers exactly once.

Life of a row: ``pending`` (due at ``scheduled_for``) → ``sending`` (claimed by a drain with a
group of due rows, committed before the provider is called) → ``sent`` | ``failed`` | back to
``pending`` with a backoff after a retryable provider error. A row left ``sending`` past
``REMINDER_SEND_TIMEOUT_SECONDS`` was cut off mid-call (a killed worker): it becomes ``unknown``
and is never sent again blindly. The beat tick only wakes drains; a lost or duplicated message
neither loses nor doubles anything (due rows stay ``pending`` until a drain claims them; SKIP
LOCKED and the status re-read under the row lock give each row to one drain). ``queued`` is the
state the dispatcher of before drains left rows in: the next dispatch puts them back to
``pending``. Nothing depends on beat ticks or broker messages surviving: they only delay.

Texts name the clinic's public name, the local date and time only (DOMAIN.md "Privacy").
"""

import datetime
import functools
import logging
import time
import weakref
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from clinic import notifications
from scheduling.models import (
    AttendanceStatus,
    Channel,
    Device,
    Reminder,
    ReminderKind,
    ReminderStatus,
    RosterEntry,
    RosterResponse,
    Session,
    SessionStatus,
)

logger = logging.getLogger(__name__)

DEFAULT_OFFSETS = (24 * 60, 2 * 60)
QUIET_CHANNELS = (Channel.SMS, Channel.PUSH)
MAX_ATTEMPTS = 5
# FCM's answers for a token that will never work again (INVALID_TOKEN: an INVALID_ARGUMENT
# that FCM pins on the token, clinic.notifications.backends).
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "NOT_FOUND", "INVALID_TOKEN"})


def send_timeout() -> datetime.timedelta:
    """A row ``sending`` for longer was cut off mid-call (REMINDER_SEND_TIMEOUT_SECONDS)."""
    return datetime.timedelta(seconds=settings.REMINDER_SEND_TIMEOUT_SECONDS)


# Texts --------------------------------------------------------------------------------------------


def render(reminder: Reminder) -> tuple[str, str]:
    """``(subject, text)``: the public name, the local date and time, nothing else."""
    clinic = reminder.session.clinic
    return _texts(reminder.kind, clinic.public_name, clinic.time_zone, reminder.session.starts_at)


# The rows of a burst share a few sessions (a group session's roster, a clinic's morning): each
# text is built once per session and kind, not per row.
@functools.lru_cache(maxsize=4096)
def _texts(kind: str, public_name: str, time_zone: str, starts_at) -> tuple[str, str]:
    local = starts_at.astimezone(zoneinfo.ZoneInfo(time_zone))
    when = f"{local:%A, %B} {local.day} at {local:%I:%M %p}".replace(" 0", " ")
    if kind == ReminderKind.CANCELLATION:
        return (
            f"Appointment cancelled: {public_name}",
            f"Your appointment at {public_name} on {when} is cancelled.",
        )
    return (
        f"Appointment reminder: {public_name}",
        f"Reminder: you have an appointment at {public_name} on {when}.",
    )


# Planning -----------------------------------------------------------------------------------------


def in_quiet_hours(moment: datetime.datetime, clinic) -> bool:
    """Whether ``moment`` is in the clinic's quiet hours (no SMS or push then; the waitlist's
    offer notices keep them too)."""
    local = moment.astimezone(clinic.zone).time()
    start, end = clinic.quiet_hours_start, clinic.quiet_hours_end
    if start == end:
        return False
    return (local >= start or local < end) if start > end else (start <= local < end)


def quiet_hours_end(moment: datetime.datetime, clinic) -> datetime.datetime:
    """The next end of the clinic's quiet hours after ``moment``."""
    local = moment.astimezone(clinic.zone)
    end = local.replace(
        hour=clinic.quiet_hours_end.hour,
        minute=clinic.quiet_hours_end.minute,
        second=0,
        microsecond=0,
    )
    if end <= local:
        end += datetime.timedelta(days=1)
    return end.astimezone(datetime.UTC)


def _plan(session: Session, channel: str, offsets, now: datetime.datetime):
    """``[(offset, scheduled_for, status)]`` for one roster entry and channel.

    Offsets already past when the entry is created: only the nearest to the start is sent (at
    once), the others are skipped. SMS and push falling in the clinic's quiet hours go out when
    they end if that is still before the session, else they are skipped.
    """
    offsets = sorted(set(offsets), reverse=True)
    past = [o for o in offsets if session.starts_at - datetime.timedelta(minutes=o) <= now]
    nearest_past = min(past) if past else None
    plan = []
    for offset in offsets:
        when = session.starts_at - datetime.timedelta(minutes=offset)
        status = ReminderStatus.PENDING
        if when <= now:
            when = now
            if offset != nearest_past:
                status = ReminderStatus.SKIPPED
        if (
            status == ReminderStatus.PENDING
            and channel in QUIET_CHANNELS
            and in_quiet_hours(when, session.clinic)
        ):
            when = quiet_hours_end(when, session.clinic)
            if when >= session.starts_at:
                status = ReminderStatus.SKIPPED
        plan.append((offset, when, status))
    return plan


# The rules of ``_plan`` in SQL, for every new entry × channel × offset at once: no row passes
# through Python, so planning a term's rosters costs about what copying the rows in would.
# ``_plan`` stays the reference (replan_session uses it); tests hold the two to the same answers.
# ``channels`` limits the rows to channels a patient has just added (``plan_for_channels``); for
# new entries it is NULL and PostgreSQL folds the test away: their plan is what it was.
_PLAN_SQL = """
INSERT INTO scheduling_reminder (session_id, patient_id, roster_entry_id, kind, offset_minutes,
    channel, scheduled_for, status, attempts, last_error, provider_message_id, created_at,
    updated_at)
SELECT session_id, patient_id, entry_id, 'reminder', offset_minutes, channel,
    CASE WHEN quiet THEN quiet_end ELSE due END,
    CASE WHEN quiet AND quiet_end >= starts_at THEN 'skipped' ELSE status END,
    0, '', '', %(now)s, %(now)s
FROM (
    SELECT p.*,
        p.status = 'pending' AND p.channel IN ('sms', 'push') AND p.qs <> p.qe
            AND CASE WHEN p.qs > p.qe THEN p.local_due >= p.qs OR p.local_due < p.qe
                     ELSE p.local_due >= p.qs AND p.local_due < p.qe END AS quiet,
        timezone(p.time_zone,
            date_trunc('day', timezone(p.time_zone, p.due)) + p.qe
            + CASE WHEN date_trunc('day', timezone(p.time_zone, p.due)) + p.qe
                        <= timezone(p.time_zone, p.due)
                   THEN interval '1 day' ELSE interval '0' END) AS quiet_end
    FROM (
        SELECT o.*, timezone(o.time_zone, o.due)::time AS local_due
        FROM (
            SELECT e.*, off.offset_minutes, ch.channel,
                GREATEST(e.starts_at - make_interval(mins => off.offset_minutes), %(now)s) AS due,
                CASE WHEN e.starts_at - make_interval(mins => off.offset_minutes) <= %(now)s
                      AND off.offset_minutes <> e.nearest_past THEN 'skipped'
                     ELSE 'pending' END AS status
            FROM (
                SELECT r.id AS entry_id, r.session_id, r.patient_id, s.starts_at,
                    c.time_zone, c.quiet_hours_start AS qs, c.quiet_hours_end AS qe,
                    pt.reminder_channels AS channels, offs.offsets,
                    (SELECT min(x) FROM unnest(offs.offsets) AS x
                     WHERE s.starts_at - make_interval(mins => x) <= %(now)s) AS nearest_past
                FROM unnest(%(ids)s::bigint[]) AS wanted(id)
                JOIN scheduling_rosterentry r ON r.id = wanted.id
                JOIN scheduling_session s ON s.id = r.session_id
                JOIN clinic_clinic c ON c.id = s.clinic_id
                JOIN patients_patient pt ON pt.id = r.patient_id
                LEFT JOIN programs_program pr ON pr.id = s.program_id
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN s.program_id IS NULL THEN %(default_offsets)s::integer[]
                                ELSE pr.reminder_offsets_minutes END AS offsets
                ) offs
                WHERE s.status = 'scheduled' AND s.starts_at > %(now)s
            ) e
            CROSS JOIN LATERAL (SELECT DISTINCT unnest(e.offsets) AS offset_minutes) off
            CROSS JOIN LATERAL (SELECT DISTINCT unnest(e.channels) AS channel) ch
            -- Only the channels just added (NULL: all, what new entries get; folded away then).
            WHERE %(channels)s::text[] IS NULL OR ch.channel = ANY(%(channels)s::text[])
        ) o
    ) p
) planned
"""


# The given entries that have no reminder yet, as two lists: those whose session and patient
# have no reminder row at all (nothing they plan can collide with a row of before), and those
# whose patient has rows for the session already (from a roster entry since removed: ``_PLAN_SQL``
# must skip what collides with those). A statement of its own, before the INSERT: inside the
# INSERT the same tests may be planned as a nested loop over a sequential scan of the reminder
# table (when its statistics say it is empty), rereading the pages the INSERT has just written
# for every entry: quadratic.
_UNPLANNED_SQL = """
WITH entry AS MATERIALIZED (
    SELECT r.id,
        CASE WHEN NOT EXISTS (SELECT 1 FROM scheduling_reminder m
                              WHERE m.session_id = r.session_id AND m.patient_id = r.patient_id)
             THEN 'clear'
             WHEN NOT EXISTS (SELECT 1 FROM scheduling_reminder m WHERE m.roster_entry_id = r.id)
             THEN 'seen'
        END AS state
    FROM unnest(%s::bigint[]) AS wanted(id)
    JOIN scheduling_rosterentry r ON r.id = wanted.id
)
SELECT array_agg(id) FILTER (WHERE state = 'clear'), array_agg(id) FILTER (WHERE state = 'seen')
FROM entry
"""


def _array_literal(ids) -> str:
    # One array literal ('{1,2,…}'): psycopg2 would send a list as ARRAY[1, 2, …], an
    # expression of one node per id that PostgreSQL parses and plans (~0.2 s for 100,000).
    return "{" + ",".join(map(str, ids)) + "}"


def plan_for_entries(entry_ids) -> int:
    """Create the reminders of new roster entries (one INSERT … SELECT, by the rules of
    ``_plan``); an entry that has reminders already gets none (a second call creates nothing,
    and the unique constraint holds against a concurrent one). Returns the rows created.

    Entries whose patient never had a reminder for the session are inserted without ``ON
    CONFLICT`` (its check of each row costs a quarter of the statement), in a savepoint: should
    a concurrent call have planned some of them meanwhile, they go the careful way with the
    rest, the ones whose session and patient have rows already."""
    ids = sorted({int(entry_id) for entry_id in entry_ids})
    if not ids:
        return 0
    params = {"now": timezone.now(), "default_offsets": list(DEFAULT_OFFSETS), "channels": None}
    with connection.cursor() as cursor:
        cursor.execute(_UNPLANNED_SQL, [_array_literal(ids)])
        clear, seen = cursor.fetchone()
        clear, seen, created = clear or [], seen or [], 0
        if clear:
            try:
                with transaction.atomic():
                    cursor.execute(_PLAN_SQL, {**params, "ids": _array_literal(clear)})
                    created = cursor.rowcount
            except IntegrityError:
                seen = [*seen, *clear]
        if seen:
            cursor.execute(
                _PLAN_SQL + "ON CONFLICT DO NOTHING", {**params, "ids": _array_literal(seen)}
            )
            created += cursor.rowcount
    return created


def plan_for_channels(*, patient_ids, channels, now: datetime.datetime) -> int:
    """Channels just added to these patients' consent: plan the reminders on them of their
    entries still ahead, by the rules of ``plan_for_entries`` as of ``now`` (offsets already past:
    only the nearest, at once; quiet hours), in one INSERT … SELECT that skips every reminder
    that exists. So a channel added twice plans nothing the second time, and one removed and
    added again plans nothing new: its rows still pending are simply sent (consent is read at
    send time), those refused while it was off stay cancelled (one row per reminder, ever).
    A declined entry gets nothing (a decline cancels the session's reminders), nor one whose
    patient is excused already (excusing cancels them too). Returns the rows created.

    A race left open: the caller holds the patients' rows locked, but a roster entry of a
    transaction still open meanwhile (an admission of the same patient that very moment) is
    invisible here, and its own planning read the channels from before: it misses the channel.
    Closing it would lock every patient a roster write plans for, on the hot path."""
    channels = sorted(set(channels))
    # The entries a new channel may still remind: ahead, and not declined (a decline cancels the
    # session's reminders; new entries, all ``plan_for_entries`` sees, are never declined, so the
    # test stays out of its statement). ``_PLAN_SQL`` applies the planning rules to them.
    ids = list(
        RosterEntry.objects.filter(
            patient_id__in=list(patient_ids),
            session__status=SessionStatus.SCHEDULED,
            session__starts_at__gt=now,
        )
        .exclude(response=RosterResponse.DECLINED)
        .exclude(attendance__status=AttendanceStatus.EXCUSED)
        .values_list("id", flat=True)
    )
    if not ids or not channels:
        return 0
    params = {
        "now": now,
        "default_offsets": list(DEFAULT_OFFSETS),
        "channels": channels,
        "ids": _array_literal(ids),
    }
    with connection.cursor() as cursor:
        cursor.execute(_PLAN_SQL + "ON CONFLICT DO NOTHING", params)
        return cursor.rowcount


class ChannelPlanner:
    """Scheduling's side of ``patients.hooks.ReminderPlanner`` (registered in
    ``SchedulingConfig.ready``)."""

    def channels_added(self, *, patient_ids, channels, now) -> int:
        return plan_for_channels(patient_ids=patient_ids, channels=channels, now=now)


def replan_session(session: Session) -> int:
    """A moved session: its pending reminders follow the new time (by the same rules)."""
    now = timezone.now()
    session = Session.objects.select_related("clinic").get(pk=session.pk)
    pending = list(
        Reminder.objects.select_for_update().filter(
            session=session,
            kind=ReminderKind.REMINDER,
            status__in=[ReminderStatus.PENDING, ReminderStatus.QUEUED],
        )
    )
    for reminder in pending:
        [(_offset, when, status)] = _plan(session, reminder.channel, [reminder.offset_minutes], now)
        reminder.scheduled_for, reminder.status = when, status
    Reminder.objects.bulk_update(pending, ["scheduled_for", "status"])
    return len(pending)


def cancel_pending(**filters) -> int:
    return Reminder.objects.filter(
        status__in=[ReminderStatus.PENDING, ReminderStatus.QUEUED], **filters
    ).update(status=ReminderStatus.CANCELLED, updated_at=timezone.now())


def cancel_with_notices(*, session: Session, patient_ids=None) -> int:
    """Cancel pending reminders of a cancelled session (or of removed roster entries) and,
    where a reminder already went out, queue one cancellation notice per patient and channel."""
    scope = {"session": session}
    if patient_ids is not None:
        scope["patient_id__in"] = list(patient_ids)
    cancel_pending(**scope)
    if session.starts_at <= timezone.now():
        return 0
    notices = {
        (patient_id, channel)
        for patient_id, channel in Reminder.objects.filter(
            status=ReminderStatus.SENT, kind=ReminderKind.REMINDER, **scope
        ).values_list("patient_id", "channel")
    }
    now = timezone.now()
    rows = [
        Reminder(
            session=session,
            patient_id=patient_id,
            kind=ReminderKind.CANCELLATION,
            offset_minutes=0,
            channel=channel,
            scheduled_for=now,
        )
        for patient_id, channel in notices
    ]
    return len(Reminder.objects.bulk_create(rows, ignore_conflicts=True))


def notices_for_removed(pairs) -> int:
    """Cancellation notices for ``(session_id, patient_id)`` pairs taken off future rosters,
    where a reminder already went out: one query to find them, one insert."""
    if not pairs:
        return 0
    sessions = {session_id for session_id, _ in pairs}
    sent = (
        Reminder.objects.filter(
            session_id__in=sessions,
            status=ReminderStatus.SENT,
            kind=ReminderKind.REMINDER,
            session__starts_at__gt=timezone.now(),
        )
        .values_list("session_id", "patient_id", "channel")
        .distinct()
    )
    wanted = set(pairs)
    now = timezone.now()
    rows = [
        Reminder(
            session_id=session_id,
            patient_id=patient_id,
            kind=ReminderKind.CANCELLATION,
            offset_minutes=0,
            channel=channel,
            scheduled_for=now,
        )
        for session_id, patient_id, channel in sent
        if (session_id, patient_id) in wanted
    ]
    return len(Reminder.objects.bulk_create(rows, ignore_conflicts=True))


# Dispatch -----------------------------------------------------------------------------------------


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


def release_queued() -> int:
    """Rows left ``queued`` by the dispatcher of before drains (each waited for a message of
    ids): back to ``pending``, where a drain claims them. A message of the old kind still in
    the broker only wakes a drain; its own claim of ``queued`` rows is gone, so nothing is
    sent twice."""
    # Through the index of open rows: that dispatcher queued only rows that were due.
    return Reminder.objects.filter(
        is_open=True, scheduled_for__lte=timezone.now(), status=ReminderStatus.QUEUED
    ).update(status=ReminderStatus.PENDING, updated_at=timezone.now())


def send_group_size() -> int:
    """Rows a drain claims at once (REMINDER_SEND_GROUP): also the most a killed worker leaves
    ``unknown`` per drain it was running (so per worker thread or process)."""
    return max(1, settings.REMINDER_SEND_GROUP)


def drain_tasks() -> int:
    """Drains woken per dispatch at most (REMINDER_DRAIN_TASKS): about the worker processes and
    threads that may send at once."""
    return max(1, settings.REMINDER_DRAIN_TASKS)


_COUNT_DUE_SQL = """
SELECT count(*) FROM (
    SELECT 1 FROM scheduling_reminder
    WHERE is_open AND scheduled_for <= %(now)s AND status = 'pending'
    LIMIT %(cap)s
) due
"""


def dispatch(wake) -> int:
    """One dispatch pass (beat): mark cut-off sends, release legacy ``queued`` rows, count the
    due rows (up to what the drains would take in one group each) and call ``wake()`` once per
    drain wanted: one per ``REMINDER_SEND_GROUP`` due rows, at most ``REMINDER_DRAIN_TASKS``.
    Claims nothing itself: drains claim due rows as they go, so a lost message loses nothing
    (the rows stay ``pending``; the next tick wakes drains again). Returns the drains woken."""
    mark_cut_off_sends()
    release_queued()
    size, most = send_group_size(), drain_tasks()
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_DUE_SQL, {"now": timezone.now(), "cap": size * most})
        due = cursor.fetchone()[0]
    wanted = min(most, -(-due // size))
    for _ in range(wanted):
        wake()
    return wanted


# Sending ------------------------------------------------------------------------------------------

# A group of due rows claimed in one statement, committed before any of its provider calls: SKIP
# LOCKED lets drains run side by side without waiting on or sharing rows, and the lock re-reads
# the status, so of two drains reaching for a row one gets it. The rows come back with what
# deciding and sending them needs: session, clinic, patient (consent), roster entry and, for
# push, devices, as they are at claim time. The claim changes no indexed value (the row stays
# open), so PostgreSQL rewrites each row in place: only the outcome adds index entries. The scan
# of open rows walks past the rows other drains are sending (a group each, at most).
_CLAIM_GROUP_SQL = """
WITH picked AS MATERIALIZED (
    SELECT id FROM scheduling_reminder
    WHERE is_open AND scheduled_for <= $2 AND status = 'pending'
    ORDER BY scheduled_for
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE scheduling_reminder r
    SET status = 'sending', claimed_at = $2, attempts = r.attempts + 1, updated_at = $2
    -- By primary key (as a join, a small table may be hashed whole to find the group's rows).
    WHERE r.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING r.id, r.session_id, r.patient_id, r.roster_entry_id, r.kind, r.channel, r.attempts,
        r.scheduled_for
)
SELECT c.id, c.kind, c.channel, c.attempts, s.status, s.starts_at, cl.public_name,
    cl.time_zone, p.email, p.phone, c.channel = ANY(p.reminder_channels) AS consented,
    c.roster_entry_id, e.response,
    d.devices
FROM claimed c
JOIN scheduling_session s ON s.id = c.session_id
JOIN clinic_clinic cl ON cl.id = s.clinic_id
JOIN patients_patient p ON p.id = c.patient_id
LEFT JOIN scheduling_rosterentry e ON e.id = c.roster_entry_id
LEFT JOIN LATERAL (
    SELECT array_agg(ARRAY[dv.id::text, dv.platform, dv.token] ORDER BY dv.id) AS devices
    FROM scheduling_device dv WHERE c.channel = 'push' AND dv.patient_id = c.patient_id
) d ON true
ORDER BY c.scheduled_for, c.id
"""


@dataclass(slots=True)
class _Claimed:
    """A row claimed for sending, with what deciding and sending it needs (read in the claim)."""

    id: int
    kind: str
    channel: str
    attempts: int
    session_status: str
    starts_at: datetime.datetime
    public_name: str
    time_zone: str
    email: str
    phone: str
    consented: bool  # the patient's channels include this row's
    roster_entry_id: int | None
    response: str | None
    devices: list | None


# The outcomes of a group in one statement: the rows found by primary key (the ids behind a
# subquery, whose size the planner does not guess: given the array itself, it may prefer reading
# a small table whole), each row's outcome read off the arrays at its id's position. (Joined to
# the unnested arrays instead, the planner may, misjudging how many rows are left ``sending``,
# test every outcome against every row: a group of 200 took 40,000 comparisons.) Only rows still
# ``sending`` are written (a row marked ``unknown`` meanwhile stays so; the status test is
# re-read on the row's current version under its lock). ``pending`` with no retry time gives
# back a claimed row that was not tried (its attempt not counted).
_RECORD_SQL = """
UPDATE scheduling_reminder r
SET (status, last_error, provider_message_id, sent_at, scheduled_for, attempts, updated_at) = (
    SELECT v.status,
        v.last_error,
        CASE WHEN v.status = 'sent' THEN v.provider_message_id ELSE r.provider_message_id END,
        CASE WHEN v.status = 'sent' THEN $6 ELSE r.sent_at END,
        COALESCE(v.scheduled_for, r.scheduled_for),
        CASE WHEN v.status = 'pending' AND v.scheduled_for IS NULL
             THEN r.attempts - 1 ELSE r.attempts END,
        $6
    FROM (SELECT $2[i] AS status, $3[i] AS last_error, $4[i] AS provider_message_id,
                 $5[i] AS scheduled_for
          FROM array_position($1, r.id) AS i) v
)
WHERE r.id = ANY(ARRAY(SELECT unnest($1))) AND r.status = 'sending'
"""


# The common outcome alone: rows sent, each with its provider's id. Most of a group's outcomes
# are this; written without the general statement's per-row subquery over five arrays, which
# costs a sixth of recording them.
_RECORD_SENT_SQL = """
UPDATE scheduling_reminder r
SET status = 'sent', last_error = '', provider_message_id = $2[array_position($1, r.id)],
    sent_at = $3, updated_at = $3
WHERE r.id = ANY(ARRAY(SELECT unnest($1))) AND r.status = 'sending'
"""


# Prepared once per database connection: planning these joins costs more than running them.
_PREPARED = {
    "reminder_claim_due_group": ("integer, timestamptz", _CLAIM_GROUP_SQL),
    "reminder_record_group": (
        "bigint[], text[], text[], text[], timestamptz[], timestamptz",
        _RECORD_SQL,
    ),
    "reminder_record_sent": ("bigint[], text[], timestamptz", _RECORD_SENT_SQL),
}
_prepared_on: "weakref.WeakKeyDictionary[object, set[str]]" = weakref.WeakKeyDictionary()


def _execute_prepared(cursor, name: str, params: list) -> None:
    connection.ensure_connection()
    done = _prepared_on.setdefault(connection.connection, set())
    if name not in done:
        types, sql = _PREPARED[name]
        cursor.execute(f"PREPARE {name} ({types}) AS {sql}")
        done.add(name)
    casts = ", ".join(f"%s::{t}" for t in _PREPARED[name][0].split(", "))
    cursor.execute(f"EXECUTE {name} ({casts})", params)


def _claim_group(size: int) -> list[_Claimed]:
    """Claim up to ``size`` due rows for sending (one statement) and read them with their
    session, clinic, patient, roster entry and, for push, devices; oldest due first."""
    with connection.cursor() as cursor:
        _execute_prepared(cursor, "reminder_claim_due_group", [size, timezone.now()])
        return [_Claimed(*row) for row in cursor.fetchall()]


def _text_array_literal(values) -> str:
    """One array literal of texts (``None``: NULL), each element quoted: see ``_array_literal``
    (five lists of a group's outcomes as ``ARRAY[…]`` cost about a tenth of recording them)."""
    return (
        "{"
        + ",".join(
            "NULL"
            if value is None
            else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for value in values
        )
        + "}"
    )


def _record(outcomes: list[tuple]) -> None:
    """``outcomes``: ``(id, status, last_error, provider_message_id, retry_at)``. The rows sent
    in one statement, any others in a second."""
    if not outcomes:
        return
    now = timezone.now()
    sent = [outcome for outcome in outcomes if outcome[1] == ReminderStatus.SENT]
    others = [outcome for outcome in outcomes if outcome[1] != ReminderStatus.SENT]
    with connection.cursor() as cursor:
        if sent:
            ids, _statuses, _errors, provider_ids, _retry_at = zip(*sent, strict=True)
            _execute_prepared(
                cursor,
                "reminder_record_sent",
                [_array_literal(ids), _text_array_literal(provider_ids), now],
            )
        if others:
            ids, statuses, errors, provider_ids, retry_at = zip(*others, strict=True)
            _execute_prepared(
                cursor,
                "reminder_record_group",
                [
                    _array_literal(ids),
                    _text_array_literal(statuses),
                    _text_array_literal(errors),
                    _text_array_literal(provider_ids),
                    _text_array_literal(None if at is None else at.isoformat() for at in retry_at),
                    now,
                ],
            )


def _why_not_send(row: _Claimed, now: datetime.datetime) -> tuple[str, str] | None:
    """``(status, reason)`` when the reminder must no longer go out, else None."""
    if row.kind == ReminderKind.REMINDER:
        if row.session_status != SessionStatus.SCHEDULED:
            return ReminderStatus.CANCELLED, "The session is not scheduled any more."
        if row.starts_at <= now:
            return ReminderStatus.SKIPPED, "The session has started."
        if row.roster_entry_id is None:
            return ReminderStatus.CANCELLED, "The patient left the roster."
        if row.response == RosterResponse.DECLINED:
            return ReminderStatus.CANCELLED, "The patient declined the session."
    # Consent is read when the row is claimed, right before its group goes out: an opt-out
    # applies to pending rows at once.
    if not row.consented:
        return ReminderStatus.CANCELLED, "The patient opted out of this channel."
    return None


def _deliver(row: _Claimed, subject: str, text: str, email_connection) -> str:
    if row.channel == Channel.EMAIL:
        return notifications.send_email(
            to=row.email, subject=subject, text=text, connection=email_connection
        ).provider_message_id
    if row.channel == Channel.SMS:
        return notifications.send_sms(to=row.phone, text=text).provider_message_id
    if not row.devices:
        raise notifications.ChannelError("No device registered for push.", retryable=False)
    ids, errors = [], []
    for device_id, platform, token in row.devices:
        try:
            result = notifications.send_push(
                token=token, platform=platform, title=subject, body=text
            )
        except notifications.ChannelError as error:
            if error.code in DEAD_TOKEN_CODES and not error.retryable:
                # The app was removed, the token replaced or never valid: never push to it again.
                _device_forget_dead(device_id=int(device_id), token=token)
            errors.append(error)
        else:
            ids.append(result.provider_message_id)
    if not ids:
        # Retrying helps only if some device failed for a passing reason.
        retryable = [error for error in errors if error.retryable]
        raise retryable[0] if retryable else errors[0]
    # Reached at least one of the patient's phones: sent (a retry would double it on the others).
    return ",".join(ids)[:200]


def _device_forget_dead(*, device_id: int, token: str) -> None:
    """Forget a device whose token the provider refused for good, audited like the app's own
    sign-out (no actor: the system). Only if the row still holds that token."""
    # Imported here: the services module imports this one.
    from scheduling.services import device_forget

    with transaction.atomic():
        device = (
            Device.objects.select_for_update(of=("self",))
            .select_related("patient")
            .filter(pk=device_id, token=token)
            .first()
        )
        if device is not None:
            device_forget(actor=None, device=device)


def backoff(attempt: int) -> datetime.timedelta:
    """1, 2, 4, 8 minutes... capped at 30."""
    return datetime.timedelta(minutes=min(2 ** (attempt - 1), 30))


def _send_one(row: _Claimed, now: datetime.datetime, email_connection) -> tuple:
    """Send one claimed row (an e-mail through ``email_connection``); returns its outcome for
    ``_record``."""
    refusal = _why_not_send(row, now)
    if refusal is not None:
        status, reason = refusal
        return (row.id, status, reason, "", None)
    subject, text = _texts(row.kind, row.public_name, row.time_zone, row.starts_at)
    try:
        provider_id = _deliver(row, subject, text, email_connection)
    except notifications.ChannelError as error:
        return _failure(row, error)
    return (row.id, ReminderStatus.SENT, "", provider_id, None)


def drain(*, budget_seconds: float | None = None) -> dict[int, str]:
    """Send due reminders, ``REMINDER_SEND_GROUP`` at a time, until none is left or the time
    budget (``REMINDER_DRAIN_SECONDS``) is used: one statement claims a group of due rows
    (``pending`` → ``sending``, SKIP LOCKED, committed before any of its provider calls), each
    row is checked and sent, and the group's outcomes are recorded in one statement, in the
    transaction that claims the next group. A killed worker leaves at most one group per drain
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
        with transaction.atomic():
            _record(outcomes)
            outcomes = []
            claimed = _claim_group(size) if time.monotonic() < stop_at else []
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
                outcome = _send_one(reminder, now, email_connection)
                outcomes.append(outcome)
                result[reminder.id] = outcome[1]
        except BaseException:
            # An unexpected error mid-send: record what went out, give back the rows not
            # tried; the row that raised stays ``sending`` (its fate is unknown).
            outcomes.extend(
                (r.id, ReminderStatus.PENDING, "", "", None) for r in claimed[position + 1 :]
            )
            _record(outcomes)
            raise
        finally:
            notifications.close_email_connection(email_connection)


def _failure(row: _Claimed, error) -> tuple:
    now = timezone.now()
    retry_at = now + backoff(row.attempts)
    deadline = row.starts_at if row.kind == ReminderKind.REMINDER else None
    if (
        error.retryable
        and row.attempts < MAX_ATTEMPTS
        and (deadline is None or retry_at < deadline)
    ):
        status, when = ReminderStatus.PENDING, retry_at
    else:
        status, when = ReminderStatus.FAILED, None
    logger.warning("Reminder %s: %s (%s)", row.id, status, error.detail)
    return (row.id, status, str(error.detail)[:300], "", when)


def retry_failed(*, reminder: Reminder) -> bool:
    """Staff retry of a failed row: back to pending now (if its session is still ahead)."""
    return (
        Reminder.objects.filter(
            Q(kind=ReminderKind.CANCELLATION) | Q(session__starts_at__gt=timezone.now()),
            pk=reminder.pk,
            status=ReminderStatus.FAILED,
        ).update(
            status=ReminderStatus.PENDING, scheduled_for=timezone.now(), updated_at=timezone.now()
        )
        == 1
    )
