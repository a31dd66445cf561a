"""Progress notes in the admin, read-only: notes are written and signed through the API and its
services. Who sees a note is ``programs.selectors.progress_note_list`` (supervisors of the clinic
and the patient's care team), not the clinic scoping of other pages: admissions, utilization
review and alumni coordinators see none. Every page is audited as a read of the patient's
record.
"""

from django.contrib import admin
from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone
from django.utils.html import format_html_join

from clinic.admin_utils import ClinicScopedAdmin, related_table
from clinic.models import Role
from programs.models import (
    NOTE_SECTIONS,
    ProgressNote,
    ProgressNoteStatus,
    progress_note_status_q,
)
from programs.selectors import progress_note_deadline, progress_note_late_q, progress_note_list


class NoteStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ProgressNoteStatus.choices

    def queryset(self, request, queryset):
        if self.value() in ProgressNoteStatus.values:
            return queryset.filter(progress_note_status_q(self.value()))
        return queryset


class NoteLateFilter(admin.SimpleListFilter):
    title = "late"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", "Late"), ("no", "On time")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(is_late=True)
        if self.value() == "no":
            return queryset.filter(is_late=False)
        return queryset


@admin.register(ProgressNote)
class ProgressNoteAdmin(ClinicScopedAdmin):
    read_roles = (Role.SUPERVISOR, Role.CLINICIAN)
    write_roles = ()
    clinic_path = "session__clinic"
    list_display = ["session_start", "patient", "format", "status", "late", "author"]
    list_filter = [NoteStatusFilter, NoteLateFilter, ("author", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["session__clinic", "patient", "author"]
    ordering = ["-session__starts_at", "id"]
    fields = [
        "patient",
        "session_title",
        "session_start",
        "format",
        "psychotherapy_note",
        "status",
        "late",
        "author",
        "signed_at",
        "cosigned_by",
        "cosigned_at",
        "group_part",
        "sections_text",
        "addenda_table",
    ]
    readonly_fields = fields

    def audit_clinic_id(self, obj) -> int:
        return obj.session.clinic_id

    def get_queryset(self, request):
        # The notes' own rule replaces the clinic scoping (which it includes).
        return (
            progress_note_list(user=request.user)
            .select_related("session__clinic", "patient", "author", "cosigned_by", "group_note")
            .annotate(
                deadline=progress_note_deadline(),
                is_late=ExpressionWrapper(
                    progress_note_late_q(timezone.now()), output_field=BooleanField()
                ),
            )
            .order_by(*self.ordering)
        )

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="session", ordering="session__starts_at")
    def session_start(self, note):
        return timezone.localtime(note.session.starts_at, note.session.clinic.zone).strftime(
            "%Y-%m-%d %H:%M"
        )

    @admin.display(description="session title")
    def session_title(self, note):
        return note.session.title

    @admin.display(description="status")
    def status(self, note):
        return note.status.label

    @admin.display(description="late", boolean=True)
    def late(self, note):
        return note.is_late

    @admin.display(description="group part")
    def group_part(self, note):
        group = note.group_note
        if group is None:
            return "—"
        rows = [("Topic", group.topic), ("Interventions", group.interventions)]
        if group.group_dynamics:
            rows.append(("Group dynamics", group.group_dynamics))
        return format_html_join("", "<p><strong>{}</strong>: {}</p>", rows)

    @admin.display(description="sections")
    def sections_text(self, note):
        sections = note.sections or {}
        rows = [(key, sections[key]) for key in NOTE_SECTIONS[note.format] if sections.get(key)]
        if not rows:
            return "—"
        return format_html_join("", "<p><strong>{}</strong>: {}</p>", rows)

    @admin.display(description="addenda")
    def addenda_table(self, note):
        rows = [
            (timezone.localtime(a.signed_at).strftime("%Y-%m-%d %H:%M"), a.author, a.text)
            for a in note.addenda.select_related("author").order_by("signed_at", "id")
        ]
        return related_table(["Signed", "By", "Text"], rows)
