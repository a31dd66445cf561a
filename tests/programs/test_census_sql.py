"""The census's hand-written statement (``programs.reports.CENSUS_SQL``) gives, day by day, the
figures that ORM counts of the same enrollments, authorizations and reviews give."""

import datetime
import random

import pytest
import time_machine
from django.db.models import Exists, OuterRef, Q

from patients.models import Level, Patient
from programs import reports
from programs.models import (
    AUTHORIZED,
    LEVEL_DEFAULTS,
    LEVEL_INTENSITY,
    Authorization,
    ConcurrentReview,
    Enrollment,
    EnrollmentStatus,
    Program,
)
from programs.services import authorizations
from tests.factories import AuthorizationFactory, CoverageFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)  # 10:00 in New York
TODAY = datetime.date(2026, 12, 1)


def orm_figures(program: Program, day: datetime.date) -> dict:
    """The census's figures of ``day``, each an ORM count."""
    stays = Enrollment.objects.filter(
        Q(discharge_date__isnull=True) | Q(discharge_date__gt=day),
        program=program,
        status__in=[EnrollmentStatus.ADMITTED, EnrollmentStatus.DISCHARGED],
        start_date__lte=day,
    )
    waitlist = Enrollment.objects.filter(program=program, status=EnrollmentStatus.WAITLISTED)
    admitted = stays.filter(start_date__lte=TODAY).count()
    reserved = stays.filter(start_date__gt=TODAY).count()
    in_force = Authorization.objects.filter(
        enrollment=OuterRef("pk"), status__in=AUTHORIZED, start_date__lte=day, end_date__gte=day
    )
    at_level = [
        level for level, rank in LEVEL_INTENSITY.items() if rank >= LEVEL_INTENSITY[program.level]
    ]
    authorized = stays.filter(Exists(in_force), start_date__lte=TODAY)
    ahead = day >= TODAY
    waitlisted = waitlist.filter(start_date__lte=day).count() if ahead else 0
    held = waitlist.filter(offer_expires_at__gt=NOW).count() if ahead else 0
    return {
        "date": day,
        "capacity": program.capacity,
        "admitted": admitted,
        "reserved": reserved,
        "waitlisted": waitlisted,
        "held": held,
        "free": max(program.capacity - admitted - reserved - held, 0),
        "authorized": authorized.count(),
        "authorized_below_level": authorized.exclude(
            Exists(in_force.filter(authorized_level__in=at_level))
        ).count(),
        "reviews_due": ConcurrentReview.objects.filter(
            authorization__enrollment__program=program, done_on=None, scheduled_on=day
        ).count(),
    }


def authorize_at_random(rng, enrollment, admissions, start, end):
    """Up to two payers' authorizations of random levels, dates and outcomes, each perhaps with
    a review, open or done."""
    for priority in ("primary", "secondary")[: rng.randint(0, 2)]:
        coverage = CoverageFactory(patient=enrollment.patient, priority=priority, actor=admissions)
        first = start + datetime.timedelta(days=rng.randint(-10, (end - start).days))
        level = rng.choice(list(LEVEL_INTENSITY))
        authorization = AuthorizationFactory(
            enrollment=enrollment,
            coverage=coverage,
            authorized_level=level,
            start_date=first,
            end_date=first + datetime.timedelta(days=rng.randint(0, 30)),
            units_requested=5,
            status=rng.choice(["requested", "approved", "denied"]),
            actor=admissions,
        )
        if authorization.status == "requested" and rng.random() < 0.5:
            authorizations.authorization_decide(
                actor=admissions,
                authorization=authorization,
                decision="partially_approved",
                units_approved=2,
            )
        if rng.random() < 0.6:
            review = authorizations.review_schedule(
                actor=admissions,
                authorization=authorization,
                kind="concurrent",
                scheduled_on=start + datetime.timedelta(days=rng.randint(-3, (end - start).days)),
            )
            if rng.random() < 0.3:
                authorizations.review_record(
                    actor=admissions,
                    review=review,
                    outcome="pending_information",
                    done_on=review.scheduled_on,
                )


@time_machine.travel(NOW, tick=False)
def test_the_census_figures_are_the_orm_counts(admissions, clinic):
    # given: two programs with a mix of stays, discharges, future admissions, waitlist requests
    # (some with an offer, live or lapsed) and cancellations, authorizations of any level and
    # outcome, reviews open and done
    rng = random.Random(20261202)
    programs = [
        Program.objects.create(
            clinic=clinic,
            name=f"Mixed {n}",
            level=level,
            capacity=9 + n,
            **{key: value for key, value in LEVEL_DEFAULTS[level].items() if key != "capacity"},
        )
        for n, level in enumerate([Level.RESIDENTIAL, Level.IOP])
    ]
    patients = Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            mrn=f"CEN{i:04d}",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            date_of_birth=datetime.date(1980, 1, 1),
        )
        for i in range(50)
    )
    for patient in patients:
        program = rng.choice(programs)
        start = TODAY + datetime.timedelta(days=rng.randint(-70, 50))
        kind = rng.choice(["admitted", "discharged", "waitlisted", "cancelled"])
        offer = (
            NOW + datetime.timedelta(hours=rng.choice([-5, 5]))
            if kind == "waitlisted" and rng.random() < 0.5
            else None
        )
        enrollment = Enrollment.objects.create(
            patient=patient,
            program=program,
            level=program.level,
            status="admitted" if kind in ("admitted", "discharged") else "waitlisted",
            start_date=start,
            requested_start_date=start,
            planned_end_date=start + datetime.timedelta(days=30),
            offered_at=offer and NOW - datetime.timedelta(hours=43),
            offer_expires_at=offer,
        )
        if kind == "discharged":
            Enrollment.objects.filter(pk=enrollment.pk).update(
                status=EnrollmentStatus.DISCHARGED,
                discharge_date=start + datetime.timedelta(days=rng.randint(0, 40)),
                discharge_reason="completed",
            )
        elif kind == "cancelled":
            Enrollment.objects.filter(pk=enrollment.pk).update(status=EnrollmentStatus.CANCELLED)
    start, end = TODAY - datetime.timedelta(days=40), TODAY + datetime.timedelta(days=40)
    for enrollment in Enrollment.objects.exclude(status=EnrollmentStatus.CANCELLED):
        authorize_at_random(rng, enrollment, admissions, start, end)

    # when
    rows = reports.census(user=admissions, start=start, end=end, programs_queryset=programs)

    # then
    assert [row["program"]["id"] for row in rows] == [program.pk for program in programs]
    for program, row in zip(programs, rows, strict=True):
        expected = [
            orm_figures(program, start + datetime.timedelta(days=n))
            for n in range((end - start).days + 1)
        ]
        assert row["days"] == expected
    figures = [entry for row in rows for entry in row["days"]]
    # The data exercise every figure.
    assert all(any(entry[key] for entry in figures) for key in ("admitted", "reserved", "held"))
    assert any(entry["waitlisted"] for entry in figures)
    assert all(
        any(entry[key] for entry in figures)
        for key in ("authorized", "authorized_below_level", "reviews_due")
    )
    assert any(entry["authorized"] > entry["authorized_below_level"] for entry in figures)
