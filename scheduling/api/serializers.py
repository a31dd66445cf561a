"""Input serializers check shapes, types and that every reference is the caller's (and of one
clinic); the services check the rules. Output serializers only render."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.api.rows import SerializerRows
from clinic.selectors import clinic_ids_for_user
from patients.api.serializers import (
    CallerScopedPrimaryKeyField,
    clinics_of_caller,
    patients_of_caller,
)
from scheduling import selectors
from scheduling.models import (
    AttendanceStatus,
    RosterEntry,
    RosterResponse,
    Series,
    Session,
    SessionKind,
)
from scheduling.program_rules import note_status_choices
from scheduling.services import EDIT_SCOPES

TITLE_MAX = 200
LOCATION_MAX = 200
DAY_MINUTES = 24 * 60
# The capacity column is PostgreSQL's integer: a larger number is a 400, not the database's 500.
CAPACITY_MAX = 2_147_483_647


def programs_of_caller(user):
    return selectors.program_options(user=user)


def rooms_of_caller(user):
    return selectors.room_options(user=user)


def facilitators_of_caller(user):
    return selectors.facilitator_options(user=user)


class StrictInputMixin:
    """Refuse fields the endpoint does not take, instead of silently ignoring them."""

    def validate(self, attrs):
        unknown = set(getattr(self, "initial_data", {}) or {}) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed here."] for name in sorted(unknown)}
            )
        return super().validate(attrs)


class ClinicReferencesMixin:
    """Resolves the clinic of a new session or series from what the body names (the program,
    the patient, the room, or ``clinic``; else the caller's only clinic) and refuses references
    to different clinics."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        named = [("clinic", attrs["clinic"].pk)] if attrs.get("clinic") is not None else []
        named += [
            (name, attrs[name].clinic_id)
            for name in ("program", "patient", "room")
            if attrs.get(name) is not None
        ]
        clinic_ids = {clinic_id for _name, clinic_id in named}
        if len(clinic_ids) > 1:
            first = named[0][1]
            raise serializers.ValidationError(
                {
                    name: ["This belongs to another clinic than the rest of the request."]
                    for name, clinic_id in named
                    if clinic_id != first
                }
            )
        request = self.context["request"]
        if clinic_ids:
            clinic_id = clinic_ids.pop()
        else:
            own = clinic_ids_for_user(request.user)
            if len(own) != 1:
                raise serializers.ValidationError(
                    {"clinic": ["Name the clinic (or a program or room of it)."]}
                )
            clinic_id = own[0]
        attrs["clinic"] = clinics_of_caller(request.user).get(pk=clinic_id)
        facilitator = attrs.get("facilitator")
        if (
            facilitator is not None
            and not facilitator.clinic_memberships.filter(clinic_id=clinic_id).exists()
        ):
            raise serializers.ValidationError(
                {"facilitator": ["The facilitator does not work at this clinic."]}
            )
        return attrs


# Sessions -----------------------------------------------------------------------------------------


# Read from ``selectors.session_list``'s annotations; the list reads the same fields as rows
# (``SESSION_ROWS`` over ``selectors.SessionPage``).
class SessionSerializer(serializers.ModelSerializer):
    time_zone = serializers.CharField(read_only=True, help_text="The clinic's IANA time zone.")
    program_name = serializers.CharField(default=None, allow_null=True, read_only=True)
    room_name = serializers.CharField(default=None, allow_null=True, read_only=True)
    facilitator_name = serializers.CharField(allow_null=True, read_only=True)
    roster_count = serializers.IntegerField(read_only=True)
    needs_attendance = serializers.BooleanField(
        read_only=True,
        help_text="Ended, not cancelled, and someone on the roster has no attendance recorded.",
    )

    class Meta:
        model = Session
        fields = [
            "id",
            "clinic",
            "program",
            "program_name",
            "series",
            "occurrence_date",
            "detached",
            "kind",
            "title",
            "starts_at",
            "ends_at",
            "time_zone",
            "location",
            "room",
            "room_name",
            "facilitator",
            "facilitator_name",
            "capacity",
            "status",
            "sequence",
            "roster_count",
            "needs_attendance",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


SESSION_ROWS = SerializerRows(SessionSerializer)


class SessionCreateSerializer(ClinicReferencesMixin, serializers.Serializer):
    clinic = CallerScopedPrimaryKeyField(
        scope=clinics_of_caller,
        required=False,
        allow_null=True,
        default=None,
        help_text="Needed only when neither a program, patient nor room names the clinic and "
        "the caller works at several.",
    )
    program = CallerScopedPrimaryKeyField(
        scope=programs_of_caller, required=False, allow_null=True, default=None
    )
    title = serializers.CharField(max_length=TITLE_MAX)
    kind = serializers.ChoiceField(choices=SessionKind.choices)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    location = serializers.CharField(
        max_length=LOCATION_MAX, required=False, allow_blank=True, default=""
    )
    room = CallerScopedPrimaryKeyField(
        scope=rooms_of_caller, required=False, allow_null=True, default=None
    )
    facilitator = CallerScopedPrimaryKeyField(
        scope=facilitators_of_caller,
        required=False,
        allow_null=True,
        default=None,
        help_text="The clinician; an individual appointment without one is the caller's.",
    )
    capacity = serializers.IntegerField(
        min_value=1, max_value=CAPACITY_MAX, required=False, allow_null=True, default=None
    )
    patient = CallerScopedPrimaryKeyField(
        scope=patients_of_caller,
        required=False,
        allow_null=True,
        default=None,
        help_text="The patient of an individual appointment.",
    )


class SessionMoveSerializer(StrictInputMixin, serializers.Serializer):
    """Move one session: a new time range, place or room (a series' occurrence is detached)."""

    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    location = serializers.CharField(max_length=LOCATION_MAX, required=False, allow_blank=True)
    room = CallerScopedPrimaryKeyField(scope=rooms_of_caller, required=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs:
            raise serializers.ValidationError(
                "Give what changes: starts_at, ends_at, location, room."
            )
        return attrs


class SeriesEditSerializer(StrictInputMixin, serializers.Serializer):
    """Edit this occurrence, this and the following ones, or all future ones of its series."""

    scope = serializers.ChoiceField(choices=[(scope, scope) for scope in EDIT_SCOPES])
    local_start_time = serializers.TimeField(
        required=False, help_text="Wall-clock time in the clinic's zone, e.g. 18:00."
    )
    duration_minutes = serializers.IntegerField(min_value=1, max_value=DAY_MINUTES, required=False)
    location = serializers.CharField(max_length=LOCATION_MAX, required=False, allow_blank=True)
    title = serializers.CharField(max_length=TITLE_MAX, required=False)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7),
        min_length=1,
        max_length=7,
        required=False,
        help_text="New ISO weekdays (Monday = 1 … Sunday = 7), for `following` or `all`: "
        "occurrences on a dropped day are cancelled, an added day gets occurrences.",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if set(attrs) == {"scope"}:
            raise serializers.ValidationError(
                "Give what changes: local_start_time, duration_minutes, location, title, weekdays."
            )
        return attrs


# Series -------------------------------------------------------------------------------------------


class SeriesSerializer(serializers.ModelSerializer):
    program_name = serializers.CharField(
        source="program.name", default=None, allow_null=True, read_only=True
    )
    facilitator_name = serializers.CharField(allow_null=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = Series
        fields = [
            "id",
            "clinic",
            "program",
            "program_name",
            "kind",
            "title",
            "weekdays",
            "local_start_time",
            "duration_minutes",
            "time_zone",
            "starts_on",
            "ends_on",
            "location",
            "room",
            "facilitator",
            "facilitator_name",
            "capacity",
            "materialized_until",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class SeriesCreatedSerializer(SeriesSerializer):
    sessions_created = serializers.IntegerField(
        read_only=True, help_text="Occurrences created now, up to the scheduling horizon."
    )

    class Meta(SeriesSerializer.Meta):
        fields = [*SeriesSerializer.Meta.fields, "sessions_created"]
        read_only_fields = fields


class SeriesCreateSerializer(ClinicReferencesMixin, serializers.Serializer):
    clinic = CallerScopedPrimaryKeyField(
        scope=clinics_of_caller,
        required=False,
        allow_null=True,
        default=None,
        help_text="Needed only when neither a program nor a room names the clinic and the "
        "caller works at several.",
    )
    program = CallerScopedPrimaryKeyField(
        scope=programs_of_caller,
        required=False,
        allow_null=True,
        default=None,
        help_text="A program's series must keep its cadence and session length.",
    )
    title = serializers.CharField(max_length=TITLE_MAX)
    kind = serializers.ChoiceField(
        choices=SessionKind.choices, required=False, default=SessionKind.GROUP
    )
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7),
        min_length=1,
        max_length=7,
        help_text="ISO weekdays: Monday = 1 … Sunday = 7.",
    )
    local_start_time = serializers.TimeField(
        help_text="Wall-clock time in the clinic's zone, e.g. 18:00."
    )
    duration_minutes = serializers.IntegerField(min_value=1, max_value=DAY_MINUTES)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True, default=None)
    location = serializers.CharField(
        max_length=LOCATION_MAX, required=False, allow_blank=True, default=""
    )
    room = CallerScopedPrimaryKeyField(
        scope=rooms_of_caller, required=False, allow_null=True, default=None
    )
    facilitator = CallerScopedPrimaryKeyField(
        scope=facilitators_of_caller, required=False, allow_null=True, default=None
    )
    capacity = serializers.IntegerField(
        min_value=1, max_value=CAPACITY_MAX, required=False, allow_null=True, default=None
    )


# Rosters and attendance ---------------------------------------------------------------------------


class RosterNoteSerializer(serializers.Serializer):
    """The attendee's progress note of the session, as far as the roster shows it."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=[])
    late = serializers.BooleanField(
        help_text="Signed after, or still unsigned past, the session's end plus the clinic's "
        "note_late_hours."
    )

    def get_fields(self):
        fields = super().get_fields()
        # The statuses are the programs app's, known once its rules are registered (after this
        # module may have been imported).
        fields["status"].choices = note_status_choices()
        return fields


class RosterEntrySerializer(serializers.ModelSerializer):
    """One patient on a session's roster, their answer, and their attendance once recorded."""

    first_name = serializers.CharField(source="patient.first_name", read_only=True)
    last_name = serializers.CharField(source="patient.last_name", read_only=True)
    mrn = serializers.CharField(source="patient.mrn", read_only=True)
    patient_name = serializers.SerializerMethodField()
    response = serializers.ChoiceField(
        choices=RosterResponse.choices,
        read_only=True,
        help_text="The patient's answer in the app; a decline shows here.",
    )
    status = serializers.ChoiceField(
        source="attendance.status",
        choices=AttendanceStatus.choices,
        default=None,
        allow_null=True,
        read_only=True,
        help_text="Attendance, null until recorded.",
    )
    checked_in_at = serializers.DateTimeField(
        source="attendance.checked_in_at", default=None, allow_null=True, read_only=True
    )
    recorded_at = serializers.DateTimeField(
        source="attendance.recorded_at", default=None, allow_null=True, read_only=True
    )
    recorded_by = serializers.CharField(
        source="attendance.recorded_by.username", default=None, allow_null=True, read_only=True
    )
    note = serializers.SerializerMethodField(
        help_text="The attendee's progress note of the session: null without one, and null "
        "whenever the caller may not read it (only the clinic's supervisors and the patient's "
        "care team read notes)."
    )

    class Meta:
        model = RosterEntry
        fields = [
            "id",
            "session",
            "patient",
            "patient_name",
            "first_name",
            "last_name",
            "mrn",
            "enrollment_id",
            "response",
            "responded_at",
            "status",
            "checked_in_at",
            "recorded_at",
            "recorded_by",
            "note",
        ]
        read_only_fields = fields

    @extend_schema_field(RosterNoteSerializer(allow_null=True))
    def get_note(self, entry) -> dict | None:
        # The view reads the page's notes once (``session_note_statuses``) into the context.
        return self.context.get("notes", {}).get(entry.patient_id)

    def get_patient_name(self, entry) -> str:
        return f"{entry.patient.first_name} {entry.patient.last_name}"


class AttendanceInputSerializer(serializers.Serializer):
    patient = CallerScopedPrimaryKeyField(scope=patients_of_caller)
    status = serializers.ChoiceField(choices=AttendanceStatus.choices)
    checked_in_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Present or late only; empty: now.",
    )
