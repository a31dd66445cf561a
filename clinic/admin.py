from django.contrib import admin, messages
from django.forms.models import construct_instance

from clinic.admin_utils import (
    AuditedAdminMixin,
    ServiceAdminMixin,
    ServiceModelForm,
    related_table,
)
from clinic.errors import Conflict
from clinic.models import AuditEvent, Bed, Clinic, ClinicMembership, Role, StaffAlert
from clinic.selectors import STAFF_ROLES, alert_list_for, clinic_ids_for_user, user_has_role
from clinic.services import (
    alert_acknowledge,
    clinic_config_save,
    clinic_membership_changes_audit,
    clinic_settings_save,
)


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

    def save_model(self, request, obj, form, change):
        clinic_settings_save(actor=request.user, clinic=obj, fields=form.changed_data)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        clinic_membership_changes_audit(
            actor=request.user,
            created=formset.new_objects,
            changed=[membership for membership, _fields in formset.changed_objects],
            deleted=formset.deleted_objects,
        )


class OwnClinicFilter(admin.SimpleListFilter):
    title = "clinic"
    parameter_name = "clinic"

    def lookups(self, request, model_admin):
        return [
            (c.pk, c.name) for c in Clinic.objects.filter(id__in=clinic_ids_for_user(request.user))
        ]

    def queryset(self, request, queryset):
        return queryset.filter(clinic_id=self.value()) if self.value() else queryset


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
    list_filter = ["action", "object_type", OwnClinicFilter]
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


# Configuration records of a clinic (beds here, programs in programs.admin) -----------------------


class AuditedModelForm(ServiceModelForm):
    """A clinic's configuration record (a bed, a program), saved from ``clean()`` through
    ``clinic_config_save``, so a violated constraint is a form error rather than an
    IntegrityError."""

    def perform(self, data):
        instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
        model_fields = {field.name: field for field in instance._meta.get_fields()}
        shown = [name for name in self.fields if name in model_fields]
        many = {name for name in shown if model_fields[name].many_to_many}
        return self.save_record(
            record=instance,
            fields=[name for name in shown if name not in many],
            related={name: data[name] for name in many if name in data},
        )

    def save_record(self, *, record, fields, related):
        """The service that saves this form's record; a model with rules of its own overrides
        this with its app's service."""
        return clinic_config_save(
            actor=self.request.user, record=record, fields=fields, related=related
        )


class ClinicConfigAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """A clinic's configuration: every staff role reads it, supervisors change it; only the staff
    member's clinics are shown or offered. The clinic of a saved record stays fixed."""

    read_roles = STAFF_ROLES
    write_roles = (Role.SUPERVISOR,)
    list_filter = [OwnClinicFilter]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(clinic_id__in=clinic_ids_for_user(request.user))
            .select_related("clinic")
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinic":
            kwargs["queryset"] = Clinic.objects.filter(id__in=clinic_ids_for_user(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["clinic"] if obj is not None else []


class BedForm(AuditedModelForm):
    class Meta:
        model = Bed
        fields = ["clinic", "room", "label", "is_active"]


@admin.register(Bed)
class BedAdmin(ClinicConfigAdmin):
    form = BedForm
    list_display = ["room", "label", "clinic", "is_active"]
    list_filter = [OwnClinicFilter, "is_active"]
    search_fields = ["room", "label"]
    ordering = ["clinic", "room", "label"]


# Staff alerts ---------------------------------------------------------------------------------


@admin.action(description="Acknowledge the selected alerts")
def acknowledge_alerts(modeladmin, request, queryset):
    done = 0
    for alert in queryset.filter(acknowledged_at__isnull=True):
        try:
            alert_acknowledge(actor=request.user, alert=alert)
        except Conflict:
            continue  # acknowledged by someone else meanwhile
        done += 1
    modeladmin.message_user(request, f"{done} alert(s) acknowledged.", messages.SUCCESS)


@admin.register(StaffAlert)
class StaffAlertAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The alerts addressed to the staff member (by name or role) at their clinics, with the
    e-mails sent about each. Read-only but for acknowledging."""

    list_display = ["created_at", "kind", "message", "occurrences", "clinic", "acknowledged_at"]
    list_filter = ["kind", ("acknowledged_at", admin.EmptyFieldListFilter)]
    list_select_related = ["clinic"]
    actions = [acknowledge_alerts]
    fields = [
        "clinic",
        "kind",
        "message",
        "created_at",
        "occurrences",
        "last_occurred_at",
        "acknowledged_at",
        "acknowledged_by",
        "emails",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return alert_list_for(request.user)

    # An alert names a patient by id: reads are audited as in the API (clinic.api.alerts).
    @admin.display(description="E-mails")
    def emails(self, obj):
        rows = [
            (d.recipient, d.get_status_display(), d.sent_at or "", d.last_error)
            for d in obj.deliveries.select_related("recipient").order_by("id")
        ]
        return related_table(["To", "Status", "Sent", "Error"], rows)

    def _is_staff(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or user_has_role(user, *STAFF_ROLES))

    def has_module_permission(self, request):
        return self._is_staff(request)

    def has_view_permission(self, request, obj=None):
        return self._is_staff(request)

    def has_change_permission(self, request, obj=None):
        # Only the acknowledge action, which needs "change" to be offered.
        return self._is_staff(request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
