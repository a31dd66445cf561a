"""What the modules of sessions_api/ share: constants and helpers."""

import datetime
import zoneinfo

from scheduling.models import Session

NY = zoneinfo.ZoneInfo("America/New_York")
UTC = datetime.UTC
# Tuesday 2026-12-01, 10:00 in New York (the test clinic's zone).
NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=UTC)
TODAY = datetime.date(2026, 12, 1)

SESSIONS = "/api/v1/sessions/"
SERIES = "/api/v1/series/"


def at(days: float = 0, hours: float = 0) -> datetime.datetime:
    return NOW + datetime.timedelta(days=days, hours=hours)


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def body(program=None, start=None, hours=3, **extra):
    start = start or at(days=1)
    data = {
        "title": "Relapse prevention",
        "kind": "group",
        "starts_at": iso(start),
        "ends_at": iso(start + datetime.timedelta(hours=hours)),
        "location": "Group room A",
        **extra,
    }
    if program is not None:
        data["program"] = program.pk
    return data


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def occurrences_of(series) -> list[Session]:
    return list(Session.objects.filter(series=series).order_by("occurrence_date"))


def local_start(session) -> datetime.time:
    return session.starts_at.astimezone(NY).time()


# Series ---------------------------------------------------------------------------------------


def series_body(program=None, **overrides):
    data = {
        "title": "Evening group",
        "kind": "group",
        "weekdays": [1, 3, 5],
        "local_start_time": "18:00",
        "duration_minutes": 180,
        "starts_on": "2026-12-07",
        "ends_on": "2026-12-20",
        "location": "Group room A",
        **overrides,
    }
    if program is not None:
        data["program"] = program.pk
    return data
