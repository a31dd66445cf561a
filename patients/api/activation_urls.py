from django.urls import path

from patients.api import activation

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
]
