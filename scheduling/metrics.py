"""Attendance figures (DOMAIN.md: success in IOP/outpatient hinges on attending sessions).

For a set of roster-bearing stays (an enrollment is known here by its id on the roster entries):

- ``expected``: roster entries of sessions that have ended and were not cancelled;
- ``attended``: of those, the ones recorded present or late;
- ``adherence`` = attended / expected (None before the first expected session);
- ``no_shows``: entries recorded absent (excused absences are not no-shows);
- ``late``, ``excused``: entries recorded late (of ``attended``) and excused;
- ``no_show_rate`` = no_shows / expected;
- ``hours_this_week``: hours of attended sessions in the current local week (Monday–Sunday);
- ``hours_possible_this_week``: hours attended plus hours of sessions still ahead this week
  that the patient is on and has not declined;
- ``falling_short``: the program sets a weekly minimum (IOP 9 hours), the patient is on
  sessions this week, and even attending every remaining one would not reach the minimum (a
  week with no sessions on the roster is a scheduling gap, not the patient's shortfall).

All figures for a page of enrollments come from one query.
"""

import datetime
from dataclasses import dataclass, fields
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from clinic.sql import Table, statement
from scheduling.models import Attendance, RosterEntry, Session


@dataclass(frozen=True)
class StayFigures:
    expected: int
    attended: int
    no_shows: int
    hours_this_week: Decimal
    hours_possible_this_week: Decimal
    sessions_this_week: int = 0
    late: int = 0
    excused: int = 0

    @property
    def present(self) -> int:
        return self.attended - self.late

    def __add__(self, other: "StayFigures") -> "StayFigures":
        """The figures of two stays together (an episode's: ``sum(figures, EMPTY)``)."""
        return StayFigures(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def adherence(self) -> float | None:
        return round(self.attended / self.expected, 3) if self.expected else None

    @property
    def no_show_rate(self) -> float | None:
        return round(self.no_shows / self.expected, 3) if self.expected else None

    def falling_short(self, weekly_minimum: Decimal | None) -> bool:
        return (
            weekly_minimum is not None
            and self.sessions_this_week > 0
            and self.hours_possible_this_week < weekly_minimum
        )


EMPTY = StayFigures(0, 0, 0, Decimal(0), Decimal(0))

# ``least`` skips a NULL ``until``: open stays are bounded by the week alone.
_FIGURES_SQL = statement(
    """
SELECT {r.enrollment_id},
       count(*) FILTER (WHERE {s.ends_at} <= %(now)s) AS expected,
       count(*) FILTER (WHERE {s.ends_at} <= %(now)s AND {a.status} IN ('present', 'late'))
           AS attended,
       count(*) FILTER (WHERE {s.ends_at} <= %(now)s AND {a.status} = 'absent') AS no_shows,
       coalesce(sum(extract(epoch FROM {s.ends_at} - {s.starts_at}) / 3600)
           FILTER (WHERE {a.status} IN ('present', 'late') AND {s.starts_at} >= %(week_start)s),
           0) AS hours_this_week,
       coalesce(sum(extract(epoch FROM {s.ends_at} - {s.starts_at}) / 3600)
           FILTER (WHERE {s.starts_at} >= %(week_start)s AND (
               {a.status} IN ('present', 'late')
               OR ({a.id} IS NULL AND {s.starts_at} > %(now)s AND {r.response} <> 'declined'))),
           0) AS hours_possible,
       count(*) FILTER (WHERE {s.starts_at} >= %(week_start)s) AS sessions_this_week,
       count(*) FILTER (WHERE {s.ends_at} <= %(now)s AND {a.status} = 'late') AS late,
       count(*) FILTER (WHERE {s.ends_at} <= %(now)s AND {a.status} = 'excused') AS excused
FROM {r}
JOIN {s} ON {s.id} = {r.session_id}
LEFT JOIN {a} ON {a.roster_entry_id} = {r.id}
WHERE {r.enrollment_id} = ANY(%(enrollments)s)
  AND {s.status} <> 'cancelled'
  AND {s.starts_at} < least(%(week_end)s, %(until)s::timestamptz)
GROUP BY {r.enrollment_id}
""",
    r=Table(RosterEntry, "r"),
    s=Table(Session, "s"),
    a=Table(Attendance, "a"),
)


def local_week(
    zone, now: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    """The current Monday 00:00 to next Monday 00:00 in ``zone``, as aware datetimes."""
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    monday = today - datetime.timedelta(days=today.weekday())
    start = datetime.datetime.combine(monday, datetime.time(), tzinfo=zone)
    end = datetime.datetime.combine(
        monday + datetime.timedelta(days=7), datetime.time(), tzinfo=zone
    )
    return start, end


def stay_figures(
    enrollment_ids: list[int],
    *,
    zone,
    now: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> dict[int, StayFigures]:
    """Figures of each enrollment in ``enrollment_ids`` (one query); missing ones are EMPTY.
    ``until``: where the stays ended (a discharged stay's: the midnight after its last day);
    sessions from then on are not theirs, though a discharge recorded late leaves its past
    sessions on the roster. None: open stays."""
    if not enrollment_ids:
        return {}
    now = now or timezone.now()
    week_start, week_end = local_week(zone, now)
    with connection.cursor() as cursor:
        cursor.execute(
            _FIGURES_SQL,
            {
                "now": now,
                "week_start": week_start,
                "week_end": week_end,
                "until": until,
                "enrollments": list(enrollment_ids),
            },
        )
        rows = cursor.fetchall()
    figures = {
        row[0]: StayFigures(
            expected=row[1],
            attended=row[2],
            no_shows=row[3],
            hours_this_week=Decimal(row[4]).quantize(Decimal("0.01")),
            hours_possible_this_week=Decimal(row[5]).quantize(Decimal("0.01")),
            sessions_this_week=row[6],
            late=row[7],
            excused=row[8],
        )
        for row in rows
    }
    return {pk: figures.get(pk, EMPTY) for pk in enrollment_ids}
