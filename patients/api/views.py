"""Thin views: validate with an input serializer, call one service, render the output."""

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from clinic.api.conditional import ETAG, IF_MATCH, expected_versions, with_etag
from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import AuditAction
from clinic.selectors import STAFF_ROLES
from clinic.services import audit_record, audit_record_many
from patients import selectors, services
from patients.api.filters import AssessmentFilterSet, PatientFilterSet
from patients.api.serializers import (
    AssessmentCreateSerializer,
    AssessmentDecisionSerializer,
    AssessmentSerializer,
    ConsentCreateSerializer,
    ConsentRevokeSerializer,
    ConsentSerializer,
    PatientContactInputSerializer,
    PatientContactSerializer,
    PatientCreateSerializer,
    PatientSerializer,
    PatientUpdateSerializer,
)

IntakePermission = roles_allowed(read=STAFF_ROLES, write=services.PATIENT_WRITE_ROLES)


class PatientViewSet(PatientDataMixin, viewsets.GenericViewSet):
    """Patients of the caller's clinics. Admissions and clinicians write; supervisors read."""

    permission_classes = [IntakePermission]
    serializer_class = PatientSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = PatientFilterSet
    ordering_fields = ["last_name", "first_name", "date_of_birth", "mrn", "created_at", "id"]
    ordering = ["last_name", "first_name", "id"]

    def get_queryset(self):
        return selectors.patient_list(user=self.request.user)

    def audit_patient_id(self, obj):
        return obj.pk

    def audit_clinic_id(self, obj):
        return obj.clinic_id

    @extend_schema(parameters=[ETAG])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=PatientCreateSerializer, responses={201: PatientSerializer}, parameters=[ETAG]
    )
    def create(self, request):
        patient = services.patient_create(
            actor=request.user, **validated(PatientCreateSerializer, request)
        )
        return self.response_for(patient, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PatientUpdateSerializer,
        responses=PatientSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    def partial_update(self, request, pk=None):
        patient = self.get_object()
        patient = services.patient_update(
            actor=request.user,
            patient=patient,
            expected_versions=expected_versions(request, patient),
            **validated(PatientUpdateSerializer, request),
        )
        return self.response_for(self.get_queryset().get(pk=patient.pk))

    # Consents -----------------------------------------------------------------------------------

    def _paginated_children(self, queryset, serializer_class, patient):
        """A page of one patient's consents, contacts or assessments, audited row by row."""
        page = self.paginate_queryset(queryset)
        audit_record_many(
            actor=self.request.user,
            action=AuditAction.LIST,
            objects=page,
            patient_id_of=lambda obj: patient.pk,
            clinic_id_of=lambda obj: patient.clinic_id,
        )
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(methods=["GET"], responses=ConsentSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=ConsentCreateSerializer, responses={201: ConsentSerializer}
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def consents(self, request, pk=None):
        """The patient's Part 2 consents (42 CFR §2.31), newest first."""
        patient = self.get_object()
        if request.method == "GET":
            return self._paginated_children(
                selectors.consent_list(patient=patient), ConsentSerializer, patient
            )
        consent = services.consent_record(
            actor=request.user, patient=patient, **validated(ConsentCreateSerializer, request)
        )
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ConsentRevokeSerializer, responses=ConsentSerializer)
    @action(detail=True, methods=["post"], url_path=r"consents/(?P<consent_id>\d+)/revoke")
    def consent_revoke(self, request, pk=None, consent_id=None):
        patient = self.get_object()
        consent = get_object_or_404(selectors.consent_list(patient=patient), pk=consent_id)
        consent = services.consent_revoke(
            actor=request.user, consent=consent, **validated(ConsentRevokeSerializer, request)
        )
        return Response(ConsentSerializer(consent).data)

    # Contacts -----------------------------------------------------------------------------------

    @extend_schema(methods=["GET"], responses=PatientContactSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=PatientContactInputSerializer,
        responses={201: PatientContactSerializer},
        parameters=[ETAG],
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def contacts(self, request, pk=None):
        """Emergency contacts and support persons."""
        patient = self.get_object()
        if request.method == "GET":
            return self._paginated_children(
                selectors.contact_list(patient=patient), PatientContactSerializer, patient
            )
        contact = services.contact_create(
            actor=request.user,
            patient=patient,
            **validated(PatientContactInputSerializer, request),
        )
        return with_etag(
            Response(PatientContactSerializer(contact).data, status=status.HTTP_201_CREATED),
            contact,
        )

    @extend_schema(
        methods=["GET"], request=None, responses=PatientContactSerializer, parameters=[ETAG]
    )
    @extend_schema(
        methods=["PATCH"],
        request=PatientContactInputSerializer,
        responses=PatientContactSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    @extend_schema(methods=["DELETE"], request=None, responses={204: None}, parameters=[IF_MATCH])
    @action(
        detail=True, methods=["get", "patch", "delete"], url_path=r"contacts/(?P<contact_id>\d+)"
    )
    def contact_detail(self, request, pk=None, contact_id=None):
        """One contact; GET gives its `ETag` for a PATCH or DELETE with `If-Match`."""
        patient = self.get_object()
        contact = get_object_or_404(selectors.contact_list(patient=patient), pk=contact_id)
        if request.method == "GET":
            audit_record(actor=request.user, action=AuditAction.READ, obj=contact, patient=patient)
            return with_etag(Response(PatientContactSerializer(contact).data), contact)
        if request.method == "DELETE":
            services.contact_delete(
                actor=request.user,
                contact=contact,
                expected_versions=expected_versions(request, contact),
            )
            return Response(status=status.HTTP_204_NO_CONTENT)
        contact = services.contact_update(
            actor=request.user,
            contact=contact,
            expected_versions=expected_versions(request, contact),
            **validated(PatientContactInputSerializer, request, partial=True),
        )
        return with_etag(Response(PatientContactSerializer(contact).data), contact)

    # Assessments --------------------------------------------------------------------------------

    @extend_schema(responses=AssessmentSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def assessments(self, request, pk=None):
        """The patient's assessments, newest first: reassessments keep the history."""
        patient = self.get_object()
        queryset = selectors.assessment_list(user=request.user).filter(patient=patient)
        return self._paginated_children(queryset, AssessmentSerializer, patient)


class AssessmentViewSet(PatientDataMixin, viewsets.GenericViewSet):
    """Assessments with the level-of-care recommendation; PATCH records the decision."""

    permission_classes = [IntakePermission]
    serializer_class = AssessmentSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = AssessmentFilterSet
    ordering_fields = ["assessed_at", "id"]
    ordering = ["-assessed_at", "-id"]

    def get_queryset(self):
        return selectors.assessment_list(user=self.request.user)

    def audit_clinic_id(self, obj):
        return obj.patient.clinic_id

    @extend_schema(parameters=[ETAG])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=AssessmentCreateSerializer,
        responses={201: AssessmentSerializer},
        parameters=[ETAG],
    )
    def create(self, request):
        data = validated(AssessmentCreateSerializer, request)
        assessment = services.assessment_create(actor=request.user, **data)
        return self.response_for(assessment, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=AssessmentDecisionSerializer,
        responses=AssessmentSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    def partial_update(self, request, pk=None):
        """Record the decision: `decided_level`, and `override_reason` when it differs."""
        assessment = self.get_object()
        assessment = services.assessment_decide(
            actor=request.user,
            assessment=assessment,
            expected_versions=expected_versions(request, assessment),
            **validated(AssessmentDecisionSerializer, request),
        )
        return self.response_for(assessment)
