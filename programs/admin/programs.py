"""Programs in the admin: their configuration (level, bounds, services, beds).

Program configuration has no patient data; its form saves through
``programs.services.programs.program_save`` (the bed rules, the lock and the audit row).
"""

from django import forms
from django.contrib import admin

from clinic.admin import AuditedModelForm, ClinicConfigAdmin
from clinic.admin_utils import change_link, related_table
from clinic.models import AuditAction, Bed
from clinic.selectors import clinic_ids_for_user, user_has_role
from clinic.services import audit_record_many
from patients.models import Level
from programs.admin.measures import schedules_table
from programs.models import LEVEL_DEFAULTS, BedAssignment, Program, ProgramService
from programs.selectors import bed_assignments_holding
from programs.services.measures import MEASURE_SCHEDULE_ROLES
from programs.services.programs import program_save

BOUND_FIELDS = list(LEVEL_DEFAULTS[Level.RESIDENTIAL])


def _defaults_description() -> str:
    def bounds(values, low, high, unit):
        low_value, high_value = values[low], values[high]
        if low_value is None and high_value is None:
            return None
        if high_value is None:
            return f"at least {low_value} {unit}"
        if low_value is None:
            return f"at most {high_value} {unit}"
        if low_value == high_value:
            return f"{low_value} {unit}"
        return f"{low_value}–{high_value} {unit}"

    lines = []
    for level, values in LEVEL_DEFAULTS.items():
        parts = [
            bounds(values, "min_stay_days", "max_stay_days", "days' stay"),
            f"planned stay {values['default_stay_days']} days",
            bounds(values, "sessions_per_week_min", "sessions_per_week_max", "sessions a week"),
            bounds(values, "session_hours_min", "session_hours_max", "hours a session"),
            bounds(values, "weekly_hours_min", "weekly_hours_max", "hours a week"),
        ]
        lines.append(f"{Level(level).label}: {', '.join(p for p in parts if p)}.")
    return " ".join(lines)


class ProgramForm(AuditedModelForm):
    services = forms.MultipleChoiceField(
        choices=ProgramService.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = Program
        fields = [
            "clinic",
            "name",
            "level",
            "track",
            "capacity",
            *BOUND_FIELDS,
            "services",
            "beds",
            "waitlist_offer_hours",
            "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None and "default_stay_days" in self.fields:
            # Left empty, it takes the level's default in clean().
            self.fields["default_stay_days"].required = False

    def clean(self):
        # A new program starts from DOMAIN.md's numbers for its level: each bound left empty
        # takes the level's default (and stays editable afterwards).
        level = self.cleaned_data.get("level")
        if self.instance.pk is None and level in LEVEL_DEFAULTS:
            for name, value in LEVEL_DEFAULTS[level].items():
                empty = name in self.fields and self.cleaned_data.get(name) is None
                if empty and name not in self.errors:
                    self.cleaned_data[name] = value
        return super().clean()

    def save_record(self, *, record, fields, related):
        return program_save(
            actor=self.request.user, program=record, fields=fields, beds=related.get("beds")
        )


@admin.register(Program)
class ProgramAdmin(ClinicConfigAdmin):
    form = ProgramForm
    list_display = ["name", "clinic", "level", "track", "capacity", "is_active"]
    list_filter = [*ClinicConfigAdmin.list_filter, "level", "track", "is_active"]
    search_fields = ["name"]
    ordering = ["clinic", "level", "name"]
    filter_horizontal = ["beds"]

    def get_fieldsets(self, request, obj=None):
        main = ["name", "track", "capacity", "is_active"]
        main = ["clinic", "name", "level", *main[1:]] if obj is None else ["clinic", "level", *main]
        bounds_help = (
            "Bounds left empty take the level's defaults: " + _defaults_description()
            if obj is None
            else None
        )
        beds = ["beds"] if obj is None else ["beds", "beds_table"]
        measures = [] if obj is None else [("Measures", {"fields": ["measures_table"]})]
        return [
            (None, {"fields": main}),
            (
                "Stay and attendance",
                {"fields": BOUND_FIELDS, "description": bounds_help},
            ),
            ("Services and waitlist", {"fields": ["services", "waitlist_offer_hours"]}),
            ("Beds (residential programs)", {"fields": beds}),
            *measures,
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # The level is copied into the program's enrollments: a new level is a new program.
        return ["clinic", "level", "beds_table", "measures_table"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "beds":
            kwargs["queryset"] = Bed.objects.filter(
                clinic_id__in=clinic_ids_for_user(request.user), is_active=True
            ).select_related("clinic")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _occupied_beds(self, program) -> list[tuple[Bed, BedAssignment | None]]:
        """The program's beds with today's assignment of each (cached: the table and the audit
        of the page read it)."""
        if not hasattr(program, "_occupied_beds"):
            today = program.clinic.today()
            current = {
                assignment.bed_id: assignment
                for assignment in bed_assignments_holding(today)
                .filter(bed__programs=program)
                .select_related("enrollment__patient", "enrollment__program")
            }
            program._occupied_beds = [(bed, current.get(bed.pk)) for bed in program.beds.all()]
        return program._occupied_beds

    @admin.display(description="Measures of its patients")
    def measures_table(self, program):
        """The program's measure schedules; supervisors change them from here."""
        return schedules_table(program, may_change=getattr(program, "may_schedule", False))

    def get_object(self, request, object_id, from_field=None):
        program = super().get_object(request, object_id, from_field)
        if program is not None:
            # The read-only table gets the object only: who looks travels on this request's own
            # instance (the admin is shared).
            program.may_schedule = request.user.is_superuser or user_has_role(
                request.user, *MEASURE_SCHEDULE_ROLES
            )
        return program

    @admin.display(description="Who is in each bed today")
    def beds_table(self, program):
        return related_table(
            ["Bed", "Active", "Patient", "Program", "Since"],
            [
                (
                    str(bed),
                    "yes" if bed.is_active else "no",
                    change_link(a.enrollment, a.enrollment.patient) if a else "free",
                    a.enrollment.program if a else "",
                    a.start_date if a else "",
                )
                for bed, a in self._occupied_beds(program)
            ],
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        program = getattr(response, "context_data", {}).get("original")
        if request.method == "GET" and program is not None:
            # The bed table names the patients in the beds.
            audit_record_many(
                actor=request.user,
                action=AuditAction.LIST,
                objects=[a.enrollment for _bed, a in self._occupied_beds(program) if a],
                patient_id_of=lambda enrollment: enrollment.patient_id,
                clinic_id_of=lambda enrollment: program.clinic_id,
            )
        return response
