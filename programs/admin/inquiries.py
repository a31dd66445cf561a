"""The admissions desk in the admin (issue 28): the clinic's referral sources, and inquiries with
their pages.

Every write goes through ``programs.services.inquiries``: taking a call and editing it call the
service from the form's ``clean()`` (``ServiceModelForm``), and the screening, the verification
of benefits and a contact are small pages beside the inquiry, each calling one service
(``ActionPagesMixin``). The pipeline's later steps add their pages to ``INQUIRY_ACTION_FORMS``.
An inquiry is Part 2 data: its pages are clinic-scoped and audited (``ClinicScopedAdmin``).
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget, AdminSplitDateTime
from django.shortcuts import redirect
from django.urls import path

from clinic.admin import AuditedModelForm, ClinicConfigAdmin, OwnClinicFilter
from clinic.admin_utils import (
    ClinicScopedAdmin,
    ServiceModelForm,
    VersionCheckedForm,
    related_table,
)
from clinic.models import Bed
from clinic.selectors import STAFF_ROLES, clinic_staff
from patients.models import DIMENSIONS, Level, Patient
from patients.recommendation import DIMENSION_NAMES
from programs.admin.actions import ActionPagesMixin, EnrollmentActionForm
from programs.admin.admissions import inquiry_board_view
from programs.models import (
    BenefitsOutcome,
    CallbackMethod,
    ContactDirection,
    ContactOutcome,
    Inquiry,
    InquiryStatus,
    NotAdmittedReason,
    ReferralSource,
    SubscriberRelation,
    WithdrawalRiskFlag,
)
from programs.selectors import payer_list, program_list, referral_source_list
from programs.services import admission_holds as hold_services
from programs.services import inquiries as services
from programs.services import inquiry_followup as followup

# Referral sources ---------------------------------------------------------------------------------


class ReferralSourceForm(AuditedModelForm):
    class Meta:
        model = ReferralSource
        fields = ["clinic", "name", "kind", "is_active"]


@admin.register(ReferralSource)
class ReferralSourceAdmin(ClinicConfigAdmin):
    """How callers hear of the clinic: every staff role reads, supervisors keep the list (a
    source no longer used is made inactive; inquiries keep theirs)."""

    form = ReferralSourceForm
    list_display = ["name", "kind", "clinic", "is_active"]
    list_filter = [OwnClinicFilter, "kind", "is_active"]
    search_fields = ["name"]
    ordering = ["clinic", "name"]


# Inquiries: taking the call and editing it --------------------------------------------------------

PERSON_FIELDS = ["first_name", "last_name", "date_of_birth", "phone", "email"]
CALLER_FIELDS = ["caller_relation", "caller_name", "caller_phone", "caller_email"]
REFERRAL_FIELDS = ["referral_source", "referring_organization", "referring_contact"]
CALL_FIELDS = ["substances", "urgency", "callback_consent", "callback_method"]
FOLLOW_UP_FIELDS = ["program", "next_contact_on", "patient", "notes"]
EDITABLE_FIELDS = [
    *PERSON_FIELDS,
    *CALLER_FIELDS,
    *REFERRAL_FIELDS,
    *CALL_FIELDS,
    *FOLLOW_UP_FIELDS,
]


class InquiryAddForm(ServiceModelForm):
    """Taking a call: ``inquiry_create``, called from ``clean()``."""

    received_at = forms.SplitDateTimeField(
        required=False, widget=AdminSplitDateTime, help_text="Empty: now."
    )
    allow_duplicate = forms.BooleanField(
        required=False,
        label="Take it anyway",
        help_text="Tick when the possible duplicate named above really is another person.",
    )

    class Meta:
        model = Inquiry
        fields = ["clinic", *EDITABLE_FIELDS]

    def perform(self, data):
        fields = {name: data[name] for name in EDITABLE_FIELDS if name in data}
        for name in ("date_of_birth", "program", "next_contact_on", "patient"):
            fields[name] = fields.get(name) or None
        return services.inquiry_create(
            actor=self.request.user,
            clinic=data["clinic"],
            received_at=data.get("received_at"),
            allow_duplicate=data.get("allow_duplicate", False),
            **fields,
        )


class InquiryChangeForm(VersionCheckedForm):
    """Editing an open inquiry: ``inquiry_update`` with what the form changed."""

    class Meta:
        model = Inquiry
        fields = EDITABLE_FIELDS

    def perform(self, data):
        changes = {name: data[name] for name in self.changed_data if name in EDITABLE_FIELDS}
        return services.inquiry_update(
            actor=self.request.user,
            inquiry=self.instance,
            expected_versions=self.expected_versions,
            **changes,
        )


# Inquiries: the action pages ----------------------------------------------------------------------


class InquiryActionForm(EnrollmentActionForm):
    """An action page of one inquiry (``run()`` turns the service's refusal into form errors)."""

    roles_allowed: tuple[str, ...] = services.INQUIRY_WRITE_ROLES

    def __init__(self, *args, inquiry: Inquiry, request, **kwargs):
        self.inquiry = inquiry
        super().__init__(*args, enrollment=None, request=request, **kwargs)

    @classmethod
    def roles(cls):
        return cls.roles_allowed

    @classmethod
    def offered(cls, inquiry: Inquiry) -> bool:
        """Whether the inquiry's page shows the button (the service decides in the end)."""
        return inquiry.is_open

    def today(self):
        return self.inquiry.clinic.today()

    def redirect_to(self, result):
        return self.inquiry


class ScreenForm(InquiryActionForm):
    action = "screen"
    title = "Screen"
    submit_label = "Record the screening"
    intro = (
        "Rate the six dimensions provisionally from the call; the provisional level comes from "
        "the same rule as the assessment's. A withdrawal sign alerts the clinic's clinicians."
    )
    roles_allowed = services.SCREENING_ROLES
    criteria_count = forms.IntegerField(
        min_value=0, max_value=11, label="DSM-5 criteria described", initial=0
    )
    prior_outpatient_relapse = forms.BooleanField(required=False)
    daytime_obligations = forms.BooleanField(required=False)
    withdrawal_flags = forms.MultipleChoiceField(
        required=False,
        choices=WithdrawalRiskFlag.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Withdrawal signs",
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in DIMENSIONS:
            self.fields[name] = forms.IntegerField(
                min_value=0,
                max_value=4,
                initial=0,
                label=f"Dimension {name[1]}: {DIMENSION_NAMES[name]}",
            )

    def perform(self, data):
        return services.inquiry_screen(
            actor=self.request.user,
            inquiry=self.inquiry,
            criteria_count=data["criteria_count"],
            dimensions={name: data[name] for name in DIMENSIONS},
            prior_outpatient_relapse=data.get("prior_outpatient_relapse", False),
            daytime_obligations=data.get("daytime_obligations", False),
            withdrawal_flags=data.get("withdrawal_flags") or [],
            notes=data.get("notes") or "",
        )

    def success_message(self, result):
        return f"Screened: provisional level {result.get_provisional_level_display()}."


class VerifyBenefitsForm(InquiryActionForm):
    action = "verify_benefits"
    title = "Verify benefits"
    submit_label = "Record the verification"
    intro = "What the payer said about the person's benefits for the level of care."
    roles_allowed = services.VERIFICATION_ROLES
    payer = forms.ModelChoiceField(queryset=None)
    member_id = forms.CharField(required=False, max_length=80)
    group_number = forms.CharField(required=False, max_length=80)
    subscriber_relation = forms.ChoiceField(
        choices=SubscriberRelation.choices, initial=SubscriberRelation.SELF
    )
    level = forms.ChoiceField(choices=Level.choices, label="Level verified")
    in_network = forms.NullBooleanField(required=False, label="In network")
    deductible_remaining = forms.DecimalField(
        required=False, min_value=0, max_digits=10, decimal_places=2
    )
    out_of_pocket_remaining = forms.DecimalField(
        required=False, min_value=0, max_digits=10, decimal_places=2
    )
    prior_authorization_required = forms.NullBooleanField(required=False)
    outcome = forms.ChoiceField(choices=BenefitsOutcome.choices)
    reference = forms.CharField(required=False, max_length=80, help_text="The payer's reference.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payer"].queryset = payer_list(user=self.request.user).filter(
            clinic_id=self.inquiry.clinic_id
        )
        latest = self.inquiry.screenings.first()
        if latest is not None:
            self.fields["level"].initial = latest.provisional_level

    @classmethod
    def offered(cls, inquiry):
        return inquiry.is_open and inquiry.screenings.exists()

    def perform(self, data):
        return services.inquiry_verify_benefits(
            actor=self.request.user,
            inquiry=self.inquiry,
            payer=data["payer"],
            level=data["level"],
            outcome=data["outcome"],
            member_id=data.get("member_id") or "",
            group_number=data.get("group_number") or "",
            subscriber_relation=data["subscriber_relation"],
            in_network=data.get("in_network"),
            deductible_remaining=data.get("deductible_remaining"),
            out_of_pocket_remaining=data.get("out_of_pocket_remaining"),
            prior_authorization_required=data.get("prior_authorization_required"),
            reference=data.get("reference") or "",
            notes=data.get("notes") or "",
        )

    def success_message(self, result):
        return f"Benefits verified with {result.payer}: {result.get_outcome_display().lower()}."


class RecordContactForm(InquiryActionForm):
    action = "record_contact"
    title = "Record a contact"
    submit_label = "Record the contact"
    method = forms.ChoiceField(choices=CallbackMethod.choices)
    direction = forms.ChoiceField(choices=ContactDirection.choices)
    outcome = forms.ChoiceField(choices=ContactOutcome.choices)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    next_contact_on = forms.DateField(
        required=False, widget=AdminDateWidget, help_text="Becomes the inquiry's next contact."
    )

    def perform(self, data):
        return services.inquiry_contact_record(
            actor=self.request.user,
            inquiry=self.inquiry,
            method=data["method"],
            direction=data["direction"],
            outcome=data["outcome"],
            note=data.get("note") or "",
            next_contact_on=data.get("next_contact_on"),
        )

    def success_message(self, result):
        return f"{result.get_method_display()} recorded: {result.get_outcome_display().lower()}."


class ScheduleAdmissionForm(InquiryActionForm):
    action = "schedule_admission"
    title = "Schedule admission"
    submit_label = "Hold the place"
    intro = (
        "A place (a bed, in a program with beds) is held for the admission date until the "
        "program's grace days past it; then it lapses and goes to the waitlist. A scheduled "
        "inquiry is rescheduled: its held place is released."
    )
    program = forms.ModelChoiceField(queryset=None)
    admission_date = forms.DateField(widget=AdminDateWidget)
    bed = forms.ModelChoiceField(
        queryset=None, required=False, help_text="Empty: the program's first free bed, if any."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        programs = program_list(user=self.request.user).filter(
            clinic_id=self.inquiry.clinic_id, is_active=True
        )
        self.fields["program"].queryset = programs
        self.fields["program"].initial = self.inquiry.program_id
        self.fields["admission_date"].initial = self.today()
        self.fields["bed"].queryset = (
            Bed.objects.filter(programs__in=programs, is_active=True)
            .distinct()
            .order_by("room", "label")
        )

    @classmethod
    def offered(cls, inquiry):
        return inquiry.status in (InquiryStatus.VERIFYING, InquiryStatus.SCHEDULED)

    def perform(self, data):
        return hold_services.admission_schedule(
            actor=self.request.user,
            inquiry=self.inquiry,
            program=data["program"],
            admission_date=data["admission_date"],
            bed=data.get("bed"),
        )

    def success_message(self, result):
        bed = f", bed {result.bed}" if result.bed_id else ""
        return (
            f"A place in {result.program} is held from {result.admission_date}{bed}, "
            f"through {result.lapses_on}."
        )


class CloseInquiryForm(InquiryActionForm):
    action = "close"
    title = "Close (not admitted)"
    submit_label = "Close the inquiry"
    intro = "The person is not admitted. A place held for them is offered to the waitlist."
    reason = forms.ChoiceField(choices=NotAdmittedReason.choices)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def perform(self, data):
        return hold_services.inquiry_close(
            actor=self.request.user,
            inquiry=self.inquiry,
            reason=data["reason"],
            note=data.get("note") or "",
        )

    def success_message(self, result):
        return f"Closed: {result.get_not_admitted_reason_display().lower()}."


class AdmitInquiryForm(InquiryActionForm):
    action = "admit"
    title = "Admit"
    submit_label = "Admit into the held place"
    intro = (
        "Registers the person as a patient from the inquiry's details (or admits the patient "
        "named by MRN), admits them today into the held place and bed, and makes the latest "
        "eligible verification of benefits their coverage: all of it or nothing."
    )
    mrn = forms.CharField(
        required=False,
        max_length=20,
        label="Existing patient's MRN",
        help_text="Empty: the patient the inquiry is linked to, else a new registration.",
    )
    primary_clinician = forms.ModelChoiceField(queryset=None, required=False)
    allow_duplicate = forms.BooleanField(
        required=False,
        label="Register anyway",
        help_text="Tick when the possible duplicate named above really is another person.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["primary_clinician"].queryset = clinic_staff(
            clinic_ids=[self.inquiry.clinic_id]
        ).order_by("last_name", "first_name", "username")

    @classmethod
    def offered(cls, inquiry):
        return inquiry.status == InquiryStatus.SCHEDULED

    def clean_mrn(self):
        mrn = (self.cleaned_data.get("mrn") or "").strip()
        if not mrn:
            return None
        patient = Patient.objects.filter(clinic_id=self.inquiry.clinic_id, mrn=mrn).first()
        if patient is None:
            raise forms.ValidationError("No patient of the inquiry's clinic has this MRN.")
        return patient

    def perform(self, data):
        return hold_services.inquiry_convert(
            actor=self.request.user,
            inquiry=self.inquiry,
            patient=data.get("mrn"),
            primary_clinician=data.get("primary_clinician"),
            allow_duplicate=data.get("allow_duplicate", False),
        )

    def success_message(self, result):
        return f"{result.patient} is admitted to {result.program} from {result.start_date}."


class RequestCallbackForm(InquiryActionForm):
    action = "request_callback"
    title = "Ask to call back"
    submit_label = "Send the request"
    intro = (
        "A message from the clinic's public name asking the caller to call back, and nothing "
        "else (never the program or treatment), sent once to the address the caller gave."
    )
    channel = forms.ChoiceField(
        choices=[(value, CallbackMethod(value).label) for value in followup.CALLBACK_CHANNELS],
        required=False,
        help_text="Empty: the caller's callback method (a phone call: a text to that phone).",
    )

    @classmethod
    def offered(cls, inquiry):
        return inquiry.is_open and inquiry.callback_consent

    def perform(self, data):
        return followup.callback_request(
            actor=self.request.user, inquiry=self.inquiry, channel=data.get("channel") or None
        )

    def success_message(self, result):
        return f"Callback request queued ({result.get_channel_display()})."


# The inquiry's pages, in the order of its page's buttons.
INQUIRY_ACTION_FORMS = [
    ScreenForm,
    VerifyBenefitsForm,
    RecordContactForm,
    RequestCallbackForm,
    ScheduleAdmissionForm,
    AdmitInquiryForm,
    CloseInquiryForm,
]


# Inquiries: the admin -----------------------------------------------------------------------------


class OwnReferralSourceFilter(admin.SimpleListFilter):
    """The referral sources of the staff member's clinics (Django's would list all)."""

    title = "referral source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        sources = referral_source_list(user=request.user).select_related("clinic")
        return [(s.pk, f"{s.name} ({s.clinic})") for s in sources]

    def queryset(self, request, queryset):
        return queryset.filter(referral_source_id=self.value()) if self.value() else queryset


@admin.register(Inquiry)
class InquiryAdmin(ActionPagesMixin, ClinicScopedAdmin):
    """The calls and referrals about people seeking care. Admissions take and edit them; every
    staff role reads; screening, verification and contacts are the page's buttons."""

    read_roles = STAFF_ROLES
    write_roles = services.INQUIRY_WRITE_ROLES
    clinic_path = "clinic"
    action_subject = "inquiry"
    list_display = [
        "name",
        "status",
        "referral_source",
        "received_at",
        "next_contact_on",
        "program",
    ]
    list_filter = ["status", OwnReferralSourceFilter, OwnClinicFilter]
    search_fields = ["last_name", "first_name", "=phone", "caller_name", "=caller_phone"]
    search_help_text = "The person's or the caller's name, or a phone number (as +12025550143)."
    date_hierarchy = "received_at"
    list_select_related = ["referral_source", "program"]
    autocomplete_fields = ["patient"]
    record_tables = [
        "status_history_table",
        "screenings_table",
        "verifications_table",
        "contacts_table",
        "holds_table",
        "callback_requests_table",
    ]

    @property
    def action_forms(self):
        return {form.action: form for form in INQUIRY_ACTION_FORMS}

    def audit_patient_id(self, obj):
        return obj.patient_id

    def audit_clinic_id(self, obj):
        return obj.clinic_id

    def action_audit_clinic_id(self, obj, form):
        return obj.clinic_id

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("clinic", "referral_source", "program")

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = InquiryAddForm if obj is None else InquiryChangeForm
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            ("The person", {"fields": PERSON_FIELDS}),
            ("The caller", {"fields": CALLER_FIELDS}),
            ("Referral", {"fields": REFERRAL_FIELDS}),
            ("The call", {"fields": CALL_FIELDS}),
            ("Follow-up", {"fields": FOLLOW_UP_FIELDS}),
        ]
        if obj is None:
            return [
                (None, {"fields": ["clinic", "received_at"]}),
                *fieldsets,
                ("Duplicates", {"fields": ["allow_duplicate"]}),
            ]
        return [
            (None, {"fields": ["clinic", "status", "not_admitted_reason", "received_at"]}),
            *fieldsets,
            ("Records", {"fields": self.record_tables}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fixed = ["clinic", "status", "not_admitted_reason", "received_at", *self.record_tables]
        if not self.has_change_permission(request, obj):
            return [*fixed, *EDITABLE_FIELDS]
        return fixed

    def has_change_permission(self, request, obj=None):
        # A closed inquiry is history: its page is read-only.
        return super().has_change_permission(request, obj) and (obj is None or obj.is_open)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "referral_source":
            kwargs["queryset"] = (
                referral_source_list(user=request.user)
                .filter(is_active=True)
                .select_related("clinic")
            )
        elif db_field.name == "program":
            kwargs["queryset"] = program_list(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def response_add(self, request, obj, post_url_continue=None):
        # The next step (the screening) is on the inquiry's page.
        response = super(ClinicScopedAdmin, self).response_add(request, obj, post_url_continue)
        if any(key in request.POST for key in ("_addanother", "_popup")):
            return response
        return redirect("admin:programs_inquiry_change", obj.pk)

    # The columns and the record tables -----------------------------------------------------------

    @admin.display(description="Name", ordering="last_name")
    def name(self, inquiry):
        return inquiry.display_name

    @admin.display(description="Status history")
    def status_history_table(self, inquiry):
        return related_table(
            ["From", "To", "When", "By", "Reason"],
            [
                (
                    change.get_from_status_display() or "—",
                    change.get_to_status_display(),
                    change.changed_at,
                    change.changed_by or "the system",
                    change.reason,
                )
                for change in inquiry.status_changes.select_related("changed_by")
            ],
        )

    @admin.display(description="Screenings")
    def screenings_table(self, inquiry):
        return related_table(
            ["When", "By", "Criteria", "d1–d6", "Withdrawal signs", "Provisional level"],
            [
                (
                    screening.screened_at,
                    screening.screened_by,
                    screening.criteria_count,
                    " ".join(str(value) for value in screening.dimensions.values()),
                    ", ".join(
                        WithdrawalRiskFlag(flag).label for flag in screening.withdrawal_flags
                    ),
                    screening.get_provisional_level_display(),
                )
                for screening in inquiry.screenings.select_related("screened_by")
            ],
        )

    @admin.display(description="Verifications of benefits")
    def verifications_table(self, inquiry):
        def yes_no(value):
            return "—" if value is None else ("yes" if value else "no")

        return related_table(
            ["When", "By", "Payer", "Member", "Level", "In network", "Prior auth", "Outcome"],
            [
                (
                    verification.verified_at,
                    verification.verified_by,
                    verification.payer,
                    verification.member_id,
                    verification.get_level_display(),
                    yes_no(verification.in_network),
                    yes_no(verification.prior_authorization_required),
                    verification.get_outcome_display(),
                )
                for verification in inquiry.verifications.select_related("payer", "verified_by")
            ],
        )

    @admin.display(description="Contacts")
    def contacts_table(self, inquiry):
        return related_table(
            ["When", "By", "How", "Direction", "Outcome", "Note"],
            [
                (
                    contact.contacted_at,
                    contact.contacted_by,
                    contact.get_method_display(),
                    contact.get_direction_display(),
                    contact.get_outcome_display(),
                    contact.note,
                )
                for contact in inquiry.contacts.select_related("contacted_by")
            ],
        )

    @admin.display(description="Held places")
    def holds_table(self, inquiry):
        return related_table(
            ["Program", "Admission date", "Waits through", "Bed", "Status"],
            [
                (
                    hold.program,
                    hold.admission_date,
                    hold.lapses_on,
                    hold.bed or "",
                    hold.get_status_display(),
                )
                for hold in inquiry.holds.select_related("program", "bed")
            ],
        )

    @admin.display(description="Callback requests")
    def callback_requests_table(self, inquiry):
        return related_table(
            ["Requested", "By", "Channel", "Status", "Sent"],
            [
                (
                    callback.requested_at,
                    callback.requested_by,
                    callback.get_channel_display(),
                    callback.status,
                    callback.sent_at or "",
                )
                for callback in inquiry.callback_requests.select_related("requested_by")
            ],
        )

    # The page's buttons and the action pages ------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["inquiry_actions"] = [
                {"label": form.title, "url": self._action_url(obj, form.action)}
                for form in INQUIRY_ACTION_FORMS
                if self._has_role(request, form.roles()) and form.offered(obj)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        board = path(
            "board/", self.admin_site.admin_view(inquiry_board_view), name="programs_inquiry_board"
        )
        return [board, *self.action_pages(), *super().get_urls()]
