"""What the continuity report's tests share: a clinic's stays, sessions and follow-up tasks
written straight to the database (the discharge services' own side effects are tested with
them), so each case holds exactly what it says."""

import datetime

from clinic.models import AuditEvent
from programs.models import (
    Enrollment,
    EnrollmentStatus,
    FollowUpTask,
    Transition,
)
from scheduling.models import Attendance, RosterEntry, Session
from tests.factories import PatientFactory, ProgramFactory, staff_user
from tests.programs.reports.helpers import admit

CONTINUITY = "/api/v1/reports/continuity/"


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def at(text: str, hour_utc: int = 15) -> datetime.datetime:
    """That day at ``hour_utc`` UTC (15: 10:00 or 11:00 in New York, the same date)."""
    return datetime.datetime.fromisoformat(text).replace(hour=hour_utc, tzinfo=datetime.UTC)


def person(clinic, first_name, last_name="Quill"):
    return PatientFactory(
        clinic=clinic,
        first_name=first_name,
        last_name=last_name,
        date_of_birth=datetime.date(1990, 1, 1),
    )


def stay(patient, program, start: str, end: str | None = None, *, reason="completed"):
    """A stay from ``start``, discharged on ``end`` when given."""
    enrollment = admit(patient, program, day(start), planned_end_date=day("2027-06-30"))
    if end is not None:
        Enrollment.objects.filter(pk=enrollment.pk).update(
            status=EnrollmentStatus.DISCHARGED, discharge_date=day(end), discharge_reason=reason
        )
        enrollment.refresh_from_db()
    return enrollment


def moved(source, to_program, on: str, kind="step_down"):
    """``source`` ended by a transition on ``on`` to a new stay in ``to_program``."""
    Enrollment.objects.filter(pk=source.pk).update(
        status=EnrollmentStatus.DISCHARGED, discharge_date=day(on), discharge_reason="transferred"
    )
    target = stay(source.patient, to_program, on)
    Transition.objects.create(
        kind=kind,
        patient_id=source.patient_id,
        from_enrollment=source,
        to_enrollment=target,
        date=day(on),
        reason="Stable.",
        decided_by=staff_user(role="clinician", clinics=[to_program.clinic]),
    )
    return target


def attended(patient, program, starts_at: datetime.datetime, status="present"):
    """A session of ``program`` at ``starts_at`` with the patient's attendance."""
    session = Session.objects.create(
        clinic=program.clinic,
        program=program,
        kind="group",
        title="Group",
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=1),
    )
    entry = RosterEntry.objects.create(session=session, patient=patient)
    return Attendance.objects.create(
        session=session,
        patient=patient,
        roster_entry=entry,
        status=status,
        recorded_by=staff_user(role="clinician", clinics=[program.clinic]),
    )


def follow_up(enrollment, outcome, *, days=7, seen_elsewhere_on=None):
    """A completed follow-up task of the discharge."""
    clinician = staff_user(role="clinician", clinics=[enrollment.program.clinic])
    return FollowUpTask.objects.create(
        enrollment=enrollment,
        patient_id=enrollment.patient_id,
        days_after_discharge=days,
        due_date=enrollment.discharge_date + datetime.timedelta(days=days),
        assignee=clinician,
        outcome=outcome,
        seen_elsewhere_on=day(seen_elsewhere_on) if seen_elsewhere_on else None,
        completed_at=at("2026-11-28"),
        completed_by=clinician,
    )


def programs_of(clinic, suffix=""):
    names = {
        "residential": "Harbor House",
        "php": "Day PHP",
        "iop": "Evening IOP",
        "outpatient": "Outpatient",
    }
    return {
        level: ProgramFactory(clinic=clinic, name=name + suffix, level=level, capacity=20)
        for level, name in names.items()
    }


def listed_audits(actor):
    return AuditEvent.objects.filter(actor=actor, action="list", object_type="programs.enrollment")
