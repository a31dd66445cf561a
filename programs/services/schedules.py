"""Where programs meet the calendar: a program's sessions and series checked against its
cadence, and rosters that follow enrollments (DESIGN.md: scheduling never imports programs;
programs call it).

The cadence (DOMAIN.md: IOP 3–5 sessions a week of 3–4 hours; each program's bounds are
``sessions_per_week_min/max`` and ``session_hours_min/max``, an empty one does not apply):

- **What counts**: the program's *program sessions* — group, education and family sessions,
  the ones whose rosters are the program's enrolled patients — that are scheduled (not
  cancelled), whether one-off or occurrences of a series, plus the occurrences its series will
  still create beyond what they have materialised. Individual appointments do not: they are
  one patient's, not the program's week (the hours-per-week figures count them per patient,
  from the roster, which is a different question). Weeks are ISO weeks (Monday–Sunday) in the
  clinic's time zone.
- **Maximum per week and session length**: checked on every write that adds or moves program
  sessions — a one-off session (API and admin), a move, a series created or edited (new time,
  length or weekdays) — over every week the change touches, the whole week counted (one
  query, ``check_program_week``), under the program lock.
- **Minimum per week**: checked only on a series' definition (its weekdays must give it). A
  week as a whole may fall short — the program's first partial week, a holiday cancellation,
  the last week of a series — and refusing those writes would refuse the calendar as it is.
  So a supplementary recurring session cannot be its own series; add it as one-off sessions or
  widen the main series' weekdays.
"""

import datetime
from collections.abc import Collection
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from programs.locks import program_lock, programs_lock
from programs.models import OCCUPYING, Enrollment, Program
from scheduling import services as calendar
from scheduling.models import Series, Session, SessionKind, SessionStatus
from scheduling.recurrence import local_to_utc


def _number(value) -> str:
    return format(Decimal(value).normalize(), "f")


def _bounds(low, high, unit: str) -> str:
    if low is not None and high is not None:
        return f"{_number(low)}–{_number(high)} {unit}"
    if low is not None:
        return f"at least {_number(low)} {unit}"
    return f"at most {_number(high)} {unit}"


def check_series_against_program(program: Program, *, weekdays, duration_minutes: int) -> None:
    """A series must give the program's cadence and session length (DOMAIN.md: IOP 3–5
    sessions a week of 3–4 hours, PHP and outpatient within their bounds). A bound a program
    leaves empty does not apply."""
    errors = {}
    per_week = len(set(weekdays))
    low, high = program.sessions_per_week_min, program.sessions_per_week_max
    if (low is not None and per_week < low) or (high is not None and per_week > high):
        errors["weekdays"] = [
            f"{program.name} ({program.get_level_display()}) meets "
            f"{_bounds(low, high, 'times a week')}; this series gives {per_week}."
        ]
    hours = Decimal(duration_minutes) / 60
    low_h, high_h = program.session_hours_min, program.session_hours_max
    if (low_h is not None and hours < low_h) or (high_h is not None and hours > high_h):
        errors["duration_minutes"] = [
            f"{program.name} ({program.get_level_display()}) sessions last "
            f"{_bounds(low_h, high_h, 'hours')}; this series gives {_number(round(hours, 2))}."
        ]
    if errors:
        raise ValidationError(errors)


# The program's week as a whole -------------------------------------------------------------------

# Per touched week (local Mondays): the program's scheduled program sessions, plus what its
# series will still create there beyond what they have materialised. The clinic's zone and
# the program come as parameters; weeks that stay within the maximum are not returned.
_WEEK_COUNTS_SQL = """
WITH touched AS (
    SELECT unnest(%(mondays)s::date[]) AS monday
    UNION
    SELECT date_trunc('week', s.starts_at AT TIME ZONE %(zone)s)::date
    FROM {session} s
    WHERE %(beyond)s::timestamptz IS NOT NULL
      AND s.program_id = %(program)s AND s.status = %(scheduled)s AND s.kind <> %(individual)s
      AND s.starts_at >= %(beyond)s::timestamptz
), span AS (
    SELECT min(monday) AS first, max(monday) + 6 AS last FROM touched
), counted AS (
    SELECT date_trunc('week', s.starts_at AT TIME ZONE %(zone)s)::date AS monday
    FROM {session} s, span
    WHERE s.program_id = %(program)s AND s.status = %(scheduled)s AND s.kind <> %(individual)s
      AND s.starts_at >= span.first::timestamp AT TIME ZONE %(zone)s
      AND s.starts_at < (span.last + 1)::timestamp AT TIME ZONE %(zone)s
    UNION ALL
    SELECT date_trunc('week', day)::date
    FROM {series} sr
    CROSS JOIN span
    CROSS JOIN LATERAL generate_series(
        greatest(sr.materialized_until + 1, sr.starts_on, span.first)::timestamp,
        least(sr.ends_on, span.last)::timestamp,
        interval '1 day'
    ) AS day
    WHERE sr.program_id = %(program)s AND sr.kind <> %(individual)s
      AND extract(isodow FROM day)::int = ANY(sr.weekdays)
)
SELECT touched.monday, count(*)
FROM touched JOIN counted USING (monday)
GROUP BY touched.monday
HAVING count(*) > %(maximum)s
ORDER BY touched.monday
"""


def _week_counts_sql() -> str:
    return _WEEK_COUNTS_SQL.format(session=Session._meta.db_table, series=Series._meta.db_table)


def _in_cadence(program, kind: str) -> bool:
    """A program session (its roster is the program's patients) counts in its cadence;
    ``program``: the program or its id, None for none."""
    return program is not None and kind != SessionKind.INDIVIDUAL


def _monday(moment: datetime.datetime, zone) -> datetime.date:
    day = moment.astimezone(zone).date()
    return day - datetime.timedelta(days=day.weekday())


def _week_name(monday: datetime.date) -> str:
    year, week, _ = monday.isocalendar()
    return f"the week of {monday:%Y-%m-%d} ({year}-W{week:02d})"


def _check_lengths(program: Program, sessions: list[Session]) -> str | None:
    low, high = program.session_hours_min, program.session_hours_max
    for session in sorted(sessions, key=lambda s: s.starts_at):
        hours = Decimal((session.ends_at - session.starts_at).total_seconds()) / 3600
        if (low is not None and hours < low) or (high is not None and hours > high):
            day = session.starts_at.astimezone(program.clinic.zone).date()
            return (
                f"{program.name} ({program.get_level_display()}) sessions last "
                f"{_bounds(low, high, 'hours')}; the session of {day:%Y-%m-%d} would last "
                f"{_number(round(hours, 2))}."
            )
    return None


def check_program_week(
    program: Program,
    *,
    sessions_after_change: list[Session],
    series_after_change: Series | None = None,
    week_field: str = "starts_at",
    length_field: str = "ends_at",
) -> None:
    """Refuse (400) a change that gives the program more sessions in a week than its
    ``sessions_per_week_max``, or a session outside its ``session_hours_min/max``.

    ``sessions_after_change``: the sessions the change created or moved, as they are now
    written (call inside the change's transaction, after the write, holding the program lock):
    their weeks are counted whole, in one query. ``series_after_change``: a series whose
    pattern was created or changed; the weeks of its first two planned weeks beyond what it
    has materialised, and those of the program's sessions beyond that, are counted too (a
    one-off session planned past the scheduling horizon meets the series there). The minimum
    per week is not checked here (see the module's docstring). The errors name the rule and
    the ISO week, on ``week_field`` and ``length_field``."""
    zone = program.clinic.zone
    changed = [
        s
        for s in sessions_after_change
        if s.program_id == program.pk
        and _in_cadence(program, s.kind)
        and s.status == SessionStatus.SCHEDULED
    ]
    errors = {}
    too_long = _check_lengths(program, changed)
    if too_long:
        errors[length_field] = [too_long]
    maximum = program.sessions_per_week_max
    mondays = {_monday(s.starts_at, zone) for s in changed}
    beyond = None
    if series_after_change is not None and _in_cadence(program, series_after_change.kind):
        first = series_after_change.starts_on
        if series_after_change.materialized_until is not None:
            first = max(first, series_after_change.materialized_until + datetime.timedelta(days=1))
        monday = first - datetime.timedelta(days=first.weekday())
        ends_on = series_after_change.ends_on
        mondays |= {
            week
            for week in (monday, monday + datetime.timedelta(days=7))
            if ends_on is None or week <= ends_on
        }
        beyond = local_to_utc(first, datetime.time(0), program.clinic.time_zone)
    if maximum is not None and mondays:
        with connection.cursor() as cursor:
            cursor.execute(
                _week_counts_sql(),
                {
                    "mondays": sorted(mondays),
                    "zone": program.clinic.time_zone,
                    "program": program.pk,
                    "beyond": beyond,
                    "scheduled": SessionStatus.SCHEDULED,
                    "individual": SessionKind.INDIVIDUAL,
                    "maximum": maximum,
                },
            )
            over = cursor.fetchall()
        if over:
            monday, count = over[0]
            more = len(over) - 1
            more = f" (and {more} more week{'s' if more > 1 else ''})" if more else ""
            errors[week_field] = [
                f"{program.name} ({program.get_level_display()}) meets at most {maximum} "
                f"times a week; {_week_name(monday)} would have {count}{more}."
            ]
    if errors:
        raise ValidationError(errors)


# Rosters ------------------------------------------------------------------------------------------


def _stays(program_ids) -> list[tuple]:
    """The occupying stays of these programs, as ``roster_fill_program_sessions`` takes them.
    Read with the programs locked (programs/locks.py), so no admission or discharge is in
    flight."""
    return list(
        Enrollment.objects.filter(program_id__in=program_ids, status__in=OCCUPYING).values_list(
            "program_id",
            "patient_id",
            "id",
            "start_date",
            "discharge_date",
            "program__clinic__time_zone",
        )
    )


def fill_rosters(program: Program, sessions: list[Session]) -> int:
    """Seed new sessions of ``program`` with the patients enrolled on their dates (2 queries).
    Call holding the program lock."""
    return calendar.roster_fill_program_sessions(
        session_ids=[s.pk for s in sessions], stays=_stays([program.pk])
    )


def rosters_follow_admission(enrollment: Enrollment) -> int:
    """After an admission: the patient joins the program's future sessions from the start."""
    return calendar.roster_add_for_stay(
        program_id=enrollment.program_id,
        patient_id=enrollment.patient_id,
        enrollment_id=enrollment.pk,
        start_date=enrollment.start_date,
        end_date=None,
        zone=enrollment.program.clinic.time_zone,
    )


def rosters_follow_discharge(enrollment: Enrollment) -> int:
    """After a discharge: the patient leaves the program's future sessions from the discharge
    date; past sessions and recorded attendance stay."""
    return calendar.roster_remove_from(
        program_id=enrollment.program_id,
        patient_id=enrollment.patient_id,
        from_date=enrollment.discharge_date,
        zone=enrollment.program.clinic.time_zone,
    )


# Series -------------------------------------------------------------------------------------------


@transaction.atomic
def program_series_create(
    *, actor, program: Program, until: datetime.date | None = None, **fields
) -> tuple[Series, list[Session]]:
    """Create a program's series after checking its rules, expand it to the horizon, check the
    program's weeks as a whole and put the enrolled patients on the new sessions' rosters,
    set-based, under the program lock."""
    program = program_lock(program.pk)
    check_series_against_program(
        program,
        weekdays=fields.get("weekdays") or [],
        duration_minutes=fields.get("duration_minutes") or 0,
    )
    series = calendar.series_create(actor=actor, clinic=program.clinic, program=program, **fields)
    sessions = calendar.series_materialize(series=series, until=until)
    check_program_week(
        program,
        sessions_after_change=sessions,
        series_after_change=series,
        week_field="weekdays",
        length_field="duration_minutes",
    )
    fill_rosters(program, sessions)
    return series, sessions


def materialize_all_series(*, until: datetime.date | None = None) -> int:
    """The nightly pass (idempotent): extend every open series to the horizon and seed the new
    program sessions' rosters, in one transaction with a constant number of queries whatever
    the number of series. The series' programs are locked first (before the series, the order
    every writer takes), so the stays read for the rosters are settled. It checks no cadence:
    what it creates was counted when the series and the sessions beside it were made. Returns
    how many sessions were created."""
    with transaction.atomic():
        locked = programs_lock(
            calendar.series_open()
            .filter(program__isnull=False)
            .values_list("program_id", flat=True)
            .distinct()
        )
        sessions = calendar.series_materialize_open(until=until)
        programs = {s.program_id for s in sessions if s.program_id is not None}
        # A series made since the first read (its program not locked yet).
        programs_lock(programs - set(locked))
        if programs:
            calendar.roster_fill_program_sessions(
                session_ids=[s.pk for s in sessions if s.program_id is not None],
                stays=_stays(programs),
            )
    return len(sessions)


@transaction.atomic
def program_series_edit(*, actor, session: Session, **changes) -> calendar.SeriesEdit:
    """``scheduling.services.series_edit`` for any series; a program's keeps its session
    length and cadence: the series' definition is checked before, the program's weeks after
    (under the program lock), and occurrences added on new weekdays get the program's
    roster."""
    series = session.series
    program = None
    if series is not None and _in_cadence(series.program_id, series.kind):
        program = program_lock(series.program_id)
        if changes.get("duration_minutes") or changes.get("weekdays") is not None:
            check_series_against_program(
                program,
                weekdays=changes.get("weekdays") or series.weekdays,
                duration_minutes=changes.get("duration_minutes") or series.duration_minutes,
            )
    edit = calendar.series_edit(actor=actor, session=session, **changes)
    if program is not None:
        changed_pattern = changes.get("weekdays") is not None and changes["scope"] != "this"
        if changed_pattern:
            series.refresh_from_db()
        check_program_week(
            program,
            sessions_after_change=[*edit.edited, *edit.created],
            series_after_change=series if changed_pattern else None,
            week_field="weekdays" if changed_pattern else "local_start_time",
            length_field="duration_minutes",
        )
        fill_rosters(program, edit.created)
    return edit


@transaction.atomic
def series_create_and_expand(
    *, actor, clinic, program: Program | None = None, until: datetime.date | None = None, **fields
) -> tuple[Series, list[Session]]:
    """A series with or without a program, expanded to the horizon (a program's: checked and
    rostered by ``program_series_create``)."""
    if program is not None:
        return program_series_create(actor=actor, program=program, until=until, **fields)
    series = calendar.series_create(actor=actor, clinic=clinic, **fields)
    return series, calendar.series_materialize(series=series, until=until)


# Sessions -----------------------------------------------------------------------------------------


@transaction.atomic
def program_session_create(*, actor, **fields) -> Session:
    """A one-off session; a program session's roster is the program's patients enrolled on its
    date (an individual appointment's is its one patient). A program session is counted in
    the program's week and checked for length, under the program lock."""
    program = fields.get("program")
    in_cadence = _in_cadence(program, fields.get("kind"))
    if in_cadence:
        # Locked before the stays are read: an admission at this moment either sees this
        # session (and rosters itself) or is seen by the roster fill.
        program = fields["program"] = program_lock(program.pk)
    session = calendar.session_create(actor=actor, **fields)
    if in_cadence:
        check_program_week(program, sessions_after_change=[session])
        fill_rosters(program, [session])
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
    """``scheduling.services.session_move``; a program session must fit its program's week and
    session length where it lands (the week it leaves only loses one)."""
    program = None
    if _in_cadence(session.program_id, session.kind):
        program = program_lock(session.program_id)
    moved = calendar.session_move(
        actor=actor,
        session=session,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location,
        room=room,
        expected_versions=expected_versions,
    )
    if program is not None:
        check_program_week(program, sessions_after_change=[moved])
    return moved
