"""The reminder outbox in the admin: what went out, what failed and why, and a retry.

Read-only: rows change only through the outbox's services. Each list page and row names
patients, so it is audited like the patients' own pages.
"""

from django.contrib import admin, messages
from django.utils import timezone

from clinic.admin_utils import ClinicScopedAdmin
from clinic.selectors import STAFF_ROLES, user_has_role
from scheduling import reminders
from scheduling.models import Reminder, ReminderStatus


@admin.register(Reminder)
class ReminderAdmin(ClinicScopedAdmin):
    clinic_path = "session__clinic"
    read_roles = STAFF_ROLES
    write_roles = ()
    list_display = [
        "scheduled_for",
        "session_start",
        "patient",
        "channel",
        "kind",
        "status",
        "attempts",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "channel", "kind"]
    list_select_related = ["session", "patient"]
    search_fields = ["patient__mrn", "patient__last_name"]
    date_hierarchy = "scheduled_for"
    ordering = ["-scheduled_for", "-id"]
    actions = ["retry_failed"]
    readonly_fields = [
        "session",
        "patient",
        "kind",
        "channel",
        "offset_minutes",
        "scheduled_for",
        "status",
        "attempts",
        "claimed_at",
        "sent_at",
        "provider_message_id",
        "last_error",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields

    @admin.display(description="Session starts", ordering="session__starts_at")
    def session_start(self, obj):
        return timezone.localtime(obj.session.starts_at, obj.session.clinic.zone)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("session__clinic", "patient")

    def has_retry_permission(self, request):
        user = request.user
        return user.is_active and (user.is_superuser or user_has_role(user, *reminders.RETRY_ROLES))

    @admin.action(description="Retry the selected failed reminders", permissions=["retry"])
    def retry_failed(self, request, queryset):
        retried = 0
        for reminder in queryset.filter(status=ReminderStatus.FAILED).select_related("session"):
            if reminders.retry_failed(actor=request.user, reminder=reminder):
                retried += 1
        skipped = queryset.count() - retried
        message = f"{retried} reminder(s) will be sent again shortly."
        if skipped:
            message += f" {skipped} not retried (only failed reminders of future sessions)."
        self.message_user(request, message, messages.SUCCESS if retried else messages.WARNING)
