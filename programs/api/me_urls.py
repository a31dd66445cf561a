"""The patient's enrollments, aftercare plan and check-ins (``me/...``), under ``/api/v1/``."""

from django.urls import path

from programs.api import me

urlpatterns = [
    path("me/enrollments/", me.MyEnrollmentsView.as_view(), name="me-enrollments"),
    path("me/aftercare-plan/", me.MyAftercarePlanView.as_view(), name="me-aftercare-plan"),
    path("me/check-ins/", me.MyCheckInsView.as_view(), name="me-check-ins"),
]
