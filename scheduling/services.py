"""Writes of the calendar: series and their expansion, sessions, rosters and attendance, devices
and calendar feeds.

A program's sessions and series are written by the ``program_*`` services (and the nightly
``materialize_all_series``), which keep the program's cadence and fill its rosters through
``scheduling.program_rules`` (scheduling never imports programs). Rosters of program sessions
are kept in step with enrollments by the programs app, which calls ``roster_add_for_stay`` /
``roster_remove_from`` inside its own transactions. Both are set-based: one statement whatever
the number of sessions.
"""

import datetime
from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import AuditAction, Clinic
from clinic.selectors import CLINICAL_ROLES
from clinic.services import audit_record
from clinic.sql import Table, statement
from clinic.versions import refresh_version, require_version
from patients.models import Patient
from scheduling import feeds, reminders
from scheduling.models import (
    ATTENDED,
    TOKEN_MAX_LENGTH,
    Attendance,
    AttendanceStatus,
    CalendarFeed,
    Device,
    Reminder,
    RosterEntry,
    RosterResponse,
    Series,
    Session,
    SessionKind,
    SessionStatus,
)
from scheduling.program_rules import ProgramRules, is_program_session, program_rules
from scheduling.recurrence import local_to_utc, occurrences

EDIT_SCOPES = ("this", "following", "all")
# Who may create and change sessions and series, in the API and the admin: those who run them.
CALENDAR_WRITE_ROLES = CLINICAL_ROLES


def horizon_date(clinic: Clinic) -> datetime.date:
    weeks = getattr(settings, "SCHEDULE_HORIZON_WEEKS", 8)
    return clinic.today() + datetime.timedelta(weeks=weeks)


# Series -------------------------------------------------------------------------------------------


# How far back a new series may start: its occurrences from its first day on are created with
# it, so a start years ago would be thousands of sessions in one request.
SERIES_MAX_PAST = datetime.timedelta(days=366)


WEEKDAYS_MESSAGE = "Weekdays are 1 (Monday) to 7 (Sunday), at least one."


def _check_series(weekdays, duration_minutes, starts_on, ends_on, *, clinic) -> list[int]:
    errors = {}
    if starts_on < clinic.today() - SERIES_MAX_PAST:
        errors["starts_on"] = ["A series starts at most a year ago."]
    days = sorted(set(weekdays or []))
    if not days or any(day not in range(1, 8) for day in days):
        errors["weekdays"] = [WEEKDAYS_MESSAGE]
    if not 0 < duration_minutes <= 24 * 60:
        errors["duration_minutes"] = ["A session lasts between 1 minute and 24 hours."]
    if ends_on is not None and ends_on < starts_on:
        errors["ends_on"] = ["A series cannot end before it starts."]
    if errors:
        raise ValidationError(errors)
    return days


def _check_program_clinic(program, clinic: Clinic) -> None:
    """A program's sessions and series are its clinic's (the database refuses others too)."""
    if program is not None and program.clinic_id != clinic.pk:
        raise ValidationError({"program": ["The program belongs to another clinic."]})


@transaction.atomic
def series_create(
    *,
    actor,
    clinic: Clinic,
    title: str,
    weekdays,
    local_start_time: datetime.time,
    duration_minutes: int,
    starts_on: datetime.date,
    ends_on: datetime.date | None = None,
    program=None,
    kind: str = SessionKind.GROUP,
    location: str = "",
    room=None,
    facilitator=None,
    capacity: int | None = None,
) -> Series:
    days = _check_series(weekdays, duration_minutes, starts_on, ends_on, clinic=clinic)
    _check_program_clinic(program, clinic)
    series = Series.objects.create(
        clinic=clinic,
        program=program,
        kind=kind,
        title=title,
        weekdays=days,
        local_start_time=local_start_time,
        duration_minutes=duration_minutes,
        time_zone=clinic.time_zone,
        starts_on=starts_on,
        ends_on=ends_on,
        location=location,
        room=room,
        facilitator=facilitator,
        capacity=capacity,
        created_by=actor,
    )
    audit_record(actor=actor, action=AuditAction.CREATE, obj=series, clinic=clinic)
    return series


def _series_until(series: Series, until: datetime.date | None) -> datetime.date:
    until = until or horizon_date(series.clinic)
    if series.ends_on is not None:
        until = min(until, series.ends_on)
    return until


def _first_unmaterialized(series: Series) -> datetime.date:
    """The first date the expansion still owes: the day after what it has materialised. A
    weekday added by an edit gets its occurrences from the edit on (``series_edit``), never
    back to the series' first day."""
    if series.materialized_until is None:
        return series.starts_on
    return max(series.starts_on, series.materialized_until + datetime.timedelta(days=1))


def _new_sessions(
    series: Series, until: datetime.date, existing, first: datetime.date | None = None
) -> list[Session]:
    """The series' occurrences from ``first`` (default its first day) to ``until`` whose dates
    are not in ``existing``, as unsaved sessions."""
    planned = occurrences(
        weekdays=series.weekdays,
        wall_time=series.local_start_time,
        duration=datetime.timedelta(minutes=series.duration_minutes),
        zone=series.time_zone,
        first=first or series.starts_on,
        last=until,
    )
    return [
        Session(
            clinic_id=series.clinic_id,
            program_id=series.program_id,
            series=series,
            occurrence_date=o.date,
            kind=series.kind,
            title=series.title,
            starts_at=o.starts_at,
            ends_at=o.ends_at,
            location=series.location,
            room_id=series.room_id,
            facilitator_id=series.facilitator_id,
            capacity=series.capacity,
        )
        for o in planned
        if o.date not in existing
    ]


def series_materialize(*, series: Series, until: datetime.date | None = None) -> list[Session]:
    """Create the series' sessions up to ``until`` (default: the horizon) in one INSERT.

    Idempotent: the series row is locked, occurrences that exist already are skipped, and a
    unique key per series and occurrence date backs that up. An occurrence cancelled or moved on
    its own keeps its row, so it is never recreated; the expansion goes on from the day after
    what it has materialised, so a weekday added later is not filled in backwards. Call inside
    a transaction. Returns the sessions this call created (and sets the caller's
    ``series.materialized_until``).
    """
    given, series = (
        series,
        Series.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=series.pk),
    )
    until = _series_until(series, until)
    first = _first_unmaterialized(series)
    if first > until:
        return []
    existing = set(
        Session.objects.filter(
            series=series, occurrence_date__gte=first, occurrence_date__lte=until
        ).values_list("occurrence_date", flat=True)
    )
    created = Session.objects.bulk_create(_new_sessions(series, until, existing, first))
    Series.objects.filter(pk=series.pk).update(materialized_until=until)
    series.materialized_until = given.materialized_until = until
    return created


def series_open():
    """The series the nightly expansion still extends (not ended before yesterday)."""
    today = timezone.localdate()
    return Series.objects.exclude(ends_on__lt=today - datetime.timedelta(days=1))


# Each series' new horizon, from parallel arrays of ids and dates: one statement for them all.
_SERIES_MATERIALIZED_SQL = statement(
    """
UPDATE {sr} SET {series.materialized_until} = v.until
FROM unnest(%s::bigint[], %s::date[]) AS v(id, until) WHERE {sr.id} = v.id
""",
    series=Table(Series),
    sr=Table(Series, "sr"),
)


def series_materialize_open(*, until: datetime.date | None = None) -> list[Session]:
    """``series_materialize`` for every open series at once (the nightly pass), with a constant
    number of queries: lock the series, read their existing occurrence dates, one INSERT of the
    new sessions, one UPDATE of the horizons. Call inside a transaction. Returns the sessions
    created."""
    open_series = list(
        series_open().select_for_update(of=("self",)).select_related("clinic").order_by("pk")
    )
    spans = {}
    for series in open_series:
        first, last = _first_unmaterialized(series), _series_until(series, until)
        if first <= last:
            spans[series.pk] = (series, first, last)
    if not spans:
        return []
    existing: dict[int, set] = {pk: set() for pk in spans}
    for series_id, day in Session.objects.filter(
        series_id__in=list(spans),
        occurrence_date__gte=min(first for _, first, _ in spans.values()),
        occurrence_date__lte=max(last for _, _, last in spans.values()),
    ).values_list("series_id", "occurrence_date"):
        existing[series_id].add(day)
    new = [
        session
        for series, first, last in spans.values()
        for session in _new_sessions(series, last, existing[series.pk], first)
    ]
    created = Session.objects.bulk_create(new) if new else []
    with connection.cursor() as cursor:
        cursor.execute(
            _SERIES_MATERIALIZED_SQL, [list(spans), [last for _, _, last in spans.values()]]
        )
    return created


# Sessions -----------------------------------------------------------------------------------------


def _check_times(starts_at, ends_at) -> None:
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": ["A session ends after it starts."]})


@transaction.atomic
def session_create(
    *,
    actor,
    clinic: Clinic,
    title: str,
    kind: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    program=None,
    location: str = "",
    room=None,
    facilitator=None,
    capacity=None,
    patient: Patient | None = None,
) -> Session:
    """A one-off session; an individual appointment names its one patient."""
    _check_times(starts_at, ends_at)
    if kind == SessionKind.INDIVIDUAL and patient is None:
        raise ValidationError({"patient": ["An individual appointment names its patient."]})
    if patient is not None and patient.clinic_id != clinic.pk:
        raise ValidationError({"patient": ["The patient belongs to another clinic."]})
    _check_program_clinic(program, clinic)
    session = Session.objects.create(
        clinic=clinic,
        program=program,
        kind=kind,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location,
        room=room,
        facilitator=facilitator,
        capacity=1 if kind == SessionKind.INDIVIDUAL else capacity,
    )
    audit_record(actor=actor, action=AuditAction.CREATE, obj=session, clinic=clinic)
    if patient is not None:
        entry = RosterEntry.objects.create(session=session, patient=patient)
        reminders.plan_for_entries([entry.pk])
        audit_record(
            actor=actor, action=AuditAction.CREATE, obj=entry, clinic=clinic, patient_id=patient.pk
        )
    return session


def _lock_session(session: Session) -> Session:
    return (
        Session.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=session.pk)
    )


@transaction.atomic
def session_move(
    *,
    actor,
    session: Session,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    location: str | None = None,
    room=None,
    expected_versions: Collection[int] | None = None,
) -> Session:
    """Move one session (an occurrence of a series becomes detached from later series edits)."""
    session = _lock_session(session)
    require_version(session, expected_versions)
    if session.status != SessionStatus.SCHEDULED:
        raise Conflict(f"A {session.status} session cannot be moved.", code="invalid_state")
    _check_times(starts_at, ends_at)
    session.starts_at, session.ends_at = starts_at, ends_at
    fields = ["starts_at", "ends_at", "detached", "sequence", "updated_at"]
    if location is not None:
        session.location = location
        fields.append("location")
    if room is not None:
        session.room = room
        fields.append("room")
    session.detached = session.series_id is not None
    session.sequence += 1
    session.save(update_fields=fields)
    refresh_version(session)
    reminders.replan_session(session)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=session, clinic=session.clinic_id)
    return session


@transaction.atomic
def session_cancel(*, actor, session: Session) -> Session:
    session = _lock_session(session)
    if session.status == SessionStatus.CANCELLED:
        raise Conflict("This session is already cancelled.", code="invalid_state")
    if session.status == SessionStatus.COMPLETED:
        raise Conflict("A completed session cannot be cancelled.", code="invalid_state")
    session.status = SessionStatus.CANCELLED
    session.sequence += 1
    session.save(update_fields=["status", "sequence", "updated_at"])
    reminders.cancel_with_notices(session=session)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=session, clinic=session.clinic_id)
    return session


@dataclass(frozen=True)
class SeriesEdit:
    """What a series edit did: occurrences edited in place, occurrences cancelled because their
    weekday was dropped, and occurrences created on added weekdays (their rosters are the
    caller's: a program's are filled by the programs app)."""

    edited: list[Session]
    cancelled: list[Session]
    created: list[Session]


def _check_weekdays(weekdays) -> list[int]:
    days = sorted(set(weekdays or []))
    if not days or any(day not in range(1, 8) for day in days):
        raise ValidationError({"weekdays": [WEEKDAYS_MESSAGE]})
    return days


@transaction.atomic
def series_edit(
    *,
    actor,
    session: Session,
    scope: str,
    local_start_time=None,
    duration_minutes=None,
    location=None,
    title=None,
    weekdays=None,
    expected_versions: Collection[int] | None = None,
) -> SeriesEdit:
    """Edit this occurrence, this and the following ones, or all future ones of its series.

    Past sessions never change; occurrences moved on their own (detached) are left alone by
    "following" and "all". The series' pattern follows "following"/"all" edits so that the
    nightly expansion creates new occurrences the same way.

    New ``weekdays`` ("following"/"all" only) re-materialise the affected occurrences: those
    on a dropped weekday are cancelled (with notices where a reminder went out; the row stays,
    so the expansion never recreates it), and the added weekdays get occurrences from the
    edited one (or today, for "all") up to what the series has materialised; the nightly
    expansion carries the new pattern on from there.
    """
    if scope not in EDIT_SCOPES:
        raise ValidationError({"scope": [f"Choose one of {', '.join(EDIT_SCOPES)}."]})
    if session.series_id is None:
        raise ValidationError({"scope": ["This session is not part of a series."]})
    if weekdays is not None and scope == "this":
        raise ValidationError(
            {"weekdays": ["Weekdays change for this and the following occurrences, or all."]}
        )
    days = None if weekdays is None else _check_weekdays(weekdays)
    series = Series.objects.select_for_update().select_related("clinic").get(pk=session.series_id)
    # The precondition is the addressed session's: the one the caller read and edits through.
    require_version(_lock_session(session), expected_versions)
    now = timezone.now()
    if scope == "this":
        targets = [_lock_session(session)]
        if targets[0].status != SessionStatus.SCHEDULED:
            raise Conflict(f"A {targets[0].status} session cannot be edited.", code="invalid_state")
    else:
        targets = list(
            Session.objects.select_for_update().filter(
                series=series,
                starts_at__gte=now,
                status=SessionStatus.SCHEDULED,
                detached=False,
                **(
                    {"occurrence_date__gte": session.occurrence_date}
                    if scope == "following"
                    else {}
                ),
            )
        )
    retime = local_start_time is not None or duration_minutes is not None
    wall_time = local_start_time or series.local_start_time
    minutes = duration_minutes or series.duration_minutes
    if not 0 < minutes <= 24 * 60:
        raise ValidationError(
            {"duration_minutes": ["A session lasts between 1 minute and 24 hours."]}
        )
    before = list(series.weekdays)
    dropped = set(before) - set(days) if days is not None else set()
    cancelled = [t for t in targets if t.occurrence_date.isoweekday() in dropped]
    edited = [t for t in targets if t.occurrence_date.isoweekday() not in dropped]
    for target in cancelled:
        target.status = SessionStatus.CANCELLED
        target.sequence += 1
        target.save(update_fields=["status", "sequence", "updated_at"])
        reminders.cancel_with_notices(session=target)
    for target in edited:
        # Only a new time re-places an occurrence; a title or place edit keeps a moved one
        # where it was moved to.
        if retime:
            start = local_to_utc(target.occurrence_date, wall_time, series.time_zone)
            target.starts_at = start
            target.ends_at = start + datetime.timedelta(minutes=minutes)
        target.location = target.location if location is None else location
        target.title = target.title if title is None else title
        target.detached = target.detached or scope == "this"
        target.sequence += 1
        target.save(
            update_fields=[
                "starts_at",
                "ends_at",
                "location",
                "title",
                "detached",
                "sequence",
                "updated_at",
            ]
        )
        if retime:
            reminders.replan_session(target)
    created = []
    if scope != "this":
        series.local_start_time = wall_time
        series.duration_minutes = minutes
        series.location = series.location if location is None else location
        series.title = series.title if title is None else title
        series.weekdays = series.weekdays if days is None else days
        series.save(
            update_fields=["local_start_time", "duration_minutes", "location", "title", "weekdays"]
        )
        if days is not None:
            created = _occurrences_on_added_days(
                series,
                added=set(days) - set(before),
                since=session.occurrence_date if scope == "following" else None,
                now=now,
            )
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=series, clinic=series.clinic_id)
    return SeriesEdit(edited=edited, cancelled=cancelled, created=created)


def _occurrences_on_added_days(
    series: Series, *, added: set[int], since: datetime.date | None, now: datetime.datetime
) -> list[Session]:
    """The occurrences of newly added weekdays from ``since`` (or today) up to what the series
    has materialised, that start after ``now`` and have no row yet: one INSERT. The nightly
    expansion creates them beyond."""
    if not added or series.materialized_until is None:
        return []
    first = max(series.starts_on, since or now.astimezone(series.clinic.zone).date())
    until = series.materialized_until
    if series.ends_on is not None:
        until = min(until, series.ends_on)
    if first > until:
        return []
    existing = set(
        Session.objects.filter(
            series=series, occurrence_date__gte=first, occurrence_date__lte=until
        ).values_list("occurrence_date", flat=True)
    )
    new = [
        occurrence
        for occurrence in _new_sessions(series, until, existing)
        if occurrence.occurrence_date >= first
        and occurrence.occurrence_date.isoweekday() in added
        and occurrence.starts_at > now
    ]
    return Session.objects.bulk_create(new) if new else []


# Rosters ------------------------------------------------------------------------------------------

_S = Table(Session, "s")
_R = Table(RosterEntry, "r")
_ENTRY = Table(RosterEntry)
_SESSION_LOCAL_DATE = f"({_S.starts_at} AT TIME ZONE %(zone)s)::date"

# A patient's stay on the program's future sessions: their entries, sessions at capacity left
# out. ``end`` NULL: open-ended.
_ROSTER_ADD_SQL = statement(
    """
INSERT INTO {entry} ({entry.session}, {entry.patient}, {entry.enrollment_id}, {entry.response},
                     {entry.created_at})
SELECT {s.id}, %(patient)s, %(enrollment)s, 'none', %(now)s
FROM {s}
WHERE {s.program_id} = %(program)s
  AND {s.status} = 'scheduled'
  AND {s.starts_at} > %(now)s
  AND {local_date} >= %(start)s
  AND (%(end)s::date IS NULL OR {local_date} < %(end)s::date)
  AND ({s.capacity} IS NULL OR {s.capacity} > (
        SELECT count(*) FROM {r} WHERE {r.session_id} = {s.id}))
ON CONFLICT ({entry.session}, {entry.patient}) DO NOTHING
RETURNING {entry.id}
""",
    entry=_ENTRY,
    s=_S,
    r=_R,
    local_date=_SESSION_LOCAL_DATE,
)

# A patient off the program's future sessions from a local date on, but not where attendance is
# recorded: the entries go, their reminders are kept (history) detached, the pending ones
# cancelled.
_ROSTER_REMOVE_SQL = statement(
    """
WITH doomed AS (
    SELECT {r.id} AS id, {r.session_id} AS session_id, {r.patient_id} AS patient_id
    FROM {r}
    JOIN {s} ON {s.id} = {r.session_id}
    WHERE {r.patient_id} = %(patient)s
      AND {s.program_id} = %(program)s
      AND {s.starts_at} > %(now)s
      AND {local_date} >= %(from)s
      AND NOT EXISTS (SELECT 1 FROM {a} WHERE {a.roster_entry_id} = {r.id})
), detached AS (
    UPDATE {reminder}
    SET {reminder.roster_entry_id} = NULL,
        {reminder.status} = CASE WHEN {reminder.status} = 'pending' THEN 'cancelled'
                                 ELSE {reminder.status} END
    WHERE {reminder.roster_entry_id} IN (SELECT id FROM doomed)
    RETURNING {reminder.id}
)
DELETE FROM {entry}
WHERE {entry.id} IN (SELECT id FROM doomed)
RETURNING {entry.session_id}, {entry.patient_id}
""",
    entry=_ENTRY,
    s=_S,
    r=_R,
    a=Table(Attendance, "a"),
    reminder=Table(Reminder),
    local_date=_SESSION_LOCAL_DATE,
)

# New sessions' rosters from the stays given, each session's capacity kept: the earliest stays
# get its places.
_ROSTER_FILL_SQL = statement(
    """
INSERT INTO {entry} ({entry.session}, {entry.patient}, {entry.enrollment_id}, {entry.response},
                     {entry.created_at})
SELECT session_id, patient_id, enrollment_id, 'none', %(now)s
FROM (
    SELECT {s.id} AS session_id, stay.patient_id, stay.enrollment_id, {s.capacity} AS capacity,
           row_number() OVER (PARTITION BY {s.id}
                              ORDER BY stay.start_date, stay.enrollment_id) AS place,
           (SELECT count(*) FROM {r} WHERE {r.session_id} = {s.id}) AS taken
    FROM {s}
    JOIN unnest(%(programs)s::bigint[], %(patients)s::bigint[],
                %(enrollments)s::bigint[], %(starts)s::date[], %(ends)s::date[],
                %(zones)s::text[])
         AS stay(program_id, patient_id, enrollment_id, start_date, end_date, zone)
      ON stay.program_id = {s.program_id}
     AND {local_date} >= stay.start_date
     AND (stay.end_date IS NULL OR {local_date} < stay.end_date)
    WHERE {s.id} = ANY(%(sessions)s)
) AS candidate
WHERE capacity IS NULL OR taken + place <= capacity
ON CONFLICT ({entry.session}, {entry.patient}) DO NOTHING
RETURNING {entry.id}
""",
    entry=_ENTRY,
    s=_S,
    r=_R,
    local_date=f"({_S.starts_at} AT TIME ZONE stay.zone)::date",
)


def roster_add_for_stay(
    *,
    program_id: int,
    patient_id: int,
    enrollment_id: int,
    start_date: datetime.date,
    end_date: datetime.date | None,
    zone: str,
) -> int:
    """Put a patient on the rosters of the program's future, scheduled sessions whose local
    date falls in ``[start_date, end_date)`` (open-ended when ``end_date`` is None), skipping
    sessions at capacity. One INSERT … SELECT. Returns the entries added."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ROSTER_ADD_SQL,
            {
                "patient": patient_id,
                "enrollment": enrollment_id,
                "program": program_id,
                "start": start_date,
                "end": end_date,
                "zone": zone,
                "now": timezone.now(),
            },
        )
        entry_ids = [row[0] for row in cursor.fetchall()]
    reminders.plan_for_entries(entry_ids)
    return len(entry_ids)


def roster_remove_from(
    *, program_id: int, patient_id: int, from_date: datetime.date, zone: str
) -> int:
    """Take a patient off the rosters of the program's future sessions from ``from_date`` on
    (their local date). Past sessions and any recorded attendance are kept; the entries'
    pending reminders are cancelled (one statement) and, where one already went out, a
    cancellation notice is queued."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ROSTER_REMOVE_SQL,
            {
                "patient": patient_id,
                "program": program_id,
                "from": from_date,
                "zone": zone,
                "now": timezone.now(),
            },
        )
        removed = cursor.fetchall()
    reminders.notices_for_removed([tuple(row) for row in removed])
    return len(removed)


def roster_fill_program_sessions(*, session_ids: list[int], stays: list[tuple]) -> int:
    """Seed new sessions' rosters with the patients enrolled on their dates, for sessions of one
    or several programs in one INSERT: each session gets the stays of its own program.

    ``stays``: ``(program_id, patient_id, enrollment_id, start_date, end_date_or_None,
    time_zone)`` (the program's clinic's zone), given by the programs app."""
    if not session_ids or not stays:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _ROSTER_FILL_SQL,
            {
                "sessions": session_ids,
                "programs": [s[0] for s in stays],
                "patients": [s[1] for s in stays],
                "enrollments": [s[2] for s in stays],
                "starts": [s[3] for s in stays],
                "ends": [s[4] for s in stays],
                "zones": [s[5] for s in stays],
                "now": timezone.now(),
            },
        )
        entry_ids = [row[0] for row in cursor.fetchall()]
    reminders.plan_for_entries(entry_ids)
    return len(entry_ids)


# Program sessions: calendar writes that keep a program's rules --------------------------------
# A program's session or series is checked against its cadence and rostered with its enrolled
# patients through ``scheduling.program_rules`` (programs registers them), under the program's
# lock, taken before the stays are read: an admission at the same moment either sees the new
# sessions (and rosters itself) or is seen by the roster fill.


def _fill_program_rosters(rules: ProgramRules, program_ids, sessions: list[Session]) -> int:
    """Seed new program sessions with the patients enrolled on their dates (2 queries)."""
    stays = rules.stays(program_ids)
    return roster_fill_program_sessions(session_ids=[s.pk for s in sessions], stays=stays)


@transaction.atomic
def program_series_create(
    *, actor, program, until: datetime.date | None = None, **fields
) -> tuple[Series, list[Session]]:
    """Create a program's series after checking its rules, expand it to the horizon, check the
    program's weeks as a whole and put the enrolled patients on the new sessions' rosters,
    set-based, under the program lock."""
    rules = program_rules()
    program = rules.lock([program.pk])[program.pk]
    rules.check_series(
        program,
        weekdays=fields.get("weekdays") or [],
        duration_minutes=fields.get("duration_minutes") or 0,
    )
    series = series_create(actor=actor, clinic=program.clinic, program=program, **fields)
    sessions = series_materialize(series=series, until=until)
    rules.check_week(
        program,
        sessions_after_change=sessions,
        series_after_change=series,
        week_field="weekdays",
        length_field="duration_minutes",
    )
    _fill_program_rosters(rules, [program.pk], sessions)
    return series, sessions


@transaction.atomic
def series_create_and_expand(
    *, actor, clinic: Clinic, program=None, until: datetime.date | None = None, **fields
) -> tuple[Series, list[Session]]:
    """A series with or without a program, expanded to the horizon (a program's: checked and
    rostered by ``program_series_create``)."""
    if program is not None:
        return program_series_create(actor=actor, program=program, until=until, **fields)
    series = series_create(actor=actor, clinic=clinic, **fields)
    return series, series_materialize(series=series, until=until)


@transaction.atomic
def program_series_edit(*, actor, session: Session, **changes) -> SeriesEdit:
    """``series_edit`` for any series; a program's keeps its session length and cadence: the
    series' definition is checked before, the program's weeks after (under the program lock),
    and occurrences added on new weekdays get the program's roster."""
    series = session.series
    program = rules = None
    if series is not None and is_program_session(series.program_id, series.kind):
        rules = program_rules()
        program = rules.lock([series.program_id])[series.program_id]
        if changes.get("duration_minutes") or changes.get("weekdays") is not None:
            rules.check_series(
                program,
                weekdays=changes.get("weekdays") or series.weekdays,
                duration_minutes=changes.get("duration_minutes") or series.duration_minutes,
            )
    edit = series_edit(actor=actor, session=session, **changes)
    if program is not None:
        changed_pattern = changes.get("weekdays") is not None and changes["scope"] != "this"
        if changed_pattern:
            series.refresh_from_db()
        rules.check_week(
            program,
            sessions_after_change=[*edit.edited, *edit.created],
            series_after_change=series if changed_pattern else None,
            week_field="weekdays" if changed_pattern else "local_start_time",
            length_field="duration_minutes",
        )
        _fill_program_rosters(rules, [program.pk], edit.created)
    return edit


def materialize_all_series(*, until: datetime.date | None = None) -> int:
    """The nightly pass (idempotent): extend every open series to the horizon and seed the new
    program sessions' rosters, in one transaction with a constant number of queries whatever
    the number of series. The series' programs are locked first (before the series, the order
    every writer takes), so the stays read for the rosters are settled. It checks no cadence:
    what it creates was counted when the series and the sessions beside it were made. Returns
    how many sessions were created."""
    with transaction.atomic():
        program_ids = set(
            series_open()
            .filter(program__isnull=False)
            .values_list("program_id", flat=True)
            .distinct()
        )
        locked = program_rules().lock(program_ids) if program_ids else {}
        sessions = series_materialize_open(until=until)
        programs = {s.program_id for s in sessions if s.program_id is not None}
        if programs:
            rules = program_rules()
            # A series made since the first read (its program not locked yet).
            if programs - set(locked):
                rules.lock(programs - set(locked))
            _fill_program_rosters(
                rules, programs, [s for s in sessions if s.program_id is not None]
            )
    return len(sessions)


@transaction.atomic
def program_session_create(*, actor, **fields) -> Session:
    """A one-off session; a program session's roster is the program's patients enrolled on its
    date (an individual appointment's is its one patient). A program session is counted in
    the program's week and checked for length, under the program lock."""
    program = fields.get("program")
    rules = None
    if is_program_session(program, fields.get("kind")):
        rules = program_rules()
        program = fields["program"] = rules.lock([program.pk])[program.pk]
    session = session_create(actor=actor, **fields)
    if rules is not None:
        rules.check_week(program, sessions_after_change=[session])
        _fill_program_rosters(rules, [program.pk], [session])
    return session


@transaction.atomic
def program_session_move(
    *,
    actor,
    session: Session,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    location: str | None = None,
    room=None,
    expected_versions: Collection[int] | None = None,
) -> Session:
    """``session_move``; a program session must fit its program's week and session length
    where it lands (the week it leaves only loses one)."""
    program = rules = None
    if is_program_session(session.program_id, session.kind):
        rules = program_rules()
        program = rules.lock([session.program_id])[session.program_id]
    moved = session_move(
        actor=actor,
        session=session,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location,
        room=room,
        expected_versions=expected_versions,
    )
    if rules is not None:
        rules.check_week(program, sessions_after_change=[moved])
    return moved


# Attendance and responses -------------------------------------------------------------------------

ATTENDANCE_OPENS_BEFORE = datetime.timedelta(hours=1)


@transaction.atomic
def attendance_record(
    *,
    actor,
    session: Session,
    patient: Patient,
    status: str,
    checked_in_at: datetime.datetime | None = None,
) -> Attendance:
    """Record (or correct) whether a rostered patient attended.

    ``present``, ``late`` and ``absent`` are recorded from an hour before the start; ``excused``
    at any time, so a patient who calls ahead is excused before the session (and is no longer
    reminded of it)."""
    if status not in AttendanceStatus.values:
        raise ValidationError({"status": [f"Choose one of {', '.join(AttendanceStatus.values)}."]})
    session = _lock_session(session)
    if session.status == SessionStatus.CANCELLED:
        raise Conflict(
            "Attendance is not recorded for a cancelled session.", code="session_cancelled"
        )
    now = timezone.now()
    if status != AttendanceStatus.EXCUSED and session.starts_at - ATTENDANCE_OPENS_BEFORE > now:
        raise Conflict(
            "Present, late and absent are recorded from an hour before the session starts; "
            "a patient can be excused at any time.",
            code="session_not_started",
        )
    entry = RosterEntry.objects.filter(session=session, patient=patient).first()
    if entry is None:
        raise ValidationError({"patient": ["The patient is not on this session's roster."]})
    if status == AttendanceStatus.EXCUSED and session.starts_at > now:
        reminders.cancel_pending(session=session, patient=patient)
    # Only an attended session has a check-in time.
    checked_in_at = (checked_in_at or now) if status in ATTENDED else None
    attendance, created = Attendance.objects.update_or_create(
        session=session,
        patient=patient,
        defaults={
            "roster_entry": entry,
            "status": status,
            "checked_in_at": checked_in_at,
            "recorded_by": actor,
            "recorded_at": now,
        },
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        obj=attendance,
        clinic=session.clinic_id,
        patient_id=patient.pk,
    )
    return attendance


@transaction.atomic
def session_respond(*, actor, session: Session, patient: Patient, response: str) -> RosterEntry:
    """The patient confirms or declines a session of their own schedule."""
    if response not in (RosterResponse.CONFIRMED, RosterResponse.DECLINED):
        raise ValidationError({"response": ["Confirm or decline."]})
    # Re-read under a lock: a session cancelled since the caller read it cannot be answered.
    session = _lock_session(session)
    entry = RosterEntry.objects.select_for_update().filter(session=session, patient=patient).first()
    if entry is None:
        raise ValidationError({"session": ["This session is not on your schedule."]})
    if session.status != SessionStatus.SCHEDULED or session.starts_at <= timezone.now():
        raise Conflict(
            "Only a future, scheduled session can be confirmed or declined.", code="invalid_state"
        )
    entry.response = response
    entry.responded_at = timezone.now()
    entry.save(update_fields=["response", "responded_at"])
    if response == RosterResponse.DECLINED:
        # API.md: a decline cancels that session's pending reminders; a confirm changes nothing.
        reminders.cancel_pending(session=session, patient=patient)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=entry,
        clinic=session.clinic_id,
        patient_id=patient.pk,
    )
    return entry


# Devices (push) -----------------------------------------------------------------------------------


@transaction.atomic
def device_register(*, actor, patient: Patient, platform: str, token: str) -> tuple[Device, bool]:
    """Register the patient's phone for push; ``(device, created)``.

    A token already known moves to this patient: a phone handed on (or an app signed into by
    another account) must never receive the previous patient's reminders. A patient keeps at
    most ``DEVICES_PER_PATIENT`` devices: a new one replaces the one seen longest ago, so one
    account cannot make a push reminder a call per row it registered.
    """
    if platform not in Device.Platform.values:
        raise ValidationError({"platform": ["Use ios or android."]})
    token = token.strip()
    if not token:
        raise ValidationError({"token": ["This field may not be blank."]})
    if len(token) > TOKEN_MAX_LENGTH:
        raise ValidationError(
            {"token": [f"Ensure this field has no more than {TOKEN_MAX_LENGTH} characters."]}
        )
    now = timezone.now()
    # The patient's row is the lock on their devices: two phones registering at once cannot
    # both see room for one more (row locks on the devices would miss the rows being inserted).
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    device = Device.objects.select_for_update().filter(token=token).first()
    if device is None or device.patient_id != patient.pk:
        _devices_make_room(actor=actor, patient=patient)
    created = device is None
    if created:
        try:
            with transaction.atomic():
                device = Device.objects.create(
                    token=token,
                    patient=patient,
                    platform=platform,
                    created_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:
            # Another account registered this token this very moment: it moves over as below.
            device, created = Device.objects.select_for_update().get(token=token), False
    if not created:
        device.patient, device.platform, device.last_seen_at = patient, platform, now
        device.save(update_fields=["patient", "platform", "last_seen_at"])
    audit_record(
        actor=actor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        obj=device,
        clinic=patient.clinic_id,
        patient_id=patient.pk,
    )
    return device, created


def _devices_make_room(*, actor, patient: Patient) -> None:
    """Forget the patient's devices seen longest ago until one more fits the cap (the caller
    holds the patient's lock)."""
    keep = max(settings.DEVICES_PER_PATIENT - 1, 0)
    for device in (
        Device.objects.select_for_update()
        .select_related("patient")
        .filter(patient=patient)
        .order_by("-last_seen_at", "-pk")[keep:]
    ):
        device_forget(actor=actor, device=device)


@transaction.atomic
def device_forget(*, actor, device: Device) -> None:
    """The app signs out (or the provider says the token is dead): no more push to it."""
    patient_id, clinic_id = device.patient_id, device.patient.clinic_id
    audit_record(
        actor=actor, action=AuditAction.DELETE, obj=device, clinic=clinic_id, patient_id=patient_id
    )
    device.delete()


# Calendar feeds -----------------------------------------------------------------------------------


def _owner(patient, user) -> dict:
    if (patient is None) == (user is None):
        raise ValueError("A calendar feed belongs to one patient or one user.")
    return {"patient": patient} if patient is not None else {"user": user}


@transaction.atomic
def calendar_feed_for(*, patient=None, user=None, actor=None) -> tuple[CalendarFeed, str]:
    """The owner's feed, created on first use, and its current token."""
    owner = _owner(patient, user)
    feed = CalendarFeed.objects.filter(**owner).first()
    if feed is not None:
        return feed, feeds.feed_token(feed)
    try:
        # Two first requests at once (the app retrying, two devices): the one-to-one owner
        # column lets exactly one create the feed; the other reads it.
        with transaction.atomic():
            feed = CalendarFeed.objects.create(**owner, **feeds.new_secret())
    except IntegrityError:
        feed = CalendarFeed.objects.get(**owner)
        return feed, feeds.feed_token(feed)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=feed, patient=patient)
    return feed, feeds.feed_token(feed)


@transaction.atomic
def calendar_feed_rotate(*, patient=None, user=None, actor=None) -> tuple[CalendarFeed, str]:
    """A new secret for the owner's feed (creating the feed if there is none); the old URL stops
    working when this commits. Returns ``(feed, token)`` with the new token."""
    owner = _owner(patient, user)
    # update_or_create locks the feed row, so concurrent rotations apply one after the other and
    # the last one's URL is the one that works.
    feed, created = CalendarFeed.objects.update_or_create(**owner, defaults=feeds.new_secret())
    action = AuditAction.CREATE if created else AuditAction.UPDATE
    audit_record(actor=actor, action=action, obj=feed, patient=patient)
    return feed, feeds.feed_token(feed)
