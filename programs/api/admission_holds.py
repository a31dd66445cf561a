"""The admissions pipeline's last steps on an inquiry (issue 28): schedule the admission (a held
place), close the inquiry as not admitted, and admit the person (the conversion). Thin:
validate, call one service of ``programs.services.admission_holds``, render.

The inquiries are the caller's clinics' (another clinic's is a 404, as in
``programs.api.inquiries``); admissions write; every write is audited by its service.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.selectors import STAFF_ROLES
from patients.api.serializers import CallerScopedPrimaryKeyField, patients_of_caller
from programs import selectors
from programs.api.inquiries import InquiryDetailSerializer
from programs.api.serializers import (
    EnrollmentSerializer,
    beds_of_caller,
    clinicians_of_caller,
)
from programs.models import AdmissionHold, NotAdmittedReason
from programs.services import admission_holds as services

NOTE_MAX = 5000


def _programs_of_caller(user):
    return selectors.program_list(user=user)


# Output -------------------------------------------------------------------------------------------


class AdmissionHoldSerializer(serializers.ModelSerializer):
    bed_label = serializers.SerializerMethodField()

    class Meta:
        model = AdmissionHold
        fields = [
            "id",
            "inquiry",
            "program",
            "bed",
            "bed_label",
            "admission_date",
            "lapses_on",
            "status",
            "created_at",
        ]
        read_only_fields = fields

    def get_bed_label(self, hold) -> str | None:
        return str(hold.bed) if hold.bed_id else None


# Input --------------------------------------------------------------------------------------------


class AdmissionScheduleSerializer(serializers.Serializer):
    program = CallerScopedPrimaryKeyField(scope=_programs_of_caller)
    admission_date = serializers.DateField()
    bed = CallerScopedPrimaryKeyField(
        scope=beds_of_caller,
        required=False,
        allow_null=True,
        default=None,
        help_text="A bed of the program to hold; default: its first free bed (programs with "
        "beds only).",
    )


class InquiryCloseSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=NotAdmittedReason.choices)
    note = serializers.CharField(max_length=NOTE_MAX, allow_blank=True, required=False, default="")


class InquiryConvertSerializer(serializers.Serializer):
    patient = CallerScopedPrimaryKeyField(
        scope=patients_of_caller,
        required=False,
        allow_null=True,
        default=None,
        help_text="A registered patient of the clinic to admit; default: the patient the "
        "inquiry is linked to, else a new registration from the inquiry's details.",
    )
    primary_clinician = CallerScopedPrimaryKeyField(
        scope=clinicians_of_caller, required=False, allow_null=True, default=None
    )
    allow_duplicate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Register the person even though they look like a patient of the clinic.",
    )


# Views --------------------------------------------------------------------------------------------


class InquiryAdmissionViewSet(PatientDataMixin, viewsets.GenericViewSet):
    """Schedule, close and convert one inquiry of the caller's clinics (admissions)."""

    serializer_class = InquiryDetailSerializer

    def get_permissions(self):
        return [roles_allowed(read=STAFF_ROLES, write=services.INQUIRY_WRITE_ROLES)()]

    def get_queryset(self):
        return selectors.inquiry_list(user=self.request.user, with_details=True)

    def audit_patient_id(self, obj):
        return obj.patient_id

    def audit_clinic_id(self, obj):
        return obj.clinic_id

    @extend_schema(
        request=AdmissionScheduleSerializer,
        responses={201: AdmissionHoldSerializer},
        description="Hold a place (a bed, in a program with beds) for the admission on "
        "`admission_date`, until `lapses_on` (the date plus the program's grace days). For a "
        "verified inquiry, or a scheduled one (rescheduled: its hold is released). 409 "
        "`invalid_state` (not verifying or scheduled), `program_full`, `bed_taken`, "
        "`bed_held`, `no_free_bed`; 400 for a date before the clinic's today, an inactive "
        "program or a bed not the program's.",
    )
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        """Schedule the admission: a place held for the date."""
        hold = services.admission_schedule(
            actor=request.user,
            inquiry=self.get_object(),
            **validated(AdmissionScheduleSerializer, request),
        )
        return Response(AdmissionHoldSerializer(hold).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=InquiryCloseSerializer,
        responses=InquiryDetailSerializer,
        description="The inquiry becomes `not_admitted` with the reason (the note goes in its "
        "history); a place it held is released and offered to the program's waitlist. 409 "
        "`invalid_state` for a closed inquiry.",
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the inquiry: the person is not admitted."""
        inquiry = services.inquiry_close(
            actor=request.user,
            inquiry=self.get_object(),
            **validated(InquiryCloseSerializer, request),
        )
        return self.response_for(self.get_queryset().get(pk=inquiry.pk))

    @extend_schema(
        request=InquiryConvertSerializer,
        responses={201: EnrollmentSerializer},
        description="In one transaction: the person registered as a patient (or `patient` "
        "linked), admitted from the clinic's today into the held place and bed, the latest "
        "eligible verification of benefits made their coverage, and the inquiry `admitted`. "
        "From the admission date through `lapses_on`. 409 `invalid_state` (not scheduled), "
        "`admission_not_due`, `hold_lapsed`, `possible_duplicate` (with `duplicates`: patient "
        "ids; link one as `patient` or send `allow_duplicate`), `primary_coverage_on_file`, "
        "and the admission's own conflicts; 400 when a new registration lacks the birth date.",
    )
    @action(detail=True, methods=["post"])
    def convert(self, request, pk=None):
        """Admit the person of a scheduled inquiry into the place held for them."""
        enrollment = services.inquiry_convert(
            actor=request.user,
            inquiry=self.get_object(),
            **validated(InquiryConvertSerializer, request),
        )
        return Response(EnrollmentSerializer(enrollment).data, status=status.HTTP_201_CREATED)
