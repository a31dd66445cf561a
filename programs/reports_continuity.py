"""The continuity measure (issue 25, item 3; ``reports/continuity/``): of the discharges from
high-intensity care, the share followed by a visit within 7 and within 30 days, per program and
month of discharge, with the readmissions (HEDIS's FUI, counted on the clinic's own records).

Per high-intensity program (``Program.high_intensity_q``: residential, PHP, withdrawal
management) and month of the discharge date:

- ``eligible``: the program's stays that ended in the month, by a discharge or as the source of
  a transition to a program that is not high-intensity (a step-down to IOP ends high-intensity
  care; its follow-up visit is the first session at the new level). A transition to another
  high-intensity program continues the episode: the later program's end counts instead, as
  HEDIS counts only the last of directly linked stays. A stay whose follow-up task recorded the
  patient ``deceased`` is left out.
- ``followed_up_7_days`` / ``followed_up_30_days``: of those, the ones with a follow-up visit
  dated D..D+7 / D..D+30 inclusive (D: the discharge date): an attended (present or late)
  session of the patient at a non-residential program of the same clinic (the session's date in
  the clinic's zone), or a follow-up task of the stay completed ``seen_elsewhere`` with
  ``seen_elsewhere_on`` in the window. ``rate_7_days`` / ``rate_30_days``: their share of the
  eligible (null with none eligible). ``window_open``: the eligible whose 30 days have not all
  passed (the clinic's today ≤ D+30) and not yet followed up: they may still be.
- ``discharges``: the eligible ended by a discharge (not transition sources);
  ``readmitted``: of those, the ones followed by a new admission of the patient at the clinic
  within 30 days (``programs.selectors.readmission_links``, the one rule the census and the
  step-down board flag by too); ``readmission_rate``: readmitted / discharges.

Supervisors (and superusers) also get the patients of each row; other staff the figures alone.
Constant queries whatever the range, the programs or the patients: the programs, then the stays
(their visit elsewhere and readmission as correlated subqueries) with their first visits, all
matched in one join (``FIRST_VISITS_SQL``); grouped in Python.
"""

import datetime
from collections import defaultdict
from datetime import UTC

from django.db import connections
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from clinic.models import Clinic, Role
from clinic.selectors import STAFF_ROLES, clinic_ids_for_user, user_has_role
from clinic.sql import Table, statement
from patients.models import Level, Patient
from programs.models import (
    Enrollment,
    EnrollmentStatus,
    FollowUpOutcome,
    FollowUpTask,
    Program,
    Transition,
)
from programs.reports_admissions import Month
from programs.selectors import readmission_links
from scheduling.models import ATTENDED, Attendance, Session

CONTINUITY_REPORT_ROLES = STAFF_ROLES
FOLLOW_UP_DAYS = (7, 30)
NON_RESIDENTIAL_LEVELS = [level for level in Level.values if level != Level.RESIDENTIAL]
FIGURES = (
    "eligible",
    "followed_up_7_days",
    "followed_up_30_days",
    "rate_7_days",
    "rate_30_days",
    "window_open",
    "discharges",
    "readmitted",
    "readmission_rate",
)


def lists_patients(user) -> bool:
    """Supervisors and superusers see who each row counts."""
    return user.is_superuser or user_has_role(user, Role.SUPERVISOR)


def continuity_programs(*, user, clinic: int | None = None, program: int | None = None):
    """The high-intensity programs of the caller's clinics, optionally narrowed."""
    programs = Program.objects.filter(
        Program.high_intensity_q(), clinic_id__in=clinic_ids_for_user(user)
    )
    if clinic is not None:
        programs = programs.filter(clinic_id=clinic)
    if program is not None:
        programs = programs.filter(pk=program)
    return programs.select_related("clinic").order_by("clinic_id", "name", "id")


def _window(days: int):
    return OuterRef("discharge_date") + datetime.timedelta(days=days)


def continuity_stays(program_ids, first_day: datetime.date, after_last: datetime.date):
    """The eligible stays of these programs ended from ``first_day`` to before ``after_last``
    (values: ``id``, ``patient_id``, ``program_id``, ``clinic_id``, ``discharge_date``, the
    patient's ``first_name`` and ``last_name``), each with ``elsewhere_on`` (its first visit
    elsewhere in the window), ``transferred`` (the source of a transition) and
    ``readmitted_on`` (the first readmission's start). Its first attended session is
    ``FIRST_VISITS_SQL``'s (``stays_with_first_visits``)."""
    last = max(FOLLOW_UP_DAYS)
    elsewhere = (
        FollowUpTask.objects.filter(
            enrollment_id=OuterRef("pk"),
            outcome=FollowUpOutcome.SEEN_ELSEWHERE,
            seen_elsewhere_on__gte=OuterRef("discharge_date"),
            seen_elsewhere_on__lte=_window(last),
        )
        .order_by("seen_elsewhere_on")
        .values("seen_elsewhere_on")[:1]
    )
    readmissions = readmission_links(of="discharge").order_by("start_date").values("start_date")
    deceased = FollowUpTask.objects.filter(
        enrollment_id=OuterRef("pk"), outcome=FollowUpOutcome.DECEASED
    )
    # A move to another high-intensity program continues the episode (not the end of care).
    moved_within_high_intensity = Transition.objects.filter(
        Program.high_intensity_q("to_enrollment__program__"), from_enrollment_id=OuterRef("pk")
    )
    return (
        Enrollment.objects.filter(
            program_id__in=program_ids,
            status=EnrollmentStatus.DISCHARGED,
            discharge_date__gte=first_day,
            discharge_date__lt=after_last,
        )
        .exclude(Exists(deceased))
        .exclude(Exists(moved_within_high_intensity))
        .annotate(
            elsewhere_on=Subquery(elsewhere),
            readmitted_on=Subquery(readmissions[:1]),
            transferred=Exists(Transition.objects.filter(from_enrollment_id=OuterRef("pk"))),
        )
        .order_by()
        .values(
            "id",
            "patient_id",
            "program_id",
            "discharge_date",
            "elsewhere_on",
            "readmitted_on",
            "transferred",
            clinic_id=F("program__clinic_id"),
            first_name=F("patient__first_name"),
            last_name=F("patient__last_name"),
        )
    )


# Each stay's first attended session at a non-residential program of its clinic, local date
# D..D+30, for all the stays at once: the stays' patients' attended sessions (off the
# attendance index alone) hashed against the clinic's sessions of the report's range, read once.
# A correlated lookup per stay probed the sessions' primary key once per attended row (~70,000
# for a year of one clinic), one B-tree level deeper as the sessions grow; matching each
# window's sessions instead reads ~2,000 a stay (bench/README.md, "Reports at scale").
# ``stays`` is ``continuity_stays``' statement; the sessions are bounded by their own clinic
# (``session_clinic_time``), which a program's session shares with its program.
FIRST_VISITS_SQL = statement(
    """
WITH stays AS MATERIALIZED ({stays}),
-- Materialized, so that the attended rows are hashed against them: a join the planner may
-- turn into a primary-key probe per attended row, which the estimates of ``stays`` invite.
sessions AS MATERIALIZED (
    SELECT {s.id} AS id, {p.clinic_id} AS clinic_id,
           timezone({c.time_zone}, {s.starts_at})::date AS local_date
    FROM {s}
    JOIN {p} ON {p.id} = {s.program_id}
    JOIN {c} ON {c.id} = {p.clinic_id}
    WHERE {s.clinic_id} = ANY(%s)
      AND {s.starts_at} >= %s
      AND {s.starts_at} < %s
      AND {p.level} = ANY(%s)
),
visits AS (
    SELECT stays.id, MIN(sessions.local_date) AS session_on
    FROM stays
    JOIN {a} ON {a.patient_id} = stays.patient_id
    JOIN sessions ON sessions.id = {a.session_id}
    WHERE {a.status} = ANY(%s)
      AND sessions.clinic_id = stays.clinic_id
      AND sessions.local_date BETWEEN stays.discharge_date AND stays.discharge_date + %s
    GROUP BY stays.id
)
SELECT stays.id, stays.patient_id, stays.program_id, stays.discharge_date, stays.first_name,
       stays.last_name, visits.session_on, stays.elsewhere_on, stays.readmitted_on,
       stays.transferred
FROM stays
LEFT JOIN visits ON visits.id = stays.id
ORDER BY stays.discharge_date, stays.last_name, stays.first_name, stays.id
""",
    a=Table(Attendance, "a"),
    s=Table(Session, "s"),
    p=Table(Program, "p"),
    c=Table(Clinic, "c"),
    stays="{stays}",
)


def stays_with_first_visits(
    programs: list[Program], first_day: datetime.date, after_last: datetime.date
) -> list[dict]:
    """``continuity_stays`` of ``programs``, in the order of their discharge date and patient,
    each with ``session_on``: its first attended session at a non-residential program of the
    clinic in D..D+30 (in the clinic's zone). One query."""
    if not programs:
        return []
    last = max(FOLLOW_UP_DAYS)
    stays = continuity_stays([p.pk for p in programs], first_day, after_last)
    stays_sql, stays_params = stays.query.get_compiler(using=stays.db).as_sql()
    # A day either side in UTC holds every zone's local dates D..D+30 of the range.
    params = [
        *stays_params,
        sorted({p.clinic_id for p in programs}),
        datetime.datetime.combine(first_day - datetime.timedelta(days=1), datetime.time(), UTC),
        datetime.datetime.combine(
            after_last + datetime.timedelta(days=last + 1), datetime.time(), UTC
        ),
        NON_RESIDENTIAL_LEVELS,
        list(ATTENDED),
        last,
    ]
    with connections[stays.db].cursor() as cursor:
        cursor.execute(FIRST_VISITS_SQL.replace("{stays}", stays_sql), params)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _figures(stays: list[dict]) -> dict:
    eligible = len(stays)
    followed = {
        days: sum(1 for s in stays if s["followed_days"] is not None and s["followed_days"] <= days)
        for days in FOLLOW_UP_DAYS
    }
    discharges = [s for s in stays if not s["transferred"]]
    readmitted = sum(1 for s in discharges if s["readmitted_on"] is not None)
    return {
        "eligible": eligible,
        "followed_up_7_days": followed[7],
        "followed_up_30_days": followed[30],
        "rate_7_days": round(followed[7] / eligible, 4) if eligible else None,
        "rate_30_days": round(followed[30] / eligible, 4) if eligible else None,
        "window_open": sum(1 for s in stays if s["window_open"]),
        "discharges": len(discharges),
        "readmitted": readmitted,
        "readmission_rate": round(readmitted / len(discharges), 4) if discharges else None,
    }


def _listed(stays: list[dict]) -> list[dict]:
    return [
        {
            "enrollment": s["enrollment"],
            "patient": s["patient"],
            "patient_name": s["patient_name"],
            "discharge_date": s["discharge_date"],
            "transferred": s["transferred"],
            "followed_up_on": s["followed_up_on"],
            "readmitted_on": s["readmitted_on"],
        }
        for s in stays
    ]


def continuity_report(
    *,
    user,
    start: Month,
    end: Month,
    clinic: int | None = None,
    program: int | None = None,
    now: datetime.datetime | None = None,
) -> dict:
    """The continuity measure of the caller's high-intensity programs (or ``clinic``'s, or
    ``program``) for the stays ended from ``start`` to ``end`` (months, inclusive), in constant
    queries (see the module's docstring):

    ``{"start", "end", "lists_patients", "programs": [{"program", "program_name", "clinic",
    "months": [{"month", figures…, "patients"}] (every month of the range), "total":
    {figures…}}], "months": [{"month", figures…}] (all the programs), "total": {figures…}}``.
    ``patients`` (per program and month) is ``[{"enrollment", "patient", "patient_name",
    "discharge_date", "transferred", "followed_up_on", "readmitted_on"}]`` for a supervisor,
    none for other staff."""
    now = now or timezone.now()
    listing = lists_patients(user)
    programs = list(continuity_programs(user=user, clinic=clinic, program=program))
    by_program = {p.pk: p for p in programs}
    months = [start.plus(n) for n in range(end.minus(start) + 1)]
    cells = defaultdict(list)  # (program id, Month) → its stays
    last = max(FOLLOW_UP_DAYS)
    for stay in stays_with_first_visits(programs, start.first_day, end.plus(1).first_day):
        discharged_on = stay["discharge_date"]
        visits = [on for on in (stay["session_on"], stay["elsewhere_on"]) if on is not None]
        followed_up_on = min(visits, default=None)
        today = by_program[stay["program_id"]].clinic.today(now)
        cells[(stay["program_id"], Month.of(discharged_on))].append(
            {
                "enrollment": stay["id"],
                "patient": stay["patient_id"],
                "patient_name": Patient(
                    first_name=stay["first_name"], last_name=stay["last_name"]
                ).display_name,
                "discharge_date": discharged_on,
                "transferred": stay["transferred"],
                "followed_up_on": followed_up_on,
                "followed_days": None
                if followed_up_on is None
                else (followed_up_on - discharged_on).days,
                "readmitted_on": stay["readmitted_on"],
                "window_open": followed_up_on is None
                and today <= discharged_on + datetime.timedelta(days=last),
            }
        )

    def month_row(month: Month, stays: list[dict], *, with_patients: bool) -> dict:
        row = {"month": str(month), **_figures(stays)}
        if with_patients:
            row["patients"] = _listed(stays) if listing else None
        return row

    return {
        "start": str(start),
        "end": str(end),
        "lists_patients": listing,
        "programs": [
            {
                "program": p.pk,
                "program_name": p.name,
                "clinic": p.clinic_id,
                "months": [
                    month_row(month, cells[(p.pk, month)], with_patients=True) for month in months
                ],
                "total": _figures([s for month in months for s in cells[(p.pk, month)]]),
            }
            for p in programs
        ],
        "months": [
            month_row(
                month, [s for p in programs for s in cells[(p.pk, month)]], with_patients=False
            )
            for month in months
        ],
        "total": _figures([s for stays in cells.values() for s in stays]),
    }


def listed_stays(report: dict) -> list[tuple[int, int, int]]:
    """``(enrollment id, clinic id, patient id)`` of each stay the report lists (a
    supervisor's): what the caller audits (``clinic.services.audit_record_rows``, one INSERT);
    none when it lists none."""
    return [
        (listed["enrollment"], program["clinic"], listed["patient"])
        for program in report["programs"]
        for month in program["months"]
        for listed in month.get("patients") or ()
    ]
