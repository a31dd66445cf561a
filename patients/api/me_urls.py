"""The patient's own profile and preferences (``me/``, ``me/preferences/``), under ``/api/v1/``."""

from django.urls import path

from patients.api import me

urlpatterns = [
    path("me/", me.MyProfileView.as_view(), name="me"),
    path("me/preferences/", me.MyPreferencesView.as_view(), name="me-preferences"),
]
