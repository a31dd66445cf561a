"""Transitions in the admin: read-only, a transition is made from its source enrollment's page."""

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse

from clinic.admin_utils import ClinicScopedAdmin, change_link
from clinic.selectors import STAFF_ROLES
from programs.models import (
    Transition,
)
from programs.services.disclosures import DISCLOSURE_ROLES


@admin.register(Transition)
class TransitionAdmin(ClinicScopedAdmin):
    """Read-only: a transition is made from its source enrollment's page."""

    read_roles = STAFF_ROLES
    write_roles = ()
    clinic_path = "from_enrollment__program__clinic"
    list_display = ["date", "kind", "patient", "from_program", "to_program", "decided_by"]
    list_filter = ["kind"]
    search_fields = [
        "patient__last_name",
        "patient__first_name",
        "=patient__mrn",
    ]
    date_hierarchy = "date"
    list_select_related = [
        "patient",
        "from_enrollment__program",
        "to_enrollment__program",
        "decided_by",
    ]
    fields = [
        "kind",
        "patient",
        "from_link",
        "to_link",
        "date",
        "reason",
        "decided_by",
        "assessment",
        "first_session_on",
    ]
    readonly_fields = fields

    def patient_of(self, obj):
        return obj.patient

    def has_change_permission(self, request, obj=None):
        return False

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self._has_role(request, DISCLOSURE_ROLES):
            url = reverse("admin:programs_enrollment_disclose", args=[obj.from_enrollment_id])
            context["disclose_url"] = f"{url}?{urlencode({'transition': obj.pk})}"
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Patient", ordering="patient__last_name")
    def patient(self, move):
        return move.patient

    @admin.display(description="From program")
    def from_program(self, move):
        return move.from_enrollment.program

    @admin.display(description="To program")
    def to_program(self, move):
        return move.to_enrollment.program

    @admin.display(description="From")
    def from_link(self, move):
        return change_link(move.from_enrollment, move.from_enrollment)

    @admin.display(description="To")
    def to_link(self, move):
        return change_link(move.to_enrollment, move.to_enrollment)
