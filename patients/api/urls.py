"""The patients' API under ``/api/v1/``: patients and assessments, app activation, the
patient's own profile (``me/``) and the SMS provider's webhook."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from patients.api import activation, me, views
from patients.api.webhooks import InboundSmsWebhookView

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("patients", views.PatientViewSet, basename="patient")
router.register("assessments", views.AssessmentViewSet, basename="assessment")

urlpatterns = [
    path(
        "patients/<int:pk>/activation/",
        activation.ActivationCodeIssueView.as_view(),
        name="patient-activation",
    ),
    path(
        "patients/<int:pk>/app-access/revoke/",
        activation.AppAccessRevokeView.as_view(),
        name="patient-app-access-revoke",
    ),
    path("auth/activate/", activation.ActivateView.as_view(), name="auth-activate"),
    *router.urls,
    path("webhooks/sms/", InboundSmsWebhookView.as_view(), name="webhook-sms-inbound"),
    path("me/", me.MyProfileView.as_view(), name="me"),
    path("me/preferences/", me.MyPreferencesView.as_view(), name="me-preferences"),
    path("me/consents/", me.MyConsentsView.as_view(), name="me-consents"),
    path(
        "me/consents/<int:pk>/revoke/",
        me.MyConsentRevokeView.as_view(),
        name="me-consent-revoke",
    ),
]
