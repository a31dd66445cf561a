"""Aftercare plans, their items and goals, and check-ins. Thin: validate, call one service, render.

Clinicians write plans, items and goals; admissions and supervisors read; clinicians and
admissions may record a check-in on the patient's behalf. Every queryset is the caller's
clinics' (outside plans are 404) and every read of patient data is audited.
"""

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from clinic.api.conditional import ETAG, IF_MATCH, expected_versions, with_etag
from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import AuditAction, Role
from clinic.selectors import STAFF_ROLES, clinic_ids_for_user
from clinic.services import audit_record_many
from patients.api.serializers import CallerScopedPrimaryKeyField
from programs import selectors
from programs.models import (
    AftercareGoal,
    AftercareItem,
    AftercareItemKind,
    AftercarePlan,
    AftercarePlanStatus,
    CheckIn,
    Enrollment,
    GoalStatus,
)
from programs.services import aftercare as services

TEXT_MAX = 5000


def enrollments_of_caller(user):
    return Enrollment.objects.filter(program__clinic_id__in=clinic_ids_for_user(user))


# Output -------------------------------------------------------------------------------------------


class AftercareItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = AftercareItem
        fields = ["id", "plan", "kind", "text", "scheduled_for"]
        read_only_fields = fields


class AftercareGoalSerializer(serializers.ModelSerializer):
    class Meta:
        model = AftercareGoal
        fields = ["id", "plan", "description", "status", "target_date"]
        read_only_fields = fields


class AftercarePlanSerializer(serializers.ModelSerializer):
    clinic = serializers.IntegerField(source="enrollment.program.clinic_id", read_only=True)
    program = serializers.IntegerField(source="enrollment.program_id", read_only=True)
    items = AftercareItemSerializer(many=True, read_only=True)
    goals = AftercareGoalSerializer(many=True, read_only=True)

    class Meta:
        model = AftercarePlan
        fields = [
            "id",
            "enrollment",
            "patient",
            "clinic",
            "program",
            "status",
            "review_date",
            "medication_continuation",
            "sober_living",
            "notes",
            "items",
            "goals",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CheckInSerializer(serializers.ModelSerializer):
    risky = serializers.BooleanField(source="is_risky", read_only=True)

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "plan",
            "patient",
            "craving",
            "mood",
            "used_substance",
            "note",
            "risky",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields


# Input --------------------------------------------------------------------------------------------


def _text(**kwargs):
    return serializers.CharField(max_length=TEXT_MAX, allow_blank=True, **kwargs)


class AftercarePlanCreateSerializer(serializers.Serializer):
    enrollment = CallerScopedPrimaryKeyField(scope=enrollments_of_caller)
    review_date = serializers.DateField(required=False, allow_null=True, default=None)
    medication_continuation = _text(required=False, default="")
    sober_living = _text(required=False, default="")
    notes = _text(required=False, default="")


class AftercarePlanUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=AftercarePlanStatus.choices,
        required=False,
        help_text="Moves forward only: draft → active → closed.",
    )
    review_date = serializers.DateField(required=False, allow_null=True)
    medication_continuation = _text(required=False)
    sober_living = _text(required=False)
    notes = _text(required=False)


class AftercareItemCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AftercareItemKind.choices)
    text = serializers.CharField(max_length=TEXT_MAX)
    scheduled_for = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When, for a follow-up appointment.",
    )


class AftercareGoalCreateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=TEXT_MAX)
    status = serializers.ChoiceField(
        choices=GoalStatus.choices, required=False, default=GoalStatus.OPEN
    )
    target_date = serializers.DateField(required=False, allow_null=True, default=None)


class AftercareGoalUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=TEXT_MAX, required=False)
    status = serializers.ChoiceField(choices=GoalStatus.choices, required=False)
    target_date = serializers.DateField(required=False, allow_null=True)


class CheckInCreateSerializer(serializers.Serializer):
    craving = serializers.IntegerField(min_value=0, max_value=10, help_text="0 (none) to 10.")
    mood = serializers.IntegerField(min_value=1, max_value=5, help_text="1 (very low) to 5.")
    used_substance = serializers.BooleanField()
    note = _text(required=False, default="")


# Views --------------------------------------------------------------------------------------------


class AftercarePlanFilterSet(filters.FilterSet):
    # Plain numbers: a model-choice filter would tell an outside id apart from an unknown one.
    patient = filters.NumberFilter()
    enrollment = filters.NumberFilter()
    status = filters.ChoiceFilter(choices=AftercarePlanStatus.choices)

    class Meta:
        model = AftercarePlan
        fields = ["patient", "enrollment", "status"]


# Writes by action (reads are open to every staff role).
ACTION_WRITE_ROLES = {
    "create": (Role.CLINICIAN,),
    "partial_update": (Role.CLINICIAN,),
    "items": (Role.CLINICIAN,),
    "item_detail": (Role.CLINICIAN,),
    "goals": (Role.CLINICIAN,),
    "goal_detail": (Role.CLINICIAN,),
    "check_ins": services.CHECK_IN_STAFF_ROLES,
}


@extend_schema_view(
    list=extend_schema(responses=AftercarePlanSerializer),
    retrieve=extend_schema(responses=AftercarePlanSerializer, parameters=[ETAG]),
)
class AftercarePlanViewSet(PatientDataMixin, viewsets.GenericViewSet):
    """Aftercare plans (FHIR CarePlan) of the caller's clinics, with items and goals."""

    serializer_class = AftercarePlanSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = AftercarePlanFilterSet
    ordering_fields = ["created_at", "review_date", "id"]
    ordering = ["-created_at", "-id"]

    def get_permissions(self):
        return [roles_allowed(read=STAFF_ROLES, write=ACTION_WRITE_ROLES.get(self.action, ()))()]

    def get_queryset(self):
        return selectors.aftercare_plan_list(user=self.request.user)

    def audit_patient_id(self, obj):
        return obj.patient_id

    def audit_clinic_id(self, obj):
        return obj.enrollment.program.clinic_id

    def _fresh(self, plan):
        """The plan as the list serves it (items and goals prefetched)."""
        return self.get_queryset().get(pk=plan.pk)

    def _page_of(self, queryset, serializer_class, plan):
        """A page of one plan's items, goals or check-ins, audited row by row."""
        page = self.paginate_queryset(queryset)
        self.audit_list_of(page, plan)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    def audit_list_of(self, objects, plan, action=AuditAction.LIST):
        audit_record_many(
            actor=self.request.user,
            action=action,
            objects=objects,
            patient_id_of=lambda obj: plan.patient_id,
            clinic_id_of=lambda obj: plan.enrollment.program.clinic_id,
        )

    @extend_schema(
        request=AftercarePlanCreateSerializer,
        responses={201: AftercarePlanSerializer},
        parameters=[ETAG],
    )
    def create(self, request):
        """Start the plan during discharge planning; one plan per enrollment."""
        plan = services.aftercare_plan_create(
            actor=request.user, **validated(AftercarePlanCreateSerializer, request)
        )
        return self.response_for(self._fresh(plan), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=AftercarePlanUpdateSerializer,
        responses=AftercarePlanSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    def partial_update(self, request, pk=None):
        """Change the review date or texts, or move the status forward. The plan's `ETag` is
        its own fields' version; its items and goals are edited (and versioned) on their own."""
        plan = self.get_object()
        plan = services.aftercare_plan_update(
            actor=request.user,
            plan=plan,
            expected_versions=expected_versions(request, plan),
            **validated(AftercarePlanUpdateSerializer, request),
        )
        return self.response_for(self._fresh(plan))

    # Items --------------------------------------------------------------------------------------

    @extend_schema(methods=["GET"], request=None, responses=AftercareItemSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=AftercareItemCreateSerializer,
        responses={201: AftercareItemSerializer},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def items(self, request, pk=None):
        """Triggers, coping skills, support groups, follow-up appointments, emergency
        contacts."""
        plan = self.get_object()
        if request.method == "GET":
            return self._page_of(
                selectors.aftercare_item_list(plan=plan), AftercareItemSerializer, plan
            )
        item = services.aftercare_item_add(
            actor=request.user, plan=plan, **validated(AftercareItemCreateSerializer, request)
        )
        return Response(AftercareItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"items/(?P<item_id>\d+)")
    def item_detail(self, request, pk=None, item_id=None):
        """Remove an item from the plan."""
        plan = self.get_object()
        item = get_object_or_404(selectors.aftercare_item_list(plan=plan), pk=item_id)
        services.aftercare_item_remove(actor=request.user, item=item)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # Goals --------------------------------------------------------------------------------------

    @extend_schema(methods=["GET"], request=None, responses=AftercareGoalSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=AftercareGoalCreateSerializer,
        responses={201: AftercareGoalSerializer},
        parameters=[ETAG],
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def goals(self, request, pk=None):
        """The plan's goals, each with its status (open, in progress, achieved, dropped)."""
        plan = self.get_object()
        if request.method == "GET":
            return self._page_of(
                selectors.aftercare_goal_list(plan=plan), AftercareGoalSerializer, plan
            )
        goal = services.aftercare_goal_add(
            actor=request.user, plan=plan, **validated(AftercareGoalCreateSerializer, request)
        )
        return with_etag(
            Response(AftercareGoalSerializer(goal).data, status=status.HTTP_201_CREATED), goal
        )

    @extend_schema(
        methods=["GET"], request=None, responses=AftercareGoalSerializer, parameters=[ETAG]
    )
    @extend_schema(
        methods=["PATCH"],
        request=AftercareGoalUpdateSerializer,
        responses=AftercareGoalSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    @action(detail=True, methods=["get", "patch"], url_path=r"goals/(?P<goal_id>\d+)")
    def goal_detail(self, request, pk=None, goal_id=None):
        """One goal (GET gives its `ETag`); PATCH rewords it, moves its target date or records
        its progress."""
        plan = self.get_object()
        goal = get_object_or_404(selectors.aftercare_goal_list(plan=plan), pk=goal_id)
        if request.method == "GET":
            self.audit_list_of([goal], plan, action=AuditAction.READ)
            return with_etag(Response(AftercareGoalSerializer(goal).data), goal)
        goal = services.aftercare_goal_update(
            actor=request.user,
            goal=goal,
            expected_versions=expected_versions(request, goal),
            **validated(AftercareGoalUpdateSerializer, request),
        )
        return with_etag(Response(AftercareGoalSerializer(goal).data), goal)

    # Check-ins ----------------------------------------------------------------------------------

    @extend_schema(methods=["GET"], request=None, responses=CheckInSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=CheckInCreateSerializer, responses={201: CheckInSerializer}
    )
    @action(detail=True, methods=["get", "post"], url_path="check-ins", filter_backends=[])
    def check_ins(self, request, pk=None):
        """The patient's check-ins, newest first; staff may record one on their behalf. Use
        reported or a craving of 8 or more alerts the primary clinician."""
        plan = self.get_object()
        if request.method == "GET":
            return self._page_of(selectors.checkin_list(plan=plan), CheckInSerializer, plan)
        checkin = services.checkin_record(
            actor=request.user, plan=plan, **validated(CheckInCreateSerializer, request)
        )
        return Response(CheckInSerializer(checkin).data, status=status.HTTP_201_CREATED)
