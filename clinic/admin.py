from django.contrib import admin

from clinic.models import AuditEvent, Clinic, ClinicMembership, Role
from clinic.selectors import clinic_ids_for_user, user_has_role


class ClinicMembershipInline(admin.TabularInline):
    model = ClinicMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "public_name", "time_zone"]
    search_fields = ["name", "public_name"]
    inlines = [ClinicMembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(id__in=clinic_ids_for_user(request.user))


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Supervisors read the trail of their clinics; nobody adds, edits or deletes (the database
    refuses UPDATE and DELETE anyway)."""

    list_display = [
        "occurred_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "patient_id",
        "clinic",
        "request_id",
    ]
    list_filter = ["action", "object_type", "clinic"]
    search_fields = ["object_id", "request_id", "actor__username"]
    date_hierarchy = "occurred_at"
    list_select_related = ["actor", "clinic"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(clinic_id__in=clinic_ids_for_user(request.user))

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or user_has_role(request.user, Role.SUPERVISOR)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
