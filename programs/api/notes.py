"""Progress notes (issue 26): a group session's notes (``sessions/{id}/group-note/``), an
individual session's note (``sessions/{id}/progress-notes/``), and the notes themselves
(``progress-notes/``: list, read, edit a draft, sign, co-sign, addenda).

Reading goes only through ``programs.selectors.progress_note_list`` and, for a group's notes,
``group_note_access`` built on the same rule (supervisors of the clinic and the patient's care
team; anyone else gets a 404); clinicians and supervisors write, under the services' rules
(programs.services.notes). Patients' accounts: 403. Every read is audited with the patient, and
nothing is cached.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from clinic import signin
from clinic.api.auth import LockedOut
from clinic.api.conditional import ETAG, IF_MATCH, expected_versions, with_etag
from clinic.api.mixins import NoStoreMixin, PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.errors import Forbidden
from clinic.models import AuditAction
from clinic.selectors import CLINICAL_ROLES, STAFF_ROLES
from clinic.services import audit_record
from programs import selectors
from programs.models import (
    GroupNote,
    ProgressNote,
    ProgressNoteAddendum,
    progress_note_status_q,
)
from programs.services import notes as services
from scheduling.models import AttendanceStatus, Session
from scheduling.selectors import session_list_for_page

TEXT_MAX = 20000
# Far above any group's size (8–15 patients).
ROSTER_MAX = 200
STATUSES = selectors.PROGRESS_NOTE_STATUSES


# Output -------------------------------------------------------------------------------------------


class GroupPartSerializer(serializers.ModelSerializer):
    class Meta:
        model = GroupNote
        fields = ["id", "session", "author", "topic", "interventions", "group_dynamics", "version"]
        read_only_fields = fields


class ProgressNoteAddendumSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProgressNoteAddendum
        fields = ["id", "text", "author", "signed_at"]
        read_only_fields = fields


class ProgressNoteSerializer(serializers.ModelSerializer):
    clinic = serializers.IntegerField(source="session.clinic_id", read_only=True)
    group_part = GroupPartSerializer(source="group_note", read_only=True, allow_null=True)
    sections = serializers.DictField(child=serializers.CharField(allow_blank=True))
    status = serializers.SerializerMethodField()
    late = serializers.SerializerMethodField()
    deadline = serializers.DateTimeField(read_only=True)
    addenda = ProgressNoteAddendumSerializer(many=True, read_only=True)

    class Meta:
        model = ProgressNote
        fields = [
            "id",
            "session",
            "clinic",
            "patient",
            "format",
            "group_part",
            "sections",
            "psychotherapy_note",
            "author",
            "status",
            "signed_at",
            "cosignature_required",
            "cosigned_by",
            "cosigned_at",
            "deadline",
            "late",
            "addenda",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=STATUSES))
    def get_status(self, note) -> str:
        return note.status

    def get_late(self, note) -> bool:
        deadline = getattr(note, "deadline", None)
        if deadline is None:
            return False
        if note.signed_at is not None:
            return note.signed_at > deadline
        return timezone.now() > deadline


class GroupNoteAttendeeSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    attendance = serializers.ChoiceField(choices=AttendanceStatus.choices)
    note = serializers.IntegerField(allow_null=True, help_text="The patient's note of the session.")
    note_status = serializers.ChoiceField(choices=STATUSES, allow_null=True)
    prefill = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        allow_null=True,
        help_text="Present or late without a note: suggested `progress` (current goals, latest "
        "measures) and `plan`.",
    )


class GroupNoteSerializer(serializers.Serializer):
    group_part = GroupPartSerializer(allow_null=True)
    attendees = GroupNoteAttendeeSerializer(
        many=True,
        help_text="The patients whose notes the caller may read: all of them for the session's "
        "facilitator and the clinic's supervisors, their own patients for a primary clinician.",
    )


class GroupNoteSavedSerializer(GroupNoteSerializer):
    signed_unchanged = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Listed patients whose note was signed already: left as it was.",
    )


# Input --------------------------------------------------------------------------------------------


def _text(**kwargs):
    return serializers.CharField(max_length=TEXT_MAX, allow_blank=True, **kwargs)


class AttendeePartSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    participation = _text(required=False, default="")
    response = _text(required=False, default="")
    progress = _text(required=False, default="")
    plan = _text(required=False, default="")


class AbsencePartSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    note = serializers.CharField(max_length=TEXT_MAX)


class GroupNoteWriteSerializer(serializers.Serializer):
    topic = serializers.CharField(max_length=200)
    interventions = serializers.CharField(max_length=TEXT_MAX)
    group_dynamics = _text(required=False, default="")
    attendees = serializers.ListField(child=AttendeePartSerializer(), max_length=ROSTER_MAX)
    absences = serializers.ListField(
        child=AbsencePartSerializer(), required=False, max_length=ROSTER_MAX
    )


class SectionsField(serializers.DictField):
    child = serializers.CharField(max_length=TEXT_MAX, allow_blank=True)


class IndividualNoteWriteSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    sections = SectionsField(help_text="The clinic's format: DAP (data, assessment, plan) or SOAP.")
    psychotherapy_note = serializers.BooleanField(required=False, default=False)


class ProgressNoteUpdateSerializer(serializers.Serializer):
    sections = SectionsField()


class ReauthenticationSerializer(serializers.Serializer):
    password = serializers.CharField(
        max_length=128, required=False, allow_blank=True, trim_whitespace=False
    )
    otp_token = serializers.CharField(max_length=16, required=False, allow_blank=True)

    def validate(self, data):
        if not (data.get("password") or data.get("otp_token")):
            raise serializers.ValidationError(
                "Confirm it is you: give your password or your authenticator's code."
            )
        return data


class AddendumCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=TEXT_MAX)


# Views --------------------------------------------------------------------------------------------


def _note_queryset(user):
    return (
        selectors.progress_note_list(user=user)
        .select_related("session", "group_note")
        .prefetch_related("addenda")
        .annotate(deadline=selectors.progress_note_deadline())
    )


class ProgressNoteFilterSet(filters.FilterSet):
    patient = filters.NumberFilter()
    session = filters.NumberFilter()
    author = filters.NumberFilter()
    status = filters.ChoiceFilter(choices=STATUSES, method="filter_status")
    late = filters.BooleanFilter(method="filter_late")

    class Meta:
        model = ProgressNote
        fields = ["patient", "session", "author", "status", "late"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(progress_note_status_q(value))

    def filter_late(self, queryset, name, value):
        late = selectors.progress_note_late_q(timezone.now())
        return queryset.filter(late) if value else queryset.exclude(late)


class ReauthThrottle(ScopedRateThrottle):
    """Sign and co-sign check a password or code: a guesser with a stolen session is slowed."""

    def get_cache_key(self, request, view):
        return super().get_cache_key(request, view) if view.action in ("sign", "cosign") else None


@extend_schema_view(
    list=extend_schema(responses=ProgressNoteSerializer),
    retrieve=extend_schema(responses=ProgressNoteSerializer, parameters=[ETAG]),
)
class ProgressNoteViewSet(
    PatientDataMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Progress notes the caller may read (supervisors of the clinic; clinicians on the
    patient's care team), newest session first."""

    permission_classes = [roles_allowed(read=STAFF_ROLES, write=CLINICAL_ROLES)]
    serializer_class = ProgressNoteSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProgressNoteFilterSet
    throttle_scope = "note_signature"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_throttles(self):
        return [*super().get_throttles(), ReauthThrottle()]

    def get_queryset(self):
        return _note_queryset(self.request.user)

    def audit_clinic_id(self, obj):
        return obj.session.clinic_id

    def _fresh(self, note):
        return self.get_queryset().get(pk=note.pk)

    @extend_schema(
        description="Change sections of a draft (its author only); 409 `note_signed` once "
        "signed (add an addendum instead).",
        request=ProgressNoteUpdateSerializer,
        responses=ProgressNoteSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    def partial_update(self, request, pk=None):
        note = self.get_object()
        note = services.progress_note_update(
            actor=request.user,
            note=note,
            expected_versions=expected_versions(request, note),
            **validated(ProgressNoteUpdateSerializer, request),
        )
        return self.response_for(self._fresh(note))

    def _reauthenticated(self, service, note):
        data = validated(ReauthenticationSerializer, self.request)
        try:
            return service(actor=self.request.user, note=note, now=timezone.now(), **data)
        except Forbidden as error:
            # A wrong password here counts toward the sign-in lockout, as at sign-in.
            if error.code == "reauthentication_failed":
                signin.sign_in_failed(self.request, self.request.user.get_username())
                if signin.locked_out(self.request):
                    raise LockedOut() from None
            raise

    @extend_schema(
        description="The author signs the draft, confirming it is them with `password` or "
        "`otp_token` (403 `reauthentication_failed` otherwise); locked from then on.",
        request=ReauthenticationSerializer,
        responses=ProgressNoteSerializer,
    )
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        note = self._reauthenticated(services.progress_note_sign, self.get_object())
        return self.response_for(self._fresh(note))

    @extend_schema(
        description="A supervisor of the clinic (not the author) co-signs a note awaiting "
        "co-signature (409 otherwise), re-authenticating as for signing.",
        request=ReauthenticationSerializer,
        responses=ProgressNoteSerializer,
    )
    @action(detail=True, methods=["post"])
    def cosign(self, request, pk=None):
        note = self._reauthenticated(services.progress_note_cosign, self.get_object())
        return self.response_for(self._fresh(note))

    @extend_schema(
        description="A signed addition or correction to a signed note (its author or a "
        "supervisor); 409 `note_not_signed` for a draft.",
        request=AddendumCreateSerializer,
        responses={201: ProgressNoteAddendumSerializer},
    )
    @action(detail=True, methods=["post"])
    def addenda(self, request, pk=None):
        addendum = services.progress_note_addendum_add(
            actor=request.user,
            note=self.get_object(),
            now=timezone.now(),
            **validated(AddendumCreateSerializer, request),
        )
        return Response(
            ProgressNoteAddendumSerializer(addendum).data, status=status.HTTP_201_CREATED
        )


def _session(request, pk) -> Session:
    return get_object_or_404(
        session_list_for_page(user=request.user).select_related("clinic"), pk=pk
    )


class SessionGroupNoteView(NoStoreMixin, APIView):
    """A group session's notes: the group part (written once, naming no patient) and each
    present, late, absent or excused patient whose notes the caller may read, with their note's
    id and status, or for those present or late without one, a suggested text. Its facilitator
    and the clinic's supervisors write it and see every attendee; an attendee's primary
    clinician, or the author of one of its notes, sees that attendee only; any other caller gets
    a 404 (``programs.selectors.group_note_access``)."""

    permission_classes = [roles_allowed(read=CLINICAL_ROLES, write=CLINICAL_ROLES)]

    def _session_and_access(self, pk):
        session = _session(self.request, pk)
        access = selectors.group_note_access(session, user=self.request.user)
        if not access.visible:
            raise Http404
        return session, access

    def _body(self, session, access, *, signed_unchanged=None):
        group_note = GroupNote.objects.filter(session=session).first()
        notes = {
            n.patient_id: n
            for n in ProgressNote.objects.filter(session=session, patient_id__in=access.readable)
        }
        prefill = selectors.group_note_prefill(session, patient_ids=access.readable)
        attendees = []
        for attendance in session.attendance.filter(patient_id__in=access.readable).order_by(
            "patient_id"
        ):
            note = notes.get(attendance.patient_id)
            attendees.append(
                {
                    "patient": attendance.patient_id,
                    "attendance": attendance.status,
                    "note": note and note.pk,
                    "note_status": note and note.status,
                    "prefill": prefill.get(attendance.patient_id),
                }
            )
        body = {"group_part": group_note, "attendees": attendees}
        if signed_unchanged is not None:
            body["signed_unchanged"] = signed_unchanged
        for row in attendees:
            audit_record(
                actor=self.request.user,
                action=AuditAction.READ,
                obj=group_note or session,
                clinic=session.clinic_id,
                patient_id=row["patient"],
            )
        return group_note, body

    @extend_schema(
        description="The group part and the attendees whose notes the caller may read: every "
        "attendee for the session's facilitator and the clinic's supervisors; an attendee's "
        "primary clinician or a note's author, those attendees only; 404 for anyone else.",
        responses=GroupNoteSerializer,
        parameters=[ETAG],
    )
    def get(self, request, pk=None):
        session, access = self._session_and_access(pk)
        group_note, body = self._body(session, access)
        response = Response(GroupNoteSerializer(body).data)
        return with_etag(response, group_note) if group_note else response

    @extend_schema(
        description="Write the group part once and each present or late attendee's part in one "
        "transaction (absent or excused patients: an optional absence note); the session's "
        "facilitator and the clinic's supervisors only (403 for others who see the group note, "
        "404 for the rest). Every present or late patient is listed unless their note is "
        "signed. 400 when the group part names a rostered patient; 409 `group_note_locked` to "
        "change it once a note is signed.",
        request=GroupNoteWriteSerializer,
        responses=GroupNoteSavedSerializer,
        parameters=[IF_MATCH, ETAG],
    )
    def put(self, request, pk=None):
        session, access = self._session_and_access(pk)
        data = validated(GroupNoteWriteSerializer, request)
        existing = GroupNote.objects.filter(session=session).first()
        saved = services.group_note_save(
            actor=request.user,
            session=session,
            expected_versions=expected_versions(request, existing) if existing else None,
            **data,
        )
        group_note, body = self._body(session, access, signed_unchanged=saved.signed_unchanged)
        return with_etag(Response(GroupNoteSavedSerializer(body).data), group_note)


class SessionProgressNotesView(NoStoreMixin, APIView):
    """An individual session's progress note in the clinic's format (DAP or SOAP)."""

    permission_classes = [roles_allowed(read=CLINICAL_ROLES, write=CLINICAL_ROLES)]

    @extend_schema(
        description="Write the note of an individual session (a draft until signed): created, "
        "or the author's draft rewritten.",
        request=IndividualNoteWriteSerializer,
        responses={201: ProgressNoteSerializer},
    )
    def post(self, request, pk=None):
        session = _session(request, pk)
        data = validated(IndividualNoteWriteSerializer, request)
        note = services.individual_note_save(actor=request.user, session=session, **data)
        note = _note_queryset(request.user).get(pk=note.pk)
        response = Response(ProgressNoteSerializer(note).data, status=status.HTTP_201_CREATED)
        return with_etag(response, note)
