"""The patient's schedule (``me/...``) and the staff's own calendar feed, under ``/api/v1/``."""

from django.urls import path

from scheduling.api import me
from scheduling.models import RosterResponse

urlpatterns = [
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
