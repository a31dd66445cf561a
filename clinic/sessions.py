"""Automatic log-off (HIPAA §164.312(a)(2)(iii)) of the admin's sessions: a session ends
``SESSION_IDLE_MINUTES`` after its last request, and ``SESSION_COOKIE_AGE`` (12 hours) after
sign-in whatever the activity.

Django's own expiry slides: each save of a session moves its end ``SESSION_COOKIE_AGE`` ahead.
So the end is fixed at sign-in as an absolute date, which Django then holds in the database and
the cookie. The time of the last request is kept in the session and written at most once a
minute, so browsing does not write the session on every request (the idle limit is therefore
met to within a minute).
"""

import datetime

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.utils import timezone

LAST_SEEN = "continuum_last_seen"
TOUCH_EVERY = datetime.timedelta(minutes=1)


def _session_start(session, now: datetime.datetime) -> None:
    session.set_expiry(now + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE))
    session[LAST_SEEN] = now.timestamp()


def session_signed_in(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the session's 12 hours start now."""
    _session_start(request.session, timezone.now())


class SessionIdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Only requests that carry a session cookie: the API's token requests never touch it.
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            self._check(request, timezone.now())
        return self.get_response(request)

    def _check(self, request, now: datetime.datetime) -> None:
        session = request.session
        if session.get(SESSION_KEY) is None:
            return
        seen = session.get(LAST_SEEN)
        if seen is None:
            # Signed in before this rule: its limits start now.
            _session_start(session, now)
            return
        idle = now - datetime.datetime.fromtimestamp(seen, tz=datetime.UTC)
        if idle > datetime.timedelta(minutes=settings.SESSION_IDLE_MINUTES):
            logout(request)
        elif idle >= TOUCH_EVERY:
            session[LAST_SEEN] = now.timestamp()
