from rest_framework.routers import DefaultRouter

from programs.api import sessions as views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("sessions", views.SessionViewSet, basename="session")
router.register("series", views.SeriesViewSet, basename="series")

urlpatterns = router.urls
