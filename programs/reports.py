"""Reports over programs: the census and the step-down board (DESIGN.md, resource paths
``reports/census/`` and ``reports/step-down/``).

Pure reads, scoped to the caller's clinics. Both count in SQL, in a constant number of queries
whatever the page size or the date range, so a report's cost follows the page it shows rather
than the size of the tables.

"Today" is the clinic's local date (``clinic.models.Clinic.today``); the SQL computes it per
clinic from the current instant, so one page can hold programs of clinics in different zones.
"""

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, NullIf, RowNumber
from django.db.models.lookups import LessThan
from django.utils import timezone

from clinic.models import Clinic, zone_today
from clinic.selectors import clinic_ids_for_user
from clinic.sql import Table, statement
from patients.models import Assessment
from programs.models import (
    AUTHORIZED,
    LEVEL_INTENSITY,
    OCCUPYING,
    AdmissionHold,
    Authorization,
    ConcurrentReview,
    Enrollment,
    EnrollmentStatus,
    HoldStatus,
    MeasureOrder,
    MeasureResponse,
    MeasureSchedule,
    Program,
    Transition,
)
from programs.selectors import (
    _clinic_today,
    _DateDiff,
    authorization_use,
    current_authorizations,
    is_readmission,
    measures_due,
    unsigned_notes_count,
)
from scheduling.metrics import stay_figures

# Census ---------------------------------------------------------------------------------------

CENSUS_DEFAULT_DAYS = 30
CENSUS_MAX_DAYS = 92


def census_programs(*, user, clinic=None, level=None, program=None) -> QuerySet[Program]:
    """The programs a census covers: the caller's, optionally narrowed, in a stable order."""
    programs = Program.objects.filter(clinic_id__in=clinic_ids_for_user(user))
    if clinic is not None:
        programs = programs.filter(clinic_id=clinic)
    if level:
        programs = programs.filter(level=level)
    if program is not None:
        programs = programs.filter(pk=program)
    return programs.order_by("clinic_id", "level", "name", "id")


def census_range_check(start: datetime.date, end: datetime.date) -> None:
    """At most ``CENSUS_MAX_DAYS`` days, end on or after start; else a 400 about ``end``."""
    if end < start:
        raise ValidationError({"end": [f"The end cannot be before the start ({start:%Y-%m-%d})."]})
    if (end - start).days + 1 > CENSUS_MAX_DAYS:
        raise ValidationError(
            {"end": [f"A census covers at most {CENSUS_MAX_DAYS} days; shorten the range."]}
        )


def census_range(
    *,
    user,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    clinic: int | None = None,
) -> tuple[datetime.date, datetime.date]:
    """The census's days, filling in what the caller left out.

    Without a start, the range begins today in the clinic's zone (the ``clinic`` filter's, else
    the earliest local date among the caller's clinics, so that no clinic's today is left out),
    or ``CENSUS_DEFAULT_DAYS`` before an end that is already past. Without an end it lasts
    ``CENSUS_DEFAULT_DAYS`` days. Only a missing start costs a query (the clinics' zones).
    """
    if start is None:
        today = _earliest_today(user, clinic)
        start = today if end is None or end >= today else end - _days(CENSUS_DEFAULT_DAYS - 1)
    if end is None:
        end = start + _days(CENSUS_DEFAULT_DAYS - 1)
    census_range_check(start, end)
    return start, end


def _earliest_today(user, clinic: int | None) -> datetime.date:
    clinic_ids = clinic_ids_for_user(user)
    if clinic is not None:
        clinic_ids = [clinic] if clinic in clinic_ids else []
    zones = Clinic.objects.filter(id__in=clinic_ids).values_list("time_zone", flat=True).distinct()
    days = [zone_today(zone) for zone in zones]
    return min(days, default=timezone.localdate())


def _days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


# A running sum: each stay or waitlist request is +1 on its first counted day and -1 on the day
# it stops counting, so the work grows with enrollments plus program-days, not their product.
# Authorized days run the same way, over the stretches of each stay that its authorizations
# cover (each counted once where two payers' authorizations overlap).
CENSUS_SQL = statement(
    """
WITH page AS (
    SELECT {p.id} AS id, {p.capacity} AS capacity, {p.level} AS level,
           timezone({c.time_zone}, %(now)s::timestamptz)::date AS today
    FROM {p}
    JOIN {c} ON {c.id} = {p.clinic_id}
    WHERE {p.id} = ANY(%(program_ids)s)
),
stays AS (
    -- Present and future stays: few per program.
    SELECT {e.id} AS id, {e.program_id} AS program_id, {e.start_date} AS start_date,
           {e.discharge_date} AS discharge_date, {e.start_date} > page.today AS is_future
    FROM page
    JOIN {e} ON {e.program_id} = page.id
    WHERE {e.program_id} = ANY(%(program_ids)s)
      AND {e.status} = %(admitted)s
      AND {e.start_date} <= %(end)s
    UNION ALL
    -- Ended stays that reach into the range: the program's history, cut by both dates.
    SELECT {e.id}, {e.program_id}, {e.start_date}, {e.discharge_date}, {e.start_date} > page.today
    FROM page
    JOIN {e} ON {e.program_id} = page.id
    WHERE {e.program_id} = ANY(%(program_ids)s)
      AND {e.status} = %(discharged)s
      AND {e.start_date} <= %(end)s
      AND {e.discharge_date} > %(start)s
),
clipped AS (
    -- Each authorization in force of a stay counted as admitted, cut to the stay's days in the
    -- range: [lo, hi).
    SELECT stays.id AS stay, stays.program_id,
           GREATEST({a.start_date}, stays.start_date, %(start)s) AS lo,
           LEAST({a.end_date} + 1, stays.discharge_date, %(end)s::date + 1) AS hi,
           array_position(%(levels)s::text[], {a.authorized_level}::text)
               >= array_position(%(levels)s::text[], page.level::text) AS at_level
    FROM stays
    JOIN page ON page.id = stays.program_id
    JOIN {a} ON {a.enrollment_id} = stays.id
    WHERE NOT stays.is_future
      AND {a.status} = ANY(%(authorized)s)
      AND {a.start_date} <= %(end)s
      AND {a.end_date} >= %(start)s
),
pieces AS (
    -- In order of their first day, each authorization adds to its stay only the days past the
    -- reach of the earlier ones ([GREATEST(lo, reach), hi)), so that a day two payers
    -- authorized counts once; likewise among those at the program's level or above.
    SELECT program_id, hi,
           GREATEST(lo, MAX(hi) OVER earlier) AS lo_new,
           CASE WHEN at_level THEN GREATEST(lo, MAX(hi) FILTER (WHERE at_level) OVER earlier)
           END AS lo_new_at_level
    FROM clipped
    WINDOW earlier AS (PARTITION BY stay ORDER BY lo ROWS BETWEEN UNBOUNDED PRECEDING
                                                     AND 1 PRECEDING)
),
changes AS (
    -- A stay counts from its first day in the range ...
    SELECT program_id, GREATEST(start_date, %(start)s) AS day,
           CASE WHEN is_future THEN 0 ELSE 1 END AS admitted,
           CASE WHEN is_future THEN 1 ELSE 0 END AS reserved,
           0 AS waitlisted, 0 AS held, 0 AS authorized, 0 AS at_level, 0 AS reviews_due
    FROM stays
    UNION ALL
    -- ... to its discharge date, the first day it no longer occupies (range [start, discharge)).
    SELECT program_id, discharge_date,
           CASE WHEN is_future THEN 0 ELSE -1 END,
           CASE WHEN is_future THEN -1 ELSE 0 END,
           0, 0, 0, 0, 0
    FROM stays
    WHERE discharge_date <= %(end)s
    UNION ALL
    -- A waitlist request counts from its requested start, but never before today.
    SELECT {e.program_id}, GREATEST({e.start_date}, %(start)s, page.today), 0, 0, 1, 0, 0, 0, 0
    FROM page
    JOIN {e} ON {e.program_id} = page.id
    WHERE {e.program_id} = ANY(%(program_ids)s)
      AND {e.status} = %(waitlisted)s
      AND {e.start_date} <= %(end)s
      AND page.today <= %(end)s
    UNION ALL
    -- A live offer holds a place from today on (as admissions count it: selectors.program_places).
    SELECT {e.program_id}, GREATEST(%(start)s, page.today), 0, 0, 0, 1, 0, 0, 0
    FROM page
    JOIN {e} ON {e.program_id} = page.id
    WHERE {e.program_id} = ANY(%(program_ids)s)
      AND {e.status} = %(waitlisted)s
      AND {e.offer_expires_at} > %(now)s
      AND page.today <= %(end)s
    UNION ALL
    -- A live admission hold reserves a place from its admission date on, never ending (as
    -- admissions count it: selectors.program_places), but never before today.
    SELECT {h.program_id}, GREATEST({h.admission_date}, %(start)s, page.today), 0, 1, 0, 0, 0,
           0, 0
    FROM page
    JOIN {h} ON {h.program_id} = page.id
    WHERE {h.program_id} = ANY(%(program_ids)s)
      AND {h.status} = %(held)s
      AND GREATEST({h.admission_date}, page.today) <= %(end)s
    UNION ALL
    -- An authorized stretch counts from its first day to the day after its last.
    SELECT program_id, lo_new, 0, 0, 0, 0, 1, 0, 0 FROM pieces WHERE lo_new < hi
    UNION ALL
    SELECT program_id, hi, 0, 0, 0, 0, -1, 0, 0 FROM pieces WHERE lo_new < hi
    UNION ALL
    SELECT program_id, lo_new_at_level, 0, 0, 0, 0, 0, 1, 0 FROM pieces WHERE lo_new_at_level < hi
    UNION ALL
    SELECT program_id, hi, 0, 0, 0, 0, 0, -1, 0 FROM pieces WHERE lo_new_at_level < hi
    UNION ALL
    -- An open review counts on the day it is due only (not a running figure).
    SELECT {e.program_id}, {r.scheduled_on}, 0, 0, 0, 0, 0, 0, 1
    FROM {r}
    JOIN {a} ON {a.id} = {r.authorization_id}
    JOIN {e} ON {e.id} = {a.enrollment_id}
    WHERE {e.program_id} = ANY(%(program_ids)s)
      AND {r.done_on} IS NULL
      AND {r.scheduled_on} BETWEEN %(start)s AND %(end)s
),
daily AS (
    SELECT program_id, day,
           SUM(admitted) AS admitted, SUM(reserved) AS reserved, SUM(waitlisted) AS waitlisted,
           SUM(held) AS held, SUM(authorized) AS authorized, SUM(at_level) AS at_level,
           SUM(reviews_due) AS reviews_due
    FROM changes
    GROUP BY program_id, day
)
SELECT page.id, calendar.day::date, page.capacity,
       COALESCE(SUM(daily.admitted) OVER running, 0)::integer,
       COALESCE(SUM(daily.reserved) OVER running, 0)::integer,
       COALESCE(SUM(daily.waitlisted) OVER running, 0)::integer,
       COALESCE(SUM(daily.held) OVER running, 0)::integer,
       COALESCE(SUM(daily.authorized) OVER running, 0)::integer,
       COALESCE(SUM(daily.authorized - daily.at_level) OVER running, 0)::integer,
       COALESCE(daily.reviews_due, 0)::integer
FROM page
CROSS JOIN generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS calendar(day)
LEFT JOIN daily ON daily.program_id = page.id AND daily.day = calendar.day::date
WINDOW running AS (PARTITION BY page.id ORDER BY calendar.day)
ORDER BY page.id, calendar.day
""",
    p=Table(Program, "p"),
    c=Table(Clinic, "c"),
    e=Table(Enrollment, "e"),
    a=Table(Authorization, "a"),
    r=Table(ConcurrentReview, "r"),
    h=Table(AdmissionHold, "h"),
)

# The levels from the least intensive up: a level's position in it is its rank in SQL.
_LEVELS_BY_INTENSITY = [str(level) for level in sorted(LEVEL_INTENSITY, key=LEVEL_INTENSITY.get)]


def census(
    *, user, start: datetime.date, end: datetime.date, programs_queryset: Iterable[Program]
) -> list[dict]:
    """Day-by-day places of each program in ``programs_queryset`` (a page of programs; any of
    another clinic than the caller's is left out), for every day ``d`` from ``start`` to
    ``end`` inclusive, in one query:

    - ``capacity``: the program's capacity (today's; capacity history is not kept);
    - ``admitted``: admitted or discharged enrollments occupying ``d`` (``start_date ≤ d <
      discharge_date``, open-ended while admitted) that started on or before today: patients
      already in (or, for past days, who were in);
    - ``reserved``: enrollments occupying ``d`` that start after today (future admissions; a
      discharge already recorded for such a stay still ends it), and live admission holds of
      scheduled inquiries from their admission date (or today, if later) on;
    - ``waitlisted``: enrollments on the program's waitlist whose requested start is on or
      before ``d``, for days from today on. For past days it is 0: the waitlist's history is
      not kept, so who was waiting on a past day cannot be told;
    - ``held``: places held from today on for waitlisted patients with a live offer (0 for
      past days);
    - ``free``: ``max(capacity − admitted − reserved − held, 0)``: as admissions count a day's
      places (an offered patient's held place is taken for everyone else);
    - ``authorized``: of the ``admitted``, the stays with an authorization in force on ``d``
      (approved or partially approved, ``start_date ≤ d ≤ end_date``; by its status now, as
      history of statuses is not kept);
    - ``authorized_below_level``: of those, the stays whose authorizations in force on ``d`` are
      all of a level less intensive than the program's (``LEVEL_INTENSITY``);
    - ``reviews_due``: open reviews (not done) scheduled on ``d`` of authorizations of the
      program's enrollments.

    Beside the days, each program's ``readmissions``: its admissions starting from ``start`` to
    ``end`` that are readmissions (``programs.selectors.readmission_links``: within 30 days of
    the patient's discharge from the clinic), in a second query.

    Returns ``[{"program": {"id", "name", "level", "track"}, "days": [{"date", "capacity",
    "admitted", "reserved", "waitlisted", "held", "free", "authorized",
    "authorized_below_level", "reviews_due"}, ...], "readmissions"}, ...]`` in the programs'
    order.
    """
    census_range_check(start, end)
    allowed = set(clinic_ids_for_user(user))
    programs = [p for p in programs_queryset if p.clinic_id in allowed]
    if not programs:
        return []
    days = {p.pk: [] for p in programs}
    # The router's database, as for the ORM's reads: the replica inside replica_reads().
    with connections[router.db_for_read(Enrollment)].cursor() as cursor:
        cursor.execute(
            CENSUS_SQL,
            {
                "now": timezone.now(),
                "program_ids": list(days),
                "start": start,
                "end": end,
                "admitted": EnrollmentStatus.ADMITTED.value,
                "discharged": EnrollmentStatus.DISCHARGED.value,
                "waitlisted": EnrollmentStatus.WAITLISTED.value,
                "held": HoldStatus.HELD.value,
                "authorized": [status.value for status in AUTHORIZED],
                "levels": _LEVELS_BY_INTENSITY,
            },
        )
        for (
            program_id,
            day,
            capacity,
            admitted,
            reserved,
            waitlisted,
            held,
            authorized,
            authorized_below_level,
            reviews_due,
        ) in cursor.fetchall():
            days[program_id].append(
                {
                    "date": day,
                    "capacity": capacity,
                    "admitted": admitted,
                    "reserved": reserved,
                    "waitlisted": waitlisted,
                    "held": held,
                    "free": max(capacity - admitted - reserved - held, 0),
                    "authorized": authorized,
                    "authorized_below_level": authorized_below_level,
                    "reviews_due": reviews_due,
                }
            )
    readmissions = dict(
        Enrollment.objects.filter(
            program_id__in=list(days),
            status__in=OCCUPYING,
            start_date__gte=start,
            start_date__lte=end,
        )
        .filter(is_readmission())
        .order_by()
        .values("program_id")
        .annotate(count=Count("id"))
        .values_list("program_id", "count")
    )
    return [
        {
            "program": {"id": p.pk, "name": p.name, "level": p.level, "track": p.track},
            "days": days[p.pk],
            "readmissions": readmissions.get(p.pk, 0),
        }
        for p in programs
    ]


# Step-down board ------------------------------------------------------------------------------

FLAG_READY = "ready_for_step_down"
FLAG_PAST_PLANNED_END = "past_planned_end"
FLAG_GAP = "gap_after_transition"
FLAG_AUTHORIZATION_ENDS_EARLY = "authorization_ends_before_planned_end"
FLAG_AUTHORIZED_BELOW = "authorized_level_below_clinical"
FLAGS = (
    FLAG_READY,
    FLAG_PAST_PLANNED_END,
    FLAG_GAP,
    FLAG_AUTHORIZATION_ENDS_EARLY,
    FLAG_AUTHORIZED_BELOW,
)
# From attendance of the current week: shown on rows, not a filter (it is counted per page).
FLAG_FALLING_SHORT = "falling_short_this_week"
# From the page's measures (``step_down_rows``'s ``measures``): shown on rows, not a filter.
FLAG_MEASURE_WORSENED = "measure_worsened"
FLAG_MEASURE_OVERDUE = "measure_overdue"
ROW_FLAGS = (*FLAGS, FLAG_FALLING_SHORT, FLAG_MEASURE_WORSENED, FLAG_MEASURE_OVERDUE)
# A clinically meaningful worsening since admission: this many points up on these instruments
# (PHQ-9, as the issue says, and GAD-7 on the same 5-point rule).
MEASURE_WORSENED_POINTS = 5
MEASURE_WORSENING_INSTRUMENTS = ("phq9", "gad7")

STEP_DOWN_ORDERINGS = {
    "days_in_program": ("days_in_program", "id"),
    "-days_in_program": ("-days_in_program", "-id"),
    "planned_end_date": ("planned_end_date", "id"),
    "-planned_end_date": ("-planned_end_date", "-id"),
    "patient_name": ("patient__last_name", "patient__first_name", "id"),
    "-patient_name": ("-patient__last_name", "-patient__first_name", "-id"),
}
STEP_DOWN_DEFAULT_ORDERING = "-days_in_program"


def _intensity(field: str) -> Case:
    return Case(
        *(When(**{field: level}, then=Value(rank)) for level, rank in LEVEL_INTENSITY.items()),
        output_field=IntegerField(),
    )


def _step_down_active(
    *,
    user,
    today: datetime.date | None,
    now: datetime.datetime,
    clinic: int | None = None,
    program: int | None = None,
    level: str | None = None,
) -> QuerySet[Enrollment]:
    """The enrollments active today in the caller's clinics, with ``today`` (the clinic's local
    date unless given) and ``days_in_program``: what the board filters and sorts on."""
    today_expr = (
        Value(today, output_field=DateField())
        if today is not None
        else _clinic_today("program__clinic__time_zone", now)
    )
    enrollments = (
        Enrollment.objects.filter(
            program__clinic_id__in=clinic_ids_for_user(user), status=EnrollmentStatus.ADMITTED
        )
        .annotate(today=today_expr)
        .filter(start_date__lte=F("today"))
    )
    if clinic is not None:
        enrollments = enrollments.filter(program__clinic_id=clinic)
    if program is not None:
        enrollments = enrollments.filter(program_id=program)
    if level:
        enrollments = enrollments.filter(level=level)
    return enrollments.annotate(days_in_program=_DateDiff(F("today"), F("start_date")))


def _latest_assessments() -> tuple[QuerySet, QuerySet]:
    latest = Assessment.objects.filter(patient_id=OuterRef("patient_id")).order_by(
        "-assessed_at", "-id"
    )
    latest_counting = latest.annotate(
        counts=Coalesce(NullIf("decided_level", Value("")), "recommended_level")
    )
    return latest, latest_counting


def _current_authorization() -> QuerySet[Authorization]:
    """The enrollment's authorizations, its current one first (``current_authorizations``)."""
    return current_authorizations(enrollment=OuterRef("pk"), today=OuterRef("today"))


def _min_stay_reached() -> Q:
    return Q(program__min_stay_days__isnull=True) | Q(
        days_in_program__gte=F("program__min_stay_days")
    )


def _flag_expressions(flags: Iterable[str]) -> dict:
    """The SQL of these flags (over ``_step_down_active``'s annotations)."""
    expressions = {}
    if FLAG_READY in flags:
        _latest, latest_counting = _latest_assessments()
        # Ranked inside the subquery so that the flag does not repeat it per level.
        latest_intensity = Subquery(
            latest_counting.annotate(rank=_intensity("counts")).values("rank")[:1]
        )
        expressions[FLAG_READY] = ExpressionWrapper(
            _min_stay_reached() & Q(LessThan(latest_intensity, _intensity("level"))),
            output_field=BooleanField(),
        )
    if FLAG_PAST_PLANNED_END in flags:
        expressions[FLAG_PAST_PLANNED_END] = ExpressionWrapper(
            Q(today__gt=F("planned_end_date")), output_field=BooleanField()
        )
    if FLAG_GAP in flags:
        target_days = datetime.timedelta(days=Transition.CONTINUITY_TARGET_DAYS)
        late_moves = Transition.objects.filter(to_enrollment=OuterRef("pk")).filter(
            Q(first_session_on__isnull=False, first_session_on__gt=F("date") + target_days)
            | Transition.gap_open_q(OuterRef("today"))
        )
        expressions[FLAG_GAP] = Exists(late_moves)
    # The current authorization when it is in force (none is in force: no row, no flag): the
    # latest in force, read in the (enrollment, start date) index's order without a sort.
    in_force = _current_authorization().filter(in_force=True).order_by("-start_date", "-id")
    if FLAG_AUTHORIZATION_ENDS_EARLY in flags:
        expressions[FLAG_AUTHORIZATION_ENDS_EARLY] = ExpressionWrapper(
            Q(LessThan(Subquery(in_force.values("end_date")[:1]), F("planned_end_date"))),
            output_field=BooleanField(),
        )
    if FLAG_AUTHORIZED_BELOW in flags:
        authorized_intensity = Subquery(
            in_force.annotate(rank=_intensity("authorized_level")).values("rank")[:1]
        )
        expressions[FLAG_AUTHORIZED_BELOW] = ExpressionWrapper(
            Q(LessThan(authorized_intensity, _intensity("level"))), output_field=BooleanField()
        )
    return expressions


def _step_down_annotate(enrollments: QuerySet[Enrollment]) -> QuerySet[Enrollment]:
    """Everything a board row shows, over ``_step_down_active`` (of the current authorization,
    its id: ``step_down_rows`` reads the rest)."""
    latest, latest_counting = _latest_assessments()
    # The payer's latest word decides: an appeal won after a denial withdraws its level.
    latest_review = ConcurrentReview.objects.filter(
        authorization__enrollment=OuterRef("pk"), done_on__isnull=False
    ).order_by("-done_on", "-id")
    return (
        enrollments.annotate(
            min_stay_reached=ExpressionWrapper(_min_stay_reached(), output_field=BooleanField()),
            latest_assessment=Subquery(latest.values("id")[:1]),
            latest_recommended_level=Subquery(latest.values("recommended_level")[:1]),
            latest_level=Subquery(latest_counting.values("counts")[:1]),
            authorization=Subquery(_current_authorization().values("id")[:1]),
            payer_recommended_level=Subquery(
                latest_review.values(level=NullIf("payer_recommended_level", Value("")))[:1]
            ),
            readmission=ExpressionWrapper(is_readmission(), output_field=BooleanField()),
            unsigned_notes=unsigned_notes_count(patient="patient_id", clinic="program__clinic_id"),
        )
        .annotate(**_flag_expressions(FLAGS))
        .select_related("patient", "program__clinic")
        .only(
            "id",
            "patient_id",
            "program_id",
            "status",
            "level",
            "start_date",
            "planned_end_date",
            "patient__first_name",
            "patient__last_name",
            "program__clinic_id",
            "program__min_stay_days",
            "program__weekly_hours_min",
            "program__clinic__time_zone",
        )
    )


def _check_choices(flag: str | None, ordering: str) -> None:
    if flag and flag not in FLAGS:
        raise ValidationError({"flag": [f"Choose one of {', '.join(FLAGS)}."]})
    if ordering not in STEP_DOWN_ORDERINGS:
        raise ValidationError({"ordering": [f"Choose one of {', '.join(STEP_DOWN_ORDERINGS)}."]})


def step_down_queryset(
    *,
    user,
    today: datetime.date | None = None,
    clinic: int | None = None,
    program: int | None = None,
    level: str | None = None,
    flag: str | None = None,
    ordering: str = STEP_DOWN_DEFAULT_ORDERING,
    now: datetime.datetime | None = None,
) -> QuerySet[Enrollment]:
    """The enrollments active today in the caller's clinics (admitted, started on or before
    today, not discharged), annotated with everything a board row shows; ``step_down_rows``
    turns a page of them into rows. (The API cuts its page first: ``step_down_page_ids`` then
    ``step_down_enrollments``, so that the annotations are computed for the page's rows only.)

    ``today`` defaults to each clinic's local date at ``now`` (default: the current instant).
    Annotations:

    - ``days_in_program``: today − start date;
    - ``min_stay_reached``: ``days_in_program ≥ program.min_stay_days``, true when the program
      has no minimum;
    - ``latest_assessment``, ``latest_recommended_level``, ``latest_level``: the patient's
      latest assessment by ``assessed_at`` (then id), its recommendation, and what counts
      (the decided level, else the recommended one), by correlated subqueries on the
      (patient, assessed_at) index;
    - ``ready_for_step_down``: min stay reached and the latest level less intensive than the
      enrollment's (``LEVEL_INTENSITY``);
    - ``past_planned_end``: today is after the planned end date;
    - ``gap_after_transition``: the enrollment is the target of a transition past the
      continuity target (``Transition.gap_flagged(today)``: a first session more than 7 days
      after the move, or none yet when the move is more than 7 days ago);
    - ``authorization``: the enrollment's current authorization
      (``programs.selectors.current_authorizations``: the one in force today, else the latest
      of any status), none without one; ``step_down_rows`` shows its status, level, unit,
      units remaining, end and next review;
    - ``payer_recommended_level``: the level the payer recommended with a denial, while that
      denial is its latest recorded review (by done date, then id) of any of the enrollment's
      authorizations; none once a later review (an appeal won) supersedes it, or when the
      denial named none;
    - ``authorization_ends_before_planned_end``: the current authorization is in force and ends
      before the planned end date;
    - ``authorized_level_below_clinical``: the current authorization is in force and its level
      is less intensive than the enrollment's (``LEVEL_INTENSITY``);
    - ``unsigned_notes``: the patient's progress notes of any session at the clinic not signed
      for good (drafts, and notes awaiting a co-signature; ``programs.models.NOTE_DUE_Q``);
    - ``readmission``: the stay began within 30 days of the patient's discharge from the clinic
      (``programs.selectors.is_readmission``; not a transition's continuation).

    ``flag`` keeps only rows with that flag; ``ordering`` is a key of ``STEP_DOWN_ORDERINGS``.
    """
    _check_choices(flag, ordering)
    enrollments = _step_down_annotate(
        _step_down_active(
            user=user,
            today=today,
            now=now or timezone.now(),
            clinic=clinic,
            program=program,
            level=level,
        )
    )
    if flag:
        enrollments = enrollments.filter(**{flag: True})
    return enrollments.order_by(*STEP_DOWN_ORDERINGS[ordering])


def step_down_page_ids(
    *,
    user,
    now: datetime.datetime,
    today: datetime.date | None = None,
    clinic: int | None = None,
    program: int | None = None,
    level: str | None = None,
    flag: str | None = None,
    ordering: str = STEP_DOWN_DEFAULT_ORDERING,
    first: int | None = None,
) -> QuerySet:
    """The ids of ``step_down_queryset``'s rows in its order, to cut a page from: only what the
    board filters and sorts on (no per-row subquery unless ``flag`` asks for one; the flag's
    own expression is then tested on the active enrollments, each an index probe).
    ``step_down_enrollments(page, now=now)`` then annotates the page's rows.

    ``first``: the page needs no more than the first ``first`` rows; ordered by days in the
    program, the rows are then read off the start-date index near the page (``_near_the_first``)
    instead of sorting every active stay."""
    _check_choices(flag, ordering)
    enrollments = _step_down_active(
        user=user, today=today, now=now, clinic=clinic, program=program, level=level
    )
    if flag:
        enrollments = enrollments.alias(**_flag_expressions([flag])).filter(**{flag: True})
    if first is not None and ordering in ("days_in_program", "-days_in_program"):
        enrollments = _near_the_first(enrollments, first, oldest_first=ordering.startswith("-"))
    return enrollments.order_by(*STEP_DOWN_ORDERINGS[ordering]).values_list("id", flat=True)


# Local dates of one instant differ by at most 2 days around the world (UTC−12 to UTC+14).
_TODAY_SPREAD_DAYS = 2


def _near_the_first(enrollments: QuerySet, first: int, *, oldest_first: bool) -> QuerySet:
    """Only the enrollments that can be among the ``first`` by days in the program, found on the
    (admitted, start_date) index rather than by computing every stay's days.

    Days in the program are the clinic's today − start date, and the todays of the caller's
    clinics differ by at most ``_TODAY_SPREAD_DAYS``. With S the ``first``-th start date in
    start order (oldest first for the longest stays), the ``first`` longest stays all started
    by S + the spread (each of the ``first`` oldest has at least today_min − S days), so nothing
    later can be on the page; likewise from the other end for the shortest stays.
    """
    by_start = "start_date" if oldest_first else "-start_date"
    spread = _TODAY_SPREAD_DAYS if oldest_first else -_TODAY_SPREAD_DAYS
    nth = (
        enrollments.order_by(by_start)
        .annotate(bound=ExpressionWrapper(F("start_date") + spread, output_field=DateField()))
        .values("bound")[first - 1 : first]
    )
    # Fewer than ``first`` stays: no bound (the subquery is empty).
    bound = Coalesce(
        Subquery(nth, output_field=DateField()),
        Value(datetime.date.max if oldest_first else datetime.date.min, output_field=DateField()),
    )
    if oldest_first:
        return enrollments.filter(start_date__lte=bound)
    return enrollments.filter(start_date__gte=bound)


def step_down_enrollments(
    ids: Iterable[int], *, now: datetime.datetime, today: datetime.date | None = None
) -> list[Enrollment]:
    """These enrollments (a page of ``step_down_page_ids``) annotated as
    ``step_down_queryset``'s, in the order of ``ids``: the annotations cost the page's rows."""
    ids = list(ids)
    if not ids:
        return []
    enrollments = _step_down_annotate(
        Enrollment.objects.filter(pk__in=ids)
        .order_by()
        .annotate(
            today=Value(today, output_field=DateField())
            if today is not None
            else _clinic_today("program__clinic__time_zone", now)
        )
        .annotate(days_in_program=_DateDiff(F("today"), F("start_date")))
    )
    by_id = {e.pk: e for e in enrollments}
    return [by_id[pk] for pk in ids if pk in by_id]


# What a board row shows of its current authorization (``units_remaining`` alone of its use:
# each use figure selected repeats its subqueries in the SQL).
_SHOWN_AUTHORIZATION = {
    "authorization_status": "status",
    "authorized_level": "authorized_level",
    "authorization_unit": "unit",
    "units_remaining": "units_remaining",
    "authorization_end_date": "end_date",
    "next_review_on": "next_review_on",
}


def _shown_authorizations(
    enrollments: list[Enrollment], *, now: datetime.datetime, today: datetime.date | None
) -> dict[int, dict]:
    """The board's columns of these rows' current authorizations, with their use
    (``programs.selectors.authorization_use`` as of the board's today), by id."""
    ids = [e.authorization for e in enrollments if e.authorization is not None]
    if not ids:
        return {}
    authorizations = authorization_use(
        Authorization.objects.filter(pk__in=ids), now=now, today=today
    ).values("id", *_SHOWN_AUTHORIZATION.values())
    return {
        a["id"]: {column: a[field] for column, field in _SHOWN_AUTHORIZATION.items()}
        for a in authorizations
    }


def _first_and_latest_responses(ids: list[int]) -> QuerySet:
    """Of these stays' responses to an instrument their program schedules (or a clinician
    ordered in the stay), the first and the latest of each stay and instrument: one query, the
    rows ranked in SQL over the (enrollment, instrument, completed_at) index."""
    partition = [F("enrollment_id"), F("instrument")]
    scheduled = MeasureSchedule.objects.filter(
        program_id=OuterRef("stay__program_id"), instrument=OuterRef("instrument")
    )
    ordered = MeasureOrder.objects.filter(
        enrollment_id=OuterRef("enrollment_id"), instrument=OuterRef("instrument")
    )
    return (
        MeasureResponse.objects.filter(enrollment_id__in=ids)
        # The stays' ids on the joined side too: PostgreSQL does not carry an IN list across a
        # join, and without it hashed every enrollment of every clinic for the programs' ids.
        .alias(stay=FilteredRelation("enrollment", condition=Q(enrollment__pk__in=ids)))
        .filter(Exists(scheduled) | Exists(ordered))
        .annotate(
            newest=Window(
                RowNumber(),
                partition_by=partition,
                order_by=[F("completed_at").desc(), F("id").desc()],
            ),
            oldest=Window(
                RowNumber(), partition_by=partition, order_by=[F("completed_at"), F("id")]
            ),
        )
        .filter(Q(newest=1) | Q(oldest=1))
        .values(
            "enrollment_id",
            "instrument",
            "total",
            "band",
            "subscales",
            "completed_at",
            "newest",
            "oldest",
        )
    )


def step_down_measures(
    enrollments: list[Enrollment], *, now: datetime.datetime
) -> dict[int, list[dict]]:
    """``{enrollment id: [measure, ...]}``: for each instrument the stay's program schedules (or
    a clinician ordered) with a response in the stay or due now, by instrument code:
    ``instrument``, ``latest_total`` (none for the BAM, which has no total),
    ``latest_subscales`` (the BAM's use, risk and protective), ``latest_band``, ``latest_at``,
    ``change_since_admission`` (latest − first total of the stay; none with fewer than two),
    ``worsened`` (PHQ-9 or GAD-7 up ``MEASURE_WORSENED_POINTS`` or more since the first),
    ``due`` and ``overdue`` (``programs.selectors.measures_due``, given the latest responses
    read here). Three queries for the page (the responses, and ``measures_due``'s schedules and
    orders), whatever its size. Enrollments need
    ``status`` and ``program__clinic`` loaded."""
    if not enrollments:
        return {}
    first, latest = {}, {}
    for response in _first_and_latest_responses([e.pk for e in enrollments]):
        key = (response["enrollment_id"], response["instrument"])
        if response["oldest"] == 1:
            first[key] = response
        if response["newest"] == 1:
            latest[key] = response
    due = measures_due(
        enrollments,
        now=now,
        latest={key: response["completed_at"] for key, response in latest.items()},
    )
    measures = {}
    for e in enrollments:
        due_here = {d.instrument: d for d in due.get(e.pk, [])}
        codes = {code for stay, code in latest if stay == e.pk} | set(due_here)
        rows = []
        for code in sorted(codes):
            last, oldest = latest.get((e.pk, code)), first.get((e.pk, code))
            change = None
            if (
                last is not None
                and last is not oldest
                and last["total"] is not None
                and oldest["total"] is not None
            ):
                change = last["total"] - oldest["total"]
            rows.append(
                {
                    "instrument": code,
                    "latest_total": last and last["total"],
                    "latest_subscales": (last and last["subscales"]) or {},
                    "latest_band": last and last["band"],
                    "latest_at": last and last["completed_at"],
                    "change_since_admission": change,
                    "worsened": code in MEASURE_WORSENING_INSTRUMENTS
                    and change is not None
                    and change >= MEASURE_WORSENED_POINTS,
                    "due": code in due_here,
                    "overdue": code in due_here and due_here[code].overdue,
                }
            )
        measures[e.pk] = rows
    return measures


def step_down_rows(
    enrollments: Iterable[Enrollment],
    *,
    now: datetime.datetime | None = None,
    today: datetime.date | None = None,
) -> list[dict]:
    """Board rows of annotated enrollments from ``step_down_queryset`` (at ``now`` and
    ``today`` as it was given), with their attendance figures (``scheduling.metrics``: one query
    per clinic time zone on the page) and their current authorizations (one query when the page
    has any), and their measures (``step_down_measures``: three queries). The authorization
    columns are none without one; ``units_remaining`` is ``authorization_use``'s."""
    enrollments = list(enrollments)
    now = now or timezone.now()
    shown = _shown_authorizations(enrollments, now=now, today=today)
    measures = step_down_measures(enrollments, now=now)
    figures = {}
    by_zone = defaultdict(list)
    for e in enrollments:
        by_zone[e.program.clinic.time_zone].append(e.pk)
    for zone, ids in by_zone.items():
        figures.update(stay_figures(ids, zone=zoneinfo.ZoneInfo(zone)))
    rows = []
    for e in enrollments:
        stay = figures[e.pk]
        falling_short = stay.falling_short(e.program.weekly_hours_min)
        authorization = shown.get(e.authorization, dict.fromkeys(_SHOWN_AUTHORIZATION))
        stay_measures = measures[e.pk]
        measure_flags = [
            flag
            for flag, key in (
                (FLAG_MEASURE_WORSENED, "worsened"),
                (FLAG_MEASURE_OVERDUE, "overdue"),
            )
            if any(m[key] for m in stay_measures)
        ]
        rows.append(
            {
                "enrollment": e.pk,
                "patient": e.patient_id,
                "patient_name": e.patient.display_name,
                "program": e.program_id,
                "level": e.level,
                "start_date": e.start_date,
                "days_in_program": e.days_in_program,
                "planned_end_date": e.planned_end_date,
                "min_stay_days": e.program.min_stay_days,
                "min_stay_reached": bool(e.min_stay_reached),
                "latest_assessment": e.latest_assessment,
                "latest_recommended_level": e.latest_recommended_level,
                "latest_level": e.latest_level,
                "authorization": e.authorization,
                **authorization,
                "payer_recommended_level": e.payer_recommended_level,
                "adherence": stay.adherence,
                "sessions_expected": stay.expected,
                "sessions_attended": stay.attended,
                "no_show_rate": stay.no_show_rate,
                "hours_this_week": stay.hours_this_week,
                "weekly_hours_min": e.program.weekly_hours_min,
                "measures": stay_measures,
                "readmission": bool(e.readmission),
                "unsigned_notes": e.unsigned_notes,
                "flags": [flag for flag in FLAGS if getattr(e, flag)]
                + ([FLAG_FALLING_SHORT] if falling_short else [])
                + measure_flags,
            }
        )
    return rows


def step_down_board(*, user, today: datetime.date | None = None, **filters) -> list[dict]:
    """The whole board as rows (unpaginated): ``step_down_rows(step_down_queryset(...))``."""
    now = timezone.now()
    return step_down_rows(
        step_down_queryset(user=user, today=today, now=now, **filters), now=now, today=today
    )
