"""What the modules of discharge/ share: an episode residential → IOP (a step-down) →
discharged, with sessions attended, an assessment and an aftercare plan with a follow-up."""

import datetime
from dataclasses import dataclass

import time_machine

from patients.services import assessment_create
from programs.models import DischargeSummary, Enrollment
from programs.services import aftercare, enrollments
from scheduling import services as calendar
from scheduling.services import program_session_create
from tests.factories import PatientFactory, ProgramFactory

UTC = datetime.UTC
BASE = "/api/v1/discharge-summaries/"
# The episode: admitted to the house on ADMITTED, stepped down on STEPPED_DOWN, discharged on
# DISCHARGED (the clinic's dates, New York).
ADMITTED = datetime.date(2026, 11, 2)
STEPPED_DOWN = ADMITTED + datetime.timedelta(days=10)
DISCHARGED = ADMITTED + datetime.timedelta(days=14)
FOLLOW_UP_AT = datetime.datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


def noon(day: datetime.date) -> datetime.datetime:
    """Noon in New York (17:00 UTC in winter)."""
    return datetime.datetime.combine(day, datetime.time(17), tzinfo=UTC)


def day(n: int) -> datetime.date:
    return ADMITTED + datetime.timedelta(days=n)


@dataclass
class Episode:
    house: Enrollment
    iop: Enrollment
    summary: DischargeSummary | None = None


def _session(clinician, program, on: datetime.date):
    return program_session_create(
        actor=clinician,
        clinic=program.clinic,
        program=program,
        title="Group",
        kind="group",
        starts_at=noon(on),
        ends_at=noon(on) + datetime.timedelta(hours=3),
    )


def attend(clinician, session, patient, status):
    with time_machine.travel(session.starts_at, tick=False):
        calendar.attendance_record(actor=clinician, session=session, patient=patient, status=status)


def make_episode(
    clinic, admissions, clinician, *, first_name="Ana", last_name="Diaz", programs=None
):
    """An episode ending in the IOP, not yet discharged (``discharge`` does that). Attendance:
    house present, late; IOP absent, excused, one unrecorded (five scheduled)."""
    house, iop = programs or (
        ProgramFactory(clinic=clinic, level="residential", name="Willow House", capacity=8),
        ProgramFactory(clinic=clinic, level="iop", name="Evening IOP", capacity=8),
    )
    patient = PatientFactory(
        clinic=clinic, actor=admissions, first_name=first_name, last_name=last_name
    )
    with time_machine.travel(noon(ADMITTED) - datetime.timedelta(hours=2), tick=False):
        assessment_create(
            actor=clinician,
            patient=patient,
            dimensions={"d1": 3, "d2": 1, "d3": 2, "d4": 2, "d5": 3, "d6": 3},
            criteria_count=8,
        )
        stay = enrollments.enrollment_create(
            actor=admissions,
            patient=patient,
            program=house,
            start_date=ADMITTED,
            primary_clinician=clinician,
        )
        house_sessions = [_session(clinician, house, day(1)), _session(clinician, house, day(2))]
        plan = aftercare.aftercare_plan_create(actor=clinician, enrollment=stay)
        aftercare.aftercare_item_add(
            actor=clinician,
            plan=plan,
            kind="follow_up",
            text="Dr. Okafor, outpatient psychiatry",
            scheduled_for=FOLLOW_UP_AT,
        )
        aftercare.aftercare_item_add(
            actor=clinician, plan=plan, kind="support_group", text="Tuesday evening meeting"
        )
    attend(clinician, house_sessions[0], patient, "present")
    attend(clinician, house_sessions[1], patient, "late")
    with time_machine.travel(noon(STEPPED_DOWN), tick=False):
        transition = enrollments.transition_create(
            actor=clinician,
            enrollment=stay,
            to_program=iop,
            date=STEPPED_DOWN,
            kind="step_down",
            reason="Stable, ready for IOP",
        )
        iop_sessions = [_session(clinician, iop, day(n)) for n in (11, 12, 13, 20)]
    attend(clinician, iop_sessions[0], patient, "absent")
    attend(clinician, iop_sessions[1], patient, "excused")
    return Episode(house=transition.from_enrollment, iop=transition.to_enrollment)


def discharge(episode: Episode, actor, *, on=DISCHARGED, reason="completed") -> Episode:
    with time_machine.travel(noon(on), tick=False):
        enrollments.enrollment_discharge(
            actor=actor, enrollment=episode.iop, date=on, reason=reason
        )
    episode.iop.refresh_from_db()
    episode.summary = DischargeSummary.objects.get(enrollment=episode.iop)
    return episode


def complete(summary, actor, **text):
    from programs.services import discharge_summaries

    data = {
        "course_of_treatment": "Ten days residential, then IOP.",
        "condition_at_discharge": "Stable, motivated.",
        **text,
    }
    return discharge_summaries.discharge_summary_update(summary, actor=actor, data=data)
