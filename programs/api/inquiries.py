"""The admissions desk's inquiries (issue 28): the calls and referrals about people seeking care,
their pre-admission screening, verification of benefits and contacts, and the clinic's referral
sources. Thin: validate, call one service, render.

An inquiry is Part 2 data: every queryset is the caller's clinics' (another clinic's inquiry is
a 404) and every read is audited, a list with one row per inquiry on the page. Every staff role
reads; admissions write, screen and verify; clinicians and supervisors screen; utilization
review verifies benefits. The detail carries an ``ETag``; PATCH takes ``If-Match``.
"""

from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clinic.api.conditional import ETAG, IF_MATCH, expected_versions
from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.selectors import STAFF_ROLES
from patients.api.serializers import (
    CallerScopedPrimaryKeyField,
    DimensionsSerializer,
    clinics_of_caller,
    patients_of_caller,
)
from patients.models import Level, Track
from programs import selectors
from programs.models import (
    AdmissionHold,
    BenefitsOutcome,
    BenefitsVerification,
    CallbackMethod,
    CallerRelation,
    ContactDirection,
    ContactOutcome,
    Inquiry,
    InquiryContact,
    InquiryScreening,
    InquiryStatus,
    InquiryStatusChange,
    NotAdmittedReason,
    ReferralSource,
    SubscriberRelation,
    WithdrawalRiskFlag,
)
from programs.services import inquiries as services

TEXT_MAX = 5000
# A phone number as typed (spaces, dashes, brackets); the service stores it in E.164.
PHONE_INPUT_MAX = 32
AMOUNT_MAX = 10_000_000


def _text(max_length=TEXT_MAX, **kwargs):
    return serializers.CharField(max_length=max_length, allow_blank=True, **kwargs)


def _programs_of_caller(user):
    return selectors.program_list(user=user)


def _sources_of_caller(user):
    return selectors.referral_source_list(user=user)


def _payers_of_caller(user):
    return selectors.payer_list(user=user)


# Output -------------------------------------------------------------------------------------------


class ReferralSourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReferralSource
        fields = ["id", "clinic", "name", "kind", "is_active"]
        read_only_fields = fields


class InquiryStatusChangeSerializer(serializers.ModelSerializer):
    from_status = serializers.ChoiceField(
        choices=InquiryStatus.choices,
        allow_blank=True,
        read_only=True,
        help_text="Blank for the inquiry's creation.",
    )
    changed_by = serializers.CharField(
        source="changed_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = InquiryStatusChange
        fields = ["from_status", "to_status", "changed_at", "changed_by", "reason"]
        read_only_fields = fields


class InquiryScreeningSerializer(serializers.ModelSerializer):
    dimensions = DimensionsSerializer(read_only=True)
    screened_by = serializers.CharField(source="screened_by.username", read_only=True)
    provisional_track = serializers.ChoiceField(
        choices=Track.choices, allow_blank=True, read_only=True
    )
    withdrawal_flags = serializers.ListField(
        child=serializers.ChoiceField(choices=WithdrawalRiskFlag.choices), read_only=True
    )

    class Meta:
        model = InquiryScreening
        fields = [
            "id",
            "inquiry",
            "screened_by",
            "screened_at",
            "criteria_count",
            "dimensions",
            "prior_outpatient_relapse",
            "daytime_obligations",
            "withdrawal_flags",
            "provisional_level",
            "provisional_track",
            "rationale",
            "notes",
        ]
        read_only_fields = fields


class BenefitsVerificationSerializer(serializers.ModelSerializer):
    payer_name = serializers.CharField(source="payer.name", read_only=True)
    verified_by = serializers.CharField(source="verified_by.username", read_only=True)

    class Meta:
        model = BenefitsVerification
        fields = [
            "id",
            "inquiry",
            "payer",
            "payer_name",
            "member_id",
            "group_number",
            "subscriber_relation",
            "level",
            "in_network",
            "deductible_remaining",
            "out_of_pocket_remaining",
            "prior_authorization_required",
            "outcome",
            "reference",
            "notes",
            "verified_by",
            "verified_at",
        ]
        read_only_fields = fields


class InquiryContactSerializer(serializers.ModelSerializer):
    contacted_by = serializers.CharField(source="contacted_by.username", read_only=True)

    class Meta:
        model = InquiryContact
        fields = [
            "id",
            "inquiry",
            "method",
            "direction",
            "outcome",
            "note",
            "contacted_by",
            "contacted_at",
        ]
        read_only_fields = fields


class HoldSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = AdmissionHold
        fields = ["id", "program", "admission_date", "lapses_on", "bed"]
        read_only_fields = fields


class InquirySerializer(serializers.ModelSerializer):
    referral_source_name = serializers.CharField(source="referral_source.name", read_only=True)
    # Blank when not given (an e-mail field's format would refuse the blank).
    email = serializers.CharField(read_only=True)
    caller_email = serializers.CharField(read_only=True)
    overdue = serializers.BooleanField(
        read_only=True,
        help_text="Open and past its next contact date (or, with none set, received before the "
        "clinic's today).",
    )
    callback_method = serializers.ChoiceField(
        choices=CallbackMethod.choices, allow_blank=True, read_only=True
    )
    not_admitted_reason = serializers.ChoiceField(
        choices=NotAdmittedReason.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Inquiry
        fields = [
            "id",
            "clinic",
            "status",
            "received_at",
            "first_name",
            "last_name",
            "date_of_birth",
            "phone",
            "email",
            "caller_relation",
            "caller_name",
            "caller_phone",
            "caller_email",
            "referral_source",
            "referral_source_name",
            "referring_organization",
            "referring_contact",
            "substances",
            "urgency",
            "callback_consent",
            "callback_method",
            "program",
            "next_contact_on",
            "overdue",
            "not_admitted_reason",
            "patient",
            "enrollment",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InquiryDetailSerializer(InquirySerializer):
    status_history = InquiryStatusChangeSerializer(
        source="status_changes", many=True, read_only=True
    )
    latest_screening = serializers.SerializerMethodField()
    latest_verification = serializers.SerializerMethodField()
    hold = serializers.SerializerMethodField(help_text="The place held for the admission, if any.")
    contacts = InquiryContactSerializer(many=True, read_only=True)

    class Meta(InquirySerializer.Meta):
        fields = [
            *InquirySerializer.Meta.fields,
            "status_history",
            "latest_screening",
            "latest_verification",
            "hold",
            "contacts",
        ]
        read_only_fields = fields

    # The prefetched lists are newest first (the models' ordering): the first is the latest.
    @extend_schema_field(InquiryScreeningSerializer(allow_null=True))
    def get_latest_screening(self, inquiry):
        screenings = list(inquiry.screenings.all())
        return InquiryScreeningSerializer(screenings[0]).data if screenings else None

    @extend_schema_field(BenefitsVerificationSerializer(allow_null=True))
    def get_latest_verification(self, inquiry):
        verifications = list(inquiry.verifications.all())
        return BenefitsVerificationSerializer(verifications[0]).data if verifications else None

    @extend_schema_field(HoldSummarySerializer(allow_null=True))
    def get_hold(self, inquiry):
        holds = inquiry.live_holds
        return HoldSummarySerializer(holds[0]).data if holds else None


# Input --------------------------------------------------------------------------------------------


class InquiryFieldsSerializer(serializers.Serializer):
    """What admissions write on an inquiry; every field optional (PATCH)."""

    first_name = serializers.CharField(max_length=100, required=False)
    last_name = serializers.CharField(max_length=100, required=False)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    phone = _text(max_length=PHONE_INPUT_MAX, required=False)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    caller_relation = serializers.ChoiceField(choices=CallerRelation.choices, required=False)
    caller_name = _text(max_length=200, required=False)
    caller_phone = _text(max_length=PHONE_INPUT_MAX, required=False)
    caller_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    referral_source = CallerScopedPrimaryKeyField(scope=_sources_of_caller, required=False)
    referring_organization = _text(max_length=200, required=False)
    referring_contact = _text(max_length=200, required=False)
    substances = _text(required=False)
    urgency = _text(required=False)
    callback_consent = serializers.BooleanField(required=False)
    callback_method = serializers.ChoiceField(
        choices=CallbackMethod.choices, required=False, allow_blank=True
    )
    program = CallerScopedPrimaryKeyField(
        scope=_programs_of_caller, required=False, allow_null=True
    )
    next_contact_on = serializers.DateField(required=False, allow_null=True)
    patient = CallerScopedPrimaryKeyField(
        scope=patients_of_caller,
        required=False,
        allow_null=True,
        help_text="The registered patient this inquiry is about (of the same clinic).",
    )
    notes = _text(required=False)


class InquiryCreateSerializer(InquiryFieldsSerializer):
    clinic = CallerScopedPrimaryKeyField(scope=clinics_of_caller)
    referral_source = CallerScopedPrimaryKeyField(scope=_sources_of_caller)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    received_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Default: now."
    )
    allow_duplicate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Take the call even though it looks like a patient or an open inquiry.",
    )


class InquiryScreeningCreateSerializer(serializers.Serializer):
    criteria_count = serializers.IntegerField(
        min_value=0, max_value=11, help_text="DSM-5 criteria the caller describes."
    )
    dimensions = DimensionsSerializer()
    prior_outpatient_relapse = serializers.BooleanField(required=False, default=False)
    daytime_obligations = serializers.BooleanField(required=False, default=False)
    withdrawal_flags = serializers.ListField(
        child=serializers.ChoiceField(choices=WithdrawalRiskFlag.choices),
        required=False,
        default=list,
        max_length=len(WithdrawalRiskFlag.values),
    )
    notes = _text(required=False, default="")


class BenefitsVerificationCreateSerializer(serializers.Serializer):
    payer = CallerScopedPrimaryKeyField(scope=_payers_of_caller)
    level = serializers.ChoiceField(choices=Level.choices)
    outcome = serializers.ChoiceField(choices=BenefitsOutcome.choices)
    member_id = _text(max_length=80, required=False, default="")
    group_number = _text(max_length=80, required=False, default="")
    subscriber_relation = serializers.ChoiceField(
        choices=SubscriberRelation.choices, required=False, default=SubscriberRelation.SELF
    )
    in_network = serializers.BooleanField(required=False, allow_null=True, default=None)
    deductible_remaining = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=0,
        max_value=AMOUNT_MAX,
        required=False,
        allow_null=True,
        default=None,
    )
    out_of_pocket_remaining = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=0,
        max_value=AMOUNT_MAX,
        required=False,
        allow_null=True,
        default=None,
    )
    prior_authorization_required = serializers.BooleanField(
        required=False, allow_null=True, default=None
    )
    reference = _text(max_length=80, required=False, default="")
    notes = _text(required=False, default="")


class InquiryContactCreateSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=CallbackMethod.choices)
    direction = serializers.ChoiceField(choices=ContactDirection.choices)
    outcome = serializers.ChoiceField(choices=ContactOutcome.choices)
    note = _text(required=False, default="")
    next_contact_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Becomes the inquiry's next contact date (not in the clinic's past).",
    )


# Views --------------------------------------------------------------------------------------------

# Ids are plain numbers in every filter (programs.api.views says why).


class InquiryFilterSet(filters.FilterSet):
    clinic = filters.NumberFilter()
    status = filters.ChoiceFilter(choices=InquiryStatus.choices)
    overdue = filters.BooleanFilter(
        label="Open and past the next contact date (by the clinic's today)"
    )

    class Meta:
        model = Inquiry
        fields = ["clinic", "status"]


# Who may call each action: every staff role reads.
WRITE_ROLES_BY_ACTION = {
    "create": services.INQUIRY_WRITE_ROLES,
    "partial_update": services.INQUIRY_WRITE_ROLES,
    "contacts": services.INQUIRY_WRITE_ROLES,
    "screenings": services.SCREENING_ROLES,
    "verifications": services.VERIFICATION_ROLES,
}


@extend_schema_view(
    list=extend_schema(responses=InquirySerializer),
    retrieve=extend_schema(responses=InquiryDetailSerializer, parameters=[ETAG]),
)
class InquiryViewSet(
    PatientDataMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Inquiries of the caller's clinics, newest first: who called about whom, how they heard of
    the clinic, where the inquiry stands and whether it is overdue. One inquiry adds its status
    history, latest screening and verification, the place held (if any) and the contacts."""

    filter_backends = [DjangoFilterBackend]
    filterset_class = InquiryFilterSet

    def get_permissions(self):
        write = WRITE_ROLES_BY_ACTION.get(self.action, ())
        return [roles_allowed(read=STAFF_ROLES, write=write)()]

    def get_queryset(self):
        return selectors.inquiry_list(user=self.request.user, with_details=self.action != "list")

    def get_serializer_class(self):
        return InquirySerializer if self.action == "list" else InquiryDetailSerializer

    def audit_clinic_id(self, obj):
        return obj.clinic_id

    def _fresh(self, inquiry):
        """The inquiry as its detail serves it, after a write."""
        return self.get_queryset().get(pk=inquiry.pk)

    @extend_schema(
        request=InquiryCreateSerializer,
        responses={201: InquiryDetailSerializer},
        parameters=[ETAG],
        description="409 `possible_duplicate` with `duplicates` {`patients`, `inquiries`} when "
        "the person looks like a registered patient or an open inquiry of the clinic (the same "
        "names and date of birth, or the same phone); send `allow_duplicate` to take it anyway.",
    )
    def create(self, request):
        """Take a call or a referral: a new inquiry."""
        inquiry = services.inquiry_create(
            actor=request.user, **validated(InquiryCreateSerializer, request)
        )
        return self.response_for(self._fresh(inquiry), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=InquiryFieldsSerializer,
        responses=InquiryDetailSerializer,
        parameters=[IF_MATCH, ETAG],
        description="Open inquiries only (409 `invalid_state` once admitted or not).",
    )
    def partial_update(self, request, pk=None):
        """Change an open inquiry's details, its next contact date or the patient it is about."""
        inquiry = self.get_object()
        inquiry = services.inquiry_update(
            actor=request.user,
            inquiry=inquiry,
            expected_versions=expected_versions(request, inquiry),
            **validated(InquiryFieldsSerializer, request),
        )
        return self.response_for(self._fresh(inquiry))

    @extend_schema(
        request=InquiryScreeningCreateSerializer,
        responses={201: InquiryScreeningSerializer},
        description="The provisional level comes from the recommendation rule of assessments. "
        "A withdrawal flag alerts the clinic's clinicians (once per inquiry). 409 "
        "`invalid_state` for a closed inquiry.",
    )
    @action(detail=True, methods=["post"])
    def screenings(self, request, pk=None):
        """Screen the caller: the six dimensions rated provisionally and withdrawal signs."""
        screening = services.inquiry_screen(
            actor=request.user,
            inquiry=self.get_object(),
            **validated(InquiryScreeningCreateSerializer, request),
        )
        return Response(InquiryScreeningSerializer(screening).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=BenefitsVerificationCreateSerializer,
        responses={201: BenefitsVerificationSerializer},
        description="409 `screening_required` before any screening; `invalid_state` for a "
        "closed inquiry.",
    )
    @action(detail=True, methods=["post"])
    def verifications(self, request, pk=None):
        """Record a verification of benefits with the payer."""
        verification = services.inquiry_verify_benefits(
            actor=request.user,
            inquiry=self.get_object(),
            **validated(BenefitsVerificationCreateSerializer, request),
        )
        return Response(
            BenefitsVerificationSerializer(verification).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=InquiryContactCreateSerializer,
        responses={201: InquiryContactSerializer},
        description="409 `invalid_state` for a closed inquiry.",
    )
    @action(detail=True, methods=["post"])
    def contacts(self, request, pk=None):
        """Record a call, text or e-mail with the caller, either way."""
        contact = services.inquiry_contact_record(
            actor=request.user,
            inquiry=self.get_object(),
            **validated(InquiryContactCreateSerializer, request),
        )
        return Response(InquiryContactSerializer(contact).data, status=status.HTTP_201_CREATED)


class ReferralSourceFilterSet(filters.FilterSet):
    clinic = filters.NumberFilter()

    class Meta:
        model = ReferralSource
        fields = ["clinic", "is_active"]


class ReferralSourceViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """How callers hear of the caller's clinics: each clinic's list of referral sources."""

    permission_classes = [roles_allowed(read=STAFF_ROLES)]
    serializer_class = ReferralSourceSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ReferralSourceFilterSet

    def get_queryset(self):
        return selectors.referral_source_list(user=self.request.user).order_by(
            "clinic_id", "name", "id"
        )
