"""Measurement-based care in the admin: a program's measure schedules (supervisors, from the
program's page), the responses read-only (clinic-scoped, audited) and the "Record a measure"
page of an admitted stay (clinicians and supervisors: a clinician-rated CIWA-Ar or COWS, or any
other instrument, with its items as fields), linked from the patient's page.

Every write goes through ``programs.services.measures``.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime
from django.urls import reverse
from django.utils.html import format_html

from clinic.admin import AuditedModelForm
from clinic.admin_utils import ClinicScopedAdmin, ServiceAdminMixin, related_table
from clinic.models import Role
from clinic.selectors import STAFF_ROLES, clinic_ids_for_user
from patients.instruments import INSTRUMENT_CHOICES, INSTRUMENTS
from programs.admin.actions import EnrollmentActionForm
from programs.models import MeasureResponse, MeasureSchedule, Program
from programs.services import measures as services

# The instrument a "Record a measure" page opens on: the clinician-rated ones come first.
RECORD_FIRST = "ciwa_ar"


# Recording a measure from a stay ------------------------------------------------------------------


class RecordMeasureForm(EnrollmentActionForm):
    """The instrument's items as fields (``?instrument=`` picks it; CIWA-Ar by default)."""

    action = "measure"
    title = "Record a measure"
    submit_label = "Record"
    intro = (
        "Rate the patient on each item; the total and band are computed when you record it. "
        "A safety item or a severe band alerts the primary clinician and the supervisors."
    )
    instrument = forms.ChoiceField(choices=INSTRUMENT_CHOICES, widget=forms.HiddenInput)
    completed_at = forms.SplitDateTimeField(
        required=False, widget=AdminSplitDateTime, label="Completed at", help_text="Default: now."
    )

    @classmethod
    def roles(cls):
        return services.MEASURE_RECORD_ROLES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        chosen = (self.data or {}).get("instrument") or self.request.GET.get("instrument")
        self.code = chosen if chosen in INSTRUMENTS else RECORD_FIRST
        self.initial["instrument"] = self.code
        for item in INSTRUMENTS[self.code].items:
            self.fields[f"item_{item.key}"] = forms.TypedChoiceField(
                label=f"{item.key}. {item.text}",
                choices=[("", "—")] + [(o.value, f"{o.value}: {o.label}") for o in item.options],
                coerce=int,
                required=item.scored,
            )

    def perform(self, data):
        answers = {
            key.removeprefix("item_"): value
            for key, value in data.items()
            if key.startswith("item_") and value not in ("", None)
        }
        response, _created = services.measure_record(
            actor=self.request.user,
            patient=self.enrollment.patient,
            instrument=data["instrument"],
            answers=answers,
            completed_at=data.get("completed_at"),
        )
        return response

    def success_message(self, response) -> str:
        total = "" if response.total is None else f" total {response.total}"
        band = f" ({response.band})" if response.band else ""
        alerted = " The care team is alerted." if response.alert_id else ""
        return f"Recorded the {response.get_instrument_display()}:{total}{band}.{alerted}"

    def extra_context(self) -> dict:
        base = reverse("admin:programs_enrollment_measure", args=[self.enrollment.pk])
        back = self.request.GET.get("next")
        links = [
            format_html(
                '<a href="{}?{}">{}</a>',
                base,
                urlencode({"instrument": code, **({"next": back} if back else {})}),
                name,
            )
            for code, name in INSTRUMENT_CHOICES
            if code != self.code
        ]
        instrument = INSTRUMENTS[self.code]
        return {
            "intro": format_html(
                "<strong>{}</strong> ({}). {} Another instrument: {}",
                instrument.name,
                instrument.period,
                self.intro,
                format_html(" · ".join(["{}"] * len(links)), *links),
            )
        }


# Responses ----------------------------------------------------------------------------------------


@admin.register(MeasureResponse)
class MeasureResponseAdmin(ClinicScopedAdmin):
    """Responses, read-only (append-only in the database): staff of the clinic read them."""

    read_roles = STAFF_ROLES
    list_display = ["completed_at", "patient", "instrument", "total", "band", "severe", "source"]
    list_filter = ["instrument", "source", "severe"]
    list_select_related = ["patient"]
    ordering = ["-completed_at", "-id"]
    readonly_fields = [
        "patient",
        "enrollment",
        "instrument",
        "answers",
        "total",
        "band",
        "subscales",
        "safety_flags",
        "severe",
        "source",
        "recorded_by",
        "completed_at",
        "alert",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Schedules ----------------------------------------------------------------------------------------


class MeasureScheduleForm(AuditedModelForm):
    class Meta:
        model = MeasureSchedule
        fields = ["program", "instrument", "at_admission", "every_days", "at_discharge", "by_order"]

    def perform(self, data):
        schedule = self.instance if self.instance.pk is not None else None
        program = schedule.program if schedule else data["program"]
        return services.measure_schedule_save(
            actor=self.request.user,
            program=program,
            instrument=schedule.instrument if schedule else data["instrument"],
            at_admission=data["at_admission"],
            every_days=data["every_days"],
            at_discharge=data["at_discharge"],
            by_order=data["by_order"],
            schedule=schedule,
        )


@admin.register(MeasureSchedule)
class MeasureScheduleAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """When each program measures its patients: staff read, supervisors set (the program's page
    lists them with a link to add one)."""

    form = MeasureScheduleForm
    read_roles = STAFF_ROLES
    write_roles = (Role.SUPERVISOR,)
    list_display = ["program", "instrument", "at_admission", "every_days", "at_discharge"]
    list_filter = ["instrument"]
    list_select_related = ["program__clinic"]
    ordering = ["program__clinic", "program__name", "instrument"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(program__clinic_id__in=clinic_ids_for_user(request.user))
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "program":
            kwargs["queryset"] = Program.objects.filter(
                clinic_id__in=clinic_ids_for_user(request.user)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["program", "instrument"] if obj is not None else []

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if "program" in request.GET:
            initial["program"] = request.GET["program"]
        return initial

    def has_delete_permission(self, request, obj=None):
        # Supervisors stop measuring an instrument (the responses on file stay).
        return self._has_role(request, self.write_roles)

    def delete_model(self, request, obj):
        services.measure_schedule_delete(actor=request.user, schedule=obj)

    def delete_queryset(self, request, queryset):
        for schedule in queryset:
            services.measure_schedule_delete(actor=request.user, schedule=schedule)


def schedules_table(program: Program, *, may_change: bool):
    """The program's schedules for its page, with links to change or add one."""
    rows = []
    for schedule in program.measure_schedules.all():
        when = []
        if schedule.at_admission:
            when.append("at admission")
        if schedule.every_days:
            when.append(f"every {schedule.every_days} days")
        if schedule.at_discharge:
            when.append("before discharge")
        if schedule.by_order:
            when.append("on a clinician's order")
        url = reverse("admin:programs_measureschedule_change", args=[schedule.pk])
        link = format_html('<a href="{}">{}</a>', url, schedule.get_instrument_display())
        rows.append((link, ", ".join(when)))
    table = related_table(["Instrument", "When"], rows)
    if not may_change:
        return table
    add = reverse("admin:programs_measureschedule_add")
    return format_html(
        '{}<p><a href="{}?{}" class="add-measure-schedule">Schedule another instrument</a></p>',
        table,
        add,
        urlencode({"program": program.pk}),
    )
