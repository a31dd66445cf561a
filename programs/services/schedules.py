"""Where programs meet the calendar: series checked against the program's rules, and rosters
that follow enrollments (DESIGN.md: scheduling never imports programs; programs call it)."""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from programs.models import OCCUPYING, Enrollment, Program
from scheduling import services as calendar
from scheduling.models import Series, Session, SessionKind


def _number(value) -> str:
    return format(Decimal(value).normalize(), "f")


def _bounds(low, high, unit: str) -> str:
    if low is not None and high is not None:
        return f"{_number(low)}–{_number(high)} {unit}"
    if low is not None:
        return f"at least {_number(low)} {unit}"
    return f"at most {_number(high)} {unit}"


def check_series_against_program(program: Program, *, weekdays, duration_minutes: int) -> None:
    """A series must give the program's cadence and session length (DOMAIN.md: IOP 3–5
    sessions a week of 3–4 hours, PHP and outpatient within their bounds). A bound a program
    leaves empty does not apply."""
    errors = {}
    per_week = len(set(weekdays))
    low, high = program.sessions_per_week_min, program.sessions_per_week_max
    if (low is not None and per_week < low) or (high is not None and per_week > high):
        errors["weekdays"] = [
            f"{program.name} ({program.get_level_display()}) meets "
            f"{_bounds(low, high, 'times a week')}; this series gives {per_week}."
        ]
    hours = Decimal(duration_minutes) / 60
    low_h, high_h = program.session_hours_min, program.session_hours_max
    if (low_h is not None and hours < low_h) or (high_h is not None and hours > high_h):
        errors["duration_minutes"] = [
            f"{program.name} ({program.get_level_display()}) sessions last "
            f"{_bounds(low_h, high_h, 'hours')}; this series gives {_number(round(hours, 2))}."
        ]
    if errors:
        raise ValidationError(errors)


def _stays(program_ids) -> list[tuple]:
    """The occupying stays of these programs, as ``roster_fill_program_sessions`` takes them."""
    return list(
        Enrollment.objects.filter(program_id__in=program_ids, status__in=OCCUPYING).values_list(
            "program_id",
            "patient_id",
            "id",
            "start_date",
            "discharge_date",
            "program__clinic__time_zone",
        )
    )


def fill_rosters(program: Program, sessions: list[Session]) -> int:
    """Seed new sessions of ``program`` with the patients enrolled on their dates (2 queries)."""
    return calendar.roster_fill_program_sessions(
        session_ids=[s.pk for s in sessions], stays=_stays([program.pk])
    )


@transaction.atomic
def program_series_create(
    *, actor, program: Program, until: datetime.date | None = None, **fields
) -> tuple[Series, list[Session]]:
    """Create a program's series after checking its rules, expand it to the horizon and put the
    enrolled patients on the new sessions' rosters, set-based."""
    check_series_against_program(
        program,
        weekdays=fields.get("weekdays") or [],
        duration_minutes=fields.get("duration_minutes") or 0,
    )
    series = calendar.series_create(actor=actor, clinic=program.clinic, program=program, **fields)
    sessions = calendar.series_materialize(series=series, until=until)
    fill_rosters(program, sessions)
    return series, sessions


def materialize_all_series(*, until: datetime.date | None = None) -> int:
    """The nightly pass (idempotent): extend every open series to the horizon and seed the new
    program sessions' rosters, in one transaction with a constant number of queries whatever
    the number of series. Returns how many sessions were created."""
    with transaction.atomic():
        sessions = calendar.series_materialize_open(until=until)
        programs = {s.program_id for s in sessions if s.program_id is not None}
        if programs:
            calendar.roster_fill_program_sessions(
                session_ids=[s.pk for s in sessions if s.program_id is not None],
                stays=_stays(programs),
            )
    return len(sessions)


def rosters_follow_admission(enrollment: Enrollment) -> int:
    """After an admission: the patient joins the program's future sessions from the start."""
    return calendar.roster_add_for_stay(
        program_id=enrollment.program_id,
        patient_id=enrollment.patient_id,
        enrollment_id=enrollment.pk,
        start_date=enrollment.start_date,
        end_date=None,
        zone=enrollment.program.clinic.time_zone,
    )


def rosters_follow_discharge(enrollment: Enrollment) -> int:
    """After a discharge: the patient leaves the program's future sessions from the discharge
    date; past sessions and recorded attendance stay."""
    return calendar.roster_remove_from(
        program_id=enrollment.program_id,
        patient_id=enrollment.patient_id,
        from_date=enrollment.discharge_date,
        zone=enrollment.program.clinic.time_zone,
    )


@transaction.atomic
def program_session_create(*, actor, **fields) -> Session:
    """A one-off session; a program session's roster is the program's patients enrolled on its
    date (an individual appointment's is its one patient)."""
    session = calendar.session_create(actor=actor, **fields)
    program = fields.get("program")
    if program is not None and session.kind != SessionKind.INDIVIDUAL:
        fill_rosters(program, [session])
    return session


@transaction.atomic
def program_series_edit(*, actor, session: Session, **changes) -> list[Session]:
    """``scheduling.services.series_edit``, keeping a program's session length after an edit."""
    series = session.series
    if series is not None and series.program_id is not None and changes.get("duration_minutes"):
        check_series_against_program(
            series.program, weekdays=series.weekdays, duration_minutes=changes["duration_minutes"]
        )
    return calendar.series_edit(actor=actor, session=session, **changes)


@transaction.atomic
def series_create_and_expand(
    *, actor, clinic, program: Program | None = None, until: datetime.date | None = None, **fields
) -> tuple[Series, list[Session]]:
    """A series with or without a program, expanded to the horizon (a program's: checked and
    rostered by ``program_series_create``)."""
    if program is not None:
        return program_series_create(actor=actor, program=program, until=until, **fields)
    series = calendar.series_create(actor=actor, clinic=clinic, **fields)
    return series, calendar.series_materialize(series=series, until=until)
