"""The patient's own profile and reminder preferences (API.md "The patient's app").

Only the patient's app account reaches these (``IsPatient``), and every read starts from the
account's own patient: no id is ever taken from the request, so no other patient can be named.

What the app shows is what a patient needs to see and check about themselves: their names, the
contact details reminders go to, their reminder channels, and the clinic's *public* name and
time zone (the neutral name that reminders carry; the clinic's internal name may reveal
treatment). Left out on purpose: the MRN and date of birth (staff identifiers and identity
checks, e.g. activation; a lost phone should not give them away), who recorded the consent
(staff accounts), the contacts (staff-kept records), and every internal timestamp.

The patient's Part 2 consents are theirs to see and to revoke (42 CFR §2.31: the right to
revoke): ``me/consents/`` lists them with what each permits, and a revocation applies from the
clinic's today, through the same service as staff use, so no disclosure is made under it after.

Preferences change only ``reminder_channels``, through ``patients.services.patient_update`` with
the patient's own account as the actor, so the same rules hold as for staff (SMS needs a phone,
e-mail an address). Any other field in the body (``mrn``, ``clinic``, ``first_name``,
``phone``...) is refused with 400 and changes nothing: names and contact details are corrected
at the front desk, where identity is checked.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api.mixins import NoStoreMixin, PatientDataMixin
from clinic.api.patient_permissions import IsPatient
from clinic.api.utils import validated
from clinic.models import AuditAction
from clinic.services import audit_record
from patients import selectors, services
from patients.api.serializers import reminder_channels_field
from patients.models import Consent, Patient, ReminderChannel

# Serializers --------------------------------------------------------------------------------------


class MyClinicSerializer(serializers.Serializer):
    public_name = serializers.CharField(
        help_text="The clinic's neutral name (what reminders say); never its internal name."
    )
    time_zone = serializers.CharField(help_text="IANA zone the clinic's dates and times are in.")


class MyProfileSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(read_only=True, help_text="E.164, or empty.")
    clinic = MyClinicSerializer(read_only=True)

    class Meta:
        model = Patient
        fields = ["id", "first_name", "last_name", "email", "phone", "reminder_channels", "clinic"]
        read_only_fields = fields


def available_channels(patient: Patient) -> list[str]:
    """Channels the patient may turn on with the contact details on file (push goes to the
    devices the app registers)."""
    return [
        channel
        for channel in ReminderChannel.values
        if (channel != ReminderChannel.EMAIL or patient.email)
        and (channel != ReminderChannel.SMS or patient.phone)
    ]


class MyConsentSerializer(serializers.ModelSerializer):
    is_active = serializers.SerializerMethodField(
        help_text="Signed, and neither revoked nor expired by date today."
    )

    class Meta:
        model = Consent
        fields = [
            "id",
            "discloser",
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
            "revoked_on",
            "is_active",
        ]
        read_only_fields = fields

    def get_is_active(self, consent) -> bool:
        return consent.is_active_on(consent.patient.clinic.today())


class MyPreferencesSerializer(serializers.Serializer):
    reminder_channels = serializers.ListField(
        child=serializers.ChoiceField(choices=ReminderChannel.choices),
        help_text="The channels the patient agreed to be reminded on (empty: no reminders).",
    )
    available_channels = serializers.SerializerMethodField(
        help_text="The channels that can be turned on with the contact details on file "
        "(SMS needs a phone number, e-mail an address; the front desk changes those)."
    )

    def get_available_channels(self, patient) -> list[str]:
        return available_channels(patient)


class MyPreferencesUpdateSerializer(serializers.Serializer):
    reminder_channels = reminder_channels_field(
        required=False,
        help_text="The whole new list; [] opts out of every reminder. Applies at once: a channel "
        "added is planned for the sessions already on the schedule, one removed stops the "
        "reminders already planned for it.",
    )

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed here."] for name in sorted(unknown)}
            )
        return attrs


# Views --------------------------------------------------------------------------------------------


class MyProfileView(NoStoreMixin, APIView):
    """The patient's own profile: names, contact details, reminder channels, the clinic."""

    permission_classes = [IsPatient]

    @extend_schema(responses=MyProfileSerializer)
    def get(self, request):
        patient = selectors.patient_of_app_user(user=request.user)
        audit_record(actor=request.user, action=AuditAction.READ, obj=patient, patient=patient)
        return Response(MyProfileSerializer(patient).data)


class MyPreferencesView(NoStoreMixin, APIView):
    """The patient's reminder channels; PATCH replaces the list (applies at once, to the sessions
    already on the schedule too)."""

    permission_classes = [IsPatient]

    @extend_schema(responses=MyPreferencesSerializer)
    def get(self, request):
        patient = selectors.patient_of_app_user(user=request.user)
        audit_record(actor=request.user, action=AuditAction.READ, obj=patient, patient=patient)
        return Response(MyPreferencesSerializer(patient).data)

    @extend_schema(request=MyPreferencesUpdateSerializer, responses=MyPreferencesSerializer)
    def patch(self, request):
        changes = validated(MyPreferencesUpdateSerializer, request)
        patient = selectors.patient_of_app_user(user=request.user)
        # A change is audited as an update; no change as a read (the service does both).
        patient = services.patient_update(actor=request.user, patient=patient, **changes)
        return Response(MyPreferencesSerializer(patient).data)


class MyConsentsView(PatientDataMixin, generics.ListAPIView):
    """The patient's Part 2 consents, newest first: to whom, why, what, until when."""

    permission_classes = [IsPatient]
    serializer_class = MyConsentSerializer
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Consent.objects.none()
        return selectors.consent_list(patient=self.request.user.patient)


class MyConsentRevokeView(NoStoreMixin, APIView):
    """The patient revokes one of their consents from today: it permits no disclosure from now
    on. 409 `already_revoked` when it was."""

    permission_classes = [IsPatient]

    @extend_schema(request=None, responses=MyConsentSerializer)
    def post(self, request, pk=None):
        consent = get_object_or_404(selectors.consent_list(patient=request.user.patient), pk=pk)
        consent = services.consent_revoke(actor=request.user, consent=consent)
        return Response(MyConsentSerializer(consent).data)
