"""A clinic's UR queue on Tuesday 1 December 2026 (``frozen_time``, New York), computed by hand:
each patient below is one case of the queue's rules."""

import datetime
from types import SimpleNamespace

import pytest

from programs.services import authorizations, enrollments
from tests.factories import (
    AuthorizationFactory,
    CoverageFactory,
    EnrollmentFactory,
    PatientFactory,
    PayerFactory,
    ProgramFactory,
    staff_user,
)

TODAY = datetime.date(2026, 12, 1)
NOV_25 = datetime.date(2026, 11, 25)


def dec(day: int) -> datetime.date:
    return datetime.date(2026, 12, day)


def nov(day: int) -> datetime.date:
    return datetime.date(2026, 11, day)


@pytest.fixture
def reviewer(clinic):
    """A utilization_review member of the clinic, with an e-mail address (alerts reach them)."""
    return staff_user(role="utilization_review", clinics=[clinic])


@pytest.fixture
def queue_world(frozen_time, clinic, admissions, reviewer):
    """In the residential "House" (the clinic keeps the defaults: ending within 2 days, fewer
    than 2 units left), from Nov 25 unless said:

    - ``low``: 8 days approved Nov 25 - Dec 5; 7 used through today, 1 left (< 2): units low.
    - ``ending``: 14 days approved Dec 1 - Dec 3 (approved beyond need); 1 used, 13 left; ends
      today + 2: ending.
    - ``roomy``: 30 days approved Nov 25 - Dec 24: 7 used, 23 left, ends later: in neither list.
      Its reviews: Nov 30 (past due), Dec 1 (today), Dec 2 (tomorrow), Dec 3 (later: not
      listed) and Nov 28, done (not listed).
    - ``uncovered``: a commercial coverage and no authorization: listed without one.
    - ``self_pay``: covered by a self-pay payer only: needs none, not listed.
    - ``requested``: an authorization requested for Nov 25 - Dec 8: being handled, not listed.
    - ``denied``: its only authorization denied: listed without one.
    - ``lapsed``: its coverage ended yesterday: not listed.
    - ``future``: admitted from Dec 3 (not in care yet): not listed.
    """
    house = ProgramFactory(clinic=clinic, name="House", level="residential", capacity=20)
    payer = PayerFactory(clinic=clinic, name="Harbor Health", actor=admissions)
    self_pay = PayerFactory(clinic=clinic, name="Self", kind="self_pay", actor=admissions)
    world = SimpleNamespace(program=house, payer=payer)

    def stay(name, *, start=NOV_25, payer=payer, coverage_end=None):
        patient = PatientFactory(clinic=clinic, actor=admissions, first_name=name.title())
        coverage = CoverageFactory(
            patient=patient, payer=payer, end_date=coverage_end, actor=admissions
        )
        enrollment = EnrollmentFactory(
            program=house, patient=patient, start_date=start, actor=admissions
        )
        setattr(world, name, enrollment)
        return enrollment, coverage

    def approved(enrollment, coverage, units, start, end, **extra):
        return AuthorizationFactory(
            enrollment=enrollment,
            coverage=coverage,
            units_requested=units,
            start_date=start,
            end_date=end,
            approved=True,
            actor=admissions,
            **extra,
        )

    world.low_authorization = approved(*stay("low"), 8, nov(25), dec(5))
    world.ending_authorization = approved(*stay("ending", start=dec(1)), 14, dec(1), dec(3))
    world.roomy_authorization = approved(
        *stay("roomy"), 30, nov(25), dec(24), reviewer_name="R. Payer", reviewer_phone="555-0100"
    )
    world.reviews = {}
    for label, day in (
        ("past_due", nov(30)),
        ("today", dec(1)),
        ("tomorrow", dec(2)),
        ("later", dec(3)),
        ("done", nov(28)),
    ):
        world.reviews[label] = authorizations.review_schedule(
            actor=admissions,
            authorization=world.roomy_authorization,
            kind="concurrent",
            scheduled_on=day,
            reviewer="R. Payer",
        )
    authorizations.review_record(
        actor=admissions,
        review=world.reviews["done"],
        outcome="pending_information",
        done_on=nov(28),
        next_review_on=nov(30),
    )
    stay("uncovered")
    stay("self_pay", payer=self_pay)
    enrollment, coverage = stay("requested")
    AuthorizationFactory(
        enrollment=enrollment,
        coverage=coverage,
        units_requested=14,
        start_date=nov(25),
        end_date=dec(8),
        actor=admissions,
    )
    enrollment, coverage = stay("denied")
    world.denied_authorization = AuthorizationFactory(
        enrollment=enrollment,
        coverage=coverage,
        start_date=nov(25),
        end_date=dec(8),
        status="denied",
        actor=admissions,
    )
    stay("lapsed", coverage_end=nov(30))
    stay("future", start=dec(3))
    world.discharged = enrollments.enrollment_discharge(
        actor=admissions,
        enrollment=stay("discharged")[0],
        date=nov(29),
        reason="completed",
    )
    return world
