"""Input serializers check shapes and types; the services check the rules. Output serializers
only render."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from clinic.models import Clinic
from clinic.selectors import clinic_ids_for_user
from patients.models import (
    Assessment,
    Consent,
    ContactKind,
    CoOccurring,
    DisclosureCategory,
    DisclosurePurpose,
    Level,
    Patient,
    PatientContact,
    ReminderChannel,
    ScreeningSex,
    Severity,
    Track,
)

NAME_MAX = 100
TEXT_MAX = 5000

# A phone number as typed (spaces, dashes, brackets) fits easily; E.164 has at most 16 characters.
PHONE_INPUT_MAX = 32


@extend_schema_field(OpenApiTypes.INT)
class CallerScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A reference the caller may name: outside ones read as "does not exist"."""

    def __init__(self, *, scope, **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.scope(self.context["request"].user)


def clinics_of_caller(user):
    return Clinic.objects.filter(id__in=clinic_ids_for_user(user))


def patients_of_caller(user):
    return Patient.objects.filter(clinic_id__in=clinic_ids_for_user(user)).select_related("clinic")


def reminder_channels_field(**kwargs):
    return serializers.ListField(
        child=serializers.ChoiceField(choices=ReminderChannel.choices),
        max_length=len(ReminderChannel.values),
        **kwargs,
    )


# Patients -----------------------------------------------------------------------------------------


class PatientContactSerializer(serializers.ModelSerializer):
    phone = PhoneNumberField(max_length=PHONE_INPUT_MAX, required=False, allow_blank=True)

    class Meta:
        model = PatientContact
        fields = ["id", "kind", "name", "relationship", "phone", "email"]


class PatientContactInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ContactKind.choices)
    name = serializers.CharField(max_length=200)
    relationship = serializers.CharField(max_length=100, required=False, allow_blank=True)
    phone = PhoneNumberField(max_length=PHONE_INPUT_MAX, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


SEX_HELP = "Sex as recorded for screening cut-offs (AUDIT-C); empty: unknown."


class PatientSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(read_only=True)
    reminder_channels_recorded_by = serializers.CharField(
        source="reminder_channels_recorded_by.username",
        default=None,
        allow_null=True,
        read_only=True,
    )
    has_app_account = serializers.SerializerMethodField()
    contacts = PatientContactSerializer(many=True, read_only=True)
    screening_sex = serializers.ChoiceField(
        choices=ScreeningSex.choices, allow_blank=True, read_only=True, help_text=SEX_HELP
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "clinic",
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "reminder_channels",
            "reminder_channels_recorded_by",
            "reminder_channels_recorded_at",
            "screening_sex",
            "has_app_account",
            "contacts",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_app_account(self, patient) -> bool:
        return patient.app_user_id is not None


class PatientCreateSerializer(serializers.Serializer):
    clinic = CallerScopedPrimaryKeyField(scope=clinics_of_caller)
    first_name = serializers.CharField(max_length=NAME_MAX)
    last_name = serializers.CharField(max_length=NAME_MAX)
    date_of_birth = serializers.DateField()
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    phone = PhoneNumberField(
        max_length=PHONE_INPUT_MAX, required=False, allow_blank=True, default=""
    )
    reminder_channels = reminder_channels_field(required=False, default=list)
    screening_sex = serializers.ChoiceField(
        choices=ScreeningSex.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text=SEX_HELP,
    )
    allow_duplicate = serializers.BooleanField(
        required=False,
        default=False,
        write_only=True,
        help_text="Register even though a patient with the same names and birth date exists.",
    )


class PatientUpdateSerializer(serializers.Serializer):
    """What staff may change; `clinic`, `mrn` and the rest are not writable and are refused."""

    first_name = serializers.CharField(max_length=NAME_MAX, required=False)
    last_name = serializers.CharField(max_length=NAME_MAX, required=False)
    date_of_birth = serializers.DateField(required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = PhoneNumberField(max_length=PHONE_INPUT_MAX, required=False, allow_blank=True)
    reminder_channels = reminder_channels_field(required=False)
    screening_sex = serializers.ChoiceField(
        choices=ScreeningSex.choices, required=False, allow_blank=True, help_text=SEX_HELP
    )

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed here."] for name in sorted(unknown)}
            )
        return attrs


# Consents -----------------------------------------------------------------------------------------


class ConsentSerializer(serializers.ModelSerializer):
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)
    revoked_by = serializers.CharField(
        source="revoked_by.username", read_only=True, allow_null=True, default=None
    )
    discloser_program = serializers.IntegerField(
        source="discloser_program_id",
        read_only=True,
        allow_null=True,
        help_text="The program that may disclose; null: the clinic.",
    )
    is_active = serializers.SerializerMethodField(
        help_text="Signed, and neither revoked nor expired by date today."
    )
    missing_elements = serializers.SerializerMethodField(
        help_text="The 42 CFR §2.31 elements the consent lacks (consents recorded before they "
        "existed); a consent with any missing permits no disclosure."
    )

    class Meta:
        model = Consent
        fields = [
            "id",
            "patient",
            "discloser",
            "discloser_program",
            "information",
            "recipients",
            "purpose",
            "recipients_tpo",
            "recipient_names",
            "purposes",
            "purpose_other",
            "categories",
            "revocation_how",
            "expires_on",
            "expiry_event",
            "no_expiry",
            "signer_relation",
            "signer_name",
            "signed_on",
            "treatment_conditioned",
            "revoked_on",
            "revoked_by",
            "revoked_at",
            "is_active",
            "missing_elements",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_is_active(self, consent) -> bool:
        return consent.is_active_on(consent.patient.clinic.today())

    def get_missing_elements(self, consent) -> list[str]:
        return consent.missing_elements()


class ConsentCreateSerializer(serializers.Serializer):
    """A signed consent with the 42 CFR §2.31 elements; one missing is a 400 naming it."""

    discloser = serializers.CharField(max_length=200, required=False, allow_blank=True)
    discloser_program = serializers.IntegerField(
        source="discloser_program_id",
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text="A program of the clinic that may disclose; null: the clinic.",
    )
    information = serializers.CharField(max_length=TEXT_MAX)
    recipients = serializers.CharField(max_length=TEXT_MAX)
    purpose = serializers.CharField(max_length=TEXT_MAX)
    recipients_tpo = serializers.BooleanField(
        required=False,
        default=False,
        help_text='The single class "my treating providers, health plans, third-party payers '
        'and those helping operate this program" (treatment, payment, operations only).',
    )
    recipient_names = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        default=list,
        max_length=50,
        help_text="Named organisations or people.",
    )
    purposes = serializers.ListField(
        child=serializers.ChoiceField(choices=DisclosurePurpose.choices),
        required=False,
        default=list,
        max_length=len(DisclosurePurpose.values),
    )
    purpose_other = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, default=""
    )
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=DisclosureCategory.choices),
        required=False,
        default=list,
        max_length=len(DisclosureCategory.values),
        help_text="The kinds of information that may be disclosed.",
    )
    revocation_how = serializers.CharField(
        max_length=TEXT_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="The right to revoke and how, as told to the patient.",
    )
    signed_on = serializers.DateField()
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)
    expiry_event = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="`end_of_treatment` (applied by the clinic), or an event in words.",
    )
    no_expiry = serializers.BooleanField(
        required=False, default=False, help_text="Allowed only for a `recipients_tpo` consent."
    )
    signer_relation = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Empty: the patient signed; else the representative's relation (a minor's "
        "consent needs one).",
    )
    signer_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    treatment_conditioned = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Whether treatment was conditioned on signing (required).",
    )


class ConsentRevokeSerializer(serializers.Serializer):
    revoked_on = serializers.DateField()


# Assessments --------------------------------------------------------------------------------------


class DimensionsSerializer(serializers.Serializer):
    d1 = serializers.IntegerField(min_value=0, max_value=4, help_text="Intoxication/withdrawal")
    d2 = serializers.IntegerField(min_value=0, max_value=4, help_text="Biomedical")
    d3 = serializers.IntegerField(
        min_value=0, max_value=4, help_text="Emotional/behavioral/cognitive"
    )
    d4 = serializers.IntegerField(min_value=0, max_value=4, help_text="Readiness to change")
    d5 = serializers.IntegerField(
        min_value=0, max_value=4, help_text="Relapse/continued use potential"
    )
    d6 = serializers.IntegerField(min_value=0, max_value=4, help_text="Recovery environment")


class AssessmentSerializer(serializers.ModelSerializer):
    dimensions = DimensionsSerializer(read_only=True)
    assessed_by = serializers.CharField(source="assessed_by.username", read_only=True)
    decided_by = serializers.CharField(
        source="decided_by.username", default=None, allow_null=True, read_only=True
    )
    recommended_track = serializers.SerializerMethodField()
    decided_level = serializers.SerializerMethodField()
    decided_track = serializers.SerializerMethodField()
    level = serializers.CharField(read_only=True)

    class Meta:
        model = Assessment
        fields = [
            "id",
            "patient",
            "assessed_by",
            "assessed_at",
            "severity",
            "criteria_count",
            "dimensions",
            "prior_outpatient_relapse",
            "daytime_obligations",
            "co_occurring",
            "notes",
            "recommended_level",
            "recommended_track",
            "rationale",
            "decided_level",
            "decided_track",
            "override_reason",
            "decided_by",
            "decided_at",
            "level",
        ]
        read_only_fields = fields

    def get_recommended_track(self, assessment) -> str | None:
        return assessment.recommended_track or None

    def get_decided_level(self, assessment) -> str | None:
        return assessment.decided_level or None

    def get_decided_track(self, assessment) -> str | None:
        return assessment.decided_track or None


class AssessmentCreateSerializer(serializers.Serializer):
    patient = CallerScopedPrimaryKeyField(scope=patients_of_caller)
    severity = serializers.ChoiceField(
        choices=Severity.choices, required=False, allow_null=True, default=None
    )
    criteria_count = serializers.IntegerField(
        min_value=0, max_value=11, required=False, allow_null=True, default=None
    )
    dimensions = DimensionsSerializer()
    prior_outpatient_relapse = serializers.BooleanField(required=False, default=False)
    daytime_obligations = serializers.BooleanField(required=False, default=False)
    co_occurring = serializers.ListField(
        child=serializers.ChoiceField(choices=CoOccurring.choices),
        required=False,
        default=list,
        max_length=len(CoOccurring.values),
    )
    notes = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True, default="")
    assessed_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class AssessmentDecisionSerializer(serializers.Serializer):
    decided_level = serializers.ChoiceField(choices=Level.choices)
    decided_track = serializers.ChoiceField(
        choices=Track.choices, required=False, allow_blank=True, default=""
    )
    override_reason = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, default=""
    )
