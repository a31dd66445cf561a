"""Disclosures (42 CFR Part 2): the accounting of a patient's disclosures, a new one under the
patient's consent, the FHIR bundle of what one sent, and the patient's own accounting.

Admissions and clinicians disclose; every staff role reads the accounting. A disclosure that no
consent covers is a 409 ``no_consent`` naming what is missing (programs.services.disclosures).
The bundle is the FHIR R4 document the recipient gets: served as ``application/fhir+json``,
never cached, and each download is audited.
"""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api.mixins import NoStoreMixin, PatientDataMixin
from clinic.api.patient_permissions import IsPatient
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import AuditAction
from clinic.selectors import STAFF_ROLES, clinic_ids_for_user
from clinic.services import audit_record
from patients.api.serializers import CallerScopedPrimaryKeyField
from patients.models import DisclosureCategory, DisclosurePurpose
from patients.selectors import patients_in_reach
from programs import selectors
from programs.models import Disclosure, Enrollment, Transition
from programs.services import disclosures as services

TEXT_MAX = 5000
FHIR_JSON = "application/fhir+json"

DisclosurePermission = roles_allowed(read=STAFF_ROLES, write=services.DISCLOSURE_ROLES)


# Output -------------------------------------------------------------------------------------------


class DisclosureSerializer(serializers.ModelSerializer):
    disclosed_by = serializers.CharField(source="disclosed_by.username", read_only=True)
    bundle_url = serializers.SerializerMethodField(
        help_text="Where the FHIR R4 bundle of what was sent is downloaded (audited)."
    )

    class Meta:
        model = Disclosure
        fields = [
            "id",
            "patient",
            "consent",
            "recipient_name",
            "recipient_address",
            "purpose",
            "purpose_other",
            "categories",
            "description",
            "window_start",
            "window_end",
            "enrollment",
            "transition",
            "disclosed_by",
            "disclosed_at",
            "bundle_url",
        ]
        read_only_fields = fields

    def get_bundle_url(self, disclosure) -> str:
        path = reverse("disclosure-bundle", kwargs={"pk": disclosure.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class MyDisclosureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Disclosure
        fields = [
            "id",
            "disclosed_at",
            "recipient_name",
            "recipient_address",
            "purpose",
            "purpose_other",
            "categories",
            "description",
        ]
        read_only_fields = fields


# Input --------------------------------------------------------------------------------------------


def _enrollments_of_caller(user):
    return Enrollment.objects.filter(program__clinic_id__in=clinic_ids_for_user(user))


def _transitions_of_caller(user):
    return Transition.objects.filter(patient__clinic_id__in=clinic_ids_for_user(user))


class DisclosureCreateSerializer(serializers.Serializer):
    recipient_name = serializers.CharField(max_length=200)
    recipient_address = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, default=""
    )
    purpose = serializers.ChoiceField(choices=DisclosurePurpose.choices)
    purpose_other = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, default=""
    )
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=DisclosureCategory.choices),
        min_length=1,
        max_length=len(DisclosureCategory.values),
    )
    window_start = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Attendance sent from this day."
    )
    window_end = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Attendance sent up to this day."
    )
    enrollment = CallerScopedPrimaryKeyField(
        scope=_enrollments_of_caller, required=False, allow_null=True, default=None
    )
    transition = CallerScopedPrimaryKeyField(
        scope=_transitions_of_caller, required=False, allow_null=True, default=None
    )


# Views --------------------------------------------------------------------------------------------


class PatientDisclosuresView(PatientDataMixin, generics.ListAPIView):
    """The accounting of one patient's disclosures (42 CFR §2.25), newest first; a new
    disclosure under the patient's consent."""

    permission_classes = [DisclosurePermission]
    serializer_class = DisclosureSerializer
    filter_backends = []

    def _patient(self):
        return get_object_or_404(
            patients_in_reach(user=self.request.user).select_related("clinic"), pk=self.kwargs["pk"]
        )

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Disclosure.objects.none()
        return selectors.disclosure_list_of_patient(patient=self._patient())

    @extend_schema(
        request=DisclosureCreateSerializer,
        responses={201: DisclosureSerializer},
        description="Disclose the categories to the recipient for the purpose; 409 `no_consent` "
        "(with `missing`, what the closest consent lacks) when no active consent covers the "
        "recipient, the purpose and every category. Nothing is recorded or sent then.",
    )
    def post(self, request, pk=None):
        patient = self._patient()
        disclosure = services.disclosure_create(
            actor=request.user,
            patient=patient,
            **validated(DisclosureCreateSerializer, request),
        )
        return Response(
            DisclosureSerializer(disclosure, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"


class FhirNegotiation(DefaultContentNegotiation):
    """The bundle is FHIR JSON whatever the client accepts (a generic client asks for
    ``application/json``): a FHIR client must not get a 406 for not naming the FHIR type."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type


class DisclosureBundleView(NoStoreMixin, APIView):
    """The FHIR R4 bundle of what a disclosure sent, with its security labels and the
    §2.32 notice; each download is audited."""

    permission_classes = [roles_allowed(read=STAFF_ROLES)]
    renderer_classes = [FhirJSONRenderer]
    content_negotiation_class = FhirNegotiation

    @extend_schema(
        responses={
            (200, FHIR_JSON): OpenApiResponse(
                OpenApiTypes.OBJECT, description="A FHIR R4 Bundle (resourceType Bundle)."
            )
        }
    )
    def get(self, request, pk=None):
        disclosure = get_object_or_404(
            selectors.disclosure_list(user=request.user).select_related(
                "consent__patient", "patient__clinic"
            ),
            pk=pk,
        )
        audit_record(
            actor=request.user,
            action=AuditAction.READ,
            obj=disclosure,
            patient=disclosure.patient,
        )
        return Response(disclosure.bundle)

    def handle_exception(self, exc):
        # Errors keep the API's error body and its media type (DESIGN.md), not FHIR's.
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class MyDisclosuresView(PatientDataMixin, generics.ListAPIView):
    """Who got the patient's records: the disclosures of the last three years, newest first."""

    permission_classes = [IsPatient]
    serializer_class = MyDisclosureSerializer
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Disclosure.objects.none()
        return selectors.disclosure_accounting_of_patient(
            patient=self.request.user.patient, now=timezone.now()
        )

    def audit_clinic_id(self, obj):
        return self.request.user.patient.clinic_id
