"""What the modules of enrollments/ share: constants and helpers."""

import datetime

import time_machine

from programs.services import enrollments as services

# 2026-12-01 10:00 in New York (the demo clinic's zone).
NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 1)
frozen = time_machine.travel(NOW, tick=False)


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


def step_down_after_a_stay(admissions, clinician, patient, residential, iop, **extra):
    """A residential stay from TODAY, stepped down to ``iop`` the next day: the transition."""
    source = services.enrollment_create(
        actor=admissions, patient=patient, program=residential, start_date=TODAY
    )
    return services.transition_create(
        actor=clinician,
        enrollment=source,
        to_program=iop,
        date=day(1),
        kind="step_down",
        reason="stable",
        **extra,
    )


def enroll(client, patient, program, start="2026-12-01", **extra):
    return client.post(
        "/api/v1/enrollments/",
        {"patient": patient.pk, "program": program.pk, "start_date": start, **extra},
        format="json",
    )
