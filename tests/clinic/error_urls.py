"""Views that fail in each way the exception handler must shape, plus the real URLs."""

from django.db import IntegrityError
from django.urls import include, path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from clinic.errors import Conflict
from clinic.models import Clinic


class RequiredFieldsSerializer(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField(min_value=1)


class ValidationView(APIView):
    def post(self, request):
        RequiredFieldsSerializer(data=request.data).is_valid(raise_exception=True)
        return Response({})


class ServiceConflictView(APIView):
    def post(self, request):
        raise Conflict("The program has no free place on that date.", code="program_full")


class ConstraintConflictView(APIView):
    def post(self, request):
        # Two clinics whose names differ only in case break clinic_name_unique_ci.
        Clinic.objects.create(name="Twin", public_name="A", time_zone="UTC")
        Clinic.objects.create(name="TWIN", public_name="B", time_zone="UTC")
        return Response({})


class UnknownConstraintView(APIView):
    def post(self, request):
        raise IntegrityError("something the handler cannot explain")


class CrashView(APIView):
    def get(self, request):
        return 1 / 0


class TightThrottle(AnonRateThrottle):
    rate = "1/minute"
    scope = "test-tight"


class ThrottledView(APIView):
    permission_classes = []
    throttle_classes = [TightThrottle]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("errors/validation/", ValidationView.as_view()),
    path("errors/service-conflict/", ServiceConflictView.as_view()),
    path("errors/constraint-conflict/", ConstraintConflictView.as_view()),
    path("errors/unknown-integrity/", UnknownConstraintView.as_view()),
    path("errors/crash/", CrashView.as_view()),
    path("errors/throttled/", ThrottledView.as_view()),
    path("", include("config.urls")),
]

handler404 = "clinic.api.errors.handler404"
handler500 = "clinic.api.errors.handler500"
