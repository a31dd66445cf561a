from rest_framework.routers import DefaultRouter

from clinic.api import alerts

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("alerts", alerts.AlertViewSet, basename="alert")

urlpatterns = router.urls
