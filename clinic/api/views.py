from rest_framework import viewsets

from clinic import selectors
from clinic.api.permissions import IsStaff, roles_allowed
from clinic.api.serializers import AuditEventSerializer, ClinicSerializer
from clinic.models import Role


class ClinicViewSet(viewsets.ReadOnlyModelViewSet):
    """The clinics the caller works at."""

    serializer_class = ClinicSerializer
    permission_classes = [IsStaff]
    search_fields = ["name", "public_name"]
    ordering_fields = ["name", "id"]

    def get_queryset(self):
        return selectors.clinic_list(user=self.request.user)


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail of the caller's clinics (supervisors). Append-only, never editable."""

    serializer_class = AuditEventSerializer
    permission_classes = [roles_allowed(read=(Role.SUPERVISOR,))]
    filterset_fields = ["patient_id", "action", "actor", "object_type", "clinic"]
    ordering_fields = ["occurred_at", "id"]

    def get_queryset(self):
        return selectors.audit_event_list(user=self.request.user)
