"""``notes-due/``: the progress notes the caller has to act on (``programs.selectors.notes_due``):
their own drafts and signed notes awaiting co-signature, and for supervisors every note of their
clinics awaiting co-signature (or one clinician's, ``?author=``), by deadline. Thin: validate the
query, call the selector, audit the page, render. Patient data: never cached, each listed note
audited."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from clinic.api.mixins import PatientDataMixin
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import Role
from programs import selectors
from programs.models import NOTE_DUE_STATUSES, ProgressNoteFormat

NOTES_DUE_ROLES = (Role.CLINICIAN, Role.SUPERVISOR)


class NotesDueQuerySerializer(serializers.Serializer):
    author = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="A clinician's user id: their notes due (supervisors; a clinician only their "
        "own, else 403).",
    )
    late = serializers.BooleanField(required=False, allow_null=True, default=None)
    status = serializers.ChoiceField(choices=NOTE_DUE_STATUSES, required=False)


class NoteDueSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    patient = serializers.IntegerField(source="patient_id")
    patient_name = serializers.CharField(source="patient.display_name", help_text='"Last, First".')
    session = serializers.IntegerField(source="session_id")
    session_title = serializers.CharField(source="session.title")
    session_starts_at = serializers.DateTimeField(source="session.starts_at")
    clinic = serializers.IntegerField(source="session.clinic_id")
    format = serializers.ChoiceField(choices=ProgressNoteFormat.choices)
    author = serializers.IntegerField(source="author_id")
    author_name = serializers.CharField(source="author.get_full_name")
    status = serializers.ChoiceField(
        source="note_status",
        choices=NOTE_DUE_STATUSES,
        help_text="draft: the author has not signed; awaiting_cosignature: signed, a "
        "supervisor's co-signature missing.",
    )
    deadline = serializers.DateTimeField(
        help_text="The session's end plus the clinic's note_late_hours."
    )
    late = serializers.BooleanField(help_text="Unsigned past the deadline, or signed after it.")


@extend_schema(parameters=[NotesDueQuerySerializer])
class NotesDueView(PatientDataMixin, generics.ListAPIView):
    """The caller's notes due, by deadline (see ``programs.selectors.notes_due``): clinicians
    their own unsigned drafts and signed notes awaiting co-signature; supervisors also every
    note of their clinics awaiting co-signature, or with `author` one clinician's notes due.
    Filters: `late`, `status` (`draft`, `awaiting_cosignature`). Clinicians and supervisors
    only."""

    permission_classes = [roles_allowed(read=NOTES_DUE_ROLES)]
    serializer_class = NoteDueSerializer
    filter_backends = []

    def audit_clinic_id(self, obj) -> int:
        return obj.session.clinic_id

    def get_queryset(self):
        query = validated(NotesDueQuerySerializer, self.request, data=self.request.query_params)
        return selectors.notes_due(user=self.request.user, now=timezone.now(), **query)
