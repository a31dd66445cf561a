"""Utilization review: payers (read), a patient's coverage, the payer's authorizations of an
enrollment's care with their use, and the reviews that extend or deny them. Thin: validate,
call one service, render.

Admissions write coverage, authorizations and reviews; every staff role reads them. Every
queryset is the caller's clinics' (outside records are 404) and every read of patient data is
audited. Coverage and authorizations carry an ``ETag``; their edits take ``If-Match``.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clinic.api.conditional import ETAG, IF_MATCH, expected_versions
from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import AuditAction
from clinic.selectors import STAFF_ROLES, clinic_ids_for_user
from clinic.services import audit_record_many
from patients.api.serializers import CallerScopedPrimaryKeyField
from patients.models import Level
from patients.selectors import patients_in_reach
from programs import selectors
from programs.models import (
    Authorization,
    AuthorizationUnit,
    ConcurrentReview,
    Coverage,
    CoveragePriority,
    Enrollment,
    Payer,
    ReviewKind,
    ReviewOutcome,
    SubscriberRelation,
)
from programs.services import authorizations as services

TEXT_MAX = 5000
# Far above any stay or course of sessions; keeps the use arithmetic well inside its types.
UNITS_MAX = 10_000

UtilizationPermission = roles_allowed(read=STAFF_ROLES, write=services.UTILIZATION_WRITE_ROLES)


def _enrollments_of_caller(user):
    return Enrollment.objects.filter(program__clinic_id__in=clinic_ids_for_user(user))


def _coverages_of_caller(user):
    return Coverage.objects.filter(clinic_id__in=clinic_ids_for_user(user))


def _payers_of_caller(user):
    return selectors.payer_list(user=user)


def _text(max_length=TEXT_MAX, **kwargs):
    return serializers.CharField(max_length=max_length, allow_blank=True, **kwargs)


def _units(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=UNITS_MAX, **kwargs)


# Output -------------------------------------------------------------------------------------------


class PayerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payer
        fields = ["id", "clinic", "name", "kind"]
        read_only_fields = fields


class CoverageSerializer(serializers.ModelSerializer):
    payer_name = serializers.CharField(source="payer.name", read_only=True)
    payer_kind = serializers.CharField(source="payer.kind", read_only=True)

    class Meta:
        model = Coverage
        fields = [
            "id",
            "patient",
            "clinic",
            "payer",
            "payer_name",
            "payer_kind",
            "member_id",
            "group_number",
            "subscriber_relation",
            "priority",
            "start_date",
            "end_date",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AuthorizationSerializer(serializers.ModelSerializer):
    clinic = serializers.IntegerField(source="enrollment.program.clinic_id", read_only=True)
    clinical_level = serializers.CharField(
        source="enrollment.level",
        read_only=True,
        help_text="The enrollment's level, kept apart from the payer's `authorized_level`.",
    )
    units_used = serializers.IntegerField(
        read_only=True, help_text="Days present (census) or sessions attended, through today."
    )
    units_remaining = serializers.IntegerField(read_only=True, allow_null=True)
    used_through = serializers.DateField(read_only=True)
    projected_exhaustion_on = serializers.DateField(
        read_only=True,
        allow_null=True,
        help_text="When the units run out at the pace so far; none before any use, or when "
        "they outlast the authorization.",
    )

    class Meta:
        model = Authorization
        fields = [
            "id",
            "enrollment",
            "patient",
            "clinic",
            "coverage",
            "payer",
            "number",
            "clinical_level",
            "authorized_level",
            "unit",
            "units_requested",
            "units_approved",
            "approved_exceeds_request",
            "units_used",
            "units_remaining",
            "used_through",
            "projected_exhaustion_on",
            "start_date",
            "end_date",
            "status",
            "next_review_on",
            "reviewer_name",
            "reviewer_phone",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer):
    # Blank until recorded (and without a denial), which the schema's enums must allow.
    outcome = serializers.ChoiceField(
        choices=ReviewOutcome.choices, allow_blank=True, read_only=True
    )
    payer_recommended_level = serializers.ChoiceField(
        choices=Level.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = ConcurrentReview
        fields = [
            "id",
            "authorization",
            "kind",
            "scheduled_on",
            "done_on",
            "reviewer",
            "outcome",
            "units_added",
            "next_review_on",
            "payer_recommended_level",
            "notes",
            "created_by",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields


# Input --------------------------------------------------------------------------------------------


class CoverageCreateSerializer(serializers.Serializer):
    payer = CallerScopedPrimaryKeyField(scope=_payers_of_caller)
    member_id = _text(max_length=80, required=False, default="")
    group_number = _text(max_length=80, required=False, default="")
    subscriber_relation = serializers.ChoiceField(
        choices=SubscriberRelation.choices, required=False, default=SubscriberRelation.SELF
    )
    priority = serializers.ChoiceField(
        choices=CoveragePriority.choices, required=False, default=CoveragePriority.PRIMARY
    )
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True, default=None)


class CoverageUpdateSerializer(serializers.Serializer):
    member_id = _text(max_length=80, required=False)
    group_number = _text(max_length=80, required=False)
    subscriber_relation = serializers.ChoiceField(
        choices=SubscriberRelation.choices, required=False
    )
    priority = serializers.ChoiceField(choices=CoveragePriority.choices, required=False)
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False, allow_null=True)


class AuthorizationCreateSerializer(serializers.Serializer):
    enrollment = CallerScopedPrimaryKeyField(scope=_enrollments_of_caller)
    coverage = CallerScopedPrimaryKeyField(scope=_coverages_of_caller)
    authorized_level = serializers.ChoiceField(choices=Level.choices)
    unit = serializers.ChoiceField(
        choices=AuthorizationUnit.choices,
        required=False,
        default=None,
        help_text="Default: days for residential and PHP, sessions otherwise.",
    )
    units_requested = _units()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    number = _text(max_length=80, required=False, default="")
    next_review_on = serializers.DateField(required=False, allow_null=True, default=None)
    reviewer_name = _text(max_length=200, required=False, default="")
    reviewer_phone = _text(max_length=40, required=False, default="")
    notes = _text(required=False, default="")


class AuthorizationDecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[(d.value, d.label) for d in services.DECISIONS])
    units_approved = _units(
        required=False,
        allow_null=True,
        default=None,
        help_text="Default for `approved`: the units requested.",
    )
    approved_exceeds_request = serializers.BooleanField(required=False, default=False)
    number = _text(max_length=80, required=False, default=None, allow_null=True)
    next_review_on = serializers.DateField(required=False, allow_null=True, default=None)


class ReviewScheduleSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReviewKind.choices)
    scheduled_on = serializers.DateField()
    reviewer = _text(max_length=200, required=False, default="")
    notes = _text(required=False, default="")


class ReviewRecordSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=ReviewOutcome.choices)
    done_on = serializers.DateField()
    units_added = _units(required=False, allow_null=True, default=None)
    end_date = serializers.DateField(required=False, allow_null=True, default=None)
    next_review_on = serializers.DateField(required=False, allow_null=True, default=None)
    payer_recommended_level = serializers.ChoiceField(
        choices=Level.choices, required=False, allow_blank=True, default=""
    )
    reviewer = _text(max_length=200, required=False, default=None, allow_null=True)
    notes = _text(required=False, default=None, allow_null=True)


# Views --------------------------------------------------------------------------------------------


class PayerViewSet(viewsets.ReadOnlyModelViewSet):
    """The payers of the caller's clinics."""

    permission_classes = [roles_allowed(read=STAFF_ROLES)]
    serializer_class = PayerSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.payer_list(user=self.request.user).order_by("clinic_id", "name", "id")


class PatientCoveragesView(PatientDataMixin, generics.ListAPIView):
    """One patient's coverage by payers, primary first; admissions record a new one."""

    permission_classes = [UtilizationPermission]
    serializer_class = CoverageSerializer
    filter_backends = []

    def audit_clinic_id(self, obj):
        return obj.clinic_id

    def _patient(self):
        return get_object_or_404(patients_in_reach(user=self.request.user), pk=self.kwargs["pk"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Coverage.objects.none()
        return selectors.coverage_list_of_patient(patient=self._patient())

    @extend_schema(
        request=CoverageCreateSerializer,
        responses={201: CoverageSerializer},
        parameters=[ETAG],
        description="409 `overlapping_primary_coverage` when a primary coverage already covers "
        "these dates.",
    )
    def post(self, request, pk=None):
        coverage = services.coverage_create(
            actor=request.user,
            patient=self._patient(),
            **validated(CoverageCreateSerializer, request),
        )
        return self.response_for(coverage, status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(responses=CoverageSerializer, parameters=[ETAG]))
class CoverageDetailView(PatientDataMixin, generics.RetrieveAPIView):
    """One coverage (GET gives its `ETag`); PATCH changes its member details, priority or
    dates, against the version read (`If-Match`)."""

    permission_classes = [UtilizationPermission]
    serializer_class = CoverageSerializer

    def audit_clinic_id(self, obj):
        return obj.clinic_id

    def get_queryset(self):
        return selectors.coverage_list(user=self.request.user)

    def get(self, request, *args, **kwargs):
        return self.retrieve(request, *args, **kwargs)

    @extend_schema(
        request=CoverageUpdateSerializer,
        responses=CoverageSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    def patch(self, request, pk=None):
        coverage = self.get_object()
        coverage = services.coverage_update(
            actor=request.user,
            coverage=coverage,
            expected_versions=expected_versions(request, coverage),
            **validated(CoverageUpdateSerializer, request),
        )
        return self.response_for(coverage)


@extend_schema_view(
    list=extend_schema(responses=AuthorizationSerializer),
    retrieve=extend_schema(responses=AuthorizationSerializer, parameters=[ETAG]),
)
class AuthorizationViewSet(
    PatientDataMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The payers' authorizations of care in the caller's clinics, newest first, each with its
    use: units used (days present or sessions attended), remaining, and the projected day they
    run out."""

    permission_classes = [UtilizationPermission]
    serializer_class = AuthorizationSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.authorization_list(user=self.request.user)

    def audit_clinic_id(self, obj):
        return obj.enrollment.program.clinic_id

    def _fresh(self, authorization):
        """The authorization as the list serves it (with its use)."""
        return self.get_queryset().get(pk=authorization.pk)

    @extend_schema(
        request=AuthorizationCreateSerializer,
        responses={201: AuthorizationSerializer},
        parameters=[ETAG],
        description="409 `self_pay_needs_no_authorization` for a self-pay coverage.",
    )
    def create(self, request):
        """Request an authorization of the payer's level of care for an enrollment."""
        authorization = services.authorization_request(
            actor=request.user,
            **validated(AuthorizationCreateSerializer, request),
        )
        return self.response_for(self._fresh(authorization), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=AuthorizationDecideSerializer,
        responses=AuthorizationSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Record the payer's answer to the request: approved, partially approved or denied
        (409 `invalid_state` once decided)."""
        authorization = self.get_object()
        authorization = services.authorization_decide(
            actor=request.user,
            authorization=authorization,
            expected_versions=expected_versions(request, authorization),
            **validated(AuthorizationDecideSerializer, request),
        )
        return self.response_for(self._fresh(authorization))

    def _audit_reviews(self, reviews, authorization, action=AuditAction.LIST):
        audit_record_many(
            actor=self.request.user,
            action=action,
            objects=reviews,
            patient_id_of=lambda review: authorization.patient_id,
            clinic_id_of=lambda review: authorization.enrollment.program.clinic_id,
        )

    @extend_schema(methods=["GET"], request=None, responses=ReviewSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=ReviewScheduleSerializer, responses={201: ReviewSerializer}
    )
    @action(detail=True, methods=["get", "post"])
    def reviews(self, request, pk=None):
        """The authorization's reviews with the payer, by date; admissions book one (an appeal
        only of a denial)."""
        authorization = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(authorization.reviews.order_by("scheduled_on", "id"))
            self._audit_reviews(page, authorization)
            return self.get_paginated_response(ReviewSerializer(page, many=True).data)
        review = services.review_schedule(
            actor=request.user,
            authorization=authorization,
            **validated(ReviewScheduleSerializer, request),
        )
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReviewRecordSerializer, responses=ReviewSerializer)
    @action(detail=True, methods=["post"], url_path=r"reviews/(?P<review_id>\d+)/record")
    def review_record(self, request, pk=None, review_id=None):
        """Record a review's outcome; it updates the authorization in the same transaction
        (more units and a later end, a denial with the payer's level, or information pending).
        409 `review_done` when already recorded."""
        authorization = self.get_object()
        review = get_object_or_404(authorization.reviews.all(), pk=review_id)
        review = services.review_record(
            actor=request.user, review=review, **validated(ReviewRecordSerializer, request)
        )
        return Response(ReviewSerializer(review).data)
