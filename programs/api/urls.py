from rest_framework.routers import DefaultRouter

from programs.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("programs", views.ProgramViewSet, basename="program")
router.register("enrollments", views.EnrollmentViewSet, basename="enrollment")
router.register("transitions", views.TransitionViewSet, basename="transition")

urlpatterns = router.urls
