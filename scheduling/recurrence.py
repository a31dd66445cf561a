"""Expanding a weekly series into occurrences, across daylight-saving changes.

A series keeps its local wall-clock start time and its clinic's zone, so a Monday 18:00 session
stays at 18:00 local when the clocks change. Each occurrence's start is that local time on its
date, converted to UTC; its end is the start plus the duration (elapsed time).

The rule for wall-clock times that do not map to exactly one instant (documented to users):

- a time inside the spring-forward gap (02:30 on the night clocks jump from 02:00 to 03:00)
  does not exist: the session starts at the same distance past the jump, 03:30;
- a time inside the fall-back overlap (01:30 on the night 02:00 becomes 01:00 again) happens
  twice: the session starts at the first of them (still daylight time).

Both are what ``zoneinfo`` gives for ``fold=0``; the tests pin them for America/New_York.
"""

import datetime
import zoneinfo
from dataclasses import dataclass

UTC = datetime.UTC


@dataclass(frozen=True)
class Occurrence:
    date: datetime.date
    starts_at: datetime.datetime
    ends_at: datetime.datetime


def local_to_utc(day: datetime.date, wall_time: datetime.time, zone: str) -> datetime.datetime:
    """The UTC instant of ``wall_time`` on ``day`` in ``zone``, by the rule above."""
    local = datetime.datetime.combine(day, wall_time, tzinfo=zoneinfo.ZoneInfo(zone))
    # fold=0: a gap time uses the offset before the jump (so it lands past the jump); an
    # ambiguous time uses its first occurrence.
    return local.replace(fold=0).astimezone(UTC)


def occurrences(
    *,
    weekdays,
    wall_time: datetime.time,
    duration: datetime.timedelta,
    zone: str,
    first: datetime.date,
    last: datetime.date,
) -> list[Occurrence]:
    """Occurrences on the given ISO weekdays (Monday = 1) from ``first`` to ``last``."""
    wanted = set(weekdays)
    result = []
    day = first
    while day <= last:
        if day.isoweekday() in wanted:
            start = local_to_utc(day, wall_time, zone)
            result.append(Occurrence(date=day, starts_at=start, ends_at=start + duration))
        day += datetime.timedelta(days=1)
    return result
