from rest_framework.routers import DefaultRouter

from clinic.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("clinics", views.ClinicViewSet, basename="clinic")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = router.urls
