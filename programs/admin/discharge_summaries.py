"""Discharge summaries in the admin: the clinician completes the draft's text and signs it on its
page (``discharge_summary_update`` and ``discharge_summary_sign``, from the form's ``clean()``);
once signed the page is read-only but for new addenda (``discharge_summary_addendum_add``). A
summary is made by the discharge itself, never here, and never deleted. The PDF link serves the
staff copy as the API does: never cached, audited.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from clinic.admin_utils import (
    ClinicScopedAdmin,
    ServiceModelForm,
    VersionCheckedForm,
    related_table,
)
from clinic.api.mixins import never_cache_privately
from clinic.models import AuditAction
from clinic.selectors import CLINICAL_ROLES, STAFF_ROLES, user_has_role
from clinic.services import audit_record
from programs.discharge_pdf import (
    STAFF_COPY,
    PdfUnavailable,
    discharge_summary_pdf,
    pdf_filename,
)
from programs.models import DischargeSummary, DischargeSummaryAddendum
from programs.services import discharge_summaries as services

FACTS = [
    "patient",
    "enrollment",
    "episode_start_date",
    "discharge_date",
    "discharge_reason",
    "levels_table",
    "attendance_text",
    "last_assessment",
    "recommendation",
    "aftercare_plan",
    "follow_ups_text",
]
SIGNATURE = ["signed_by", "signed_at", "pdf_link"]


def pdf_url(summary) -> str:
    return reverse("admin:programs_dischargesummary_pdf", args=[summary.pk])


class DischargeSummaryForm(VersionCheckedForm):
    """The draft's text; "Sign" signs it in the same step (both or neither)."""

    sign = forms.BooleanField(
        required=False,
        label="Sign now",
        help_text="Signing locks the summary; later corrections are signed addenda.",
    )

    class Meta:
        model = DischargeSummary
        fields = list(services.SUMMARY_TEXT_FIELDS)

    def perform(self, data):
        summary = self.instance
        if summary.is_signed:
            return summary  # only addenda are added to a signed summary
        changes = {
            name: data[name] for name in self.changed_data if name in services.SUMMARY_TEXT_FIELDS
        }
        with transaction.atomic():
            if changes:
                summary = services.discharge_summary_update(
                    summary,
                    actor=self.request.user,
                    data=changes,
                    version=self.expected_versions,
                )
            if data.get("sign"):
                summary = services.discharge_summary_sign(
                    summary, actor=self.request.user, now=timezone.now()
                )
        return summary


class AddendumForm(ServiceModelForm):
    class Meta:
        model = DischargeSummaryAddendum
        fields = ["text"]

    def perform(self, data):
        return services.discharge_summary_addendum_add(
            self.instance.summary, actor=self.request.user, text=data["text"], now=timezone.now()
        )


class AddendumInline(admin.StackedInline):
    """Signed addenda: shown read-only, added one at a time, never changed or removed."""

    model = DischargeSummaryAddendum
    form = AddendumForm
    extra = 1
    fields = ["text", "signed_by", "signed_at"]
    readonly_fields = ["signed_by", "signed_at"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.request = request  # the form class is made for this request
        return formset

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        user = request.user
        return user.is_superuser or user_has_role(user, *CLINICAL_ROLES)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DischargeSummary)
class DischargeSummaryAdmin(ClinicScopedAdmin):
    read_roles = STAFF_ROLES
    write_roles = CLINICAL_ROLES
    clinic_path = "enrollment__program__clinic"
    form = DischargeSummaryForm
    list_display = ["discharge_date", "patient", "program_name", "discharge_reason", "signed"]
    list_filter = ["discharge_reason", ("signed_at", admin.EmptyFieldListFilter)]
    search_fields = ["patient__last_name", "=patient__mrn"]
    date_hierarchy = "discharge_date"
    list_select_related = ["patient", "enrollment__program"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("signed_by", "enrollment__program")

    def audit_clinic_id(self, obj):
        return obj.enrollment.program.clinic_id

    def get_fieldsets(self, request, obj=None):
        text = list(services.SUMMARY_TEXT_FIELDS)
        if obj is not None and not obj.is_signed and self.has_change_permission(request, obj):
            text.append("sign")
        return [
            ("The episode (copied in at discharge)", {"fields": FACTS}),
            ("The clinician's summary", {"fields": text}),
            ("Signature", {"fields": SIGNATURE}),
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = [*FACTS, *SIGNATURE]
        if obj is not None and obj.is_signed:
            readonly += list(services.SUMMARY_TEXT_FIELDS)
        return readonly

    def get_inlines(self, request, obj):
        return [AddendumInline] if obj is not None and obj.is_signed else []

    def has_add_permission(self, request, *args):
        return False  # made by the discharge

    @admin.display(description="Program")
    def program_name(self, summary):
        return summary.enrollment.program.name

    @admin.display(description="Signed", boolean=True)
    def signed(self, summary):
        return summary.is_signed

    @admin.display(description="Levels of care")
    def levels_table(self, summary):
        return related_table(
            ["Program", "Level", "From", "To", "Entered by"],
            [
                (
                    stay["program"],
                    stay["level"],
                    stay["start_date"],
                    stay["end_date"] or "",
                    stay["transition"] or "admission",
                )
                for stay in summary.levels_of_care
            ],
        )

    @admin.display(description="Attendance")
    def attendance_text(self, summary):
        figures = summary.attendance
        if not figures.get("scheduled"):
            return "No sessions scheduled."
        rate = figures.get("attendance_rate")
        return (
            f"{figures['scheduled']} scheduled: {figures['present']} present, "
            f"{figures['late']} late, {figures['absent']} absent, {figures['excused']} excused"
            + (f" ({round(rate * 100)}% attended)" if rate is not None else "")
        )

    @admin.display(description="Follow-up appointments")
    def follow_ups_text(self, summary):
        return related_table(
            ["When", "Appointment"],
            [
                (item["scheduled_for"] or "", item["text"])
                for item in summary.follow_up_appointments
            ],
        )

    @admin.display(description="PDF")
    def pdf_link(self, summary):
        if summary.pk is None:
            return ""
        return format_html('<a href="{}">Download PDF</a> (staff copy)', pdf_url(summary))

    def save_related(self, request, form, formsets, change):
        # Each addendum was added by the service in its form's clean(); the change message
        # reads what a formset's save() would have recorded.
        for formset in formsets:
            formset.new_objects = [f.result for f in formset.forms if f.result is not None]
            formset.changed_objects = []
            formset.deleted_objects = []

    def get_urls(self):
        pdf = path(
            "<path:object_id>/pdf/",
            self.admin_site.admin_view(self.pdf_view),
            name="programs_dischargesummary_pdf",
        )
        return [pdf, *super().get_urls()]

    def pdf_view(self, request, object_id):
        """The staff copy, as the API serves it: never cached, audited."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        summary = self.get_object(request, unquote(object_id))
        if summary is None:
            raise Http404
        try:
            content = discharge_summary_pdf(summary, copy=STAFF_COPY)
        except PdfUnavailable as error:
            return HttpResponse(error.detail, status=503, content_type="text/plain")
        audit_record(
            actor=request.user,
            action=AuditAction.READ,
            obj=summary,
            clinic=summary.enrollment.program.clinic_id,
            patient_id=summary.patient_id,
        )
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{pdf_filename(summary)}"'
        return never_cache_privately(response)
