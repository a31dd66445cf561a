from rest_framework.routers import DefaultRouter

from scheduling.api.reminders import ReminderViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("reminders", ReminderViewSet, basename="reminder")

urlpatterns = router.urls
