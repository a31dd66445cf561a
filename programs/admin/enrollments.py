"""Enrollments in the admin: the admission form, the read-only change page with a button per
action, each action's intermediate page, and the changelist's actions.

Every enrollment write goes through ``programs.services.enrollments``: the admission form calls
``enrollment_create`` from its ``clean()``, and admitting, discharging, cancelling, moving and
bed assignment are admin actions and small intermediate pages that call one service each.
Pages that show patients are audited like the API's reads.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone

from clinic.admin_utils import ClinicScopedAdmin, ServiceModelForm, change_link, related_table
from clinic.errors import ServiceError
from clinic.models import Bed
from clinic.selectors import STAFF_ROLES, clinic_ids_for_user, clinic_staff
from patients.models import Assessment
from programs.admin.actions import ActionPagesMixin, EnrollmentActionForm, refusal_messages
from programs.admin.admissions import admissions_report_view
from programs.admin.disclosures import DiscloseForm
from programs.admin.measures import RecordMeasureForm
from programs.admin.notes_due import notes_due_view
from programs.admin.reports import (
    census_view,
    continuity_report_view,
    outcomes_report_view,
    step_down_view,
)
from programs.admin.ur_queue import ur_queue_view
from programs.models import (
    DischargeReason,
    Enrollment,
    EnrollmentStatus,
    HoldStatus,
    Program,
    Transition,
    TransitionKind,
)
from programs.selectors import bed_assignments_holding, program_list
from programs.services import enrollments as services
from programs.services.enrollments import ACTION_ROLES

# Enrollments: filters and the admission form ------------------------------------------------------


class OwnProgramFilter(admin.SimpleListFilter):
    title = "program"
    parameter_name = "program"

    def lookups(self, request, model_admin):
        return [(p.pk, f"{p.name} ({p.clinic})") for p in program_list(user=request.user)]

    def queryset(self, request, queryset):
        return queryset.filter(program_id=self.value()) if self.value() else queryset


class EnrollmentAddForm(ServiceModelForm):
    waitlist = forms.BooleanField(
        required=False,
        label="Put on the waitlist if the program is full",
        help_text="Unchecked, a full program refuses the admission.",
    )

    class Meta:
        model = Enrollment
        fields = [
            "patient",
            "program",
            "start_date",
            "waitlist",
            "planned_end_date",
            "primary_clinician",
            "assessment",
            "priority",
        ]
        help_texts = {
            "planned_end_date": "Empty: the start plus the program's planned stay.",
            "priority": "Waitlist order: higher first, then the earliest request.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["planned_end_date"].required = False
        self.fields["priority"].required = False

    def perform(self, data):
        return services.enrollment_create(
            actor=self.request.user,
            patient=data["patient"],
            program=data["program"],
            start_date=data["start_date"],
            waitlist=data.get("waitlist", False),
            planned_end_date=data.get("planned_end_date"),
            primary_clinician=data.get("primary_clinician"),
            assessment=data.get("assessment"),
            priority=data.get("priority") or 0,
        )


# Enrollments: the action pages --------------------------------------------------------------------


def _admitted(enrollment: Enrollment) -> str:
    return (
        f"{enrollment.patient} was admitted to {enrollment.program} from {enrollment.start_date}."
    )


def _discharged(enrollment: Enrollment) -> str:
    return (
        f"{enrollment.patient} was discharged from {enrollment.program} on "
        f"{enrollment.discharge_date} ({enrollment.get_discharge_reason_display().lower()})."
    )


def _cancelled(enrollment: Enrollment) -> str:
    return f"{enrollment.patient} was taken off the waitlist of {enrollment.program}."


class AdmitForm(EnrollmentActionForm):
    action = "admit"
    title = "Admit from the waitlist"
    submit_label = "Admit"
    start_date = forms.DateField(
        required=False,
        widget=AdminDateWidget,
        help_text="Empty: the requested date or today, whichever is later.",
    )

    def perform(self, data):
        return services.enrollment_admit(
            actor=self.request.user, enrollment=self.enrollment, start_date=data.get("start_date")
        )

    def success_message(self, result):
        return _admitted(result)


class DischargeForm(EnrollmentActionForm):
    action = "discharge"
    title = "Discharge"
    submit_label = "Discharge"
    intro = "A move to another program is a transition, not a discharge."
    date = forms.DateField(widget=AdminDateWidget)
    # "Transferred" is what a transition records; it is not offered here.
    reason = forms.ChoiceField(
        choices=[c for c in DischargeReason.choices if c[0] != DischargeReason.TRANSFERRED]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = self.today()

    def perform(self, data):
        return services.enrollment_discharge(
            actor=self.request.user,
            enrollment=self.enrollment,
            date=data["date"],
            reason=data["reason"],
        )

    def success_message(self, result):
        return _discharged(result)


class CancelForm(EnrollmentActionForm):
    action = "cancel"
    title = "Cancel the waitlisted enrollment"
    submit_label = "Cancel the enrollment"
    intro = "The patient leaves the program's waitlist; a place held for them passes on."
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; kept in the enrollment's status history.",
    )

    def perform(self, data):
        return services.enrollment_cancel(
            actor=self.request.user, enrollment=self.enrollment, reason=data.get("reason", "")
        )

    def success_message(self, result):
        return _cancelled(result)


class TransitionForm(EnrollmentActionForm):
    action = "transition"
    title = "Transition to another program"
    submit_label = "Move the patient"
    intro = (
        "The enrollment is discharged as transferred and the patient admitted to the new "
        "program on the same date, both or neither."
    )
    to_program = forms.ModelChoiceField(queryset=Program.objects.none(), label="To program")
    date = forms.DateField(widget=AdminDateWidget)
    kind = forms.ChoiceField(choices=[("", "---------"), *TransitionKind.choices])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    assessment = forms.ModelChoiceField(
        queryset=Assessment.objects.none(),
        required=False,
        help_text="The reassessment the move follows, if any.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_program"].queryset = (
            program_list(user=self.request.user)
            .filter(is_active=True)
            .exclude(pk=self.enrollment.program_id)
        )
        self.fields["assessment"].queryset = Assessment.objects.filter(
            patient_id=self.enrollment.patient_id
        )
        self.fields["date"].initial = self.today()

    def perform(self, data):
        return services.transition_create(
            actor=self.request.user,
            enrollment=self.enrollment,
            to_program=data["to_program"],
            date=data["date"],
            kind=data["kind"],
            reason=data["reason"],
            assessment=data.get("assessment"),
        )

    def success_message(self, result):
        return (
            f"{self.enrollment.patient} moved to {result.to_enrollment.program} on {result.date} "
            f"({result.get_kind_display().lower()})."
        )

    def redirect_to(self, result):
        return result.to_enrollment


class BedForm(EnrollmentActionForm):
    action = "bed"
    title = "Assign a bed"
    submit_label = "Assign the bed"
    intro = "The patient moves out of the bed they had, if any."
    bed = forms.ModelChoiceField(queryset=Bed.objects.none())
    date = forms.DateField(
        required=False,
        widget=AdminDateWidget,
        help_text="Empty: the admission date or today, whichever is later.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        beds = self.enrollment.program.beds.filter(is_active=True).order_by("room", "label")
        field = self.fields["bed"]
        field.queryset = beds
        # Say which beds are taken today or held for a scheduled admission (the service refuses
        # both anyway), without naming anyone: the bed board does that.
        today = self.today()
        taken = set(
            bed_assignments_holding(today).filter(bed__in=beds).values_list("bed_id", flat=True)
        )
        held = set(beds.filter(holds__status=HoldStatus.HELD).values_list("pk", flat=True)) - taken

        def label(bed):
            return f"{bed} ({'taken' if bed.pk in taken else 'held' if bed.pk in held else 'free'})"

        field.label_from_instance = label

    def perform(self, data):
        return services.bed_assign(
            actor=self.request.user,
            enrollment=self.enrollment,
            bed=data["bed"],
            date=data.get("date"),
        )

    def success_message(self, result):
        return f"{self.enrollment.patient} is in bed {result.bed} from {result.start_date}."


ACTION_FORMS = {
    form.action: form
    for form in [
        AdmitForm,
        DischargeForm,
        CancelForm,
        TransitionForm,
        BedForm,
        DiscloseForm,
        RecordMeasureForm,
    ]
}
# Which buttons an enrollment's page shows in each state (the services decide in the end).
ACTIONS_BY_STATUS = {
    EnrollmentStatus.WAITLISTED: ["admit", "cancel"],
    EnrollmentStatus.ADMITTED: ["discharge", "transition", "bed", "disclose", "measure"],
    EnrollmentStatus.DISCHARGED: ["disclose"],
}


# Enrollments: the admin ---------------------------------------------------------------------------


def _clinicians_of(request):
    return clinic_staff(clinic_ids=clinic_ids_for_user(request.user)).order_by(
        "last_name", "first_name", "username"
    )


@admin.register(Enrollment)
class EnrollmentAdmin(ActionPagesMixin, ClinicScopedAdmin):
    read_roles = STAFF_ROLES
    write_roles = ACTION_ROLES["enroll"]
    clinic_path = "program__clinic"
    action_forms = ACTION_FORMS
    list_display = [
        "patient",
        "program",
        "status",
        "start_date",
        "planned_end_date",
        "discharge_date",
        "discharge_reason",
    ]
    list_filter = ["status", OwnProgramFilter, "level"]
    search_fields = ["patient__last_name", "patient__first_name", "=patient__mrn"]
    search_help_text = "Patient's name or MRN."
    date_hierarchy = "start_date"
    list_select_related = ["patient", "program"]
    autocomplete_fields = ["patient"]
    raw_id_fields = ["assessment"]
    actions = [
        "admit_selected",
        "cancel_selected",
        "discharge_selected_completed_today",
        "discharge_one",
        "transition_one",
        "assign_bed_one",
    ]
    detail_fields = [
        "patient",
        "program",
        "level",
        "status",
        "start_date",
        "requested_start_date",
        "planned_end_date",
        "discharge_date",
        "discharge_reason",
        "primary_clinician",
        "assessment",
    ]
    waitlist_fields = [
        "priority",
        "requested_at",
        "passed_over",
        "offered_at",
        "offer_expires_at",
        "admitted_at",
        "cancelled_at",
        "created_by",
    ]

    def get_form(self, request, obj=None, **kwargs):
        # The change page is read-only: changes are the actions, each through its service.
        kwargs["form"] = EnrollmentAddForm if obj is None else forms.ModelForm
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": EnrollmentAddForm.Meta.fields})]
        return [
            (None, {"fields": self.detail_fields}),
            ("Waitlist and history", {"fields": self.waitlist_fields}),
            ("Waitlist offers", {"fields": ["offers_table"]}),
            ("Status history", {"fields": ["status_history_table"]}),
            ("Beds", {"fields": ["beds_table"]}),
            ("Transitions", {"fields": ["transitions_table"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            *self.detail_fields,
            *self.waitlist_fields,
            "offers_table",
            "status_history_table",
            "beds_table",
            "transitions_table",
        ]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("start_date", timezone.localdate())
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "program":
            kwargs["queryset"] = program_list(user=request.user).filter(is_active=True)
        elif db_field.name == "primary_clinician":
            kwargs["queryset"] = _clinicians_of(request)
        elif db_field.name == "assessment":
            kwargs["queryset"] = Assessment.objects.filter(
                patient__clinic_id__in=clinic_ids_for_user(request.user)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # Permissions: adding is admitting (admissions); nobody edits an enrollment in place.

    def has_change_permission(self, request, obj=None):
        return False

    def has_admit_permission(self, request):
        return self._has_role(request, ACTION_ROLES["admit"])

    def has_cancel_permission(self, request):
        return self._has_role(request, ACTION_ROLES["cancel"])

    def has_discharge_permission(self, request):
        return self._has_role(request, ACTION_ROLES["discharge"])

    def has_transition_permission(self, request):
        return self._has_role(request, ACTION_ROLES["transition"])

    def has_bed_permission(self, request):
        return self._has_role(request, ACTION_ROLES["bed"])

    # The change page: read-only, with a button per action the user may take.

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["enrollment_actions"] = [
                {"label": ACTION_FORMS[name].title, "url": self._action_url(obj, name)}
                for name in ACTIONS_BY_STATUS.get(obj.status, [])
                if self._has_role(request, ACTION_FORMS[name].roles())
                and (name != "bed" or obj.program.beds.exists())
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Offers")
    def offers_table(self, enrollment):
        return related_table(
            ["Offered", "Expires", "Outcome", "Patient told", "Note"],
            [
                (
                    offer.offered_at,
                    offer.expires_at,
                    offer.get_outcome_display(),
                    offer.get_notice_status_display()
                    + (f" ({offer.get_channel_display()})" if offer.channel else ""),
                    offer.last_error,
                )
                for offer in enrollment.offers.order_by("-offered_at", "-id")
            ],
        )

    @admin.display(description="Status changes")
    def status_history_table(self, enrollment):
        zone = enrollment.program.clinic.zone  # recorded times in the clinic's time
        return related_table(
            ["From", "To", "Effective", "Recorded at", "By", "Reason"],
            [
                (
                    change.get_from_status_display() or "(new)",
                    change.get_to_status_display(),
                    change.effective_date,
                    f"{timezone.localtime(change.changed_at, zone):%Y-%m-%d %H:%M}",
                    change.changed_by or "",
                    change.reason,
                )
                for change in enrollment.status_changes.select_related("changed_by")
            ],
        )

    @admin.display(description="Bed assignments")
    def beds_table(self, enrollment):
        return related_table(
            ["Bed", "From", "Until", "Assigned by"],
            [
                (a.bed, a.start_date, a.end_date or "", a.assigned_by)
                for a in enrollment.bed_assignments.select_related("bed", "assigned_by")
            ],
        )

    @admin.display(description="Transitions")
    def transitions_table(self, enrollment):
        moves = Transition.objects.filter(
            Q(from_enrollment=enrollment) | Q(to_enrollment=enrollment)
        ).select_related("from_enrollment__program", "to_enrollment__program", "decided_by")
        return related_table(
            ["Date", "Kind", "From", "To", "Reason", "Decided by"],
            [
                (
                    change_link(move, move.date),
                    move.get_kind_display(),
                    change_link(move.from_enrollment, move.from_enrollment.program),
                    change_link(move.to_enrollment, move.to_enrollment.program),
                    move.reason,
                    move.decided_by,
                )
                for move in moves
            ],
        )

    # The intermediate pages ------------------------------------------------------------------

    def get_urls(self):
        reports_pages = [
            path(
                "census/",
                self.admin_site.admin_view(census_view),
                name="programs_census",
            ),
            path(
                "step-down/",
                self.admin_site.admin_view(step_down_view),
                name="programs_step_down",
            ),
            path(
                "ur-queue/",
                self.admin_site.admin_view(ur_queue_view),
                name="programs_ur_queue",
            ),
            path(
                "admissions-report/",
                self.admin_site.admin_view(admissions_report_view),
                name="programs_admissions_report",
            ),
            path(
                "outcomes-report/",
                self.admin_site.admin_view(outcomes_report_view),
                name="programs_outcomes_report",
            ),
            path(
                "continuity-report/",
                self.admin_site.admin_view(continuity_report_view),
                name="programs_continuity_report",
            ),
            path(
                "notes-due/",
                self.admin_site.admin_view(notes_due_view),
                name="programs_notes_due",
            ),
        ]
        return reports_pages + self.action_pages() + super().get_urls()

    # Changelist actions -----------------------------------------------------------------------

    def _apply_each(self, request, queryset, perform, done):
        """Call the service per enrollment: one refusal leaves the others to go through."""
        for enrollment in queryset.select_related("patient", "program__clinic"):
            try:
                with transaction.atomic():
                    result = perform(enrollment)
            except (ServiceError, ValidationError, IntegrityError) as error:
                refusal = " ".join(refusal_messages(error))
                self.message_user(request, f"{enrollment.patient}: {refusal}", messages.ERROR)
            else:
                self.message_user(request, done(result), messages.SUCCESS)

    @admin.action(description="Admit selected from the waitlist", permissions=["admit"])
    def admit_selected(self, request, queryset):
        self._apply_each(
            request,
            queryset,
            lambda e: services.enrollment_admit(actor=request.user, enrollment=e),
            _admitted,
        )

    @admin.action(description="Cancel selected waitlisted enrollments", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        self._apply_each(
            request,
            queryset,
            lambda e: services.enrollment_cancel(actor=request.user, enrollment=e),
            _cancelled,
        )

    @admin.action(description="Discharge selected as completed today", permissions=["discharge"])
    def discharge_selected_completed_today(self, request, queryset):
        self._apply_each(
            request,
            queryset,
            lambda e: services.enrollment_discharge(
                actor=request.user,
                enrollment=e,
                date=e.program.clinic.today(),
                reason=DischargeReason.COMPLETED,
            ),
            _discharged,
        )

    def _open_page_for_one(self, request, queryset, action):
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one enrollment for this action.", messages.WARNING
            )
            return None
        return redirect(self._action_url(queryset.get(), action))

    @admin.action(description="Discharge the selected enrollment…", permissions=["discharge"])
    def discharge_one(self, request, queryset):
        return self._open_page_for_one(request, queryset, "discharge")

    @admin.action(description="Transition the selected enrollment…", permissions=["transition"])
    def transition_one(self, request, queryset):
        return self._open_page_for_one(request, queryset, "transition")

    @admin.action(description="Assign a bed to the selected enrollment…", permissions=["bed"])
    def assign_bed_one(self, request, queryset):
        return self._open_page_for_one(request, queryset, "bed")
