"""The outcomes report (issue 24, item 6; ``reports/outcomes/``): what the measures say of each
program, per program and month.

A month's figures are of the stays *measured in it*: a stay of the program with at least one
response completed in that month (the clinic's dates). For a supervisor this reads "of the
patients we measured in March, how many are better": every stay counts in each month it was
measured, and a long stay shows its progress month after month. Per program and month:

- ``patients_measured``: the patients of those stays;
- ``with_follow_up``: of those stays, the ones with two or more PHQ-9 or GAD-7 responses by the
  month's end (a first and a later one: there is no improvement to speak of before);
- ``improved`` and ``improved_share`` (improved / with follow-up): the PHQ-9 or the GAD-7's
  latest total by the month's end is ``IMPROVED_DROP`` or more points below the stay's first,
  or below ``REMISSION_BELOW``;
- ``median_change``: the median over the stays with two PHQ-9 responses or more of the latest −
  first PHQ-9 total by the month's end (negative is better);
- ``completed`` and ``due``: the responses completed in the month to the instruments the program
  schedules (not those given on a clinician's order alone), and the measures that fell due in the
  month by the schedules' rules (``programs.selectors.measures_due``'s, replayed over the stay's
  responses: ``_scheduled_due``), while the stay was open.

Constant queries whatever the range: the programs, their schedules, the stays open in the range
and their responses (to the range's end); the figures are counted in Python.
"""

import datetime
import statistics
from collections import defaultdict

from django.db.models import Q
from django.utils import timezone

from clinic.models import Role
from clinic.selectors import clinic_ids_for_user
from programs.models import (
    Enrollment,
    EnrollmentStatus,
    MeasureResponse,
    MeasureSchedule,
    Program,
)
from programs.reports_admissions import Month
from programs.selectors import _scheduled_due

OUTCOMES_REPORT_ROLES = (Role.CLINICIAN, Role.SUPERVISOR)
IMPROVED_DROP = 5
REMISSION_BELOW = 10
MOOD_INSTRUMENTS = ("phq9", "gad7")
FIGURES = (
    "patients_measured",
    "with_follow_up",
    "improved",
    "improved_share",
    "median_change",
    "completed",
    "due",
)


def outcomes_programs(*, user, clinic: int | None = None, program: int | None = None):
    """The programs the report covers: the caller's clinics', optionally narrowed."""
    programs = Program.objects.filter(clinic_id__in=clinic_ids_for_user(user))
    if clinic is not None:
        programs = programs.filter(clinic_id=clinic)
    if program is not None:
        programs = programs.filter(pk=program)
    return programs.select_related("clinic").order_by("clinic_id", "name", "id")


def _due_dates(schedule, stay, responded_on: list[datetime.date], until: datetime.date):
    """The dates ``schedule``'s instrument fell due in ``stay`` up to ``until``, replaying
    ``_scheduled_due`` (the one rule of what is due) over the stay's responses in order: a due
    date is counted once, and a response before it moves the schedule instead."""
    dates, latest, index = [], None, 0
    while True:
        due = _scheduled_due(schedule, stay, latest, until)
        if due is None:
            return dates
        due_on = due[0]
        if index < len(responded_on) and responded_on[index] < due_on:
            latest = responded_on[index]
            index += 1
            continue
        dates.append(due_on)
        if index == len(responded_on):
            return dates
        latest = responded_on[index]
        index += 1


def _figures(stays: list[dict]) -> dict:
    """The figures of these measured stays (each: patient, improved, followed, phq_change,
    completed, due)."""
    measured = [s for s in stays if s["measured"]]
    followed = [s for s in measured if s["followed"]]
    improved = sum(1 for s in followed if s["improved"])
    changes = [s["phq_change"] for s in measured if s["phq_change"] is not None]
    return {
        "patients_measured": len({s["patient"] for s in measured}),
        "with_follow_up": len(followed),
        "improved": improved,
        "improved_share": round(improved / len(followed), 4) if followed else None,
        "median_change": float(statistics.median(changes)) if changes else None,
        "completed": sum(s["completed"] for s in stays),
        "due": sum(s["due"] for s in stays),
    }


def _mood_outcome(totals: dict[str, list[int]]) -> tuple[bool, bool, int | None]:
    """(followed, improved, PHQ-9 change) of a stay's PHQ-9 and GAD-7 totals so far, in order."""
    followed = improved = False
    for code in MOOD_INSTRUMENTS:
        series = totals.get(code, [])
        if len(series) >= 2:
            followed = True
            first, latest = series[0], series[-1]
            if first - latest >= IMPROVED_DROP or latest < REMISSION_BELOW:
                improved = True
    phq = totals.get("phq9", [])
    return followed, improved, (phq[-1] - phq[0]) if len(phq) >= 2 else None


def _stay_figures(
    stay, answered, scheduled, due_per_month, last_day: datetime.date, counted_from: datetime.date
) -> dict:
    """A stay's figures with its responses (``answered``: instrument, total, local date, in
    order) up to ``last_day``, its responses and due measures counted from ``counted_from``."""
    so_far = defaultdict(list)
    measured = completed = 0
    for code, total, on in answered:
        if on > last_day:
            break
        if total is not None:
            so_far[code].append(total)
        if on >= counted_from:
            measured += 1
            completed += code in scheduled
    followed, improved, change = _mood_outcome(so_far)
    return {
        "patient": stay.patient_id,
        "measured": measured > 0,
        "followed": followed,
        "improved": improved,
        "phq_change": change,
        "completed": completed,
        "due": sum(
            count
            for month, count in due_per_month.items()
            if counted_from <= month.first_day <= last_day
        ),
    }


def outcomes_report(
    *,
    user,
    start: Month,
    end: Month,
    clinic: int | None = None,
    program: int | None = None,
    now: datetime.datetime | None = None,
) -> dict:
    """The outcomes report of the caller's programs (or ``clinic``'s, or ``program``) from
    ``start`` to ``end`` (months, inclusive), in constant queries (see the module's docstring):

    ``{"start", "end", "programs": [{"program", "program_name", "clinic", "months": [{"month",
    figures…}] (every month of the range), "total": {figures…}}], "months": [{"month",
    figures…}] (all the programs), "total": {figures…}}``. A stay measured in several months
    counts in each; in a total, once (its figures as of the range's end)."""
    now = now or timezone.now()
    programs = list(outcomes_programs(user=user, clinic=clinic, program=program))
    months = [start.plus(n) for n in range(end.minus(start) + 1)]
    first_day, after_last = start.first_day, end.plus(1).first_day
    schedules = defaultdict(list)
    for schedule in MeasureSchedule.objects.filter(program__in=programs, by_order=False):
        schedules[schedule.program_id].append(schedule)
    stays = list(
        Enrollment.objects.filter(
            program__in=programs,
            status__in=[EnrollmentStatus.ADMITTED, EnrollmentStatus.DISCHARGED],
            start_date__lt=after_last,
        )
        .filter(Q(discharge_date__isnull=True) | Q(discharge_date__gte=first_day))
        .only("id", "patient_id", "program_id", "start_date", "planned_end_date", "discharge_date")
    )
    # A day's margin either side of the local range: the local dates then decide.
    responses = defaultdict(list)
    for response in (
        MeasureResponse.objects.filter(
            enrollment__in=[s.pk for s in stays],
            completed_at__lt=datetime.datetime.combine(
                after_last + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
            ),
        )
        .order_by("completed_at", "id")
        .values_list("enrollment_id", "instrument", "total", "completed_at")
    ):
        responses[response[0]].append(response[1:])
    by_program = {p.pk: p for p in programs}
    cells = defaultdict(list)  # (program id, Month) → the stays' figures that month
    totals = defaultdict(list)  # program id → the stays' figures over the range
    for stay in stays:
        program_ = by_program[stay.program_id]
        zone = program_.clinic.zone
        today = now.astimezone(zone).date()
        scheduled = {s.instrument for s in schedules[stay.program_id]}
        answered = [
            (instrument, total, moment.astimezone(zone).date())
            for instrument, total, moment in responses[stay.pk]
        ]
        open_until = min(stay.discharge_date or today, today, after_last - datetime.timedelta(1))
        due_per_month = defaultdict(int)
        for schedule in schedules[stay.program_id]:
            days = [on for code, _total, on in answered if code == schedule.instrument]
            for due_on in _due_dates(schedule, stay, days, open_until):
                due_per_month[Month.of(due_on)] += 1

        # Only the months the stay was measured in or had a measure fall due count it.
        active = {Month.of(on) for _code, _total, on in answered} | set(due_per_month)
        for month in months:
            if month not in active:
                continue
            last_day = month.plus(1).first_day - datetime.timedelta(days=1)
            figures = _stay_figures(
                stay, answered, scheduled, due_per_month, last_day, month.first_day
            )
            if figures["measured"] or figures["due"]:
                cells[(stay.program_id, month)].append(figures)
        totals[stay.program_id].append(
            _stay_figures(
                stay,
                answered,
                scheduled,
                due_per_month,
                after_last - datetime.timedelta(days=1),
                first_day,
            )
        )
    return {
        "start": str(start),
        "end": str(end),
        "programs": [
            {
                "program": p.pk,
                "program_name": p.name,
                "clinic": p.clinic_id,
                "months": [
                    {"month": str(month), **_figures(cells[(p.pk, month)])} for month in months
                ],
                "total": _figures(totals[p.pk]),
            }
            for p in programs
        ],
        "months": [
            {
                "month": str(month),
                **_figures([s for p in programs for s in cells[(p.pk, month)]]),
            }
            for month in months
        ],
        "total": _figures([s for p in programs for s in totals[p.pk]]),
    }
