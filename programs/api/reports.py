"""Reports over HTTP: the census, the step-down board, the admissions report, the outcomes
report and the continuity report. Thin: validate the query string, call the report selectors in
``programs.reports`` (the admissions report's in ``programs.reports_admissions``, the outcomes
report's in ``programs.reports_outcomes``, the continuity report's in
``programs.reports_continuity``), render. Every staff role reads the census, the board and the
continuity figures (supervisors its patients too); admissions and supervisors the admissions
report; clinicians and supervisors the outcomes report."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from clinic.api.mixins import NoStoreMixin, PatientDataMixin
from clinic.api.pagination import UncountedPageNumberPagination
from clinic.api.permissions import roles_allowed
from clinic.api.utils import validated
from clinic.models import AuditAction
from clinic.replica import replica_reads
from clinic.selectors import STAFF_ROLES
from clinic.services import audit_record_rows
from patients.instruments import INSTRUMENT_CHOICES
from patients.models import Level, Track
from programs import reports, reports_admissions, reports_continuity, reports_outcomes
from programs.models import AuthorizationStatus, AuthorizationUnit, Enrollment
from programs.services.inquiries import ADMISSIONS_REPORT_ROLES

# Census -----------------------------------------------------------------------------------------


class CensusQuerySerializer(serializers.Serializer):
    clinic = serializers.IntegerField(required=False, min_value=1, help_text="Clinic id.")
    level = serializers.ChoiceField(choices=Level.choices, required=False)
    program = serializers.IntegerField(required=False, min_value=1, help_text="Program id.")
    start = serializers.DateField(
        required=False, help_text="First day (default: today in the clinic's time zone)."
    )
    end = serializers.DateField(
        required=False,
        help_text=f"Last day, inclusive (default: {reports.CENSUS_DEFAULT_DAYS} days from the "
        f"start); at most {reports.CENSUS_MAX_DAYS} days in all.",
    )

    def validate(self, attrs):
        if "start" in attrs and "end" in attrs:
            try:
                reports.census_range_check(attrs["start"], attrs["end"])
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.message_dict) from error
        return attrs


class CensusProgramSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    level = serializers.ChoiceField(choices=Level.choices)
    track = serializers.ChoiceField(choices=Track.choices, allow_blank=True)


class CensusDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    capacity = serializers.IntegerField()
    admitted = serializers.IntegerField(help_text="Patients in on this day (started by today).")
    reserved = serializers.IntegerField(help_text="Places taken by admissions after today.")
    waitlisted = serializers.IntegerField(
        help_text="Waitlisted with a requested start on or before this day; 0 for past days "
        "(waitlist history is not kept)."
    )
    held = serializers.IntegerField(
        help_text="Places held from today on for waitlisted patients with a live offer (0 for "
        "past days)."
    )
    free = serializers.IntegerField(
        help_text="max(capacity − admitted − reserved − held, 0): as admissions count places."
    )
    authorized = serializers.IntegerField(
        help_text="Of the admitted, those with an authorization in force on this day (approved "
        "or partially approved, the day within its dates; by its status now)."
    )
    authorized_below_level = serializers.IntegerField(
        help_text="Of the authorized, those whose authorizations in force on this day are all "
        "of a level less intensive than the program's."
    )
    reviews_due = serializers.IntegerField(
        help_text="Open (not done) payer reviews scheduled on this day, of authorizations of "
        "the program's enrollments."
    )


class CensusRowSerializer(serializers.Serializer):
    program = CensusProgramSerializer()
    days = CensusDaySerializer(many=True)
    readmissions = serializers.IntegerField(
        help_text="The program's admissions starting in the range that are readmissions: within "
        "30 days of the patient's discharge from the clinic (not a transition)."
    )


class CensusView(generics.GenericAPIView):
    """Places per program and day over a date range (see ``programs.reports.census``)."""

    permission_classes = [roles_allowed(read=STAFF_ROLES)]
    serializer_class = CensusRowSerializer
    filter_backends = []

    @extend_schema(
        parameters=[CensusQuerySerializer],
        responses=CensusRowSerializer(many=True),
    )
    @replica_reads()
    def get(self, request):
        query = validated(CensusQuerySerializer, request, data=request.query_params)
        start, end = reports.census_range(
            user=request.user,
            start=query.get("start"),
            end=query.get("end"),
            clinic=query.get("clinic"),
        )
        programs = reports.census_programs(
            user=request.user,
            clinic=query.get("clinic"),
            level=query.get("level"),
            program=query.get("program"),
        )
        page = self.paginate_queryset(programs)
        rows = reports.census(user=request.user, start=start, end=end, programs_queryset=page)
        return self.get_paginated_response(CensusRowSerializer(rows, many=True).data)


# Step-down board --------------------------------------------------------------------------------


class StepDownQuerySerializer(serializers.Serializer):
    clinic = serializers.IntegerField(required=False, min_value=1, help_text="Clinic id.")
    program = serializers.IntegerField(required=False, min_value=1, help_text="Program id.")
    level = serializers.ChoiceField(
        choices=Level.choices, required=False, help_text="The enrollment's level of care."
    )
    flag = serializers.ChoiceField(
        choices=reports.FLAGS, required=False, help_text="Only rows with this flag."
    )
    ordering = serializers.ChoiceField(
        choices=list(reports.STEP_DOWN_ORDERINGS),
        default=reports.STEP_DOWN_DEFAULT_ORDERING,
        help_text="Sort key; a leading '-' sorts descending (default: longest stay first).",
    )


class StepDownMeasureSerializer(serializers.Serializer):
    instrument = serializers.ChoiceField(choices=INSTRUMENT_CHOICES)
    latest_total = serializers.IntegerField(
        allow_null=True, help_text="The latest response's total in the stay (null for the BAM)."
    )
    latest_subscales = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="The BAM's use, risk and protective scores of the latest response; {} else.",
    )
    latest_band = serializers.CharField(allow_null=True)
    latest_at = serializers.DateTimeField(allow_null=True)
    change_since_admission = serializers.IntegerField(
        allow_null=True,
        help_text="Latest − first total of the stay; null with fewer than two responses.",
    )
    worsened = serializers.BooleanField(
        help_text=f"PHQ-9 or GAD-7 up {reports.MEASURE_WORSENED_POINTS} points or more since "
        "the stay's first response."
    )
    due = serializers.BooleanField(help_text="Due now (programs' schedules and orders).")
    overdue = serializers.BooleanField(
        help_text="Due for 3 days or more (an ordered one: an hour past its hour)."
    )


class StepDownRowSerializer(serializers.Serializer):
    enrollment = serializers.IntegerField()
    patient = serializers.IntegerField()
    patient_name = serializers.CharField(help_text='"Last, First".')
    program = serializers.IntegerField()
    level = serializers.ChoiceField(choices=Level.choices)
    start_date = serializers.DateField()
    days_in_program = serializers.IntegerField(help_text="Today − start date.")
    planned_end_date = serializers.DateField()
    min_stay_days = serializers.IntegerField(allow_null=True)
    min_stay_reached = serializers.BooleanField(
        help_text="True when the program has no minimum stay."
    )
    latest_assessment = serializers.IntegerField(
        allow_null=True, help_text="The patient's latest assessment (by assessed_at)."
    )
    latest_recommended_level = serializers.ChoiceField(choices=Level.choices, allow_null=True)
    latest_level = serializers.ChoiceField(
        choices=Level.choices,
        allow_null=True,
        help_text="The latest assessment's decided level, else its recommendation.",
    )
    authorization = serializers.IntegerField(
        allow_null=True,
        help_text="The enrollment's current authorization: the one in force today (approved or "
        "partially approved, today within its dates), else the latest by start date of any "
        "status; null without one.",
    )
    authorization_status = serializers.ChoiceField(
        choices=AuthorizationStatus.choices, allow_null=True
    )
    authorized_level = serializers.ChoiceField(
        choices=Level.choices,
        allow_null=True,
        help_text="The level the payer authorized, beside the enrollment's clinical level.",
    )
    authorization_unit = serializers.ChoiceField(choices=AuthorizationUnit.choices, allow_null=True)
    units_remaining = serializers.IntegerField(
        allow_null=True,
        help_text="Units approved less used (days present or sessions attended), never below 0; "
        "null before a decision.",
    )
    authorization_end_date = serializers.DateField(allow_null=True)
    next_review_on = serializers.DateField(
        allow_null=True, help_text="The next review of the current authorization with the payer."
    )
    payer_recommended_level = serializers.ChoiceField(
        choices=Level.choices,
        allow_null=True,
        help_text="The level the payer recommended with its latest denial of any of the "
        "enrollment's authorizations (beside latest_recommended_level, the clinical one).",
    )
    adherence = serializers.FloatField(
        allow_null=True,
        help_text="Sessions attended / sessions expected so far; null before the first one.",
    )
    sessions_expected = serializers.IntegerField(
        help_text="Ended, not cancelled sessions the patient was on the roster of."
    )
    sessions_attended = serializers.IntegerField(help_text="Of those, present or late.")
    no_show_rate = serializers.FloatField(
        allow_null=True, help_text="Absences (not excused) / sessions expected."
    )
    hours_this_week = serializers.DecimalField(
        max_digits=6, decimal_places=2, help_text="Hours attended this local week (Mon–Sun)."
    )
    weekly_hours_min = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        help_text="The program's weekly minimum (IOP: 9 hours for adults).",
    )
    readmission = serializers.BooleanField(
        help_text="The stay began within 30 days of the patient's last discharge from the clinic "
        "(a discharge, not a transition; the stay itself not a transition's continuation)."
    )
    unsigned_notes = serializers.IntegerField(
        help_text="The patient's progress notes of any session at the clinic not yet signed "
        "for good: drafts and notes awaiting a co-signature."
    )
    measures = StepDownMeasureSerializer(
        many=True,
        help_text="Each instrument scheduled in the program (or ordered) with a response in the "
        "stay or due now, by instrument.",
    )
    flags = serializers.ListField(
        child=serializers.ChoiceField(choices=reports.ROW_FLAGS),
        help_text="ready_for_step_down: minimum stay reached and the latest level less "
        "intensive than the enrollment's; past_planned_end: today is after the planned end; "
        "gap_after_transition: moved here more than 7 days before a first session (or none "
        "yet); authorization_ends_before_planned_end: the current authorization is in force "
        "and ends before the planned end; authorized_level_below_clinical: the current "
        "authorization is in force and its level is less intensive than the enrollment's; "
        "measure_worsened: a measure worsened since admission (see measures); measure_overdue: "
        "a measure is overdue.",
    )


class StepDownBoardView(PatientDataMixin, generics.GenericAPIView):
    """Each enrollment active today with what a step-down decision weighs (see
    ``programs.reports.step_down_queryset``). Patient data: each page is audited and never
    cached."""

    permission_classes = [roles_allowed(read=STAFF_ROLES)]
    serializer_class = StepDownRowSerializer
    filter_backends = []
    # No COUNT of the whole board for a page (page_size + 1 ids say whether there is more).
    pagination_class = UncountedPageNumberPagination

    def audit_clinic_id(self, obj):
        return obj.program.clinic_id

    @extend_schema(
        parameters=[StepDownQuerySerializer],
        responses=StepDownRowSerializer(many=True),
    )
    @replica_reads()
    def get(self, request):
        query = validated(StepDownQuerySerializer, request, data=request.query_params)
        # The page is cut first, then only its rows are annotated (cost follows the page).
        now = timezone.now()
        first = self.paginator.rows_needed(request)
        ids = self.paginate_queryset(
            reports.step_down_page_ids(user=request.user, now=now, first=first, **query)
        )
        page = reports.step_down_enrollments(ids, now=now)
        self.audit_list(page)
        rows = reports.step_down_rows(page, now=now)
        return self.get_paginated_response(StepDownRowSerializer(rows, many=True).data)


# Admissions -------------------------------------------------------------------------------------

MONTH_PATTERN = r"^\d{4}-\d{2}$"


class AdmissionsReportQuerySerializer(serializers.Serializer):
    start = serializers.RegexField(
        MONTH_PATTERN,
        required=False,
        help_text="First month of receipt, YYYY-MM (default: "
        f"{reports_admissions.ADMISSIONS_REPORT_DEFAULT_MONTHS} months up to the end).",
    )
    end = serializers.RegexField(
        MONTH_PATTERN,
        required=False,
        help_text="Last month, inclusive, YYYY-MM (default: this month in the clinic's zone); at "
        f"most {reports_admissions.ADMISSIONS_REPORT_MAX_MONTHS} months in all.",
    )
    clinic = serializers.IntegerField(required=False, min_value=1, help_text="Clinic id.")

    def validate(self, attrs):
        try:
            for name in ("start", "end"):
                if name in attrs:
                    attrs[name] = reports_admissions.Month.parse(attrs[name], name)
            if "start" in attrs and "end" in attrs:
                reports_admissions.admissions_report_range(
                    user=None, start=attrs["start"], end=attrs["end"]
                )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        return attrs


class AdmissionsFiguresSerializer(serializers.Serializer):
    inquiries = serializers.IntegerField(help_text="Inquiries received.")
    screened = serializers.IntegerField(help_text="Of those, with a screening on file.")
    verified = serializers.IntegerField(help_text="With a verification of benefits on file.")
    scheduled = serializers.IntegerField(help_text="Whose status ever reached scheduled.")
    admitted = serializers.IntegerField(help_text="Admitted.")
    conversion_rate = serializers.FloatField(
        allow_null=True, help_text="admitted / inquiries; null without inquiries."
    )
    median_days_to_admission = serializers.FloatField(
        allow_null=True,
        help_text="Median days from receipt to admission (the admission's start date, else the "
        "day the inquiry became admitted; local dates); null without admissions.",
    )


class AdmissionsMonthSerializer(AdmissionsFiguresSerializer):
    month = serializers.CharField(help_text="YYYY-MM, of receipt in the clinic's zone.")


class AdmissionsSourceSerializer(AdmissionsFiguresSerializer):
    referral_source = serializers.IntegerField()
    referral_source_name = serializers.CharField()
    clinic = serializers.IntegerField()


class AdmissionsRowSerializer(AdmissionsSourceSerializer):
    month = serializers.CharField(help_text="YYYY-MM, of receipt in the clinic's zone.")


class AdmissionsReportSerializer(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    months = AdmissionsMonthSerializer(many=True, help_text="Every month of the range.")
    sources = AdmissionsSourceSerializer(many=True, help_text="Each referral source in all.")
    rows = AdmissionsRowSerializer(
        many=True, help_text="Per month and referral source (those with inquiries)."
    )
    total = AdmissionsFiguresSerializer()


class AdmissionsReportView(NoStoreMixin, generics.GenericAPIView):
    """How inquiries became admissions, per month of receipt and referral source (see
    ``programs.reports_admissions``): counts only, no one named; one query."""

    permission_classes = [roles_allowed(read=ADMISSIONS_REPORT_ROLES)]
    serializer_class = AdmissionsReportSerializer
    filter_backends = []
    pagination_class = None

    @extend_schema(parameters=[AdmissionsReportQuerySerializer])
    def get(self, request):
        query = validated(AdmissionsReportQuerySerializer, request, data=request.query_params)
        start, end = reports_admissions.admissions_report_range(
            user=request.user,
            start=query.get("start"),
            end=query.get("end"),
            clinic=query.get("clinic"),
        )
        report = reports_admissions.admissions_report(
            user=request.user, start=start, end=end, clinic=query.get("clinic")
        )
        return Response(AdmissionsReportSerializer(report).data)


# Outcomes ---------------------------------------------------------------------------------------


class OutcomesReportQuerySerializer(AdmissionsReportQuerySerializer):
    start = serializers.RegexField(
        MONTH_PATTERN,
        required=False,
        help_text="First month, YYYY-MM (default: "
        f"{reports_admissions.ADMISSIONS_REPORT_DEFAULT_MONTHS} months up to the end).",
    )
    program = serializers.IntegerField(required=False, min_value=1, help_text="Program id.")


class OutcomesFiguresSerializer(serializers.Serializer):
    patients_measured = serializers.IntegerField(
        help_text="Patients of the stays with a response completed in the month (the clinic's "
        "dates); in a total, in the range."
    )
    with_follow_up = serializers.IntegerField(
        help_text="Of those stays, the ones with two PHQ-9 or GAD-7 responses or more by the "
        "month's end."
    )
    improved = serializers.IntegerField(
        help_text=f"Of those, the PHQ-9 or GAD-7 latest total {reports_outcomes.IMPROVED_DROP} "
        "points or more below the stay's first, or below "
        f"{reports_outcomes.REMISSION_BELOW}."
    )
    improved_share = serializers.FloatField(
        allow_null=True, help_text="improved / with_follow_up; null without follow-up."
    )
    median_change = serializers.FloatField(
        allow_null=True,
        help_text="Median of the latest − first PHQ-9 total of the stays with two or more "
        "(negative is better); null without.",
    )
    completed = serializers.IntegerField(
        help_text="Responses completed to the instruments the program schedules."
    )
    due = serializers.IntegerField(
        help_text="Measures that fell due by the programs' schedules while the stay was open."
    )


class OutcomesMonthSerializer(OutcomesFiguresSerializer):
    month = serializers.CharField(help_text="YYYY-MM, in the clinic's zone.")


class OutcomesProgramSerializer(serializers.Serializer):
    program = serializers.IntegerField()
    program_name = serializers.CharField()
    clinic = serializers.IntegerField()
    months = OutcomesMonthSerializer(many=True, help_text="Every month of the range.")
    total = OutcomesFiguresSerializer(help_text="The range as a whole (a stay counted once).")


class OutcomesReportSerializer(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    programs = OutcomesProgramSerializer(many=True)
    months = OutcomesMonthSerializer(many=True, help_text="All the programs, per month.")
    total = OutcomesFiguresSerializer()


class OutcomesReportView(NoStoreMixin, generics.GenericAPIView):
    """What the measures say of each program, per program and month of measurement (see
    ``programs.reports_outcomes``): counts, shares and medians, no one named; constant
    queries whatever the range."""

    permission_classes = [roles_allowed(read=reports_outcomes.OUTCOMES_REPORT_ROLES)]
    serializer_class = OutcomesReportSerializer
    filter_backends = []
    pagination_class = None

    @extend_schema(parameters=[OutcomesReportQuerySerializer])
    @replica_reads()
    def get(self, request):
        query = validated(OutcomesReportQuerySerializer, request, data=request.query_params)
        start, end = reports_admissions.admissions_report_range(
            user=request.user,
            start=query.get("start"),
            end=query.get("end"),
            clinic=query.get("clinic"),
        )
        report = reports_outcomes.outcomes_report(
            user=request.user,
            start=start,
            end=end,
            clinic=query.get("clinic"),
            program=query.get("program"),
        )
        return Response(OutcomesReportSerializer(report).data)


# Continuity -------------------------------------------------------------------------------------


class ContinuityReportQuerySerializer(OutcomesReportQuerySerializer):
    start = serializers.RegexField(
        MONTH_PATTERN,
        required=False,
        help_text="First month of discharge, YYYY-MM (default: "
        f"{reports_admissions.ADMISSIONS_REPORT_DEFAULT_MONTHS} months up to the end).",
    )


class ContinuityFiguresSerializer(serializers.Serializer):
    eligible = serializers.IntegerField(
        help_text="Stays of the program ended in the month by a discharge or a transition to a "
        "program that is not high-intensity; none whose follow-up recorded the patient deceased."
    )
    followed_up_7_days = serializers.IntegerField(
        help_text="Of those, with a follow-up visit dated from the discharge date D to D+7 "
        "inclusive: an attended (present or late) session at a non-residential program of the "
        "clinic (the clinic's date), or a follow-up task completed seen_elsewhere on those days."
    )
    followed_up_30_days = serializers.IntegerField(help_text="Likewise, D to D+30 inclusive.")
    rate_7_days = serializers.FloatField(
        allow_null=True, help_text="followed_up_7_days / eligible; null with none eligible."
    )
    rate_30_days = serializers.FloatField(
        allow_null=True, help_text="followed_up_30_days / eligible; null with none eligible."
    )
    window_open = serializers.IntegerField(
        help_text="Of the eligible, those not followed up yet whose 30 days are not all past "
        "(the clinic's today ≤ D+30): they may still be."
    )
    discharges = serializers.IntegerField(
        help_text="Of the eligible, those ended by a discharge (not the source of a transition)."
    )
    readmitted = serializers.IntegerField(
        help_text="Of those discharges, the ones followed by a new admission of the patient at "
        "the clinic within 30 days (not a transition)."
    )
    readmission_rate = serializers.FloatField(
        allow_null=True, help_text="readmitted / discharges; null without discharges."
    )


class ContinuityPatientSerializer(serializers.Serializer):
    enrollment = serializers.IntegerField(help_text="The stay that ended.")
    patient = serializers.IntegerField()
    patient_name = serializers.CharField(help_text='"Last, First".')
    discharge_date = serializers.DateField()
    transferred = serializers.BooleanField(
        help_text="Ended by a transition (a step-down), not a discharge."
    )
    followed_up_on = serializers.DateField(
        allow_null=True, help_text="The first follow-up visit within 30 days; null without."
    )
    readmitted_on = serializers.DateField(
        allow_null=True, help_text="The start of a readmission within 30 days; null without."
    )


class ContinuityMonthSerializer(ContinuityFiguresSerializer):
    month = serializers.CharField(help_text="YYYY-MM, of the discharge date.")


class ContinuityProgramMonthSerializer(ContinuityMonthSerializer):
    patients = ContinuityPatientSerializer(
        many=True,
        allow_null=True,
        help_text="The eligible stays, for supervisors (each reading audited); null for other "
        "roles.",
    )


class ContinuityProgramSerializer(serializers.Serializer):
    program = serializers.IntegerField()
    program_name = serializers.CharField()
    clinic = serializers.IntegerField()
    months = ContinuityProgramMonthSerializer(many=True, help_text="Every month of the range.")
    total = ContinuityFiguresSerializer(help_text="The range as a whole.")


class ContinuityReportSerializer(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    lists_patients = serializers.BooleanField(
        help_text="Whether the rows list their patients (the caller is a supervisor)."
    )
    programs = ContinuityProgramSerializer(
        many=True,
        help_text="The high-intensity programs (residential, PHP, withdrawal management).",
    )
    months = ContinuityMonthSerializer(many=True, help_text="All the programs, per month.")
    total = ContinuityFiguresSerializer()


class ContinuityReportView(NoStoreMixin, generics.GenericAPIView):
    """The continuity measure: per high-intensity program and month of discharge, the stays
    followed by a visit within 7 and 30 days and the readmissions (see
    ``programs.reports_continuity``); supervisors get the patients (audited). Constant queries
    whatever the range."""

    permission_classes = [roles_allowed(read=reports_continuity.CONTINUITY_REPORT_ROLES)]
    serializer_class = ContinuityReportSerializer
    filter_backends = []
    pagination_class = None

    @extend_schema(parameters=[ContinuityReportQuerySerializer])
    @replica_reads()
    def get(self, request):
        query = validated(ContinuityReportQuerySerializer, request, data=request.query_params)
        start, end = reports_admissions.admissions_report_range(
            user=request.user,
            start=query.get("start"),
            end=query.get("end"),
            clinic=query.get("clinic"),
        )
        report = reports_continuity.continuity_report(
            user=request.user,
            start=start,
            end=end,
            clinic=query.get("clinic"),
            program=query.get("program"),
            now=timezone.now(),
        )
        audit_record_rows(
            actor=request.user,
            action=AuditAction.LIST,
            object_type=Enrollment._meta.label_lower,
            rows=reports_continuity.listed_stays(report),
        )
        return Response(ContinuityReportSerializer(report).data)
