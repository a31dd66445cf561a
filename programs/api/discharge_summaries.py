"""Discharge summaries: the staff's list and record (the clinician completes, signs and adds
addenda), their PDFs, and the patient's own latest signed summary (``me/discharge-summary/``).

Every staff role reads; clinicians and supervisors write and sign (``CLINICAL_ROLES``). A signed
summary is a 409 ``summary_signed`` to edit. The PDF is served as ``application/pdf``, never
cached, under a filename that names no patient, and each download is audited.

The patient's copy leaves out the staff notes and every staff member but the signer, whose
display name the app shows beside the signature date (a signed record says who vouched for it);
a draft is the care team's until it is signed, so the patient sees only signed summaries.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api.conditional import ETAG, IF_MATCH, expected_versions
from clinic.api.mixins import NoStoreMixin, PatientDataMixin
from clinic.api.patient_permissions import IsPatient
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import AuditAction
from clinic.selectors import CLINICAL_ROLES, STAFF_ROLES
from clinic.services import audit_record
from programs import selectors
from programs.api.disclosures import FhirNegotiation
from programs.discharge_pdf import PATIENT_COPY, STAFF_COPY, discharge_summary_pdf, pdf_filename
from programs.models import DischargeSummary, DischargeSummaryAddendum
from programs.services import discharge_summaries as services

TEXT_MAX = 20000
PDF = "application/pdf"


def _signer_name(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


# Output -------------------------------------------------------------------------------------------


class LevelOfCareSerializer(serializers.Serializer):
    program = serializers.CharField(help_text="The program's name at discharge.")
    level = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    transition = serializers.CharField(
        help_text="How the patient came to this stay: step_down, step_up, lateral, or empty "
        "for the admission that started the episode."
    )


class AttendanceFiguresSerializer(serializers.Serializer):
    # Defaults: a figure missing from the stored JSON reads as none counted.
    scheduled = serializers.IntegerField(
        default=0,
        help_text="Sessions of the episode's stays that had ended at discharge (not cancelled).",
    )
    present = serializers.IntegerField(default=0)
    late = serializers.IntegerField(default=0)
    absent = serializers.IntegerField(default=0)
    excused = serializers.IntegerField(default=0)
    attendance_rate = serializers.FloatField(
        allow_null=True,
        default=None,
        help_text="(present + late) / scheduled; null without sessions.",
    )


class FollowUpAppointmentSerializer(serializers.Serializer):
    text = serializers.CharField()
    scheduled_for = serializers.DateTimeField(allow_null=True)


class DischargeSummaryAddendumSerializer(serializers.ModelSerializer):
    signed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = DischargeSummaryAddendum
        fields = ["id", "text", "signed_by", "signed_by_name", "signed_at"]
        read_only_fields = fields

    def get_signed_by_name(self, addendum) -> str:
        return _signer_name(addendum.signed_by)


class DischargeSummarySerializer(serializers.ModelSerializer):
    clinic = serializers.IntegerField(source="enrollment.program.clinic_id", read_only=True)
    program = serializers.IntegerField(source="enrollment.program_id", read_only=True)
    levels_of_care = LevelOfCareSerializer(many=True, read_only=True)
    attendance = AttendanceFiguresSerializer(read_only=True)
    follow_up_appointments = FollowUpAppointmentSerializer(many=True, read_only=True)
    signed = serializers.BooleanField(source="is_signed", read_only=True)
    signed_by_name = serializers.SerializerMethodField()
    addenda = DischargeSummaryAddendumSerializer(many=True, read_only=True)
    pdf_url = serializers.SerializerMethodField(
        help_text="The staff copy's PDF (with the §2.32 notice and the staff notes); audited."
    )

    class Meta:
        model = DischargeSummary
        fields = [
            "id",
            "enrollment",
            "patient",
            "clinic",
            "program",
            "episode_start_date",
            "discharge_date",
            "discharge_reason",
            "levels_of_care",
            "attendance",
            "last_assessment",
            "recommendation",
            "aftercare_plan",
            "follow_up_appointments",
            "course_of_treatment",
            "condition_at_discharge",
            "instructions",
            "staff_notes",
            "signed",
            "signed_by",
            "signed_by_name",
            "signed_at",
            "addenda",
            "pdf_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_signed_by_name(self, summary):
        return _signer_name(summary.signed_by)

    def get_pdf_url(self, summary) -> str:
        path = reverse("discharge-summary-pdf", kwargs={"pk": summary.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class MyDischargeSummaryAddendumSerializer(serializers.ModelSerializer):
    signed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = DischargeSummaryAddendum
        fields = ["text", "signed_by_name", "signed_at"]
        read_only_fields = fields

    def get_signed_by_name(self, addendum) -> str:
        return _signer_name(addendum.signed_by)


class MyDischargeSummarySerializer(serializers.ModelSerializer):
    """The patient's own copy: no staff notes, no staff but the signers' display names."""

    program_name = serializers.CharField(source="enrollment.program.name", read_only=True)
    levels_of_care = LevelOfCareSerializer(many=True, read_only=True)
    attendance = AttendanceFiguresSerializer(read_only=True)
    follow_up_appointments = FollowUpAppointmentSerializer(many=True, read_only=True)
    signed_by_name = serializers.SerializerMethodField()
    addenda = MyDischargeSummaryAddendumSerializer(many=True, read_only=True)

    class Meta:
        model = DischargeSummary
        fields = [
            "id",
            "program_name",
            "episode_start_date",
            "discharge_date",
            "discharge_reason",
            "levels_of_care",
            "attendance",
            "recommendation",
            "follow_up_appointments",
            "course_of_treatment",
            "condition_at_discharge",
            "instructions",
            "signed_by_name",
            "signed_at",
            "addenda",
        ]
        read_only_fields = fields

    def get_signed_by_name(self, summary) -> str:
        return _signer_name(summary.signed_by)


# Input --------------------------------------------------------------------------------------------


def _text():
    return serializers.CharField(max_length=TEXT_MAX, allow_blank=True, required=False)


class DischargeSummaryUpdateSerializer(serializers.Serializer):
    course_of_treatment = _text()
    condition_at_discharge = _text()
    instructions = _text()
    staff_notes = _text()


class DischargeSummaryAddendumCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=TEXT_MAX)


# Views --------------------------------------------------------------------------------------------


class DischargeSummaryFilterSet(filters.FilterSet):
    # Plain numbers: a model-choice filter would tell an outside id apart from an unknown one.
    patient = filters.NumberFilter()
    program = filters.NumberFilter(field_name="enrollment__program_id")
    signed = filters.BooleanFilter(field_name="signed_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = DischargeSummary
        fields = ["patient", "program", "signed"]


@extend_schema_view(
    list=extend_schema(responses=DischargeSummarySerializer),
    retrieve=extend_schema(responses=DischargeSummarySerializer, parameters=[ETAG]),
)
class DischargeSummaryViewSet(
    PatientDataMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Discharge summaries of the caller's clinics, newest discharge first. Made by the
    discharge itself (not by a transition); the clinician completes the text and signs."""

    permission_classes = [roles_allowed(read=STAFF_ROLES, write=CLINICAL_ROLES)]
    serializer_class = DischargeSummarySerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = DischargeSummaryFilterSet

    def get_queryset(self):
        return selectors.discharge_summary_list(user=self.request.user)

    def audit_clinic_id(self, obj):
        return obj.enrollment.program.clinic_id

    def _fresh(self, summary):
        return self.get_queryset().get(pk=summary.pk)

    @extend_schema(
        description="Write the clinician's text of a draft; 409 `summary_signed` once signed "
        "(add an addendum instead).",
        request=DischargeSummaryUpdateSerializer,
        responses=DischargeSummarySerializer,
        parameters=[IF_MATCH, ETAG],
    )
    def partial_update(self, request, pk=None):
        summary = self.get_object()
        summary = services.discharge_summary_update(
            summary,
            actor=request.user,
            data=validated(DischargeSummaryUpdateSerializer, request),
            version=expected_versions(request, summary),
        )
        return self.response_for(self._fresh(summary))

    @extend_schema(
        description="Sign the draft (a clinician or supervisor of the clinic): 400 until the "
        "course of treatment and the condition at discharge are written; locked from then on.",
        request=None,
        responses=DischargeSummarySerializer,
        parameters=[IF_MATCH, ETAG],
    )
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        summary = self.get_object()
        summary = services.discharge_summary_sign(
            summary,
            actor=request.user,
            now=timezone.now(),
            version=expected_versions(request, summary),
        )
        return self.response_for(self._fresh(summary))

    @extend_schema(
        description="A signed correction or addition to a signed summary (409 "
        "`summary_not_signed` for a draft: edit it instead).",
        request=DischargeSummaryAddendumCreateSerializer,
        responses={201: DischargeSummaryAddendumSerializer},
    )
    @action(detail=True, methods=["post"])
    def addenda(self, request, pk=None):
        summary = self.get_object()
        addendum = services.discharge_summary_addendum_add(
            summary,
            actor=request.user,
            now=timezone.now(),
            **validated(DischargeSummaryAddendumCreateSerializer, request),
        )
        return Response(
            DischargeSummaryAddendumSerializer(addendum).data, status=status.HTTP_201_CREATED
        )


class PdfRenderer(BaseRenderer):
    media_type = PDF
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


def pdf_response(request, summary: DischargeSummary, *, copy: str) -> HttpResponse:
    """The PDF download, audited as a read of the summary."""
    content = discharge_summary_pdf(summary, copy=copy, now=timezone.now())
    audit_record(
        actor=request.user,
        action=AuditAction.READ,
        obj=summary,
        clinic=summary.enrollment.program.clinic_id,
        patient_id=summary.patient_id,
    )
    response = HttpResponse(content, content_type=PDF)
    response["Content-Disposition"] = f'attachment; filename="{pdf_filename(summary)}"'
    return response


PDF_RESPONSES = {
    (200, PDF): OpenApiResponse(OpenApiTypes.BINARY, description="The summary as a PDF."),
}


class PdfView(NoStoreMixin, APIView):
    """A PDF download: the body is a PDF whatever the client accepts; errors keep the API's
    JSON error body (DESIGN.md)."""

    renderer_classes = [PdfRenderer]
    # Any Accept gets the PDF (a browser or generic client asks for something else).
    content_negotiation_class = FhirNegotiation

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class DischargeSummaryPdfView(PdfView):
    """The summary as a PDF: the staff copy (the §2.32 notice on every page, the staff notes)
    or, with `?copy=patient`, the copy handed to the patient."""

    permission_classes = [roles_allowed(read=STAFF_ROLES)]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "copy",
                OpenApiTypes.STR,
                enum=[STAFF_COPY, PATIENT_COPY],
                description="`staff` (default) or `patient` (no notice, no staff notes).",
            )
        ],
        responses=PDF_RESPONSES,
    )
    def get(self, request, pk=None):
        summary = get_object_or_404(selectors.discharge_summary_list(user=request.user), pk=pk)
        copy = request.query_params.get("copy", STAFF_COPY)
        if copy not in (STAFF_COPY, PATIENT_COPY):
            raise serializers.ValidationError({"copy": ["Choose staff or patient."]})
        return pdf_response(request, summary, copy=copy)


NO_SUMMARY = "You have no signed discharge summary yet; your care team signs it after discharge."


def _my_summary(request) -> DischargeSummary:
    summary = selectors.discharge_summary_latest_signed(patient=request.user.patient)
    if summary is None:
        raise NotFound(NO_SUMMARY)
    return summary


class MyDischargeSummaryView(NoStoreMixin, APIView):
    """The patient's latest signed discharge summary (no staff notes); 404 when none."""

    permission_classes = [IsPatient]

    @extend_schema(responses=MyDischargeSummarySerializer)
    def get(self, request):
        summary = _my_summary(request)
        audit_record(
            actor=request.user,
            action=AuditAction.READ,
            obj=summary,
            clinic=summary.enrollment.program.clinic_id,
            patient_id=summary.patient_id,
        )
        return Response(MyDischargeSummarySerializer(summary).data)


class MyDischargeSummaryPdfView(PdfView):
    """The patient's copy of their latest signed summary as a PDF; 404 when none."""

    permission_classes = [IsPatient]

    @extend_schema(responses=PDF_RESPONSES)
    def get(self, request):
        return pdf_response(request, _my_summary(request), copy=PATIENT_COPY)
