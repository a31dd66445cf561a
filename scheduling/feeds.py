"""Private, revocable iCal feeds (RFC 5545) of a patient's or a clinician's sessions: their
tokens and the calendar they render. Creating and rotating a feed are services
(``scheduling.services.calendar_feed_for``/``_rotate``), finding one by its token a selector.

The URL's token is an HMAC (SHA-256, keyed by SECRET_KEY) of a 256-bit random per-feed secret.
The database keeps the secret and a SHA-256 hash of the token (to find the feed), never a working
URL: a backup or a read replica opens no feed without the server's key. The app can show the URL
on every request (API.md), and rotating draws a new secret, so the old URL stops working at once.
Changing SECRET_KEY changes every token: all feed URLs must then be fetched again.

A calendar on a phone is seen by whoever glances at it, and feeds are synced to third-party
calendar services: a patient's feed names the clinic's neutral public name, the date and the
time only (DOMAIN.md "Privacy"), never the session's title, program, kind or location. A staff
feed may show titles and places but no patient.
"""

import base64
import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from clinic.models import Clinic, ClinicMembership
from scheduling.models import CalendarFeed, Session, SessionStatus

# Events from this far back to this far ahead: enough for "what did I have last week" and the
# coming quarter, small enough to stay one cheap query per fetch.
FEED_PAST = datetime.timedelta(days=30)
FEED_AHEAD = datetime.timedelta(days=90)
# UIDs must be globally unique and stable across fetches; `.invalid` can never be a real host.
UID_DOMAIN = "continuum.invalid"
PRODID = f"-//{UID_DOMAIN}//Calendar 1.0//EN"
# How often subscribed clients should poll (a hint; most clients pick their own interval).
REFRESH_INTERVAL = datetime.timedelta(hours=1)
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_token(feed: CalendarFeed) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"calendar-feed:{feed.secret}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_secret() -> dict:
    """A new feed secret and the hash of the token it makes (the columns of ``CalendarFeed``)."""
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    probe = CalendarFeed(secret=secret)
    return {"secret": secret, "token_hash": token_hash(feed_token(probe))}


# The calendar ------------------------------------------------------------------------------------


def _window(now: datetime.datetime) -> dict:
    return {"starts_at__gte": now - FEED_PAST, "starts_at__lt": now + FEED_AHEAD}


def _patient_sessions(feed: CalendarFeed, now) -> list[Session]:
    # Only the columns the neutral event needs: a title or location is never even loaded.
    return list(
        Session.objects.filter(roster__patient_id=feed.patient_id, **_window(now))
        .select_related("clinic")
        .only(
            "id",
            "starts_at",
            "ends_at",
            "status",
            "sequence",
            "updated_at",
            "clinic__public_name",
        )
        .order_by("starts_at", "id")
    )


def _staff_sessions(feed: CalendarFeed, now) -> list[Session]:
    sessions = Session.objects.filter(facilitator_id=feed.user_id, **_window(now))
    if not feed.user.is_superuser:
        # Only the clinics the clinician still works at.
        sessions = sessions.filter(
            clinic_id__in=ClinicMembership.objects.filter(user_id=feed.user_id).values("clinic_id")
        )
    return list(sessions.select_related("clinic", "room").order_by("starts_at", "id"))


def _staff_calendar_name(feed: CalendarFeed) -> str:
    names = (
        Clinic.objects.filter(memberships__user_id=feed.user_id)
        .order_by("public_name")
        .values_list("public_name", flat=True)
    )
    return ", ".join(names) or "Sessions"


def _event(session: Session, *, summary: str, location: str, private: bool) -> Event:
    event = Event()
    event.add("uid", f"session-{session.pk}@{UID_DOMAIN}")
    event.add("dtstamp", (session.updated_at or timezone.now()).astimezone(datetime.UTC))
    event.add("dtstart", session.starts_at.astimezone(datetime.UTC))
    event.add("dtend", session.ends_at.astimezone(datetime.UTC))
    event.add("sequence", session.sequence)
    event.add("summary", summary)
    if location:
        event.add("location", location)
    # A cancelled session stays in the feed so that subscribed calendars remove it.
    cancelled = session.status == SessionStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if private:
        event.add("class", "PRIVATE")
    return event


def build_calendar(feed: CalendarFeed) -> bytes:
    """The feed's VCALENDAR, from 30 days ago to 90 days ahead. A patient's events read
    "Appointment at <public name>"; declined sessions stay (the appointment still exists)."""
    now = timezone.now()
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH_INTERVAL)

    if feed.patient_id is not None:
        calendar.add("x-wr-calname", feed.patient.clinic.public_name)
        for session in _patient_sessions(feed, now):
            public_name = session.clinic.public_name
            calendar.add_component(
                _event(
                    session,
                    summary=f"Appointment at {public_name}",
                    location=public_name,
                    private=True,
                )
            )
    else:
        calendar.add("x-wr-calname", _staff_calendar_name(feed))
        for session in _staff_sessions(feed, now):
            place = ", ".join(
                p for p in (session.room and session.room.name, session.location) if p
            )
            calendar.add_component(
                _event(
                    session,
                    summary=session.title,
                    location=place or session.clinic.public_name,
                    private=False,
                )
            )
    return calendar.to_ical()
