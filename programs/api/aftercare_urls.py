from rest_framework.routers import DefaultRouter

from programs.api import aftercare

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("aftercare-plans", aftercare.AftercarePlanViewSet, basename="aftercare-plan")

urlpatterns = router.urls
