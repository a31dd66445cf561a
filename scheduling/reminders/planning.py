"""Which reminders a roster entry gets: offsets before the session, per consented channel,
quiet hours kept; and what a moved, cancelled or left session does to them."""

import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinic.models import Clinic
from clinic.sql import Table, statement
from patients.models import Patient
from scheduling.models import (
    AttendanceStatus,
    Channel,
    Reminder,
    ReminderKind,
    ReminderStatus,
    RosterEntry,
    RosterResponse,
    Session,
    SessionStatus,
)
from scheduling.reminders.sql import array_literal

DEFAULT_OFFSETS = (24 * 60, 2 * 60)
QUIET_CHANNELS = (Channel.SMS, Channel.PUSH)


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


# ``_plan``'s rules in SQL for every new entry × channel × offset at once (no row through
# Python); ``_plan`` stays the reference and tests hold the two to the same answers.
# ``channels``: only a patient's newly added channels (``plan_for_channels``); NULL for new entries.
_PLAN_SQL = statement(
    """
INSERT INTO {reminder} ({reminder.session}, {reminder.patient}, {reminder.roster_entry},
    {reminder.kind}, {reminder.offset_minutes}, {reminder.channel}, {reminder.scheduled_for},
    {reminder.status}, {reminder.attempts}, {reminder.last_error},
    {reminder.provider_message_id}, {reminder.created_at}, {reminder.updated_at})
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
                SELECT {r.id} AS entry_id, {r.session_id} AS session_id,
                    {r.patient_id} AS patient_id, {s.starts_at} AS starts_at,
                    {c.time_zone} AS time_zone, {c.quiet_hours_start} AS qs,
                    {c.quiet_hours_end} AS qe, {pt.reminder_channels} AS channels, offs.offsets,
                    (SELECT min(x) FROM unnest(offs.offsets) AS x
                     WHERE {s.starts_at} - make_interval(mins => x) <= %(now)s) AS nearest_past
                FROM unnest(%(ids)s::bigint[]) AS wanted(id)
                JOIN {r} ON {r.id} = wanted.id
                JOIN {s} ON {s.id} = {r.session_id}
                JOIN {c} ON {c.id} = {s.clinic_id}
                JOIN {pt} ON {pt.id} = {r.patient_id}
                LEFT JOIN {pr} ON {pr.id} = {s.program_id}
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN {s.program_id} IS NULL THEN %(default_offsets)s::integer[]
                                ELSE {pr.reminder_offsets_minutes} END AS offsets
                ) offs
                WHERE {s.status} = 'scheduled' AND {s.starts_at} > %(now)s
            ) e
            CROSS JOIN LATERAL (SELECT DISTINCT unnest(e.offsets) AS offset_minutes) off
            CROSS JOIN LATERAL (SELECT DISTINCT unnest(e.channels) AS channel) ch
            -- Only the channels just added (NULL: all, what new entries get; folded away then).
            WHERE %(channels)s::text[] IS NULL OR ch.channel = ANY(%(channels)s::text[])
        ) o
    ) p
) planned
""",
    reminder=Table(Reminder),
    r=Table(RosterEntry, "r"),
    s=Table(Session, "s"),
    c=Table(Clinic, "c"),
    pt=Table(Patient, "pt"),
    # Scheduling knows programs only through the foreign key (DESIGN.md), not by import.
    pr=Table(Session._meta.get_field("program").related_model, "pr"),
)


# The entries with no reminder yet, split by whether their patient already has rows for the
# session (left by a removed roster entry: ``_PLAN_SQL`` must skip those). Its own statement:
# inside the INSERT the same tests can be planned as a quadratic nested loop.
_UNPLANNED_SQL = statement(
    """
WITH entry AS MATERIALIZED (
    SELECT {r.id} AS id,
        CASE WHEN NOT EXISTS (SELECT 1 FROM {m}
                              WHERE {m.session_id} = {r.session_id}
                                AND {m.patient_id} = {r.patient_id})
             THEN 'clear'
             WHEN NOT EXISTS (SELECT 1 FROM {m} WHERE {m.roster_entry_id} = {r.id})
             THEN 'seen'
        END AS state
    FROM unnest(%s::bigint[]) AS wanted(id)
    JOIN {r} ON {r.id} = wanted.id
)
SELECT array_agg(id) FILTER (WHERE state = 'clear'), array_agg(id) FILTER (WHERE state = 'seen')
FROM entry
""",
    r=Table(RosterEntry, "r"),
    m=Table(Reminder, "m"),
)


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
        cursor.execute(_UNPLANNED_SQL, [array_literal(ids)])
        clear, seen = cursor.fetchone()
        clear, seen, created = clear or [], seen or [], 0
        if clear:
            try:
                with transaction.atomic():
                    cursor.execute(_PLAN_SQL, {**params, "ids": array_literal(clear)})
                    created = cursor.rowcount
            except IntegrityError:
                seen = [*seen, *clear]
        if seen:
            cursor.execute(
                _PLAN_SQL + "ON CONFLICT DO NOTHING", {**params, "ids": array_literal(seen)}
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
        "ids": array_literal(ids),
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
            status=ReminderStatus.PENDING,
        )
    )
    for reminder in pending:
        [(_offset, when, status)] = _plan(session, reminder.channel, [reminder.offset_minutes], now)
        reminder.scheduled_for, reminder.status = when, status
    Reminder.objects.bulk_update(pending, ["scheduled_for", "status"])
    return len(pending)


def cancel_pending(**filters) -> int:
    return Reminder.objects.filter(status=ReminderStatus.PENDING, **filters).update(
        status=ReminderStatus.CANCELLED, updated_at=timezone.now()
    )


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
