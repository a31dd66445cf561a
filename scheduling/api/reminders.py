"""The staff view of the reminder outbox (API.md "Reminders") and the retry of a failed row."""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action

from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.errors import Conflict
from clinic.selectors import STAFF_ROLES
from scheduling import reminders, selectors
from scheduling.models import Channel, Reminder, ReminderKind, ReminderStatus


class ReminderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reminder
        fields = [
            "id",
            "session",
            "patient",
            "channel",
            "kind",
            "offset_minutes",
            "scheduled_for",
            "status",
            "sent_at",
            "attempts",
            "last_error",
        ]
        read_only_fields = fields


class ReminderFilterSet(django_filters.FilterSet):
    patient = django_filters.NumberFilter(field_name="patient_id")
    session = django_filters.NumberFilter(field_name="session_id")
    status = django_filters.ChoiceFilter(choices=ReminderStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    kind = django_filters.ChoiceFilter(choices=ReminderKind.choices)

    class Meta:
        model = Reminder
        fields = ["patient", "session", "status", "channel", "kind"]


class ReminderViewSet(PatientDataMixin, viewsets.ReadOnlyModelViewSet):
    """Reminders of the caller's clinics, by due time. Every staff role reads; admissions and
    supervisors retry a failed row. Each row names a patient: reads are audited."""

    serializer_class = ReminderSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ReminderFilterSet

    def get_permissions(self):
        write = reminders.RETRY_ROLES if self.action == "retry" else ()
        return [roles_allowed(read=STAFF_ROLES, write=write)()]

    def get_queryset(self):
        return selectors.reminder_list(user=self.request.user)

    def audit_clinic_id(self, obj) -> int:
        return obj.session.clinic_id

    @extend_schema(request=None, responses={200: ReminderSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """A failed reminder goes out again at once, if its session is still ahead."""
        reminder = self.get_object()
        if not reminders.retry_failed(actor=request.user, reminder=reminder):
            raise Conflict(
                "Only a failed reminder of a session still ahead can be retried.",
                code="not_retryable",
            )
        reminder.refresh_from_db()
        return self.response_for(reminder)
