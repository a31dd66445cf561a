"""Programs, enrollments and transitions. Thin: validate, call one service, render."""

from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import IsStaff, roles_allowed
from clinic.api.utils import validated
from clinic.selectors import STAFF_ROLES
from programs import selectors
from programs.api.serializers import (
    BedAssignmentSerializer,
    BedAssignSerializer,
    EnrollmentAdmitSerializer,
    EnrollmentCancelSerializer,
    EnrollmentCreateSerializer,
    EnrollmentDetailSerializer,
    EnrollmentDischargeSerializer,
    EnrollmentSerializer,
    ProgramSerializer,
    TransitionCreateSerializer,
    TransitionSerializer,
)
from programs.models import Enrollment, EnrollmentStatus, Program, Transition
from programs.services import enrollments as services

# Ids are plain numbers in every filter: a model-choice filter would list all clinics' rows in
# the browsable API's form and answer another clinic's id unlike a missing one (an oracle).


class ProgramFilterSet(filters.FilterSet):
    clinic = filters.NumberFilter()

    class Meta:
        model = Program
        fields = ["clinic", "level", "track", "is_active"]


class ProgramViewSet(viewsets.ReadOnlyModelViewSet):
    """Programs of the caller's clinics with today's active count and free places."""

    serializer_class = ProgramSerializer
    permission_classes = [IsStaff]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ProgramFilterSet
    ordering_fields = ["name", "level", "id"]
    ordering = ["level", "name", "id"]

    def get_queryset(self):
        return selectors.program_list(user=self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {**self.get_serializer_context(), "places": selectors.program_places(page)}
        return self.get_paginated_response(ProgramSerializer(page, many=True, context=context).data)

    def retrieve(self, request, *args, **kwargs):
        program = self.get_object()
        context = {**self.get_serializer_context(), "places": selectors.program_places([program])}
        return Response(ProgramSerializer(program, context=context).data)


class EnrollmentFilterSet(filters.FilterSet):
    patient = filters.NumberFilter()
    program = filters.NumberFilter()
    clinic = filters.NumberFilter(field_name="program__clinic")
    active_on = filters.DateFilter(method="filter_active_on", label="Present on this date")

    class Meta:
        model = Enrollment
        fields = ["patient", "program", "status", "level", "clinic"]

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(
            status__in=[EnrollmentStatus.ADMITTED, EnrollmentStatus.DISCHARGED],
            start_date__lte=value,
        ).exclude(discharge_date__lte=value)


class EnrollmentViewSet(PatientDataMixin, viewsets.GenericViewSet):
    serializer_class = EnrollmentSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = EnrollmentFilterSet
    ordering_fields = ["start_date", "requested_at", "id"]
    ordering = ["-start_date", "-id"]

    def get_permissions(self):
        # Every staff role reads; the write actions are the enrollment steps ("create" enrolls).
        step = "enroll" if self.action == "create" else self.action
        write = services.ACTION_ROLES.get(step, ())
        return [roles_allowed(read=STAFF_ROLES, write=write)()]

    def get_queryset(self):
        return selectors.enrollment_list(
            user=self.request.user, with_offers=self.action == "retrieve"
        )

    def get_serializer_class(self):
        # The offers' history on the detail only: the list stays one query for its page.
        if self.action == "retrieve":
            return EnrollmentDetailSerializer
        return EnrollmentSerializer

    def audit_clinic_id(self, obj):
        return obj.program.clinic_id

    @extend_schema(request=EnrollmentCreateSerializer, responses={201: EnrollmentSerializer})
    def create(self, request):
        data = validated(EnrollmentCreateSerializer, request)
        enrollment = services.enrollment_create(actor=request.user, **data)
        return self.response_for(enrollment, status=status.HTTP_201_CREATED)

    @extend_schema(request=EnrollmentAdmitSerializer, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def admit(self, request, pk=None):
        """Admit a waitlisted patient (for example the one offered a freed place)."""
        enrollment = services.enrollment_admit(
            actor=request.user,
            enrollment=self.get_object(),
            **validated(EnrollmentAdmitSerializer, request),
        )
        return self.response_for(enrollment)

    @extend_schema(request=EnrollmentDischargeSerializer, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def discharge(self, request, pk=None):
        enrollment = services.enrollment_discharge(
            actor=request.user,
            enrollment=self.get_object(),
            **validated(EnrollmentDischargeSerializer, request),
        )
        return self.response_for(enrollment)

    @extend_schema(request=EnrollmentCancelSerializer, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a waitlisted enrollment (the body and its reason are optional)."""
        enrollment = services.enrollment_cancel(
            actor=request.user,
            enrollment=self.get_object(),
            **validated(EnrollmentCancelSerializer, request),
        )
        return self.response_for(enrollment)

    @extend_schema(request=TransitionCreateSerializer, responses={201: TransitionSerializer})
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Step down, step up or move laterally: the source is discharged as transferred and
        the target admitted on the same date, in one transaction."""
        move = services.transition_create(
            actor=request.user,
            enrollment=self.get_object(),
            **validated(TransitionCreateSerializer, request),
        )
        return Response(TransitionSerializer(move).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BedAssignSerializer, responses={201: BedAssignmentSerializer})
    @action(detail=True, methods=["post"])
    def bed(self, request, pk=None):
        """Assign a bed of the (residential) program from a date."""
        assignment = services.bed_assign(
            actor=request.user,
            enrollment=self.get_object(),
            **validated(BedAssignSerializer, request),
        )
        return Response(BedAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class TransitionFilterSet(filters.FilterSet):
    patient = filters.NumberFilter(field_name="patient")
    date_after = filters.DateFilter(field_name="date", lookup_expr="gte")
    date_before = filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = Transition
        fields = ["kind", "patient"]


class TransitionViewSet(PatientDataMixin, viewsets.GenericViewSet):
    serializer_class = TransitionSerializer
    permission_classes = [roles_allowed(read=STAFF_ROLES)]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = TransitionFilterSet
    ordering_fields = ["date", "id"]
    ordering = ["-date", "-id"]

    def get_queryset(self):
        return selectors.transition_list(user=self.request.user)

    def audit_patient_id(self, obj):
        return obj.patient_id

    def audit_clinic_id(self, obj):
        return obj.from_enrollment.program.clinic_id
