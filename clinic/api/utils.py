"""Small helpers for thin views."""

import datetime
import functools
import re

from django.utils import timezone


def utc_instant(value: datetime.datetime) -> datetime.datetime:
    """An aware input datetime as the same instant in UTC, before it reaches a query.

    Python takes UTC offsets up to ±23:59, PostgreSQL only up to ±15:59 (a larger one in a
    query is a database error). ValueError when the instant is outside years 1–9999 in UTC.
    """
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError as error:
        raise ValueError("The date-time is out of range.") from error


# An unescaped "+" of an offset arrives as a space in a query string.
_SPACED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def date_or_datetime(text: str) -> datetime.date | datetime.datetime:
    """A query's day or instant: ``YYYY-MM-DD`` as a date, an ISO 8601 date-time as its UTC
    instant when it has an offset, as given (naive, for the caller's zone) when not.
    ValueError for anything else."""
    text = _SPACED_OFFSET.sub(r"\1+\2", text.strip())
    if len(text) == 10:
        return datetime.date.fromisoformat(text)
    if "T" not in text and " " not in text:
        raise ValueError("Neither a date nor a date-time.")
    value = datetime.datetime.fromisoformat(text)
    return utc_instant(value) if timezone.is_aware(value) else value


def validated(serializer_class, request, *, data=None, **kwargs) -> dict:
    """Validate ``request.data`` (or ``data``) with an input serializer; 400 when invalid."""
    serializer = serializer_class(
        data=request.data if data is None else data, context={"request": request}, **kwargs
    )
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def datetime_text(value: datetime.datetime | None, zone: datetime.tzinfo) -> str | None:
    """An aware datetime as DRF's ``DateTimeField`` shows it: ISO 8601 in ``zone`` (pass
    ``timezone.get_current_timezone()``, read once per list), ``Z`` for UTC. For lists
    serialized from rows rather than model instances."""
    if not value:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _utc_value(value: datetime.datetime | None) -> datetime.datetime | None:
    # datetime_writer in UTC: the value itself, in UTC (rows come from the database in UTC
    # already). The service's JSON renderers write it as DateTimeField does, ISO 8601 with "Z"
    # (ORJSONRenderer with OPT_UTC_Z, and DRF's encoder), so no text is built here per value.
    if value is not None and value.utcoffset():
        return value.astimezone(datetime.UTC)
    return value


def datetime_writer():
    """What a list row's datetime becomes in the response, as a one-argument function: in the
    current time zone as DRF's ``DateTimeField`` writes it. For UTC (the service's default) the
    datetime itself, which the JSON renderers write as that text (tests/clinic/
    test_api_utils.py); else ``datetime_text``."""
    zone = timezone.get_current_timezone()
    if getattr(zone, "key", None) == "UTC":
        return _utc_value
    return functools.partial(datetime_text, zone=zone)


def date_text(value: datetime.date | None) -> str | None:
    """A date as DRF's ``DateField`` shows it."""
    return value.isoformat() if value else None
