from django_filters import rest_framework as filters
from rest_framework import viewsets

from clinic import selectors
from clinic.api.pagination import UncountedPageNumberPagination
from clinic.api.permissions import IsStaff, roles_allowed
from clinic.api.serializers import AuditEventSerializer, ClinicSerializer
from clinic.models import AuditEvent, Role
from clinic.replica import replica_reads


class ClinicViewSet(viewsets.ReadOnlyModelViewSet):
    """The clinics the caller works at."""

    serializer_class = ClinicSerializer
    permission_classes = [IsStaff]
    search_fields = ["name", "public_name"]
    ordering_fields = ["name", "id"]

    def get_queryset(self):
        return selectors.clinic_list(user=self.request.user)


class AuditEventFilterSet(filters.FilterSet):
    # Plain numbers: a model-choice filter would list every clinic's users and clinics in the
    # browsable API's form and tell another clinic's id apart from a missing one.
    patient_id = filters.NumberFilter()
    actor = filters.NumberFilter()
    clinic = filters.NumberFilter()

    class Meta:
        model = AuditEvent
        fields = ["patient_id", "action", "actor", "object_type", "clinic"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail of the caller's clinics (supervisors). Append-only, never editable."""

    serializer_class = AuditEventSerializer
    permission_classes = [roles_allowed(read=(Role.SUPERVISOR,))]
    filterset_class = AuditEventFilterSet
    # The trail only grows: no COUNT of it per page (page_size + 1 rows say whether there is more).
    pagination_class = UncountedPageNumberPagination
    ordering_fields = ["occurred_at", "id"]

    def get_queryset(self):
        return selectors.audit_event_list(user=self.request.user)

    # The trail's list reads from the replica (seconds behind at most); one event stays exact.
    @replica_reads()
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
