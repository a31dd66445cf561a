"""Reads of the programs app, scoped to the caller's clinics (``me/``: to the patient)."""

import datetime
from collections import defaultdict

from django.db.models import Case, Count, Prefetch, Q, QuerySet, When
from django.utils import timezone

from clinic.models import Bed, Role
from clinic.selectors import clinic_ids_for_user
from programs.models import (
    OCCUPYING,
    AftercareGoal,
    AftercareItem,
    AftercarePlan,
    AftercarePlanStatus,
    BedAssignment,
    CheckIn,
    Disclosure,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStatusChange,
    Program,
    Transition,
    WaitlistOffer,
)


def program_list(*, user) -> QuerySet[Program]:
    return Program.objects.filter(clinic_id__in=clinic_ids_for_user(user)).select_related("clinic")


def program_places(
    programs: list[Program],
    *,
    now: datetime.datetime | None = None,
    on_date: datetime.date | None = None,
    for_enrollment: Enrollment | None = None,
) -> dict[int, dict[str, int]]:
    """``{program id: {"active_count", "free_places"}}`` for a page of programs, in two queries.

    The one count of free places: the programs list, the patient page and the admission and
    offer services (``program_free_places``, one program) all read it here.

    ``active_count``: patients admitted and present today (in the clinic's zone at ``now``);
    ``free_places``: capacity less the peak occupancy from ``on_date`` (default: each program's
    today) on, since future admissions reserve their places, and less the places held by live
    offers (open, expiring after ``now``), except ``for_enrollment``'s own: an offered patient's
    held place is free for them.
    """
    if not programs:
        return {}
    now = now or timezone.now()
    from_dates = {p.pk: on_date or p.clinic.today(now) for p in programs}
    todays = {p.pk: p.clinic.today(now) for p in programs}
    earliest = min([*from_dates.values(), *todays.values()])
    stays = defaultdict(list)
    for program_id, start, end in (
        Enrollment.objects.filter(program__in=programs, status__in=OCCUPYING)
        .exclude(discharge_date__lte=earliest)
        .values_list("program_id", "start_date", "discharge_date")
    ):
        stays[program_id].append((start, end))
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
            "active_count": occupied(todays[program.pk]),
            "free_places": max(program.capacity - peak - held.get(program.pk, 0), 0),
        }
    return places


def program_free_places(
    program: Program,
    on_date: datetime.date,
    *,
    now: datetime.datetime | None = None,
    for_enrollment: Enrollment | None = None,
) -> int:
    """Places free in ``program`` from ``on_date`` on (``program_places`` for one program). A
    service that admits or offers on this answer calls it with the program locked
    (``programs.locks``), so a concurrent admission cannot take the place in between."""
    return program_places([program], now=now, on_date=on_date, for_enrollment=for_enrollment)[
        program.pk
    ]["free_places"]


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


def aftercare_plan_current(*, patient, with_contents: bool = False) -> AftercarePlan | None:
    """The patient's plan in force: the newest active one, else the newest draft (discharge
    planning); a closed plan is no one's current plan. ``with_contents``: items and goals too."""
    plans = (
        AftercarePlan.objects.filter(patient=patient)
        .exclude(status=AftercarePlanStatus.CLOSED)
        .select_related("enrollment__program")
        .order_by(
            Case(When(status=AftercarePlanStatus.ACTIVE, then=0), default=1),
            "-created_at",
            "-id",
        )
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

    ``[{"bed", "programs": [names], "assignment": BedAssignment | None}]`` by clinic, room and
    label, in three queries (beds, their programs, today's assignments with patient and
    program).
    """
    beds = list(
        Bed.objects.filter(clinic_id__in=clinic_ids_for_user(user), is_active=True)
        .select_related("clinic")
        .prefetch_related(Prefetch("programs", queryset=Program.objects.order_by("name")))
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
