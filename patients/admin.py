"""The admissions admin: patients with their contacts, consents and assessments.

Every save goes through ``patients.services`` (see ``clinic.admin_utils``), every page shows
only the staff member's clinics, and opening a patient's page or list is audited like an API
read.
"""

import datetime

from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from clinic.admin import OwnClinicFilter
from clinic.admin_utils import (
    ClinicScopedAdmin,
    ServiceModelForm,
    VersionCheckedForm,
    change_link,
    related_table,
)
from patients import services
from patients.models import (
    CONSENT_ELEMENTS,
    DIMENSIONS,
    END_OF_TREATMENT,
    Assessment,
    Consent,
    CoOccurring,
    DisclosureCategory,
    DisclosurePurpose,
    Patient,
    PatientContact,
    ReminderChannel,
)


class PatientRecordAdmin(ClinicScopedAdmin):
    """A page of the patient's record: admissions and clinicians write it (the API's rule)."""

    write_roles = services.PATIENT_WRITE_ROLES


class ReminderChannelFilter(admin.SimpleListFilter):
    title = "reminder channel"
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        return ReminderChannel.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(reminder_channels__contains=[self.value()])
        return queryset


class LatestLevelFilter(admin.SimpleListFilter):
    title = "level of care (latest assessment)"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        from patients.models import Level

        return [*Level.choices, ("none", "Not assessed")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(latest_level__isnull=True)
        if self.value():
            return queryset.filter(latest_level=self.value())
        return queryset


# Patients -----------------------------------------------------------------------------------------


class PatientForm(VersionCheckedForm):
    reminder_channels = forms.MultipleChoiceField(
        choices=ReminderChannel.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The channels the patient agreed to be reminded on.",
    )
    allow_duplicate = forms.BooleanField(
        required=False,
        label="Register although a patient with these names and birth date "
        "exists (a different person)",
    )

    class Meta:
        model = Patient
        fields = [
            "clinic",
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "reminder_channels",
            "screening_sex",
        ]

    def perform(self, data):
        fields = {name: data[name] for name in services.PATIENT_EDITABLE_FIELDS if name in data}
        if self.instance.pk is None:
            return services.patient_create(
                actor=self.request.user,
                clinic=data["clinic"],
                allow_duplicate=data.get("allow_duplicate", False),
                **fields,
            )
        return services.patient_update(
            actor=self.request.user,
            patient=self.instance,
            expected_versions=self.expected_versions,
            **fields,
        )


@admin.register(Patient)
class PatientAdmin(PatientRecordAdmin):
    form = PatientForm
    clinic_path = "clinic"
    # Its autocomplete answers name patients (clinic.admin_utils.AuditedAutocompleteJsonView).
    audit_autocomplete = True
    list_display = [
        "mrn",
        "last_name",
        "first_name",
        "date_of_birth",
        "clinic",
        "channels",
        "latest_level",
    ]
    list_display_links = ["mrn", "last_name"]
    list_filter = [OwnClinicFilter, LatestLevelFilter, ReminderChannelFilter]
    search_fields = ["last_name", "first_name", "=mrn"]
    search_help_text = "Name, MRN or date of birth (YYYY-MM-DD)."
    list_select_related = ["clinic"]
    ordering = ["last_name", "first_name"]
    readonly_fields = [
        "mrn",
        "reminder_consent",
        "add_links",
        "contacts_table",
        "consents_table",
        "assessments_table",
    ]

    def get_fieldsets(self, request, obj=None):
        person = ["clinic", "first_name", "last_name", "date_of_birth", "screening_sex"]
        if obj is None:
            return [
                (None, {"fields": [*person, "allow_duplicate"]}),
                ("Contact and reminders", {"fields": ["email", "phone", "reminder_channels"]}),
            ]
        return [
            (None, {"fields": ["mrn", *person[1:], "add_links"]}),
            (
                "Contact and reminders",
                {"fields": ["email", "phone", "reminder_channels", "reminder_consent"]},
            ),
            ("Emergency contacts and support persons", {"fields": ["contacts_table"]}),
            ("Consents (42 CFR Part 2)", {"fields": ["consents_table"]}),
            ("Assessments", {"fields": ["assessments_table"]}),
        ]

    def patient_of(self, obj):
        return obj

    def get_queryset(self, request):
        latest = Assessment.objects.filter(patient=OuterRef("pk")).order_by("-assessed_at", "-id")
        # What counts is the decision when one was made, else the recommendation.
        effective = Coalesce(NullIf("decided_level", Value("")), "recommended_level")
        return (
            super()
            .get_queryset(request)
            .annotate(
                latest_level=Subquery(latest.annotate(level=effective).values("level")[:1]),
                latest_decided=Subquery(latest.values("decided_level")[:1]),
            )
        )

    def get_search_results(self, request, queryset, search_term):
        try:
            birth_date = datetime.date.fromisoformat(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(date_of_birth=birth_date), False

    @admin.display(description="Reminders")
    def channels(self, patient):
        return ", ".join(patient.reminder_channels) or "none"

    @admin.display(description="Level (latest)", ordering="latest_level")
    def latest_level(self, patient):
        if patient.latest_level is None:
            return "not assessed"
        if patient.latest_decided:
            return patient.latest_level
        return f"{patient.latest_level} (recommended, undecided)"

    @admin.display(description="Reminder consent recorded")
    def reminder_consent(self, patient):
        if patient.reminder_channels_recorded_at is None:
            return "never"
        return (
            f"{patient.reminder_channels_recorded_at:%Y-%m-%d %H:%M} UTC by "
            f"{patient.reminder_channels_recorded_by}"
        )

    @admin.display(description="Record")
    def add_links(self, patient):
        links = [
            ("admin:patients_assessment_add", "Record an assessment"),
            ("admin:patients_consent_add", "Record a consent"),
            ("admin:patients_patientcontact_add", "Add a contact"),
        ]
        return format_html_join(
            " · ",
            '<a href="{}?patient={}">{}</a>',
            ((reverse(name), patient.pk, label) for name, label in links),
        )

    @admin.display(description="Contacts")
    def contacts_table(self, patient):
        return related_table(
            ["Name", "Kind", "Relationship", "Phone", "E-mail"],
            [
                (
                    change_link(c, c.name),
                    c.get_kind_display(),
                    c.relationship,
                    c.phone or "",
                    c.email,
                )
                for c in patient.contacts.all()
            ],
        )

    @admin.display(description="Consents")
    def consents_table(self, patient):
        today, in_treatment = patient.clinic.today(), self.in_treatment(patient)
        return related_table(
            ["Signed", "Recipients", "Purposes", "Information", "Expires", "Status"],
            [
                (
                    change_link(c, c.signed_on),
                    c.recipients_display(),
                    _purposes(c),
                    _labels(DisclosureCategory, c.categories),
                    "none (TPO)" if c.no_expiry else (c.expires_on or c.expiry_event),
                    consent_state(c, today, in_treatment=in_treatment),
                )
                for c in patient.consents.all()
            ],
        )

    def in_treatment(self, patient) -> bool:
        """Whether an end-of-treatment consent still holds; the programs app knows better."""
        return True

    @admin.display(description="Assessments")
    def assessments_table(self, patient):
        def level(label, track):
            return f"{label} ({track})" if track else label

        def rationale(sentences):
            return format_html(
                '<ul class="rationale" style="margin: 0; padding-left: 1em">{}</ul>',
                format_html_join("", "<li>{}</li>", ((sentence,) for sentence in sentences)),
            )

        return related_table(
            ["Assessed", "Severity", "Recommended", "Why", "Decided", "By"],
            [
                (
                    change_link(a, f"{a.assessed_at:%Y-%m-%d %H:%M}"),
                    a.get_severity_display(),
                    level(a.get_recommended_level_display(), a.recommended_track),
                    rationale(a.rationale),
                    level(a.get_decided_level_display(), a.decided_track)
                    if a.decided_level
                    else "undecided",
                    a.assessed_by,
                )
                for a in patient.assessments.select_related("assessed_by")
            ],
        )


# Assessments --------------------------------------------------------------------------------------


class AssessmentAddForm(ServiceModelForm):
    co_occurring = forms.MultipleChoiceField(
        choices=CoOccurring.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    severity = forms.ChoiceField(
        choices=[
            ("", "derive from the criteria count"),
            *Assessment._meta.get_field("severity").choices,
        ],
        required=False,
    )

    class Meta:
        model = Assessment
        fields = [
            "patient",
            "criteria_count",
            "severity",
            *DIMENSIONS,
            "prior_outpatient_relapse",
            "daytime_obligations",
            "co_occurring",
            "notes",
        ]

    def perform(self, data):
        return services.assessment_create(
            actor=self.request.user,
            patient=data["patient"],
            severity=data["severity"] or None,
            criteria_count=data["criteria_count"],
            dimensions={name: data[name] for name in DIMENSIONS},
            prior_outpatient_relapse=data["prior_outpatient_relapse"],
            daytime_obligations=data["daytime_obligations"],
            co_occurring=data["co_occurring"],
            notes=data["notes"],
        )


class AssessmentDecisionForm(VersionCheckedForm):
    class Meta:
        model = Assessment
        fields = ["decided_level", "decided_track", "override_reason"]

    def perform(self, data):
        return services.assessment_decide(
            actor=self.request.user,
            assessment=self.instance,
            decided_level=data["decided_level"],
            decided_track=data["decided_track"],
            override_reason=data["override_reason"],
            expected_versions=self.expected_versions,
        )


@admin.register(Assessment)
class AssessmentAdmin(PatientRecordAdmin):
    list_display = [
        "assessed_at",
        "patient",
        "severity",
        "recommended_level",
        "recommended_track",
        "decided_level",
        "assessed_by",
    ]
    list_filter = ["recommended_level", "decided_level", "severity"]
    search_fields = ["patient__last_name", "patient__first_name", "=patient__mrn"]
    list_select_related = ["patient", "assessed_by"]
    autocomplete_fields = ["patient"]
    recommendation_fields = ["recommended_level", "recommended_track", "rationale_list"]

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = AssessmentAddForm if obj is None else AssessmentDecisionForm
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["patient"]}),
                ("Severity (DSM-5)", {"fields": ["criteria_count", "severity"]}),
                ("ASAM dimensions (0 no risk – 4 severe)", {"fields": list(DIMENSIONS)}),
                (
                    "Circumstances",
                    {
                        "fields": [
                            "prior_outpatient_relapse",
                            "daytime_obligations",
                            "co_occurring",
                            "notes",
                        ]
                    },
                ),
            ]
        return [
            (
                "Assessment",
                {
                    "fields": [
                        "patient",
                        "assessed_by",
                        "assessed_at",
                        "severity",
                        "criteria_count",
                        "dimension_table",
                        "prior_outpatient_relapse",
                        "daytime_obligations",
                        "co_occurring",
                        "notes",
                    ]
                },
            ),
            # The recommendation beside the decision, so an override is a conscious one.
            ("Recommendation", {"fields": self.recommendation_fields}),
            (
                "Decision",
                {
                    "fields": [
                        "decided_level",
                        "decided_track",
                        "override_reason",
                        "decided_by",
                        "decided_at",
                    ]
                },
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fixed = [
            "patient",
            "assessed_by",
            "assessed_at",
            "severity",
            "criteria_count",
            "dimension_table",
            "prior_outpatient_relapse",
            "daytime_obligations",
            "co_occurring",
            "notes",
            *self.recommendation_fields,
            "decided_by",
            "decided_at",
        ]
        if obj.decided_level:
            fixed += ["decided_level", "decided_track", "override_reason"]
        return fixed

    def has_change_permission(self, request, obj=None):
        # A recorded decision is final (a changed picture is a reassessment).
        if obj is not None and obj.decided_level:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="Rationale")
    def rationale_list(self, assessment):
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{}</li>", ((sentence,) for sentence in assessment.rationale)),
        )

    @admin.display(description="Dimensions")
    def dimension_table(self, assessment):
        return ", ".join(f"{name}={value}" for name, value in assessment.dimensions.items())


# Consents and contacts ----------------------------------------------------------------------------


RECIPIENTS_TPO = (
    "My treating providers, health plans, third-party payers and those helping operate this program"
)
REVOCATION_HOW = (
    "At any time, in writing or by telling the clinic's staff; a revocation stops future "
    "disclosures but cannot undo those already made."
)


def consent_state(consent: Consent, today: datetime.date, *, in_treatment: bool = True) -> str:
    """How a consent stands on the clinic's ``today``, as the pages name it. Incomplete comes
    first: a consent that lacks an element permits nothing, whatever its dates."""
    missing = consent.missing_elements()
    if missing:
        return "incomplete: permits nothing (missing: {})".format(
            "; ".join(CONSENT_ELEMENTS[element] for element in missing)
        )
    if consent.revoked_on is not None and consent.revoked_on <= today:
        return f"revoked on {consent.revoked_on}"
    if consent.is_active_on(today, in_treatment=in_treatment):
        return "active"
    if today < consent.signed_on:
        return f"not yet signed ({consent.signed_on})"
    return "expired"


def _labels(choices, values) -> str:
    return ", ".join(str(choices(value).label) for value in values) or "none"


def _purposes(consent: Consent) -> str:
    labels = _labels(DisclosurePurpose, consent.purposes)
    return f"{labels}: {consent.purpose_other}" if consent.purpose_other else labels


class ConsentAddForm(ServiceModelForm):
    """Every §2.31 element; the service (``consent_record``) decides what is missing and its
    messages land on the fields they concern."""

    discloser_programs: tuple[tuple[int, str], ...] = ()  # set by ConsentAdmin.get_form

    recipient_names = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Named recipients",
        help_text="One organisation or person per line.",
    )
    purposes = forms.MultipleChoiceField(
        choices=DisclosurePurpose.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    categories = forms.MultipleChoiceField(
        choices=DisclosureCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Information that may be disclosed",
    )
    discloser_program_id = forms.TypedChoiceField(
        choices=[("", "The clinic")],
        coerce=int,
        empty_value=None,
        required=False,
        label="Program that may disclose",
        help_text="Empty: the whole clinic.",
    )
    treatment_conditioned = forms.TypedChoiceField(
        choices=[("", "---------"), ("no", "No"), ("yes", "Yes")],
        coerce=lambda value: value == "yes",
        empty_value=None,
        required=False,
        label="Treatment conditioned on this consent",
    )

    class Meta:
        model = Consent
        fields = [
            "patient",
            "discloser_program_id",
            "discloser",
            "recipients_tpo",
            "recipient_names",
            "recipients",
            "purposes",
            "purpose_other",
            "purpose",
            "categories",
            "information",
            "revocation_how",
            "expires_on",
            "expiry_event",
            "no_expiry",
            "signer_relation",
            "signer_name",
            "signed_on",
            "treatment_conditioned",
        ]
        labels = {
            "discloser": "Who may disclose, in the consent's words",
            "recipients_tpo": RECIPIENTS_TPO,
            "recipients": "Recipients in the consent's words",
            "purpose": "Purpose in the consent's words",
            "information": "Description of the information in the consent's words",
            "revocation_how": "The right to revoke and how",
            "signer_relation": "Signed by a representative: relation",
            "signer_name": "Representative's name",
        }
        help_texts = {
            "discloser": "Empty: the program chosen, else the clinic.",
            "recipients": "Empty: the recipients chosen above, in words.",
            "purpose": "Empty: the purposes chosen above, in words.",
            "information": "Empty: the categories chosen above, in words.",
            "expiry_event": f"For example '{END_OF_TREATMENT}' (applied by the clinic's "
            "services) or an event in words.",
            "signer_relation": "Empty when the patient signed; parent, guardian, … otherwise.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("discloser", "information", "recipients", "purpose"):
            self.fields[name].required = False
        self.fields["revocation_how"].initial = REVOCATION_HOW
        self.fields["discloser_program_id"].choices += self.discloser_programs

    def perform(self, data):
        if data["discloser_program_id"] is not None and not data["discloser"]:
            data["discloser"] = dict(self.discloser_programs)[data["discloser_program_id"]]
        names = [line.strip() for line in data.pop("recipient_names").splitlines()]
        names = [name for name in names if name]
        # The signed form's own words, when not typed: the elements chosen, in words (the
        # model keeps the text required for consents recorded before the elements).
        if not data["recipients"]:
            tpo = [RECIPIENTS_TPO] if data["recipients_tpo"] else []
            data["recipients"] = "; ".join([*tpo, *names])
        if not data["purpose"]:
            data["purpose"] = data["purpose_other"] or _labels(DisclosurePurpose, data["purposes"])
        if not data["information"]:
            data["information"] = _labels(DisclosureCategory, data["categories"])
        return services.consent_record(actor=self.request.user, recipient_names=names, **data)


class ConsentRevokeForm(ServiceModelForm):
    class Meta:
        model = Consent
        fields = ["revoked_on"]

    def perform(self, data):
        if data.get("revoked_on") is None:
            raise forms.ValidationError({"revoked_on": ["Give the date of the revocation."]})
        return services.consent_revoke(
            actor=self.request.user, consent=self.instance, revoked_on=data["revoked_on"]
        )


@admin.register(Consent)
class ConsentAdmin(PatientRecordAdmin):
    list_display = [
        "signed_on",
        "patient",
        "recipients_list",
        "purposes_list",
        "categories_list",
        "expiry",
        "state",
    ]
    list_select_related = ["patient__clinic"]
    search_fields = ["patient__last_name", "=patient__mrn", "recipients"]
    autocomplete_fields = ["patient"]
    detail_fields = [
        "patient",
        "state",
        "discloser",
        "recipients_list",
        "purposes_list",
        "categories_list",
        "information",
        "revocation_how",
        "expiry",
        "signer",
        "signed_on",
        "conditioned",
        "recorded_by",
        "revocation",
    ]

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = ConsentAddForm if obj is None else ConsentRevokeForm
        form = super().get_form(request, obj, **kwargs)
        form.discloser_programs = tuple(self.discloser_programs(request))
        return form

    def discloser_programs(self, request) -> list[tuple[int, str]]:
        """The programs a consent may name as who discloses (programs' admin knows them)."""
        return []

    def has_change_permission(self, request, obj=None):
        # A revocation is final; a consent is otherwise changed only by revoking it.
        if obj is not None and obj.revoked_on:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.detail_fields

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["patient", "discloser_program_id", "discloser"]}),
                ("Recipients", {"fields": ["recipients_tpo", "recipient_names", "recipients"]}),
                ("Purposes", {"fields": ["purposes", "purpose_other", "purpose"]}),
                ("Information", {"fields": ["categories", "information"]}),
                (
                    "Revocation and expiry",
                    {"fields": ["revocation_how", "expires_on", "expiry_event", "no_expiry"]},
                ),
                (
                    "Signature",
                    {
                        "fields": [
                            "signer_relation",
                            "signer_name",
                            "signed_on",
                            "treatment_conditioned",
                        ]
                    },
                ),
            ]
        revoke = [] if obj.revoked_on else [("Revoke", {"fields": ["revoked_on"]})]
        return [(None, {"fields": self.detail_fields}), *revoke]

    @admin.display(description="Recipients")
    def recipients_list(self, consent):
        return consent.recipients_display()

    @admin.display(description="Purposes")
    def purposes_list(self, consent):
        return _purposes(consent)

    @admin.display(description="Information")
    def categories_list(self, consent):
        return _labels(DisclosureCategory, consent.categories)

    @admin.display(description="Expires")
    def expiry(self, consent):
        if consent.no_expiry:
            return "no expiry (treatment, payment and operations)"
        return consent.expires_on or consent.expiry_event

    @admin.display(description="Signed by")
    def signer(self, consent):
        if not consent.signer_relation:
            return "the patient"
        return f"{consent.signer_name} ({consent.signer_relation})"

    @admin.display(description="Treatment conditioned on it")
    def conditioned(self, consent):
        return {None: "unknown", True: "yes", False: "no"}[consent.treatment_conditioned]

    @admin.display(description="Revoked")
    def revocation(self, consent):
        if consent.revoked_on is None:
            return "no"
        recorded = (
            f" (recorded {consent.revoked_at:%Y-%m-%d %H:%M} UTC by {consent.revoked_by})"
            if consent.revoked_at
            else ""
        )
        return f"from {consent.revoked_on}{recorded}"

    @admin.display(description="Status")
    def state(self, consent):
        return consent_state(consent, consent.patient.clinic.today())


class ContactForm(VersionCheckedForm):
    class Meta:
        model = PatientContact
        fields = ["patient", "kind", "name", "relationship", "phone", "email"]

    def perform(self, data):
        if self.instance.pk is None:
            return services.contact_create(actor=self.request.user, **data)
        changes = {name: data[name] for name in self.changed_data if name != "patient"}
        return services.contact_update(
            actor=self.request.user,
            contact=self.instance,
            expected_versions=self.expected_versions,
            **changes,
        )


@admin.register(PatientContact)
class PatientContactAdmin(PatientRecordAdmin):
    form = ContactForm
    list_display = ["name", "kind", "relationship", "patient"]
    list_select_related = ["patient"]
    search_fields = ["name", "patient__last_name", "=patient__mrn"]
    autocomplete_fields = ["patient"]

    def get_readonly_fields(self, request, obj=None):
        return ["patient"] if obj is not None else []
