"""The fixtures the modules of reports/ share."""

import datetime

import pytest
import time_machine

from patients import services as patient_services
from patients.models import Level
from programs.models import LEVEL_DEFAULTS, EnrollmentStatus, Program, Transition
from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory
from tests.programs.reports.helpers import (
    HIGH,
    LOW,
    NOW,
    TODAY,
    admit,
    bulk_patients,
    day,
    without_measures,
)


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(NOW, tick=False):
        yield


# Step-down board ----------------------------------------------------------------------------------


@pytest.fixture
def board(clinic, admissions, clinician):
    """Today is 2026-12-01 in the clinic; see each patient's comment for the flags expected."""
    residential = ProgramFactory(
        clinic=clinic, name="Harbor House", level=Level.RESIDENTIAL, capacity=10
    )  # min stay 28
    iop = ProgramFactory(
        clinic=clinic, name="Evening IOP", level=Level.IOP, track="evening", capacity=10
    )  # min stay 42
    outpatient = ProgramFactory(
        clinic=clinic, name="Outpatient", level=Level.OUTPATIENT, capacity=10
    )  # no minimum
    without_measures(residential, iop, outpatient)
    people = {
        name: PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name=name,
            last_name=last,
            date_of_birth=datetime.date(1988, 3, 4),
        )
        for name, last in [
            ("Amy", "Adams"),
            ("Ben", "Baker"),
            ("Cid", "Cole"),
            ("Dee", "Diaz"),
            ("Eve", "Evans"),
            ("Fay", "Ford"),
            ("Gus", "Gray"),
        ]
    }

    def enroll(name, program, start, **fields):
        return services.enrollment_create(
            actor=admissions, patient=people[name], program=program, start_date=start, **fields
        )

    def assess(name, dimensions, severity, assessed_at, decided_level=None):
        assessment = patient_services.assessment_create(
            actor=clinician,
            patient=people[name],
            dimensions=dimensions,
            severity=severity,
            assessed_at=assessed_at,
        )
        if decided_level:
            assessment = patient_services.assessment_decide(
                actor=clinician,
                assessment=assessment,
                decided_level=decided_level,
                override_reason="Stable on the unit.",
            )
        return assessment

    def step_down(name, to_program, on):
        source = enroll(name, residential, day("2026-11-05"))
        return services.transition_create(
            actor=clinician,
            enrollment=source,
            to_program=to_program,
            date=on,
            kind="step_down",
            reason="Stable.",
        )

    rows = {}
    # Adams: 11 days of a 28-day minimum; already judged ready for IOP -> not ready yet
    rows["Adams"] = enroll("Amy", residential, day("2026-11-20"))
    assess("Amy", HIGH, "severe", NOW - datetime.timedelta(days=1), decided_level="iop")
    # Baker: 29 days; the latest assessment (by assessed_at, recorded first) decided IOP over
    # a residential recommendation -> ready; an older one recorded later is ignored
    rows["Baker"] = enroll("Ben", residential, day("2026-11-02"))
    rows["Baker latest"] = assess(
        "Ben", HIGH, "severe", NOW - datetime.timedelta(days=3), decided_level="iop"
    )
    assess("Ben", HIGH, "severe", NOW - datetime.timedelta(days=25))
    # Cole: outpatient (no minimum) planned to end 11-25 -> past planned end; still outpatient
    rows["Cole"] = enroll("Cid", outpatient, day("2026-11-01"), planned_end_date=day("2026-11-25"))
    assess("Cid", LOW, "mild", NOW - datetime.timedelta(days=2))
    # Diaz: stepped down 10 days ago, no session since -> gap
    rows["Diaz"] = step_down("Dee", iop, day("2026-11-21")).to_enrollment
    # Evans: stepped down 10 days ago, first session 3 days later -> no gap
    move = step_down("Eve", iop, day("2026-11-21"))
    Transition.objects.filter(pk=move.pk).update(first_session_on=day("2026-11-24"))
    rows["Evans"] = move.to_enrollment
    # Ford: admitted from next week; Gray: waitlisted -> neither is on the board
    enroll("Fay", outpatient, day("2026-12-08"))
    admit(people["Gus"], outpatient, TODAY, status=EnrollmentStatus.WAITLISTED)
    return {"rows": rows, "programs": (residential, iop, outpatient)}


# Cost follows the page ----------------------------------------------------------------------------


@pytest.fixture
def many_programs(clinic):
    programs = Program.objects.bulk_create(
        Program(
            clinic=clinic,
            name=f"Program {i:03d}",
            level=Level.OUTPATIENT,
            capacity=5,
            **LEVEL_DEFAULTS[Level.OUTPATIENT],
        )
        for i in range(210)
    )
    patients = bulk_patients(clinic, len(programs))
    for i, (program, patient) in enumerate(zip(programs, patients, strict=True)):
        admit(patient, program, TODAY - datetime.timedelta(days=i % 40))
    return programs
