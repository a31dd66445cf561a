"""Follow-up after discharge (issue 25): the queue of calls due after a discharge from
high-intensity care, their attempts and outcome. Thin: validate, call one service, render.

A task is Part 2 data: staff see those of their clinics (another clinic's is a 404), every read
is audited. Every staff role reads the queue; the task's assignee, its role's members and the
clinic's clinicians and supervisors work it (``follow_up_may_work``: anyone else gets 403).
"""

from django.db.models import Q
from django.utils import timezone
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from clinic.api.conditional import ETAG, IF_MATCH, expected_versions
from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import zone_today
from clinic.selectors import STAFF_ROLES, user_roles
from clinic.selectors import clinic_list as clinics_of
from programs import selectors
from programs.api.aftercare import CheckInCreateSerializer
from programs.models import ContactMethod, FollowUpAttempt, FollowUpOutcome, FollowUpTask
from programs.services import follow_ups as services

NOTE_MAX = 4000

# Output -------------------------------------------------------------------------------------------


class FollowUpAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = FollowUpAttempt
        fields = ["id", "method", "reached", "note", "attempted_at", "recorded_by"]
        read_only_fields = fields


class FollowUpTaskSerializer(serializers.ModelSerializer):
    patient_name = serializers.CharField(source="patient.display_name", read_only=True)
    program = serializers.IntegerField(source="enrollment.program_id", read_only=True)
    program_name = serializers.CharField(source="enrollment.program.name", read_only=True)
    discharge_date = serializers.DateField(source="enrollment.discharge_date", read_only=True)
    outcome = serializers.ChoiceField(
        choices=FollowUpOutcome.choices,
        allow_blank=True,
        read_only=True,
        help_text="Empty while the task is open.",
    )
    status = serializers.SerializerMethodField(help_text="open or done.")
    overdue = serializers.SerializerMethodField(
        help_text="Open and past its due date (by the clinic's today)."
    )

    class Meta:
        model = FollowUpTask
        fields = [
            "id",
            "patient",
            "patient_name",
            "enrollment",
            "program",
            "program_name",
            "discharge_date",
            "days_after_discharge",
            "due_date",
            "status",
            "overdue",
            "assignee",
            "assignee_role",
            "outcome",
            "seen_elsewhere_on",
            "outcome_note",
            "check_in",
            "completed_at",
            "completed_by",
        ]
        read_only_fields = fields

    def get_status(self, task) -> str:
        return "open" if task.is_open else "done"

    @extend_schema_field(serializers.BooleanField())
    def get_overdue(self, task) -> bool:
        if not task.is_open:
            return False
        today = zone_today(task.enrollment.program.clinic.time_zone, self.context.get("now"))
        return task.due_date < today


class FollowUpTaskDetailSerializer(FollowUpTaskSerializer):
    attempts = FollowUpAttemptSerializer(many=True, read_only=True)

    class Meta(FollowUpTaskSerializer.Meta):
        fields = [*FollowUpTaskSerializer.Meta.fields, "attempts"]
        read_only_fields = fields


# Input --------------------------------------------------------------------------------------------


class FollowUpAttemptCreateSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=ContactMethod.choices)
    reached = serializers.BooleanField()
    note = serializers.CharField(max_length=NOTE_MAX, allow_blank=True, required=False, default="")


class FollowUpCompleteSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=FollowUpOutcome.choices)
    seen_elsewhere_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="With outcome seen_elsewhere (only): the visit's date, from the discharge to "
        "today.",
    )
    note = serializers.CharField(max_length=NOTE_MAX, allow_blank=True, required=False, default="")
    check_in = CheckInCreateSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text="A risk check-in taken on the call: recorded on the episode's aftercare plan "
        "(409 `no_open_plan` without one); a risky one alerts the care team.",
    )


# Views --------------------------------------------------------------------------------------------


class FollowUpTaskFilterSet(filters.FilterSet):
    # Plain numbers: a model-choice filter would tell an outside id apart from an unknown one.
    clinic = filters.NumberFilter(field_name="enrollment__program__clinic_id")
    patient = filters.NumberFilter()
    status = filters.ChoiceFilter(
        choices=[("open", "Open"), ("done", "Done")], method="filter_status"
    )
    overdue = filters.BooleanFilter(
        method="filter_overdue", label="Open and past the due date (by the clinic's today)"
    )
    mine = filters.BooleanFilter(
        method="filter_mine", label="Assigned to me by name or to one of my roles"
    )

    class Meta:
        model = FollowUpTask
        fields = ["clinic", "patient"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(completed_at__isnull=value == "open")

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        user = self.request.user
        zones = set(clinics_of(user=user).values_list("time_zone", flat=True))
        overdue = selectors.follow_up_overdue_q(clinic_zones=zones, now=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_mine(self, queryset, name, value):
        if value is None:
            return queryset
        user = self.request.user
        mine = Q(assignee=user) | Q(assignee_role__in=user_roles(user))
        return queryset.filter(mine) if value else queryset.exclude(mine)


@extend_schema_view(
    list=extend_schema(responses=FollowUpTaskSerializer),
    retrieve=extend_schema(responses=FollowUpTaskDetailSerializer, parameters=[ETAG]),
)
class FollowUpTaskViewSet(
    PatientDataMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Follow-up calls after discharges from the caller's clinics, soonest due first; one task
    adds its attempts."""

    permission_classes = [roles_allowed(read=STAFF_ROLES, write=services.FOLLOW_UP_ROLES)]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = FollowUpTaskFilterSet
    ordering_fields = ["due_date", "id"]
    ordering = ["due_date", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FollowUpTask.objects.none()
        queryset = selectors.follow_up_task_list(
            user=self.request.user, with_attempts=self.action != "list"
        )
        return queryset.select_related("enrollment__program__clinic")

    def get_serializer_class(self):
        return FollowUpTaskSerializer if self.action == "list" else FollowUpTaskDetailSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def audit_clinic_id(self, obj):
        return obj.enrollment.program.clinic_id

    def _fresh(self, task):
        return self.get_queryset().get(pk=task.pk)

    @extend_schema(
        description="Record a try at reaching the patient (open tasks only: 409 "
        "`follow_up_completed` once done).",
        request=FollowUpAttemptCreateSerializer,
        responses={201: FollowUpAttemptSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def attempts(self, request, pk=None):
        task = self.get_object()
        attempt = services.follow_up_attempt_record(
            task, actor=request.user, **validated(FollowUpAttemptCreateSerializer, request)
        )
        return Response(FollowUpAttemptSerializer(attempt).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        description="Record the outcome and close the task (409 `follow_up_completed` when it "
        "was). seen_elsewhere needs `seen_elsewhere_on`.",
        request=FollowUpCompleteSerializer,
        responses=FollowUpTaskDetailSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def complete(self, request, pk=None):
        task = self.get_object()
        data = validated(FollowUpCompleteSerializer, request)
        if data["check_in"] is not None:
            data["check_in"] = dict(data["check_in"])
        task = services.follow_up_complete(
            task,
            actor=request.user,
            expected_versions=expected_versions(request, task),
            **data,
        )
        return self.response_for(self._fresh(task))
