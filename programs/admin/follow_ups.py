"""The follow-up queue in the admin: the calls due after discharges from high-intensity care,
scoped to the staff member's clinics and audited like every page of patients' records. Every
staff role reads; a task's page records an attempt and, once there is one, the outcome, for
those who work it (``follow_up_may_work``). Tasks are made by discharges, never added here.

Every write goes through ``programs.services.follow_ups``; attempts are listed read-only (an
inline formset could fail after the service wrote, see clinic.admin_utils).
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic.admin_utils import ClinicScopedAdmin, VersionCheckedForm, related_table
from clinic.selectors import STAFF_ROLES, clinic_list, user_roles
from programs.models import ContactMethod, FollowUpTask
from programs.selectors import follow_up_overdue_q
from programs.services import follow_ups as services

ATTEMPT_FIELDS = ["attempt_method", "attempt_reached", "attempt_note"]
OUTCOME_FIELDS = ["outcome", "seen_elsewhere_on", "outcome_note"]


class FollowUpQueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("overdue", "Overdue"), ("mine", "Mine (open)"), ("done", "Done")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "done":
            return queryset.filter(completed_at__isnull=False)
        if value == "open":
            return queryset.filter(completed_at__isnull=True)
        if value == "overdue":
            zones = set(clinic_list(user=request.user).values_list("time_zone", flat=True))
            return queryset.filter(follow_up_overdue_q(clinic_zones=zones, now=timezone.now()))
        if value == "mine":
            user = request.user
            return queryset.filter(
                Q(assignee=user) | Q(assignee_role__in=user_roles(user)),
                completed_at__isnull=True,
            )
        return queryset


class FollowUpTaskForm(VersionCheckedForm):
    """An attempt, the outcome, or both (the attempt first), in one savepoint: a refused outcome
    leaves no attempt behind."""

    attempt_method = forms.ChoiceField(
        choices=[("", "—"), *ContactMethod.choices], required=False, label="New attempt"
    )
    attempt_reached = forms.BooleanField(required=False, label="Reached")
    attempt_note = forms.CharField(required=False, widget=forms.Textarea, label="Attempt note")

    class Meta:
        model = FollowUpTask
        fields = ["outcome", "seen_elsewhere_on", "outcome_note"]

    def perform(self, data):
        task = self.instance
        try:
            with transaction.atomic():
                if data.get("attempt_method"):
                    services.follow_up_attempt_record(
                        task,
                        actor=self.request.user,
                        method=data["attempt_method"],
                        reached=data.get("attempt_reached", False),
                        note=data.get("attempt_note", ""),
                    )
                if data.get("outcome"):
                    task = services.follow_up_complete(
                        task,
                        actor=self.request.user,
                        outcome=data["outcome"],
                        seen_elsewhere_on=data.get("seen_elsewhere_on"),
                        note=data.get("outcome_note", ""),
                        expected_versions=self.expected_versions,
                    )
                elif not data.get("attempt_method"):
                    raise ValidationError("Record an attempt, an outcome, or both.")
        except PermissionDenied as error:
            raise ValidationError(str(error)) from error
        return FollowUpTask.objects.get(pk=task.pk)


@admin.register(FollowUpTask)
class FollowUpTaskAdmin(ClinicScopedAdmin):
    """The follow-up queue, soonest due first."""

    form = FollowUpTaskForm
    read_roles = STAFF_ROLES
    write_roles = services.FOLLOW_UP_ROLES
    clinic_path = "enrollment__program__clinic"
    list_display = [
        "due_date",
        "patient",
        "days_after_discharge",
        "program",
        "assigned_to",
        "outcome",
    ]
    list_filter = [FollowUpQueueFilter, "outcome"]
    list_select_related = ["patient", "enrollment__program", "assignee"]
    ordering = ["due_date", "id"]
    readonly_fields = [
        "patient",
        "program",
        "discharge_date",
        "days_after_discharge",
        "due_date",
        "assigned_to",
        "attempts_table",
        "check_in",
        "completed_at",
        "completed_by",
    ]

    def get_fieldsets(self, request, obj=None):
        about = (None, {"fields": self.readonly_fields})
        if obj is not None and obj.is_open and self.has_change_permission(request, obj):
            return [
                about,
                (
                    "Record an attempt",
                    {"fields": ["attempt_method", "attempt_reached", "attempt_note"]},
                ),
                ("Outcome", {"fields": ["outcome", "seen_elsewhere_on", "outcome_note"]}),
            ]
        return [
            (
                None,
                {"fields": [*self.readonly_fields, "outcome", "seen_elsewhere_on", "outcome_note"]},
            )
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_open and self.has_change_permission(request, obj):
            return self.readonly_fields
        return [*self.readonly_fields, "outcome", "seen_elsewhere_on", "outcome_note"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.is_open:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="program")
    def program(self, task):
        return task.enrollment.program.name

    @admin.display(description="discharged on")
    def discharge_date(self, task):
        return task.enrollment.discharge_date

    @admin.display(description="assigned to")
    def assigned_to(self, task):
        if task.assignee_id is not None:
            return task.assignee.get_username()
        return f"{task.assignee_role} (role)"

    @admin.display(description="attempts")
    def attempts_table(self, task):
        return related_table(
            ["when", "method", "reached", "note", "by"],
            [
                (
                    f"{a.attempted_at:%Y-%m-%d %H:%M}",
                    a.get_method_display(),
                    "yes" if a.reached else "no",
                    a.note,
                    a.recorded_by.get_username(),
                )
                for a in task.attempts.select_related("recorded_by")
            ],
        )
