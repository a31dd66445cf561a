"""The public iCal feed, outside ``/api/v1/``: the token in the path is the only credential."""

from django.urls import re_path

from scheduling.api.me import calendar_feed_ics

urlpatterns = [
    # secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
    re_path(
        r"^calendar/(?P<token>[A-Za-z0-9_-]{20,128})\.ics$",
        calendar_feed_ics,
        name="calendar-feed-ics",
    ),
]
