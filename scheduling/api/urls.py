"""The calendar's API: under ``/api/v1/`` (``urlpatterns``) sessions, series and reminders, the
patient's schedule (``me/...``) and the staff's own calendar feed; outside it
(``feed_urlpatterns``) the public iCal feed, whose token in the path is the only credential."""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from scheduling.api import me, views
from scheduling.api.reminders import ReminderViewSet
from scheduling.models import RosterResponse

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("sessions", views.SessionViewSet, basename="session")
router.register("series", views.SeriesViewSet, basename="series")
router.register("reminders", ReminderViewSet, basename="reminder")

urlpatterns = [
    *router.urls,
    path("me/schedule/", me.MyScheduleView.as_view(), name="me-schedule"),
    path(
        "me/sessions/<int:pk>/confirm/",
        me.MySessionRespondView.as_view(answer=RosterResponse.CONFIRMED),
        name="me-session-confirm",
    ),
    path(
        "me/sessions/<int:pk>/decline/",
        me.MySessionRespondView.as_view(answer=RosterResponse.DECLINED),
        name="me-session-decline",
    ),
    path("me/devices/", me.MyDevicesView.as_view(), name="me-devices"),
    path("me/devices/<int:pk>/", me.MyDeviceView.as_view(), name="me-device"),
    path("me/calendar-feed/", me.MyCalendarFeedView.as_view(), name="me-calendar-feed"),
    path(
        "me/calendar-feed/rotate/",
        me.MyCalendarFeedRotateView.as_view(),
        name="me-calendar-feed-rotate",
    ),
    path("calendar-feed/", me.StaffCalendarFeedView.as_view(), name="staff-calendar-feed"),
    path(
        "calendar-feed/rotate/",
        me.StaffCalendarFeedRotateView.as_view(),
        name="staff-calendar-feed-rotate",
    ),
]

feed_urlpatterns = [
    # secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
    re_path(
        r"^calendar/(?P<token>[A-Za-z0-9_-]{20,128})\.ics$",
        me.calendar_feed_ics,
        name="calendar-feed-ics",
    ),
]
