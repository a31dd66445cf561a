"""What the modules of reports/ share: constants and helpers."""

import datetime

from patients.models import Patient
from programs.models import Enrollment, EnrollmentStatus, MeasureSchedule

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)  # 10:00 in New York
TODAY = datetime.date(2026, 12, 1)
CENSUS = "/api/v1/reports/census/"
STEP_DOWN = "/api/v1/reports/step-down/"
HIGH = {"d1": 3, "d2": 1, "d3": 2, "d4": 2, "d5": 2, "d6": 2}  # recommends residential
LOW = {"d1": 0, "d2": 0, "d3": 1, "d4": 1, "d5": 1, "d6": 0}  # recommends outpatient


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def bulk_patients(clinic, count):
    return Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            mrn=f"B{i:06d}",
            first_name=f"First{i}",
            last_name=f"Last{i:03d}",
            date_of_birth=datetime.date(1980, 1, 1),
        )
        for i in range(count)
    )


def admit(patient, program, start, *, status=EnrollmentStatus.ADMITTED, **fields):
    """Insert directly (no capacity or back-dating checks); inserts are admitted or waitlisted."""
    return Enrollment.objects.create(
        patient=patient,
        program=program,
        level=program.level,
        status=status,
        start_date=start,
        requested_start_date=start,
        planned_end_date=fields.pop("planned_end_date", start + datetime.timedelta(days=30)),
        **fields,
    )


def discharge(enrollment, on):
    Enrollment.objects.filter(pk=enrollment.pk).update(
        status=EnrollmentStatus.DISCHARGED, discharge_date=on, discharge_reason="completed"
    )


def without_measures(*programs):
    """Drop these programs' default measure schedules, so that the board's rows show the flags
    under test alone (the measures' own are tested in tests/programs/measures/)."""
    MeasureSchedule.objects.filter(program__in=programs).delete()
