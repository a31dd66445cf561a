from rest_framework import serializers

from clinic.models import Bed
from clinic.selectors import clinic_ids_for_user, clinic_staff
from patients.api.serializers import CallerScopedPrimaryKeyField, patients_of_caller
from patients.models import Assessment, Track
from programs.models import (
    BedAssignment,
    DischargeReason,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStatusChange,
    Program,
    Transition,
    TransitionKind,
    WaitlistOffer,
)
from programs.selectors import program_list

TEXT_MAX = 5000


def assessments_of_caller(user):
    return Assessment.objects.filter(patient__clinic_id__in=clinic_ids_for_user(user))


def clinicians_of_caller(user):
    # Which of them works at the program's clinic is the service's check.
    return clinic_staff(clinic_ids=clinic_ids_for_user(user))


def beds_of_caller(user):
    return Bed.objects.filter(clinic_id__in=clinic_ids_for_user(user))


class ProgramSerializer(serializers.ModelSerializer):
    # Null for a program without a track (a blank track is served as null).
    track = serializers.ChoiceField(choices=Track.choices, allow_null=True, read_only=True)
    active_count = serializers.SerializerMethodField()
    free_places = serializers.SerializerMethodField()

    class Meta:
        model = Program
        fields = [
            "id",
            "clinic",
            "name",
            "level",
            "track",
            "capacity",
            "min_stay_days",
            "max_stay_days",
            "default_stay_days",
            "sessions_per_week_min",
            "sessions_per_week_max",
            "session_hours_min",
            "session_hours_max",
            "weekly_hours_min",
            "weekly_hours_max",
            "services",
            "waitlist_offer_hours",
            "is_active",
            "active_count",
            "free_places",
        ]
        read_only_fields = fields

    def _places(self, program):
        return self.context["places"][program.pk]

    def get_active_count(self, program) -> int:
        return self._places(program)["active_count"]

    def get_free_places(self, program) -> int:
        return self._places(program)["free_places"]

    def to_representation(self, program):
        data = super().to_representation(program)
        data["track"] = program.track or None
        return data


class EnrollmentStatusChangeSerializer(serializers.ModelSerializer):
    # Null for the enrollment's creation (a blank from_status is served as null).
    from_status = serializers.ChoiceField(
        choices=EnrollmentStatus.choices, allow_null=True, read_only=True
    )
    # As a transition's decided_by: the username; null for a change the system made.
    changed_by = serializers.CharField(
        source="changed_by.username", allow_null=True, read_only=True
    )

    class Meta:
        model = EnrollmentStatusChange
        fields = [
            "from_status",
            "to_status",
            "effective_date",
            "changed_at",
            "changed_by",
            "reason",
        ]
        read_only_fields = fields

    def to_representation(self, change):
        data = super().to_representation(change)
        data["from_status"] = change.from_status or None
        return data


class EnrollmentSerializer(serializers.ModelSerializer):
    discharge_reason = serializers.SerializerMethodField()
    status_history = EnrollmentStatusChangeSerializer(
        source="status_changes",
        many=True,
        read_only=True,
        help_text="Every change of status, oldest first; the first is the enrollment's creation.",
    )

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "patient",
            "program",
            "level",
            "status",
            "start_date",
            "requested_start_date",
            "planned_end_date",
            "discharge_date",
            "discharge_reason",
            "primary_clinician",
            "assessment",
            "priority",
            "requested_at",
            "passed_over",
            "offered_at",
            "offer_expires_at",
            "admitted_at",
            "cancelled_at",
            "status_history",
        ]
        read_only_fields = fields

    def get_discharge_reason(self, enrollment) -> str | None:
        return enrollment.discharge_reason or None


class WaitlistOfferSerializer(serializers.ModelSerializer):
    """One offer of a freed place and how the patient was told of it."""

    class Meta:
        model = WaitlistOffer
        fields = [
            "id",
            "offered_at",
            "expires_at",
            "outcome",
            "closed_at",
            "channel",
            "notice_status",
            "sent_at",
            "attempts",
            "last_error",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "channel": {"help_text": "How the patient is told: email, sms, or empty (none)."},
            "last_error": {"help_text": "Why the notice was skipped or failed, if it was."},
        }


class EnrollmentDetailSerializer(EnrollmentSerializer):
    """An enrollment with its waitlist offers, newest first (``offered_at`` and
    ``offer_expires_at`` are the latest one's while it holds the place)."""

    offers = WaitlistOfferSerializer(many=True, read_only=True)

    class Meta(EnrollmentSerializer.Meta):
        fields = [*EnrollmentSerializer.Meta.fields, "offers"]
        read_only_fields = fields


class EnrollmentCreateSerializer(serializers.Serializer):
    patient = CallerScopedPrimaryKeyField(scope=patients_of_caller)
    program = CallerScopedPrimaryKeyField(scope=lambda user: program_list(user=user))
    start_date = serializers.DateField()
    waitlist = serializers.BooleanField(
        required=False, default=False, help_text="Waitlist the patient when the program is full."
    )
    planned_end_date = serializers.DateField(required=False, allow_null=True, default=None)
    primary_clinician = CallerScopedPrimaryKeyField(
        scope=clinicians_of_caller, required=False, allow_null=True, default=None
    )
    assessment = CallerScopedPrimaryKeyField(
        scope=assessments_of_caller, required=False, allow_null=True, default=None
    )
    priority = serializers.IntegerField(required=False, default=0, min_value=-10, max_value=10)


class EnrollmentAdmitSerializer(serializers.Serializer):
    start_date = serializers.DateField(required=False, allow_null=True, default=None)


class EnrollmentCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX
    )


class EnrollmentDischargeSerializer(serializers.Serializer):
    date = serializers.DateField()
    reason = serializers.ChoiceField(choices=DischargeReason.choices)


class TransitionCreateSerializer(serializers.Serializer):
    to_program = CallerScopedPrimaryKeyField(scope=lambda user: program_list(user=user))
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=TransitionKind.choices)
    reason = serializers.CharField(max_length=TEXT_MAX)
    assessment = CallerScopedPrimaryKeyField(
        scope=assessments_of_caller, required=False, allow_null=True, default=None
    )


class TransitionSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.username", read_only=True)
    from_program = serializers.IntegerField(source="from_enrollment.program_id", read_only=True)
    to_program = serializers.IntegerField(source="to_enrollment.program_id", read_only=True)
    patient = serializers.IntegerField(source="patient_id", read_only=True)
    gap_days = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Transition
        fields = [
            "id",
            "kind",
            "patient",
            "from_enrollment",
            "to_enrollment",
            "from_program",
            "to_program",
            "date",
            "reason",
            "decided_by",
            "assessment",
            "first_session_on",
            "gap_days",
            "created_at",
        ]
        read_only_fields = fields


class BedAssignSerializer(serializers.Serializer):
    bed = CallerScopedPrimaryKeyField(scope=beds_of_caller)
    date = serializers.DateField(required=False, allow_null=True, default=None)


class BedAssignmentSerializer(serializers.ModelSerializer):
    bed_label = serializers.CharField(source="bed.__str__", read_only=True)

    class Meta:
        model = BedAssignment
        fields = ["id", "bed", "bed_label", "enrollment", "start_date", "end_date"]
        read_only_fields = fields
