"""Reads of the programs app, scoped to the caller's clinics (``me/``: to the patient)."""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Count,
    DateField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Least, Lower, NullIf
from django.db.models.lookups import LessThan
from django.utils import timezone

from clinic.errors import Forbidden
from clinic.models import Bed, Clinic, Role, zone_today
from clinic.selectors import CLINICAL_ROLES, acts_for_clinic, clinic_ids_for_user, user_has_role
from patients.instruments import INSTRUMENTS
from patients.models import Patient
from patients.services import possible_duplicates
from programs.models import (
    AUTHORIZED,
    NOTE_DUE_Q,
    OCCUPYING,
    OPEN_INQUIRY,
    AdmissionHold,
    AftercareGoal,
    AftercareItem,
    AftercarePlan,
    AftercarePlanStatus,
    Authorization,
    AuthorizationStatus,
    AuthorizationUnit,
    BedAssignment,
    BenefitsVerification,
    CallbackRequest,
    CheckIn,
    ConcurrentReview,
    Coverage,
    DischargeSummary,
    DischargeSummaryAddendum,
    Disclosure,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStatusChange,
    FollowUpAttempt,
    FollowUpTask,
    GoalStatus,
    HoldStatus,
    Inquiry,
    InquiryContact,
    InquiryScreening,
    InquiryStatusChange,
    MeasureOrder,
    MeasureResponse,
    MeasureSchedule,
    Payer,
    PayerKind,
    Program,
    ProgressNote,
    ProgressNoteStatus,
    ReferralSource,
    Transition,
    WaitlistOffer,
    progress_note_status_expr,
    progress_note_status_q,
)
from scheduling.models import ATTENDED, Attendance


def _clinic_today(zone_field: str, now: datetime.datetime) -> Cast:
    """The clinic's local date at ``now``, in SQL (``timezone(zone, now)::date``)."""
    local = Func(
        F(zone_field),
        Value(now, output_field=DateTimeField()),
        function="timezone",
        output_field=DateTimeField(),
    )
    return Cast(local, DateField())


def program_list(*, user) -> QuerySet[Program]:
    return Program.objects.filter(clinic_id__in=clinic_ids_for_user(user)).select_related("clinic")


def program_places(
    programs: list[Program],
    *,
    now: datetime.datetime | None = None,
    on_date: datetime.date | None = None,
    for_enrollment: Enrollment | None = None,
    for_hold: AdmissionHold | None = None,
) -> dict[int, dict[str, int]]:
    """``{program id: {"active_count", "free_places"}}`` for a page of programs, in two queries.

    The one count of free places: the programs list, the patient page and the admission and
    offer services (``program_free_places``, one program) all read it here.

    ``active_count``: patients admitted and present today (in the clinic's zone at ``now``);
    ``free_places``: capacity less the peak occupancy from ``on_date`` (default: each program's
    today) on, since future admissions reserve their places, and less the places held by live
    offers (open, expiring after ``now``), except ``for_enrollment``'s own: an offered patient's
    held place is free for them. A live admission hold (``AdmissionHold`` held) takes a place
    from its admission date on, as an open-ended stay starting that day would, except
    ``for_hold``'s own: the held place is free for the admission it was held for.
    """
    if not programs:
        return {}
    now = now or timezone.now()
    from_dates = {p.pk: on_date or p.clinic.today(now) for p in programs}
    todays = {p.pk: p.clinic.today(now) for p in programs}
    earliest = min([*from_dates.values(), *todays.values()])
    stays, present = defaultdict(list), defaultdict(list)
    holds = AdmissionHold.objects.filter(program__in=programs, status=HoldStatus.HELD)
    if for_hold is not None:
        holds = holds.exclude(pk=for_hold.pk)
    # One query for stays and holds alike: a hold is a stay from its admission date, never
    # ending, that no one is present for yet.
    for program_id, start, end, is_hold in (
        Enrollment.objects.filter(program__in=programs, status__in=OCCUPYING)
        .exclude(discharge_date__lte=earliest)
        .values_list("program_id", "start_date", "discharge_date", Value(False))
        .union(
            holds.values_list(
                "program_id",
                "admission_date",
                Value(None, output_field=DateField()),
                Value(True),
            ),
            all=True,
        )
    ):
        stays[program_id].append((start, end))
        if not is_hold:
            present[program_id].append((start, end))
    offers = Enrollment.objects.filter(
        program__in=programs, status=EnrollmentStatus.WAITLISTED, offer_expires_at__gt=now
    )
    if for_enrollment is not None:
        offers = offers.exclude(pk=for_enrollment.pk)
    held = dict(offers.values("program_id").annotate(n=Count("id")).values_list("program_id", "n"))
    places = {}
    for program in programs:
        from_date, ranges = from_dates[program.pk], stays[program.pk]

        def occupied(day, ranges=ranges):
            return sum(1 for start, end in ranges if start <= day and (end is None or day < end))

        # Occupancy only rises at an admission's start, so its peak over [from_date, ∞) is at
        # from_date or at a later start.
        peak = max([occupied(from_date), *(occupied(s) for s, _e in ranges if s > from_date)])
        places[program.pk] = {
            "active_count": occupied(todays[program.pk], present[program.pk]),
            "free_places": max(program.capacity - peak - held.get(program.pk, 0), 0),
        }
    return places


def program_free_places(
    program: Program,
    on_date: datetime.date,
    *,
    now: datetime.datetime | None = None,
    for_enrollment: Enrollment | None = None,
    for_hold: AdmissionHold | None = None,
) -> int:
    """Places free in ``program`` from ``on_date`` on (``program_places`` for one program). A
    service that admits, offers or holds on this answer calls it with the program locked
    (``programs.locks``), so a concurrent admission cannot take the place in between."""
    return program_places(
        [program], now=now, on_date=on_date, for_enrollment=for_enrollment, for_hold=for_hold
    )[program.pk]["free_places"]


def care_team_recipients(enrollment: Enrollment) -> dict:
    """Whom an alert about a patient's stay goes to, as ``alert_raise`` takes it: the primary
    clinician, or every clinician of the clinic when the stay has none."""
    clinician = enrollment.primary_clinician
    if clinician is not None:
        return {"recipient": clinician, "recipient_role": ""}
    return {"recipient": None, "recipient_role": Role.CLINICIAN}


def enrollment_list(*, user, with_offers: bool = False) -> QuerySet[Enrollment]:
    """Enrollments of the caller's clinics with their status history (one query for a page);
    ``with_offers``: their waitlist offers too, newest first (one more query)."""
    enrollments = (
        Enrollment.objects.filter(program__clinic_id__in=clinic_ids_for_user(user))
        .select_related("program", "patient")
        .prefetch_related(
            Prefetch(
                "status_changes",
                queryset=EnrollmentStatusChange.objects.select_related("changed_by").order_by(
                    "changed_at", "id"
                ),
            )
        )
    )
    if with_offers:
        enrollments = enrollments.prefetch_related(
            Prefetch("offers", queryset=WaitlistOffer.objects.order_by("-offered_at", "-id"))
        )
    return enrollments


def transition_list(*, user) -> QuerySet[Transition]:
    return Transition.objects.filter(
        from_enrollment__program__clinic_id__in=clinic_ids_for_user(user)
    ).select_related("from_enrollment__program", "to_enrollment__program", "decided_by")


# Aftercare ----------------------------------------------------------------------------------------


def aftercare_plan_list(*, user) -> QuerySet[AftercarePlan]:
    """Plans of the caller's clinics, with their items and goals (two queries for a page)."""
    return (
        AftercarePlan.objects.filter(enrollment__program__clinic_id__in=clinic_ids_for_user(user))
        .select_related("enrollment__program")
        .prefetch_related(
            Prefetch("items", queryset=AftercareItem.objects.order_by("kind", "id")),
            Prefetch("goals", queryset=AftercareGoal.objects.order_by("id")),
        )
    )


def aftercare_item_list(*, plan: AftercarePlan) -> QuerySet[AftercareItem]:
    return AftercareItem.objects.filter(plan=plan).order_by("kind", "id")


def aftercare_goal_list(*, plan: AftercarePlan) -> QuerySet[AftercareGoal]:
    return AftercareGoal.objects.filter(plan=plan).order_by("id")


def checkin_list(*, plan: AftercarePlan) -> QuerySet[CheckIn]:
    """The plan's check-ins, newest first."""
    return CheckIn.objects.filter(plan=plan).order_by("-recorded_at", "-id")


# The patient's own (``me/``) ----------------------------------------------------------------------


def enrollment_list_of_patient(*, patient) -> QuerySet[Enrollment]:
    """The patient's enrollments, newest first."""
    return (
        Enrollment.objects.filter(patient=patient)
        .select_related("program")
        .order_by("-start_date", "-id")
    )


# A patient's plan in force first: the newest active one, else the newest draft.
_CURRENT_PLAN_ORDER = (
    Case(When(status=AftercarePlanStatus.ACTIVE, then=0), default=1),
    "-created_at",
    "-id",
)


def aftercare_plan_current(*, patient, with_contents: bool = False) -> AftercarePlan | None:
    """The patient's plan in force: the newest active one, else the newest draft (discharge
    planning); a closed plan is no one's current plan. ``with_contents``: items and goals too."""
    plans = (
        AftercarePlan.objects.filter(patient=patient)
        .exclude(status=AftercarePlanStatus.CLOSED)
        .select_related("enrollment__program")
        .order_by(*_CURRENT_PLAN_ORDER)
    )
    if with_contents:
        plans = plans.prefetch_related(
            Prefetch("items", queryset=AftercareItem.objects.order_by("kind", "id")),
            Prefetch("goals", queryset=AftercareGoal.objects.order_by("id")),
        )
    return plans.first()


def checkin_list_of_patient(*, patient) -> QuerySet[CheckIn]:
    """The patient's check-ins on every plan, newest first."""
    return CheckIn.objects.filter(patient=patient).order_by("-recorded_at", "-id")


def bed_assignments_holding(
    first_day: datetime.date, last_day: datetime.date | None = None
) -> QuerySet[BedAssignment]:
    """Bed assignments holding their bed on some day from ``first_day`` to ``last_day``
    (default: that one day); an assignment holds ``[start_date, end_date)``."""
    return BedAssignment.objects.filter(start_date__lte=last_day or first_day).filter(
        Q(end_date__isnull=True) | Q(end_date__gt=first_day)
    )


def bed_board(*, user) -> list[dict]:
    """Every active bed of the caller's clinics with who is in it today (the clinic's date).

    ``[{"bed", "programs": [names], "assignment": BedAssignment | None, "hold":
    AdmissionHold | None}]`` by clinic, room and label, in four queries (beds, their programs,
    their live admission holds, today's assignments with patient and program). A bed held for a
    scheduled admission is not free: it waits for that person (the hold names no one here).
    """
    beds = list(
        Bed.objects.filter(clinic_id__in=clinic_ids_for_user(user), is_active=True)
        .select_related("clinic")
        .prefetch_related(
            Prefetch("programs", queryset=Program.objects.order_by("name")),
            Prefetch(
                "holds",
                queryset=AdmissionHold.objects.filter(status=HoldStatus.HELD),
                to_attr="live_holds",
            ),
        )
        .order_by("clinic_id", "room", "label")
    )
    if not beds:
        return []
    today = {bed.clinic_id: bed.clinic.today() for bed in beds}
    candidates = (
        bed_assignments_holding(min(today.values()), max(today.values()))
        .filter(bed__in=beds)
        .select_related("enrollment__patient", "enrollment__program")
        .order_by("start_date", "id")
    )
    clinic_of_bed = {bed.pk: bed.clinic_id for bed in beds}
    current = {}
    for assignment in candidates:
        day = today[clinic_of_bed[assignment.bed_id]]
        if assignment.start_date <= day and (
            assignment.end_date is None or assignment.end_date > day
        ):
            current[assignment.bed_id] = assignment
    return [
        {
            "bed": bed,
            "programs": [program.name for program in bed.programs.all()],
            "assignment": current.get(bed.pk),
            "hold": bed.live_holds[0] if bed.live_holds else None,
        }
        for bed in beds
    ]


# Disclosures --------------------------------------------------------------------------------------

# How far back the patient's own accounting of disclosures reaches (42 CFR §2.24: three years).
ACCOUNTING_YEARS = 3


def disclosure_list(*, user) -> QuerySet[Disclosure]:
    """Disclosures of the caller's clinics' patients, newest first."""
    return (
        Disclosure.objects.filter(patient__clinic_id__in=clinic_ids_for_user(user))
        .select_related("patient", "disclosed_by")
        .order_by("-disclosed_at", "-id")
    )


def disclosure_list_of_patient(*, patient) -> QuerySet[Disclosure]:
    """The accounting of one patient's disclosures, newest first."""
    return (
        Disclosure.objects.filter(patient=patient)
        .select_related("patient", "disclosed_by")
        .order_by("-disclosed_at", "-id")
    )


def disclosure_accounting_of_patient(*, patient, now: datetime.datetime) -> QuerySet[Disclosure]:
    """What the patient may ask to see (§2.24): their disclosures of the last three years up to
    ``now``, newest first."""
    try:
        since = now.replace(year=now.year - ACCOUNTING_YEARS)
    except ValueError:  # 29 February
        since = now.replace(year=now.year - ACCOUNTING_YEARS, day=28)
    return Disclosure.objects.filter(patient=patient, disclosed_at__gte=since).order_by(
        "-disclosed_at", "-id"
    )


# Utilization review -------------------------------------------------------------------------------


def payer_list(*, user) -> QuerySet[Payer]:
    return Payer.objects.filter(clinic_id__in=clinic_ids_for_user(user))


def coverage_list(*, user) -> QuerySet[Coverage]:
    return Coverage.objects.filter(clinic_id__in=clinic_ids_for_user(user)).select_related("payer")


def coverage_list_of_patient(*, patient) -> QuerySet[Coverage]:
    return Coverage.objects.filter(patient=patient).select_related("payer")


class _DateDiff(Func):
    """``a - b`` of two dates in days (PostgreSQL's integer date difference)."""

    template = "(%(expressions)s)"
    arg_joiner = " - "
    output_field = IntegerField()


class _DatePlusDays(Func):
    """``date + n`` (PostgreSQL adds whole days to a date and keeps a date)."""

    template = "(%(expressions)s)"
    arg_joiner = " + "
    output_field = DateField()


def authorization_use(
    authorizations: QuerySet[Authorization],
    *,
    now: datetime.datetime | None = None,
    today: datetime.date | None = None,
) -> QuerySet[Authorization]:
    """``authorizations`` annotated with their use as of the clinic's today at ``now`` (or as
    of ``today`` when given, as the step-down board's ``today``), in SQL (one query for the
    page, whatever its size; as a subquery, see ``current_authorizations``):

    - ``used_through``: the last day counted, the clinic's today or the authorization's end;
    - ``units_used``: days authorized in days, the days the patient occupied the program (the
      census's occupancy, ``[start_date, discharge_date)`` of each admitted or discharged stay
      of the patient in the enrollment's program, so a day between a discharge and a
      readmission is not used) within the authorization's dates; sessions or units, the
      program's sessions the patient attended (present or late) on those dates, in the clinic's
      time zone;
    - ``units_remaining``: approved less used, never below 0 (none before a decision);
    - ``projected_exhaustion_on``: while in force, the day the approved units run out at the
      pace so far (units used ÷ days elapsed); none before any use, and none when they outlast
      the authorization's end (it ends first).
    """
    if today is not None:
        today = Value(today, output_field=DateField())
    else:
        today = _clinic_today("enrollment__program__clinic__time_zone", now or timezone.now())
    authorizations = authorizations.annotate(
        use_today=today,
        # The first day not counted: the day after today, or after the authorization's end.
        use_window_end=Least(
            _DatePlusDays(F("end_date"), Value(1)), _DatePlusDays(today, Value(1))
        ),
    )
    days = (
        Enrollment.objects.filter(
            patient_id=OuterRef("patient_id"),
            program_id=OuterRef("enrollment__program_id"),
            status__in=OCCUPYING,
        )
        .annotate(
            overlap=Greatest(
                Value(0),
                _DateDiff(
                    Least(
                        Coalesce("discharge_date", OuterRef("use_window_end")),
                        OuterRef("use_window_end"),
                    ),
                    Greatest("start_date", OuterRef("start_date")),
                ),
            )
        )
        .order_by()
        .values("patient_id")
        .annotate(total=Sum("overlap"))
        .values("total")
    )
    session_day = Cast(
        Func(
            F("session__clinic__time_zone"),
            F("session__starts_at"),
            function="timezone",
            output_field=DateField(),
        ),
        DateField(),
    )
    sessions = (
        Attendance.objects.filter(
            patient_id=OuterRef("patient_id"),
            session__program_id=OuterRef("enrollment__program_id"),
            status__in=ATTENDED,
        )
        # Bounds on the instant, a day wider than any zone's local day, let the program's
        # (program, starts_at) index find the window's sessions before the local-day test.
        .filter(
            session__starts_at__gte=_DatePlusDays(OuterRef("start_date"), Value(-1)),
            session__starts_at__lt=_DatePlusDays(OuterRef("use_window_end"), Value(1)),
        )
        .annotate(day=session_day)
        .filter(day__gte=OuterRef("start_date"), day__lt=OuterRef("use_window_end"))
        .order_by()
        .values("patient_id")
        .annotate(total=Count("id"))
        .values("total")
    )
    authorizations = authorizations.annotate(
        used_through=_DatePlusDays(F("use_window_end"), Value(-1)),
        # Sums and counts are bigints in PostgreSQL; a date takes only an integer of days.
        units_used=Cast(
            Case(
                When(unit=AuthorizationUnit.DAYS, then=Coalesce(Subquery(days), 0)),
                default=Coalesce(Subquery(sessions), 0),
                output_field=IntegerField(),
            ),
            IntegerField(),
        ),
        days_elapsed=Greatest(Value(0), _DateDiff(F("use_window_end"), F("start_date"))),
    ).annotate(
        # GREATEST skips NULLs: none approved yet must stay none, not 0.
        units_remaining=Case(
            When(units_approved__isnull=True, then=None),
            default=Greatest(Value(0), F("units_approved") - F("units_used")),
            output_field=IntegerField(),
        ),
    )
    # ceil(remaining × elapsed ÷ used) days from today, in integers; bigint, since a large
    # approval over a long authorization overflows PostgreSQL's integer.
    days_left = ExpressionWrapper(
        (Cast(F("units_remaining"), BigIntegerField()) * F("days_elapsed") + F("units_used") - 1)
        / NullIf(F("units_used"), 0),
        output_field=BigIntegerField(),
    )
    # Units that outlast the authorization run out at its end: no projection then.
    return authorizations.annotate(days_left=days_left).annotate(
        projected_exhaustion_on=Case(
            When(
                Q(status__in=AUTHORIZED)
                & Q(units_used__gt=0)
                & Q(days_left__lte=_DateDiff(F("end_date"), F("use_today"))),
                then=_DatePlusDays(F("use_today"), Cast(F("days_left"), IntegerField())),
            ),
            default=None,
            output_field=DateField(),
        )
    )


def authorization_in_force(day) -> Q:
    """Approved (wholly or partly) and ``day`` within the authorization's dates."""
    return Q(status__in=AUTHORIZED, start_date__lte=day, end_date__gte=day)


def current_authorizations(*, enrollment, today) -> QuerySet[Authorization]:
    """The authorizations of ``enrollment`` (an id or an ``OuterRef``) with the current one
    first, so that ``[:1]`` of it is a subquery of an enrollment's current authorization: the
    one in force on ``today`` (the clinic's local date, a date or an ``OuterRef``), the latest
    by start date (then id) when two payers' are; with none in force, the latest by start date
    (then id) of any status. Each row carries ``in_force``. The (enrollment, start date) index
    finds the enrollment's few rows."""
    return (
        Authorization.objects.filter(enrollment=enrollment)
        .annotate(
            in_force=ExpressionWrapper(authorization_in_force(today), output_field=BooleanField())
        )
        .order_by("-in_force", "-start_date", "-id")
    )


def authorization_list(*, user, now: datetime.datetime | None = None) -> QuerySet[Authorization]:
    """The caller's clinics' authorizations, with their use (``authorization_use``)."""
    authorizations = Authorization.objects.filter(
        enrollment__program__clinic_id__in=clinic_ids_for_user(user)
    ).select_related("enrollment__program", "payer", "coverage")
    return authorization_use(authorizations, now=now)


def review_list(*, user) -> QuerySet[ConcurrentReview]:
    return ConcurrentReview.objects.filter(
        authorization__enrollment__program__clinic_id__in=clinic_ids_for_user(user)
    ).select_related("authorization__enrollment__program")


# The UR queue -------------------------------------------------------------------------------------

# Authorizations that a request, an approval or a partial approval makes "being handled" for the
# day they cover: an enrollment with none of these is missing its authorization.
COVERING = [AuthorizationStatus.REQUESTED, *AUTHORIZED]
UR_QUEUE_SECTIONS = (
    "reviews_past_due",
    "reviews_due_today",
    "reviews_due_tomorrow",
    "authorizations_ending",
    "authorizations_units_low",
    "enrollments_without_authorization",
)


def ur_queue(*, user, now: datetime.datetime, clinic: int | None = None) -> dict[str, list]:
    """What utilization review acts on, in the caller's clinics (only ``clinic`` when given;
    none when it is not one of them), each clinic by its own today at ``now``
    (``ur_queue_of_clinics``). A reviewer works one clinic's queue: its cost follows that
    clinic's stays, not every clinic's."""
    clinic_ids = clinic_ids_for_user(user)
    if clinic is not None:
        clinic_ids = [clinic_id for clinic_id in clinic_ids if clinic_id == clinic]
    return ur_queue_of_clinics(clinic_ids, now=now)


def ur_queue_of_clinics(clinic_ids, *, now: datetime.datetime) -> dict[str, list]:
    """The UR queue of ``clinic_ids`` (``None``: every clinic, for the beat), in three queries
    whatever its size:

    - ``reviews_past_due``, ``reviews_due_today``, ``reviews_due_tomorrow``: reviews not done,
      scheduled before today, today or tomorrow, of authorizations that have not expired (an
      expired one takes no outcome); with their authorization, enrollment, program and patient;
    - ``authorizations_ending``: authorizations in force (approved, partially approved) whose
      end is from today through today + ``Clinic.ur_ending_within_days``;
    - ``authorizations_units_low``: authorizations in force, not past their end, with fewer than
      ``Clinic.ur_units_left_below`` units remaining (``authorization_use``, in SQL);
    - ``enrollments_without_authorization``: admitted enrollments in care today (started by
      today) whose patient has a coverage in force today by a payer that needs authorization
      (not self-pay), and no authorization requested, approved or partially approved covering
      today. Each carries the first such coverage's ``payer_name`` and ``coverage_id``.
    """

    def scoped(queryset, clinic_field):
        if clinic_ids is None:
            return queryset
        return queryset.filter(**{f"{clinic_field}__in": clinic_ids})

    reviews = list(
        scoped(ConcurrentReview.objects, "authorization__enrollment__program__clinic_id")
        .annotate(
            queue_today=_clinic_today("authorization__enrollment__program__clinic__time_zone", now)
        )
        .filter(
            done_on__isnull=True,
            scheduled_on__lte=_DatePlusDays(F("queue_today"), Value(1)),
        )
        .exclude(authorization__status=AuthorizationStatus.EXPIRED)
        .select_related(
            "authorization__enrollment__program__clinic", "authorization__enrollment__patient"
        )
        .order_by("scheduled_on", "id")
    )
    clinic = "enrollment__program__clinic__"
    # Scoped by the programs' ids (a hashed subplan on the enrollments), so that the use below
    # is computed for the clinics' authorizations only, never for every clinic's.
    programs = scoped(Program.objects, "clinic_id").values("id")
    in_force = authorization_use(
        Authorization.objects.filter(
            status__in=AUTHORIZED, enrollment__program_id__in=Subquery(programs)
        ),
        now=now,
    ).filter(end_date__gte=F("use_today"))
    ending = Q(end_date__lte=_DatePlusDays(F("use_today"), F(f"{clinic}ur_ending_within_days")))
    low = Q(units_remaining__lt=F(f"{clinic}ur_units_left_below"))
    authorizations = list(
        in_force.filter(ending | low)
        .annotate(is_ending=ExpressionWrapper(ending, output_field=BooleanField()))
        .annotate(is_low=ExpressionWrapper(low, output_field=BooleanField()))
        .select_related("enrollment__program__clinic", "enrollment__patient", "payer")
        .order_by("end_date", "id")
    )
    today = _clinic_today("program__clinic__time_zone", now)
    needing = Coverage.objects.filter(
        patient_id=OuterRef("patient_id"), start_date__lte=OuterRef("queue_today")
    ).filter(Q(end_date__isnull=True) | Q(end_date__gte=OuterRef("queue_today")))
    needing = needing.exclude(payer__kind=PayerKind.SELF_PAY).order_by(
        "priority", "start_date", "id"
    )
    covering = Authorization.objects.filter(
        enrollment_id=OuterRef("pk"),
        status__in=COVERING,
        start_date__lte=OuterRef("queue_today"),
        end_date__gte=OuterRef("queue_today"),
    )
    enrollments = list(
        scoped(Enrollment.objects, "program__clinic_id")
        .filter(status=EnrollmentStatus.ADMITTED)
        .annotate(queue_today=today)
        .filter(start_date__lte=F("queue_today"))
        .annotate(
            coverage_id=Subquery(needing.values("id")[:1]),
            payer_name=Subquery(needing.values("payer__name")[:1]),
        )
        .filter(coverage_id__isnull=False)
        .exclude(Exists(covering))
        .select_related("program__clinic", "patient")
        .order_by("start_date", "id")
    )
    return {
        "reviews_past_due": [r for r in reviews if r.scheduled_on < r.queue_today],
        "reviews_due_today": [r for r in reviews if r.scheduled_on == r.queue_today],
        "reviews_due_tomorrow": [r for r in reviews if r.scheduled_on > r.queue_today],
        "authorizations_ending": [a for a in authorizations if a.is_ending],
        "authorizations_units_low": [a for a in authorizations if a.is_low],
        "enrollments_without_authorization": enrollments,
    }


def ur_queue_stay(record) -> Enrollment:
    """The enrollment a record of the queue is about (a review's, an authorization's, or the
    enrollment itself), with its program and patient."""
    if isinstance(record, ConcurrentReview):
        return record.authorization.enrollment
    if isinstance(record, Authorization):
        return record.enrollment
    return record


def ur_queue_records(queue: dict[str, list]) -> list:
    """Each record the queue shows, once (an authorization may be both ending and low)."""
    return list(
        {(type(record), record.pk): record for rows in queue.values() for record in rows}.values()
    )


# The admissions pipeline --------------------------------------------------------------------------


def referral_source_list(*, user) -> QuerySet[ReferralSource]:
    return ReferralSource.objects.filter(clinic_id__in=clinic_ids_for_user(user))


def _local_date(zone_field: str, instant) -> Cast:
    """An instant's local date in the clinic's zone, in SQL (``timezone(zone, t)::date``)."""
    local = Func(F(zone_field), instant, function="timezone", output_field=DateTimeField())
    return Cast(local, DateField())


def inquiry_overdue(now: datetime.datetime) -> Q:
    """The one rule of an overdue inquiry, by its clinic's date at ``now``: open, and past its
    next contact date, or (with none set) not contacted since the day it was received."""
    today = _clinic_today("clinic__time_zone", now)
    received_on = _local_date("clinic__time_zone", F("received_at"))
    return Q(status__in=OPEN_INQUIRY) & (
        Q(next_contact_on__lt=today)
        | (Q(next_contact_on__isnull=True) & Q(LessThan(received_on, today)))
    )


def inquiry_list(
    *,
    user,
    clinic: int | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    now: datetime.datetime | None = None,
    with_details: bool = False,
) -> QuerySet[Inquiry]:
    """The inquiries of the caller's clinics, newest first, each with its ``overdue`` flag (by
    ``inquiry_overdue``); ``with_details`` adds what one inquiry's page shows: the status
    history, the screenings and verifications (newest first), the live hold and the contacts."""
    now = now or timezone.now()
    inquiries = (
        Inquiry.objects.filter(clinic_id__in=clinic_ids_for_user(user))
        .select_related("referral_source", "program")
        .annotate(
            overdue=Case(
                When(inquiry_overdue(now), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
    )
    if clinic is not None:
        inquiries = inquiries.filter(clinic_id=clinic)
    if status is not None:
        inquiries = inquiries.filter(status=status)
    if overdue is not None:
        inquiries = inquiries.filter(overdue=overdue)
    if with_details:
        inquiries = inquiries.prefetch_related(
            Prefetch(
                "status_changes",
                queryset=InquiryStatusChange.objects.select_related("changed_by").order_by(
                    "changed_at", "id"
                ),
            ),
            Prefetch(
                "screenings",
                queryset=InquiryScreening.objects.select_related("screened_by"),
            ),
            Prefetch(
                "verifications",
                queryset=BenefitsVerification.objects.select_related("payer", "verified_by"),
            ),
            Prefetch(
                "holds",
                queryset=AdmissionHold.objects.filter(status=HoldStatus.HELD).select_related(
                    "program", "bed"
                ),
                to_attr="live_holds",
            ),
            Prefetch("contacts", queryset=InquiryContact.objects.select_related("contacted_by")),
        )
    return inquiries


def admission_holds_due_to_lapse(now: datetime.datetime) -> QuerySet[AdmissionHold]:
    """Live holds past their last day: ``lapses_on`` before their clinic's date at ``now``."""
    return AdmissionHold.objects.filter(
        status=HoldStatus.HELD,
        lapses_on__lt=_clinic_today("program__clinic__time_zone", now),
    ).order_by("lapses_on", "id")


def inquiry_duplicates(
    *,
    clinic: Clinic,
    first_name: str,
    last_name: str,
    date_of_birth: datetime.date | None,
    phones: list[str],
    exclude_id: int | None = None,
) -> dict[str, list[int]]:
    """Who in ``clinic`` may be the person an inquiry is about: patients and open inquiries with
    the same names (ignoring case and surrounding spaces) and birth date (the registration's
    check, ``patients.services.possible_duplicates``), or one of the same ``phones`` (E.164)."""
    patients: set[int] = set()
    inquiries: set[int] = set()
    open_inquiries = Inquiry.objects.filter(clinic=clinic, status__in=OPEN_INQUIRY)
    if date_of_birth is not None:
        patients.update(
            possible_duplicates(
                clinic=clinic,
                first_name=first_name,
                last_name=last_name,
                date_of_birth=date_of_birth,
            ).values_list("id", flat=True)
        )
        inquiries.update(
            open_inquiries.annotate(first_lower=Lower("first_name"), last_lower=Lower("last_name"))
            .filter(
                date_of_birth=date_of_birth,
                first_lower=first_name.strip().lower(),
                last_lower=last_name.strip().lower(),
            )
            .values_list("id", flat=True)
        )
    if phones:
        patients.update(
            Patient.objects.filter(clinic=clinic, phone__in=phones).values_list("id", flat=True)
        )
        inquiries.update(
            open_inquiries.filter(Q(phone__in=phones) | Q(caller_phone__in=phones)).values_list(
                "id", flat=True
            )
        )
    inquiries.discard(exclude_id)
    return {
        "patients": sorted(patients),
        "inquiries": sorted(inquiries),
    }


def callback_request_list(*, inquiry: Inquiry) -> QuerySet[CallbackRequest]:
    """An inquiry's callback requests, newest first, with who asked."""
    return (
        CallbackRequest.objects.filter(inquiry=inquiry)
        .select_related("requested_by", "inquiry")
        .order_by("-requested_at", "-id")
    )


# The columns of the admissions board: the open stages, in the order an inquiry moves through.
BOARD_COLUMNS = tuple(OPEN_INQUIRY)


def inquiry_board(*, user, now: datetime.datetime) -> dict:
    """The admissions board of the caller's clinics, in two queries whatever its size:

    - ``columns``: ``[{"status", "label", "inquiries", "overdue"}]``, one per open stage (new,
      screening, verifying, scheduled), its inquiries by next contact date (none last), then by
      receipt, each with its ``overdue`` flag (``inquiry_overdue``); ``overdue`` counts them;
    - ``admissions_today``: the live holds whose admission date is their clinic's today (each
      with ``inquiry``, ``program`` and ``bed``);
    - ``held_beds``: the live holds that hold a bed, by admission date.
    """
    clinic_ids = clinic_ids_for_user(user)
    inquiries = list(
        inquiry_list(user=user, now=now)
        .filter(status__in=BOARD_COLUMNS)
        .select_related("clinic")
        .order_by(F("next_contact_on").asc(nulls_last=True), "received_at", "id")
    )
    holds = list(
        AdmissionHold.objects.filter(program__clinic_id__in=clinic_ids, status=HoldStatus.HELD)
        .annotate(
            is_today=Case(
                When(
                    admission_date=_clinic_today("program__clinic__time_zone", now),
                    then=Value(True),
                ),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .filter(Q(is_today=True) | Q(bed__isnull=False))
        .select_related("inquiry", "program", "bed")
        .order_by("admission_date", "program__name", "id")
    )
    columns = []
    for status in BOARD_COLUMNS:
        rows = [inquiry for inquiry in inquiries if inquiry.status == status]
        columns.append(
            {
                "status": status.value,
                "label": status.label,
                "inquiries": rows,
                "overdue": sum(1 for inquiry in rows if inquiry.overdue),
            }
        )
    return {
        "columns": columns,
        "admissions_today": [hold for hold in holds if hold.is_today],
        "held_beds": [hold for hold in holds if hold.bed_id is not None],
    }


# Measurement-based care ---------------------------------------------------------------------------

# A measure due "at discharge" falls due this many days before the stay's planned end.
DISCHARGE_WINDOW_DAYS = 2
# A measure due this many days without a response is overdue (the step-down board flags it).
OVERDUE_AFTER_DAYS = 3


@dataclass(frozen=True)
class DueMeasure:
    """An instrument due in a stay: since ``due_on`` (the clinic's date), for ``reason``
    (``admission``, ``periodic``, ``discharge`` or ``order``); ``due_at`` is the hour an
    ordered instrument falls due (None for the others)."""

    instrument: str
    due_on: datetime.date
    reason: str
    overdue: bool
    due_at: datetime.datetime | None = None


def _scheduled_due(schedule, enrollment, latest, today) -> tuple[datetime.date, str] | None:
    """When ``schedule``'s instrument falls due in ``enrollment`` given the local date of its
    latest response in the stay (``latest``, None without one), and why; None when it is not
    due by ``today``."""
    start = enrollment.start_date
    candidates = []
    if schedule.at_admission and latest is None:
        candidates.append((start, "admission"))
    if schedule.every_days:
        base = latest if latest is not None else start
        candidates.append((base + datetime.timedelta(days=schedule.every_days), "periodic"))
    if schedule.at_discharge:
        window = enrollment.planned_end_date - datetime.timedelta(days=DISCHARGE_WINDOW_DAYS)
        window = max(window, start)
        if latest is None or latest < window:
            candidates.append((window, "discharge"))
    due = [c for c in candidates if c[0] <= today]
    return min(due) if due else None


def measures_due(
    enrollments: list[Enrollment],
    *,
    now: datetime.datetime,
    latest: dict[tuple[int, str], datetime.datetime] | None = None,
) -> dict[int, list[DueMeasure]]:
    """``{enrollment id: [DueMeasure, ...]}`` (by instrument) for a page of admitted stays, in
    three queries whatever its size (the programs' schedules, the latest response of each stay
    and instrument, the running orders): the one home of "what is due". Nothing is stored per
    day: a response in the stay satisfies what fell due before it.

    The rules (a schedule's, per stay, by the clinic's date): at admission, from the start date
    until the first response; every N days, N days after the latest response (or the start); at
    discharge, from ``DISCHARGE_WINDOW_DAYS`` before the planned end until a response then. An
    ordered instrument falls due when ordered, then ``every_hours`` after each response.
    Overdue: ``OVERDUE_AFTER_DAYS`` days past due, or an ordered one an hour past its hour.
    Enrollments need ``program__clinic`` loaded. ``latest`` (``{(enrollment id, instrument):
    completed_at}`` of at least the scheduled and ordered instruments) spares the second query
    for a caller that has read the stays' latest responses already (the step-down board)."""
    stays = [e for e in enrollments if e.status == EnrollmentStatus.ADMITTED]
    if not stays:
        return {e.pk: [] for e in enrollments}
    schedules = defaultdict(list)
    for schedule in MeasureSchedule.objects.filter(
        program_id__in={e.program_id for e in stays}, by_order=False
    ):
        schedules[schedule.program_id].append(schedule)
    if latest is None:
        latest = {
            (row["enrollment_id"], row["instrument"]): row["last"]
            for row in MeasureResponse.objects.filter(enrollment__in=stays)
            .values("enrollment_id", "instrument")
            .annotate(last=Max("completed_at"))
        }
    orders = defaultdict(list)
    for order in MeasureOrder.objects.filter(enrollment__in=stays, stopped_at__isnull=True):
        orders[order.enrollment_id].append(order)
    due = {e.pk: [] for e in enrollments}
    for stay in stays:
        zone = stay.program.clinic.zone
        today = now.astimezone(zone).date()
        found = {}
        for schedule in schedules[stay.program_id]:
            last = latest.get((stay.pk, schedule.instrument))
            when = _scheduled_due(
                schedule, stay, last.astimezone(zone).date() if last else None, today
            )
            if when is not None:
                due_on, reason = when
                overdue = (today - due_on).days >= OVERDUE_AFTER_DAYS
                found[schedule.instrument] = DueMeasure(
                    schedule.instrument, due_on, reason, overdue
                )
        for order in orders[stay.pk]:
            last = latest.get((stay.pk, order.instrument))
            # An order is due at once, then every_hours after each response.
            if last is None or last < order.ordered_at:
                due_at = order.ordered_at
            else:
                due_at = last + datetime.timedelta(hours=order.every_hours)
            if due_at <= now:
                overdue = now - due_at >= datetime.timedelta(hours=1)
                found[order.instrument] = DueMeasure(
                    order.instrument, due_at.astimezone(zone).date(), "order", overdue, due_at
                )
        due[stay.pk] = [found[code] for code in sorted(found)]
    return due


def measure_response_list(*, user) -> QuerySet[MeasureResponse]:
    """Responses of the patients of the caller's clinics, newest first."""
    return (
        MeasureResponse.objects.filter(patient__clinic_id__in=clinic_ids_for_user(user))
        .select_related("patient", "recorded_by")
        .order_by("-completed_at", "-id")
    )


def measure_response_list_of_patient(*, patient) -> QuerySet[MeasureResponse]:
    """The patient's own responses, newest first."""
    return MeasureResponse.objects.filter(patient=patient).order_by("-completed_at", "-id")


def measure_order_list(*, user) -> QuerySet[MeasureOrder]:
    """Orders in the stays of the caller's clinics, newest first."""
    return (
        MeasureOrder.objects.filter(enrollment__program__clinic_id__in=clinic_ids_for_user(user))
        .select_related("enrollment__program", "ordered_by", "stopped_by")
        .order_by("-ordered_at", "-id")
    )


def measure_schedule_list(*, user) -> QuerySet[MeasureSchedule]:
    """The schedules of the programs of the caller's clinics."""
    return (
        MeasureSchedule.objects.filter(program__clinic_id__in=clinic_ids_for_user(user))
        .select_related("program")
        .order_by("program_id", "instrument", "id")
    )


def measures_due_of_patient(*, patient, now: datetime.datetime) -> list[DueMeasure]:
    """What the patient's admitted stays ask of the patient now (``measures_due``), the
    instruments the patient answers only (clinicians rate the others), one per instrument."""
    stays = list(
        Enrollment.objects.filter(patient=patient, status=EnrollmentStatus.ADMITTED)
        .select_related("program__clinic")
        .order_by("-start_date", "-id")
    )
    found = {}
    for measures in measures_due(stays, now=now).values():
        for measure in measures:
            if INSTRUMENTS[measure.instrument].administered_by == "patient":
                found.setdefault(measure.instrument, measure)
    return [found[code] for code in sorted(found)]


# Discharge summaries (issue 25) -------------------------------------------------------------------


def discharge_summary_list(*, user) -> QuerySet[DischargeSummary]:
    """The summaries of the caller's clinics, newest discharge first, with their addenda (two
    queries for a page)."""
    return (
        DischargeSummary.objects.filter(
            enrollment__program__clinic_id__in=clinic_ids_for_user(user)
        )
        .select_related("enrollment__program__clinic", "patient", "signed_by")
        .prefetch_related(
            Prefetch(
                "addenda",
                queryset=DischargeSummaryAddendum.objects.select_related("signed_by").order_by(
                    "signed_at", "id"
                ),
            )
        )
        .order_by("-discharge_date", "-id")
    )


def discharge_summary_latest_signed(*, patient) -> DischargeSummary | None:
    """The patient's newest signed summary (a draft is the care team's until signed)."""
    return (
        DischargeSummary.objects.filter(patient=patient, signed_at__isnull=False)
        .select_related("enrollment__program__clinic", "patient", "signed_by")
        .prefetch_related(
            Prefetch(
                "addenda",
                queryset=DischargeSummaryAddendum.objects.select_related("signed_by").order_by(
                    "signed_at", "id"
                ),
            )
        )
        .order_by("-discharge_date", "-signed_at", "-id")
        .first()
    )


# Readmissions (issue 25) ----------------------------------------------------------------------

READMISSION_WINDOW_DAYS = 30


def readmission_links(*, of: str) -> QuerySet[Enrollment]:
    """The one rule of a readmission, for a correlated subquery (``Exists``/``Subquery``): an
    admission (admitted or discharged, not the target of a transition) of a patient discharged
    from the same clinic (a discharge, not the source of a transition) within the
    ``READMISSION_WINDOW_DAYS`` days before its start (the discharge's day to the start's,
    inclusive).

    ``of="admission"``: the outer row (``OuterRef``) is an admission; the discharges that make
    it a readmission. ``of="discharge"``: the outer row is a discharge; the admissions that
    readmit its patient."""
    window = datetime.timedelta(days=READMISSION_WINDOW_DAYS)
    same_patient_and_clinic = {
        "patient_id": OuterRef("patient_id"),
        "program__clinic_id": OuterRef("program__clinic_id"),
    }
    # "Not a transition's" as NOT EXISTS, not as a LEFT JOIN ... IS NULL (``transition_out__
    # isnull``): the join's row estimate made PostgreSQL hash every clinic's discharges for
    # each census page instead of probing the patient's few stays on their index.
    if of == "admission":
        return (
            Enrollment.objects.filter(
                status=EnrollmentStatus.DISCHARGED,
                discharge_date__gte=OuterRef("start_date") - window,
                discharge_date__lte=OuterRef("start_date"),
                **same_patient_and_clinic,
            )
            .exclude(pk=OuterRef("pk"))
            .exclude(Exists(Transition.objects.filter(from_enrollment_id=OuterRef("pk"))))
            .order_by()
        )
    if of == "discharge":
        return (
            Enrollment.objects.filter(
                status__in=OCCUPYING,
                start_date__gte=OuterRef("discharge_date"),
                start_date__lte=OuterRef("discharge_date") + window,
                **same_patient_and_clinic,
            )
            .exclude(pk=OuterRef("pk"))
            .exclude(Exists(Transition.objects.filter(to_enrollment_id=OuterRef("pk"))))
            .order_by()
        )
    raise ValueError(f"of: 'admission' or 'discharge', not {of!r}")


def is_readmission() -> Q:
    """Over enrollments: the stay is a readmission (``readmission_links``), not the
    continuation of a transition."""
    continued = Transition.objects.filter(to_enrollment_id=OuterRef("pk"))
    return Q(Exists(readmission_links(of="admission"))) & ~Q(Exists(continued))


# After discharge (issue 25) ----------------------------------------------------------------------


def follow_up_overdue_q(*, clinic_zones, now: datetime.datetime) -> Q:
    """Open follow-up tasks past their due date in their clinic's date (one term per zone)."""
    overdue = Q(pk__in=[])
    for zone in clinic_zones:
        overdue |= Q(
            enrollment__program__clinic__time_zone=zone, due_date__lt=zone_today(zone, now)
        )
    return Q(completed_at__isnull=True) & overdue


def follow_up_task_list(*, user, with_attempts: bool = False) -> QuerySet[FollowUpTask]:
    """Follow-up tasks of the caller's clinics, soonest due first; ``with_attempts``: their
    attempts too, oldest first (one more query)."""
    tasks = (
        FollowUpTask.objects.filter(enrollment__program__clinic_id__in=clinic_ids_for_user(user))
        .select_related("enrollment__program", "patient", "assignee", "completed_by")
        .order_by("due_date", "id")
    )
    if with_attempts:
        tasks = tasks.prefetch_related(
            Prefetch(
                "attempts",
                queryset=FollowUpAttempt.objects.select_related("recorded_by").order_by(
                    "attempted_at", "id"
                ),
            )
        )
    return tasks


def alumni_access_facts(patient_ref: str) -> dict:
    """What alumni access is decided on, as annotations of a row whose ``patient_ref`` is the
    patient's id: whether the patient has a current (waitlisted or admitted) enrollment, and
    their last discharge date. The patient's account loads them with the user
    (``register_patient_access_check``), so a ``me/`` request asks nothing more."""
    stays = Enrollment.objects.filter(patient_id=OuterRef(patient_ref))
    return {
        "alumni_current": Exists(
            stays.filter(status__in=[EnrollmentStatus.WAITLISTED, EnrollmentStatus.ADMITTED])
        ),
        "alumni_last_discharge": Subquery(
            stays.filter(status=EnrollmentStatus.DISCHARGED)
            .order_by(F("discharge_date").desc(nulls_last=True))
            .values("discharge_date")[:1]
        ),
    }


def alumni_access_ended_on(*, patient, now: datetime.datetime) -> datetime.date | None:
    """The day the patient's app access ended, or None while it lasts: the one rule of alumni
    access. A patient with no current (waitlisted or admitted) enrollment keeps the app for
    their clinic's ``alumni_access_days`` after their last discharge (access ends on the
    discharge date plus that many days); one who was never discharged keeps it. No query when
    the facts came with the account (``patient.access_facts``), else one."""
    facts = getattr(patient, "access_facts", None)
    if facts is None:
        facts = (
            Patient.objects.filter(pk=patient.pk)
            .annotate(**alumni_access_facts("pk"))
            .values(
                "alumni_current",
                "alumni_last_discharge",
                days=F("clinic__alumni_access_days"),
                zone=F("clinic__time_zone"),
            )
            .get()
        )
    else:
        facts = {
            **facts,
            "days": patient.clinic.alumni_access_days,
            "zone": patient.clinic.time_zone,
        }
    if facts["alumni_current"] or facts["alumni_last_discharge"] is None:
        return None
    ended_on = facts["alumni_last_discharge"] + datetime.timedelta(days=facts["days"])
    return ended_on if zone_today(facts["zone"], now) >= ended_on else None


def alumni_access_check(patient) -> None:
    """``IsPatient``'s check (registered in ``programs.apps``): 403 ``alumni_access_ended``,
    with the date, once the patient's alumni access is over."""
    ended_on = alumni_access_ended_on(patient=patient, now=timezone.now())
    if ended_on is not None:
        raise Forbidden(
            f"Your access to the app after your stay ended on {ended_on:%Y-%m-%d}; call the "
            "clinic if you need it again.",
            code="alumni_access_ended",
            extra={"access_ended_on": ended_on.isoformat()},
        )


# Episodes of care ---------------------------------------------------------------------------------


def episode_enrollments(enrollment: Enrollment) -> list[Enrollment]:
    """The chain of enrollments linked by transitions that ends at ``enrollment``, oldest
    first (one query per link: an episode has a handful)."""
    chain = [enrollment]
    current = enrollment
    while True:
        previous = (
            Enrollment.objects.filter(transition_out__to_enrollment=current)
            .select_related("program", "transition_in")
            .first()
        )
        if previous is None:
            break
        chain.append(previous)
        current = previous
    chain.reverse()
    return chain


def episode_plan(chain: list[Enrollment]) -> AftercarePlan | None:
    """The plan of the episode: the latest stay's that has one (built during discharge
    planning, perhaps at an earlier level)."""
    plans = {
        plan.enrollment_id: plan
        for plan in AftercarePlan.objects.filter(enrollment__in=[e.pk for e in chain])
    }
    return next((plans[e.pk] for e in reversed(chain) if e.pk in plans), None)


# Progress notes (issue 26) ------------------------------------------------------------------------


def _care_team_rows(rows: QuerySet, *, user, authored: Q) -> QuerySet:
    """The one rule of who reads a progress note (a Part 2 record of counselling), over rows that
    have a ``session`` and a ``patient``: a note, or an attendance whose note may not exist yet
    (``authored``: the row's note is the user's). Supervisors: every row of their clinics.
    Clinicians: the rows of their clinics' patients whose care team they are on — they wrote
    the note, facilitated its session, or are the patient's primary clinician on a stay at that
    clinic. Superusers all; every other role (admissions, utilization review, alumni
    coordinators) and patients none."""
    if user.is_superuser:
        return rows
    if not user.is_authenticated:
        return rows.none()
    rows = rows.filter(session__clinic_id__in=clinic_ids_for_user(user))
    if user_has_role(user, Role.SUPERVISOR):
        return rows
    if not user_has_role(user, Role.CLINICIAN):
        return rows.none()
    primary_clinician = Enrollment.objects.filter(
        patient_id=OuterRef("patient_id"),
        program__clinic_id=OuterRef("session__clinic_id"),
        primary_clinician=user,
    )
    return rows.filter(authored | Q(session__facilitator=user) | Exists(primary_clinician))


def progress_note_list(*, user) -> QuerySet[ProgressNote]:
    """The notes ``user`` may read (``_care_team_rows``)."""
    return _care_team_rows(ProgressNote.objects.all(), user=user, authored=Q(author_id=user.pk))


def progress_note_deadline() -> ExpressionWrapper:
    """When a note of a session turns late if still unsigned: the session's end plus its
    clinic's ``note_late_hours`` (an expression over a ``ProgressNote`` row)."""
    return ExpressionWrapper(
        F("session__ends_at")
        + F("session__clinic__note_late_hours") * Value(datetime.timedelta(hours=1)),
        output_field=DateTimeField(),
    )


def progress_note_late_q(now: datetime.datetime) -> Q:
    """Late: signed after the deadline, or unsigned past it at ``now`` (needs the queryset
    annotated with ``deadline=progress_note_deadline()``)."""
    return Q(signed_at__isnull=False, signed_at__gt=F("deadline")) | Q(
        signed_at__isnull=True, deadline__lt=now
    )


# The schema's ProgressNoteStatusEnum (ENUM_NAME_OVERRIDES names this path).
PROGRESS_NOTE_STATUSES = ProgressNoteStatus.choices


def _band_label(instrument: str, band: str) -> str:
    return next((b.label for b in INSTRUMENTS[instrument].bands if b.key == band), band)


@dataclass(frozen=True)
class GroupNoteAccess:
    """What a user may do with a group session's notes. ``writes``: its facilitator (a clinician
    of the clinic) and the clinic's supervisors write them. ``readable``: the attendees whose
    notes they may read (``_care_team_rows``). Neither: the group note is outside their reach."""

    writes: bool
    readable: frozenset[int]

    @property
    def visible(self) -> bool:
        return self.writes or bool(self.readable)


def group_note_writes(session, *, user) -> bool:
    """Who writes a group session's notes: the clinic's supervisors (superusers too), and its
    facilitator when a clinician of the clinic — both read every attendee's notes."""
    if acts_for_clinic(user, clinic_id=session.clinic_id, roles=(Role.SUPERVISOR,)):
        return True
    return (
        session.facilitator_id is not None
        and session.facilitator_id == user.pk
        and acts_for_clinic(user, clinic_id=session.clinic_id, roles=CLINICAL_ROLES)
    )


def group_note_access(session, *, user) -> GroupNoteAccess:
    """``GroupNoteAccess`` of ``user`` to ``session``'s notes, in at most three queries."""
    writes = group_note_writes(session, user=user)
    authored = Exists(
        ProgressNote.objects.filter(
            session_id=OuterRef("session_id"), patient_id=OuterRef("patient_id"), author_id=user.pk
        )
    )
    attendees = _care_team_rows(
        Attendance.objects.filter(session_id=session.pk), user=user, authored=authored
    )
    return GroupNoteAccess(
        writes=writes, readable=frozenset(attendees.values_list("patient_id", flat=True))
    )


def group_note_prefill(session, *, patient_ids=None) -> dict[int, dict[str, str]]:
    """``{patient id: {"progress": text, "plan": ""}}`` for each attendee present or late at a
    group session who has no note yet: their current aftercare plan's open and in-progress goals
    ("Goal: … (in progress)", the plan ``aftercare_plan_current`` picks) and the latest response
    to each instrument ("PHQ-9: 12, Moderate (2026-11-20)", in the clinic's days). Four queries
    whatever the roster's size. ``patient_ids``: only those attendees (the ones the caller may
    read the notes of)."""
    attendance = Attendance.objects.filter(session=session, status__in=ATTENDED)
    if patient_ids is not None:
        attendance = attendance.filter(patient_id__in=patient_ids)
    attendee_ids = list(
        attendance.exclude(
            Exists(ProgressNote.objects.filter(session=session, patient_id=OuterRef("patient_id")))
        )
        .order_by("patient_id")
        .values_list("patient_id", flat=True)
    )
    if not attendee_ids:
        return {}
    plans = (
        AftercarePlan.objects.filter(patient_id__in=attendee_ids)
        .exclude(status=AftercarePlanStatus.CLOSED)
        .order_by("patient_id", *_CURRENT_PLAN_ORDER)
        .distinct("patient_id")
        .prefetch_related(
            Prefetch(
                "goals",
                queryset=AftercareGoal.objects.filter(
                    status__in=[GoalStatus.OPEN, GoalStatus.IN_PROGRESS]
                ).order_by("id"),
            )
        )
    )
    goals = {plan.patient_id: list(plan.goals.all()) for plan in plans}
    latest = (
        MeasureResponse.objects.filter(patient_id__in=attendee_ids)
        .order_by("patient_id", "instrument", "-completed_at", "-id")
        .distinct("patient_id", "instrument")
        .values("patient_id", "instrument", "total", "band", "completed_at")
    )
    zone = session.clinic.zone
    measures = defaultdict(list)
    for response in latest:
        day = timezone.localdate(response["completed_at"], zone)
        short_name = INSTRUMENTS[response["instrument"]].short_name
        score = "" if response["total"] is None else f"{response['total']}"
        band = _band_label(response["instrument"], response["band"]) if response["band"] else ""
        figures = ", ".join(part for part in (score, band) if part) or "completed"
        measures[response["patient_id"]].append(f"{short_name}: {figures} ({day.isoformat()})")
    prefill = {}
    for patient_id in attendee_ids:
        lines = [
            f"Goal: {goal.description} ({GoalStatus(goal.status).label.lower()})"
            for goal in goals.get(patient_id, [])
        ]
        lines.extend(measures.get(patient_id, []))
        prefill[patient_id] = {"progress": "\n".join(lines), "plan": ""}
    return prefill


# Where notes show (issue 26): the roster's note statuses, the notes due, the board's count.


def progress_notes_annotated(notes: QuerySet[ProgressNote], *, now: datetime.datetime):
    """Notes with ``deadline``, ``late`` (``progress_note_late_q`` at ``now``) and
    ``note_status`` annotated."""
    return notes.annotate(deadline=progress_note_deadline()).annotate(
        late=ExpressionWrapper(progress_note_late_q(now), output_field=BooleanField()),
        note_status=progress_note_status_expr(),
    )


def session_note_statuses(session, *, user, now: datetime.datetime) -> dict[int, dict]:
    """``{patient_id: {id, status, late}}`` of the session's notes that ``user`` may read
    (``progress_note_list``), in one query; a note the caller may not read is left out, as is
    a patient without a note."""
    notes = progress_notes_annotated(
        progress_note_list(user=user).filter(session_id=session.pk).order_by(), now=now
    )
    return {
        row["patient_id"]: {"id": row["id"], "status": row["note_status"], "late": row["late"]}
        for row in notes.values("id", "patient_id", "note_status", "late")
    }


def notes_due(
    *,
    user,
    now: datetime.datetime,
    author: int | None = None,
    late: bool | None = None,
    status: str | None = None,
) -> QuerySet[ProgressNote]:
    """The notes ``user`` has to act on, by deadline: their own drafts and their signed notes
    awaiting co-signature; for supervisors (and superusers) also every note of their clinics
    awaiting co-signature. ``author``: one clinician's due notes instead (a supervisor's view of
    a clinician's; a clinician may name only themselves, else ``Forbidden``). Annotated as
    ``progress_notes_annotated``; ``late`` and ``status`` filter on those."""
    readable = progress_note_list(user=user).filter(NOTE_DUE_Q)
    supervises = user.is_superuser or user_has_role(user, Role.SUPERVISOR)
    if author is not None:
        if author != user.pk and not supervises:
            raise Forbidden("Only a supervisor sees another clinician's notes due.")
        notes = readable.filter(author_id=author)
    elif supervises:
        notes = readable.filter(
            Q(author=user) | progress_note_status_q(ProgressNoteStatus.AWAITING_COSIGNATURE)
        )
    else:
        notes = readable.filter(author=user)
    notes = progress_notes_annotated(notes, now=now)
    if late is not None:
        notes = notes.filter(late=late)
    if status is not None:
        notes = notes.filter(note_status=status)
    return notes.select_related("patient", "session", "author").order_by("deadline", "id")


def notes_due_summary(*, user, now: datetime.datetime) -> list[dict]:
    """For a supervisor: per author in their clinics, the notes due (drafts, awaiting
    co-signature, late), one query; by most late first. Empty for other roles."""
    if not (user.is_superuser or user_has_role(user, Role.SUPERVISOR)):
        return []
    notes = progress_notes_annotated(progress_note_list(user=user).filter(NOTE_DUE_Q), now=now)
    return list(
        notes.order_by()
        .values("author_id", "author__username", "author__first_name", "author__last_name")
        .annotate(
            drafts=Count("id", filter=progress_note_status_q(ProgressNoteStatus.DRAFT)),
            awaiting_cosignature=Count(
                "id", filter=progress_note_status_q(ProgressNoteStatus.AWAITING_COSIGNATURE)
            ),
            late_count=Count("id", filter=progress_note_late_q(now)),
        )
        .order_by("-late_count", "author__last_name", "author__username", "author_id")
    )


def unsigned_notes_count(*, patient: str, clinic: str) -> Coalesce:
    """The number of the patient's notes at the clinic not signed for good (``NOTE_DUE_Q``),
    as a correlated subquery over the outer row's ``patient`` and ``clinic`` fields."""
    counted = (
        ProgressNote.objects.filter(
            NOTE_DUE_Q, patient_id=OuterRef(patient), session__clinic_id=OuterRef(clinic)
        )
        .order_by()
        .values("patient_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
