"""The service's URLs plus the benchmark's raw-SQL baseline views (``bench.settings`` only)."""

from django.urls import path

from bench import views
from config.urls import *  # noqa: F403
from config.urls import urlpatterns as service_urlpatterns

urlpatterns = [
    path("bench/baseline/me/schedule/", views.BaselineScheduleView.as_view()),
    path("bench/baseline/sessions/", views.BaselineSessionsView.as_view()),
    *service_urlpatterns,
]
