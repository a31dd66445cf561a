"""The clinic's API under ``/api/v1/``: clinics, the audit trail, staff alerts."""

from rest_framework.routers import DefaultRouter

from clinic.api import alerts, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("clinics", views.ClinicViewSet, basename="clinic")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("alerts", alerts.AlertViewSet, basename="alert")

urlpatterns = router.urls
