"""Staff alerts: the caller's own (by name or by role) and their acknowledgement."""

from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action

from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import IsStaff
from clinic.models import AlertKind, StaffAlert
from clinic.selectors import alert_list_for
from clinic.services import alert_acknowledge


class AlertSerializer(serializers.ModelSerializer):
    patient = serializers.IntegerField(source="patient_id", read_only=True, allow_null=True)
    acknowledged = serializers.SerializerMethodField()

    class Meta:
        model = StaffAlert
        fields = [
            "id",
            "clinic",
            "kind",
            "message",
            "recipient",
            "recipient_role",
            "patient",
            "object_type",
            "object_id",
            "created_at",
            "occurrences",
            "last_occurred_at",
            "acknowledged",
            "acknowledged_at",
            "acknowledged_by",
        ]
        read_only_fields = fields

    def get_acknowledged(self, alert) -> bool:
        return alert.acknowledged_at is not None


class AlertFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=AlertKind.choices)
    acknowledged = filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = StaffAlert
        fields = ["kind", "acknowledged"]


@extend_schema_view(
    list=extend_schema(responses=AlertSerializer),
    retrieve=extend_schema(responses=AlertSerializer),
)
class AlertViewSet(PatientDataMixin, viewsets.GenericViewSet):
    """Alerts of the caller's clinics addressed to the caller or to one of their roles, newest
    first. Reads are audited: an alert names a patient by id."""

    serializer_class = AlertSerializer
    permission_classes = [IsStaff]
    filter_backends = [DjangoFilterBackend]
    filterset_class = AlertFilterSet

    def get_queryset(self):
        return alert_list_for(self.request.user).order_by("-created_at", "-id")

    def audit_patient_id(self, obj):
        return obj.patient_id

    def audit_clinic_id(self, obj):
        return obj.clinic_id

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Mark the alert as handled; a second acknowledgement is a 409 (already_acknowledged)."""
        alert = alert_acknowledge(actor=request.user, alert=self.get_object())
        return self.response_for(alert)
