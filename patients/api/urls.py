from rest_framework.routers import DefaultRouter

from patients.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("patients", views.PatientViewSet, basename="patient")
router.register("assessments", views.AssessmentViewSet, basename="assessment")

urlpatterns = router.urls
