"""A program's rules of the calendar, and rosters that follow enrollments.

Scheduling owns the calendar's writes and asks these rules through
``scheduling.program_rules`` (``ProgramCalendarRules``, registered by ``ProgramsConfig.ready``):
scheduling never imports programs; programs call scheduling when an admission or a discharge
changes the rosters (``rosters_follow_*``).

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
  query, ``check_program_week``), under the program lock (``scheduling.services`` takes it).
- **Minimum per week**: checked only on a series' definition (its weekdays must give it). A
  week as a whole may fall short — the program's first partial week, a holiday cancellation,
  the last week of a series — and refusing those writes would refuse the calendar as it is.
  So a supplementary recurring session cannot be its own series; add it as one-off sessions or
  widen the main series' weekdays.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from clinic.sql import Table, statement
from programs.locks import programs_lock
from programs.models import OCCUPYING, Enrollment, Program, ProgressNoteStatus
from programs.selectors import session_note_statuses
from scheduling import services as calendar
from scheduling.models import Series, Session, SessionKind, SessionStatus
from scheduling.program_rules import is_program_session
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
_WEEK_COUNTS_SQL = statement(
    """
WITH touched AS (
    SELECT unnest(%(mondays)s::date[]) AS monday
    UNION
    SELECT date_trunc('week', {s.starts_at} AT TIME ZONE %(zone)s)::date
    FROM {s}
    WHERE %(beyond)s::timestamptz IS NOT NULL
      AND {s.program_id} = %(program)s AND {s.status} = %(scheduled)s
      AND {s.kind} <> %(individual)s AND {s.starts_at} >= %(beyond)s::timestamptz
), span AS (
    SELECT min(monday) AS first, max(monday) + 6 AS last FROM touched
), counted AS (
    SELECT date_trunc('week', {s.starts_at} AT TIME ZONE %(zone)s)::date AS monday
    FROM {s}, span
    WHERE {s.program_id} = %(program)s AND {s.status} = %(scheduled)s
      AND {s.kind} <> %(individual)s
      AND {s.starts_at} >= span.first::timestamp AT TIME ZONE %(zone)s
      AND {s.starts_at} < (span.last + 1)::timestamp AT TIME ZONE %(zone)s
    UNION ALL
    SELECT date_trunc('week', day)::date
    FROM {sr}
    CROSS JOIN span
    CROSS JOIN LATERAL generate_series(
        greatest({sr.materialized_until} + 1, {sr.starts_on}, span.first)::timestamp,
        least({sr.ends_on}, span.last)::timestamp,
        interval '1 day'
    ) AS day
    WHERE {sr.program_id} = %(program)s AND {sr.kind} <> %(individual)s
      AND extract(isodow FROM day)::int = ANY({sr.weekdays})
)
SELECT touched.monday, count(*)
FROM touched JOIN counted USING (monday)
GROUP BY touched.monday
HAVING count(*) > %(maximum)s
ORDER BY touched.monday
""",
    s=Table(Session, "s"),
    sr=Table(Series, "sr"),
)


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
        and is_program_session(program, s.kind)
        and s.status == SessionStatus.SCHEDULED
    ]
    errors = {}
    too_long = _check_lengths(program, changed)
    if too_long:
        errors[length_field] = [too_long]
    maximum = program.sessions_per_week_max
    mondays = {_monday(s.starts_at, zone) for s in changed}
    beyond = None
    if series_after_change is not None and is_program_session(program, series_after_change.kind):
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
                _WEEK_COUNTS_SQL,
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


# The rules the calendar asks for ------------------------------------------------------------------


class ProgramCalendarRules:
    """``scheduling.program_rules.ProgramRules``, registered by ``ProgramsConfig.ready``: the
    calendar's writes of a program's sessions and series lock, check and roster through it."""

    def lock(self, program_ids) -> dict[int, Program]:
        return programs_lock(program_ids)

    def check_series(self, program: Program, *, weekdays, duration_minutes: int) -> None:
        check_series_against_program(program, weekdays=weekdays, duration_minutes=duration_minutes)

    def check_week(self, program: Program, **change) -> None:
        check_program_week(program, **change)

    def stays(self, program_ids) -> list[tuple]:
        return _stays(program_ids)

    def note_statuses(self, session, *, user) -> dict[int, dict]:
        return session_note_statuses(session, user=user, now=timezone.now())

    def note_status_choices(self) -> list[tuple[str, str]]:
        return ProgressNoteStatus.choices
