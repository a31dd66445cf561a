from django.urls import path
from rest_framework.routers import DefaultRouter

from patients.api import views
from patients.api.webhooks import InboundSmsWebhookView

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("patients", views.PatientViewSet, basename="patient")
router.register("assessments", views.AssessmentViewSet, basename="assessment")

urlpatterns = [
    *router.urls,
    path("webhooks/sms/", InboundSmsWebhookView.as_view(), name="webhook-sms-inbound"),
]
