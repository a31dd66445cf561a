"""Utilization review in the admin: the clinic's payers, patients' coverage, and the payers'
authorizations of each stay with their reviews (issue 23).

Every write goes through ``programs.services.authorizations``: the add and change forms call the
service from ``clean()`` (``ServiceModelForm``), and an authorization's decision, a review's
booking and a review's outcome are small pages beside its read-only change page, each calling one
service (the enrollment pages' pattern, ``programs.admin.actions``). A refusal, a database
constraint's included, is a form error with the service's or the constraint's message. Pages
that show patients are clinic-scoped and audited (``ClinicScopedAdmin``).
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.shortcuts import redirect
from django.utils import timezone

from clinic.admin import AuditedModelForm, ClinicConfigAdmin, OwnClinicFilter
from clinic.admin_utils import (
    ClinicScopedAdmin,
    ServiceModelForm,
    VersionCheckedForm,
    change_link,
    related_table,
)
from clinic.errors import violated_constraint
from clinic.selectors import STAFF_ROLES
from patients.models import Level
from programs.admin.actions import ActionPagesMixin, EnrollmentActionForm
from programs.models import (
    LEVEL_INTENSITY,
    Authorization,
    AuthorizationStatus,
    Coverage,
    Payer,
    ReviewKind,
    ReviewOutcome,
)
from programs.selectors import authorization_use, payer_list
from programs.services import authorizations as services
from programs.services.authorizations import (
    COVERAGE_EDITABLE_FIELDS,
    DECISIONS,
    UTILIZATION_WRITE_ROLES,
)


def _constraint_as_field_error(call):
    """Run a service call; a database constraint it ran into (a payer's name taken, an
    overlapping primary coverage or authorization) becomes a ValidationError with the
    constraint's message, which the form shows."""
    try:
        return call()
    except IntegrityError as error:
        constraint = violated_constraint(error)
        if constraint is None:
            raise
        raise ValidationError(
            constraint.get_violation_error_message(), code=constraint.violation_error_code
        ) from error


class OwnPayerFilter(admin.SimpleListFilter):
    """The payers of the staff member's clinics (Django's related filter would list all)."""

    title = "payer"
    parameter_name = "payer"

    def lookups(self, request, model_admin):
        payers = payer_list(user=request.user).select_related("clinic")
        return [(p.pk, f"{p.name} ({p.clinic})") for p in payers]

    def queryset(self, request, queryset):
        return queryset.filter(payer_id=self.value()) if self.value() else queryset


# Payers -------------------------------------------------------------------------------------------


class PayerForm(AuditedModelForm):
    class Meta:
        model = Payer
        fields = ["clinic", "name", "kind"]

    def save_record(self, *, record, fields, related):
        actor = self.request.user
        if record._state.adding:
            return _constraint_as_field_error(
                lambda: services.payer_create(
                    actor=actor, clinic=record.clinic, name=record.name, kind=record.kind
                )
            )
        return services.payer_update(actor=actor, payer=record, name=record.name, kind=record.kind)


@admin.register(Payer)
class PayerAdmin(ClinicConfigAdmin):
    """Who pays for care at the clinic: every staff role reads, supervisors add and correct."""

    form = PayerForm
    list_display = ["name", "kind", "clinic"]
    list_filter = [OwnClinicFilter, "kind"]
    search_fields = ["name"]
    ordering = ["clinic", "name"]


# Coverage -----------------------------------------------------------------------------------------


class CoverageForm(VersionCheckedForm):
    class Meta:
        model = Coverage
        fields = [
            "patient",
            "payer",
            "priority",
            "member_id",
            "group_number",
            "subscriber_relation",
            "start_date",
            "end_date",
        ]

    def perform(self, data):
        actor = self.request.user
        if self.instance.pk is None:
            return _constraint_as_field_error(
                lambda: services.coverage_create(
                    actor=actor,
                    patient=data["patient"],
                    payer=data["payer"],
                    start_date=data["start_date"],
                    end_date=data.get("end_date"),
                    member_id=data.get("member_id") or "",
                    group_number=data.get("group_number") or "",
                    subscriber_relation=data["subscriber_relation"],
                    priority=data["priority"],
                )
            )
        changes = {name: data[name] for name in COVERAGE_EDITABLE_FIELDS if name in data}
        return _constraint_as_field_error(
            lambda: services.coverage_update(
                actor=actor,
                coverage=self.instance,
                expected_versions=self.expected_versions,
                **changes,
            )
        )


@admin.register(Coverage)
class CoverageAdmin(ClinicScopedAdmin):
    """A patient's cover by a payer: admissions and utilization review record and correct it,
    every staff role reads it. A new payer is a new coverage."""

    read_roles = STAFF_ROLES
    write_roles = UTILIZATION_WRITE_ROLES
    clinic_path = "clinic"
    form = CoverageForm
    list_display = [
        "patient",
        "payer",
        "priority",
        "member_id",
        "start_date",
        "end_date",
    ]
    list_filter = ["priority", OwnPayerFilter]
    search_fields = ["patient__last_name", "patient__first_name", "=patient__mrn", "=member_id"]
    search_help_text = "Patient's name or MRN, or the member id."
    list_select_related = ["patient", "payer"]
    autocomplete_fields = ["patient"]

    def get_readonly_fields(self, request, obj=None):
        return ["patient", "payer"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "payer":
            kwargs["queryset"] = payer_list(user=request.user).select_related("clinic")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# Authorizations: the request form and the action pages --------------------------------------------


class AuthorizationAddForm(ServiceModelForm):
    """Asking the payer: ``authorization_request``, called from ``clean()``."""

    class Meta:
        model = Authorization
        fields = [
            "enrollment",
            "coverage",
            "authorized_level",
            "unit",
            "units_requested",
            "start_date",
            "end_date",
            "number",
            "next_review_on",
            "reviewer_name",
            "reviewer_phone",
            "notes",
        ]
        help_texts = {
            "authorized_level": "The level the payer is asked to authorize (the enrollment's "
            "clinical level stays as it is).",
            "unit": "Empty: days for residential and PHP, sessions otherwise.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].required = False

    def perform(self, data):
        return _constraint_as_field_error(
            lambda: services.authorization_request(
                actor=self.request.user,
                enrollment=data["enrollment"],
                coverage=data["coverage"],
                authorized_level=data["authorized_level"],
                unit=data.get("unit") or None,
                units_requested=data["units_requested"],
                start_date=data["start_date"],
                end_date=data["end_date"],
                number=data.get("number") or "",
                next_review_on=data.get("next_review_on"),
                reviewer_name=data.get("reviewer_name") or "",
                reviewer_phone=data.get("reviewer_phone") or "",
                notes=data.get("notes") or "",
            )
        )


class AuthorizationActionForm(EnrollmentActionForm):
    """An action page of one authorization; its enrollment gives the clinic's today, and
    ``run()`` turns the service's refusal (or a constraint's) into form errors."""

    def __init__(self, *args, authorization: Authorization, request, **kwargs):
        self.authorization = authorization
        super().__init__(*args, enrollment=authorization.enrollment, request=request, **kwargs)

    @classmethod
    def roles(cls):
        return UTILIZATION_WRITE_ROLES

    @classmethod
    def offered(cls, authorization: Authorization) -> bool:
        """Whether the authorization's page shows the button (the service decides in the end)."""
        return True

    def redirect_to(self, result):
        return self.authorization


class DecideForm(AuthorizationActionForm):
    action = "decide"
    title = "Record the payer's decision"
    submit_label = "Record the decision"
    intro = (
        "Approved takes all the units requested unless you give more (then tick the box); "
        "a partial approval gives fewer; a denial none."
    )
    decision = forms.ChoiceField(choices=[(d.value, d.label) for d in DECISIONS])
    units_approved = forms.IntegerField(required=False, min_value=0)
    approved_exceeds_request = forms.BooleanField(
        required=False, label="The payer approved more than was asked"
    )
    number = forms.CharField(required=False, max_length=80, label="Authorization number")
    next_review_on = forms.DateField(required=False, widget=AdminDateWidget)
    record_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["record_version"].initial = self.authorization.version
        self.fields["number"].initial = self.authorization.number
        self.fields["next_review_on"].initial = self.authorization.next_review_on

    @classmethod
    def offered(cls, authorization):
        return authorization.status == AuthorizationStatus.REQUESTED

    def perform(self, data):
        version = data.get("record_version")
        return services.authorization_decide(
            actor=self.request.user,
            authorization=self.authorization,
            decision=data["decision"],
            units_approved=data.get("units_approved"),
            approved_exceeds_request=data.get("approved_exceeds_request", False),
            number=data.get("number") or None,
            next_review_on=data.get("next_review_on"),
            expected_versions=None if version is None else {version},
        )

    def success_message(self, result):
        approved = f", {result.units_approved} {result.unit}" if result.units_approved else ""
        return f"The authorization is {result.get_status_display().lower()}{approved}."


class ScheduleReviewForm(AuthorizationActionForm):
    action = "schedule_review"
    title = "Schedule a review"
    submit_label = "Schedule"
    intro = "The authorization's next review date becomes the earliest open review's."
    kind = forms.ChoiceField(choices=ReviewKind.choices)
    scheduled_on = forms.DateField(widget=AdminDateWidget)
    reviewer = forms.CharField(required=False, max_length=200, help_text="The payer's reviewer.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        authorization = self.authorization
        self.fields["scheduled_on"].initial = authorization.next_review_on or self.today()
        self.fields["kind"].initial = (
            ReviewKind.APPEAL
            if authorization.status == AuthorizationStatus.DENIED
            else ReviewKind.CONCURRENT
        )
        self.fields["reviewer"].initial = authorization.reviewer_name

    @classmethod
    def offered(cls, authorization):
        return authorization.status != AuthorizationStatus.EXPIRED

    def perform(self, data):
        return services.review_schedule(
            actor=self.request.user,
            authorization=self.authorization,
            kind=data["kind"],
            scheduled_on=data["scheduled_on"],
            reviewer=data.get("reviewer") or "",
            notes=data.get("notes") or "",
        )

    def success_message(self, result):
        return f"{result.get_kind_display()} review scheduled on {result.scheduled_on}."


class RecordReviewForm(AuthorizationActionForm):
    action = "record_review"
    title = "Record a review's outcome"
    submit_label = "Record the outcome"
    intro = (
        "Approved more adds the units to the authorization (and moves its end when given); "
        "denied denies it, with the payer's recommended level if it gave one; pending "
        "information leaves it as it is."
    )
    review = forms.ModelChoiceField(queryset=None, empty_label=None)
    outcome = forms.ChoiceField(choices=ReviewOutcome.choices)
    done_on = forms.DateField(widget=AdminDateWidget, label="Done on")
    units_added = forms.IntegerField(required=False, min_value=1)
    end_date = forms.DateField(
        required=False, widget=AdminDateWidget, help_text="The new end, when the payer moved it."
    )
    next_review_on = forms.DateField(
        required=False,
        widget=AdminDateWidget,
        help_text="Filled with the next review already booked, if any; empty: none booked.",
    )
    payer_recommended_level = forms.ChoiceField(
        required=False,
        choices=[("", "---------"), *Level.choices],
        label="Payer's recommended level",
        help_text="With a denial only.",
    )
    reviewer = forms.CharField(required=False, max_length=200, help_text="Empty: as booked.")
    notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Empty: as booked."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["review"]
        field.queryset = self.authorization.reviews.filter(done_on__isnull=True).order_by(
            "scheduled_on", "id"
        )
        open_reviews = list(field.queryset)
        wanted = self.request.GET.get("review")
        chosen = next((r for r in open_reviews if wanted == str(r.pk)), None)
        chosen = chosen or (open_reviews[0] if open_reviews else None)
        if chosen is not None:
            field.initial = chosen.pk
        # Shown so the reviewer sees (and may change) the date the authorization keeps.
        booked = [r.scheduled_on for r in open_reviews if r is not chosen]
        self.fields["next_review_on"].initial = min(booked, default=None)
        self.fields["done_on"].initial = self.today()

    @classmethod
    def offered(cls, authorization):
        return any(review.done_on is None for review in authorization.reviews.all())

    def perform(self, data):
        return services.review_record(
            actor=self.request.user,
            review=data["review"],
            outcome=data["outcome"],
            done_on=data["done_on"],
            units_added=data.get("units_added"),
            end_date=data.get("end_date"),
            next_review_on=data.get("next_review_on"),
            payer_recommended_level=data.get("payer_recommended_level") or "",
            reviewer=data.get("reviewer") or None,
            notes=data.get("notes") or None,
        )

    def success_message(self, result):
        added = f": {result.units_added} more" if result.units_added else ""
        return (
            f"{result.get_kind_display()} review of {result.scheduled_on} recorded as "
            f"{result.get_outcome_display().lower()}{added}."
        )


ACTION_FORMS = {form.action: form for form in [DecideForm, ScheduleReviewForm, RecordReviewForm]}


# Authorizations: the admin ------------------------------------------------------------------------


@admin.register(Authorization)
class AuthorizationAdmin(ActionPagesMixin, ClinicScopedAdmin):
    """Each stay's authorizations with their use (``authorization_use``: in SQL, one query for a
    page). The change page is read-only; the payer's decision and the reviews are its buttons."""

    read_roles = STAFF_ROLES
    write_roles = UTILIZATION_WRITE_ROLES
    clinic_path = "enrollment__program__clinic"
    action_forms = ACTION_FORMS
    action_subject = "authorization"
    list_display = [
        "patient",
        "program",
        "payer",
        "levels",
        "status",
        "start_date",
        "end_date",
        "units_approved",
        "units_used",
        "units_remaining",
        "projected_exhaustion_on",
        "next_review_on",
    ]
    list_filter = ["status", OwnPayerFilter]
    search_fields = ["patient__last_name", "patient__first_name", "=patient__mrn", "=number"]
    search_help_text = "Patient's name or MRN, or the authorization number."
    date_hierarchy = "start_date"
    raw_id_fields = ["enrollment", "coverage"]
    detail_fields = [
        "patient",
        "enrollment_link",
        "payer",
        "coverage_link",
        "number",
        "levels",
        "unit",
        "status",
        "start_date",
        "end_date",
        "next_review_on",
        "reviewer_name",
        "reviewer_phone",
        "notes",
        "created_by",
    ]
    use_fields = [
        "units_requested",
        "units_approved",
        "approved_exceeds_request",
        "units_used",
        "units_remaining",
        "used_through",
        "projected_exhaustion_on",
    ]

    def get_queryset(self, request):
        authorizations = (
            super()
            .get_queryset(request)
            .select_related("patient", "payer", "enrollment__program", "coverage", "created_by")
            .prefetch_related("reviews")
        )
        return authorization_use(authorizations, now=timezone.now())

    def get_form(self, request, obj=None, **kwargs):
        # The change page is read-only: its changes are the action pages, each a service.
        kwargs["form"] = AuthorizationAddForm if obj is None else forms.ModelForm
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": AuthorizationAddForm.Meta.fields})]
        return [
            (None, {"fields": self.detail_fields}),
            ("Units", {"fields": self.use_fields}),
            ("Reviews", {"fields": ["reviews_table"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.detail_fields, *self.use_fields, "reviews_table"]

    def has_change_permission(self, request, obj=None):
        return False

    def response_add(self, request, obj, post_url_continue=None):
        # The next step (the payer's decision) is on the authorization's page.
        response = super().response_add(request, obj, post_url_continue)
        if any(key in request.POST for key in ("_addanother", "_popup")):
            return response
        return redirect("admin:programs_authorization_change", obj.pk)

    # The columns and fields -------------------------------------------------------------------

    @admin.display(description="Program", ordering="enrollment__program__name")
    def program(self, authorization):
        return authorization.enrollment.program

    @admin.display(description="Level: authorized / clinical")
    def levels(self, authorization):
        enrollment = authorization.enrollment
        text = f"{authorization.get_authorized_level_display()} / {enrollment.get_level_display()}"
        below = LEVEL_INTENSITY[authorization.authorized_level] < LEVEL_INTENSITY[enrollment.level]
        return f"{text} (authorized below clinical)" if below else text

    @admin.display(description="Used", ordering="units_used")
    def units_used(self, authorization):
        return authorization.units_used

    @admin.display(description="Remaining", ordering="units_remaining")
    def units_remaining(self, authorization):
        return authorization.units_remaining

    @admin.display(description="Counted through")
    def used_through(self, authorization):
        return authorization.used_through

    @admin.display(description="Runs out at this pace", ordering="projected_exhaustion_on")
    def projected_exhaustion_on(self, authorization):
        return authorization.projected_exhaustion_on

    @admin.display(description="Enrollment")
    def enrollment_link(self, authorization):
        enrollment = authorization.enrollment
        return change_link(enrollment, f"{enrollment.program} from {enrollment.start_date}")

    @admin.display(description="Coverage")
    def coverage_link(self, authorization):
        coverage = authorization.coverage
        label = f"{coverage.get_priority_display()}, member {coverage.member_id or '—'}"
        return change_link(coverage, label)

    @admin.display(description="Reviews")
    def reviews_table(self, authorization):
        clinical = authorization.enrollment.get_level_display()
        return related_table(
            [
                "Kind",
                "Scheduled",
                "Done",
                "Outcome",
                "Units added",
                "Payer's level (clinical)",
                "Next review",
                "Reviewer",
                "Notes",
            ],
            [
                (
                    review.get_kind_display(),
                    review.scheduled_on,
                    review.done_on or "",
                    review.get_outcome_display() or "open",
                    review.units_added or "",
                    f"{review.get_payer_recommended_level_display()} ({clinical})"
                    if review.payer_recommended_level
                    else "",
                    review.next_review_on or "",
                    review.reviewer,
                    review.notes,
                )
                for review in authorization.reviews.all()
            ],
        )

    # The change page's buttons and the action pages -------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["authorization_actions"] = [
                {"label": form.title, "url": self._action_url(obj, name)}
                for name, form in ACTION_FORMS.items()
                if self._has_role(request, form.roles()) and form.offered(obj)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return self.action_pages() + super().get_urls()
