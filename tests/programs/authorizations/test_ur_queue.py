"""The UR queue (``programs.selectors.ur_queue``): each section's rule on a hand-computed clinic
(``queue_world``), by each clinic's own date, scoped to the caller, in constant queries."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from programs.models import Authorization
from programs.selectors import UR_QUEUE_SECTIONS, ur_queue
from programs.services import authorizations
from tests.conftest import TUESDAY_10AM
from tests.factories import (
    AuthorizationFactory,
    ClinicFactory,
    CoverageFactory,
    EnrollmentFactory,
    ProgramFactory,
    staff_user,
)
from tests.programs.authorizations.conftest import dec, nov

pytestmark = pytest.mark.django_db


def ids(rows) -> list[int]:
    return [row.pk for row in rows]


def test_each_section_holds_what_its_rule_says(queue_world, reviewer):
    queue = ur_queue(user=reviewer, now=TUESDAY_10AM)

    assert list(queue) == list(UR_QUEUE_SECTIONS)
    reviews = queue_world.reviews
    assert ids(queue["reviews_past_due"]) == [reviews["past_due"].pk]
    assert ids(queue["reviews_due_today"]) == [reviews["today"].pk]
    assert ids(queue["reviews_due_tomorrow"]) == [reviews["tomorrow"].pk]
    assert ids(queue["authorizations_ending"]) == [queue_world.ending_authorization.pk]
    assert ids(queue["authorizations_units_low"]) == [queue_world.low_authorization.pk]
    assert ids(queue["enrollments_without_authorization"]) == [
        queue_world.uncovered.pk,
        queue_world.denied.pk,
    ]


def test_the_authorizations_carry_their_use(queue_world, reviewer):
    queue = ur_queue(user=reviewer, now=TUESDAY_10AM)

    # Nov 25 through Dec 1: 7 days present of 8 approved
    low = queue["authorizations_units_low"][0]
    assert (low.units_used, low.units_remaining, low.used_through) == (7, 1, dec(1))
    # Dec 1 only: 1 of 14
    ending = queue["authorizations_ending"][0]
    assert (ending.units_used, ending.units_remaining, ending.end_date) == (1, 13, dec(3))
    # the enrollment rows name the coverage that needs an authorization
    uncovered = queue["enrollments_without_authorization"][0]
    assert (uncovered.payer_name, uncovered.queue_today) == ("Harbor Health", dec(1))
    assert uncovered.coverage_id == queue_world.uncovered.patient.coverages.get().pk


def test_tomorrow_the_days_move_on(queue_world, reviewer):
    """Wednesday Dec 2: the review due today is past due, tomorrow's is today's, Dec 3's is
    tomorrow's; the low authorization has 0 left (still listed until the beat exhausts it)."""
    queue = ur_queue(user=reviewer, now=TUESDAY_10AM + datetime.timedelta(days=1))

    reviews = queue_world.reviews
    assert ids(queue["reviews_past_due"]) == [reviews["past_due"].pk, reviews["today"].pk]
    assert ids(queue["reviews_due_today"]) == [reviews["tomorrow"].pk]
    assert ids(queue["reviews_due_tomorrow"]) == [reviews["later"].pk]
    assert [a.units_remaining for a in queue["authorizations_units_low"]] == [0]


def test_an_ending_authorization_counts_the_clinics_own_setting(queue_world, reviewer, clinic):
    clinic.ur_ending_within_days = 23
    clinic.ur_units_left_below = 1
    clinic.save(update_fields=["ur_ending_within_days", "ur_units_left_below"])

    queue = ur_queue(user=reviewer, now=TUESDAY_10AM)

    # Dec 3, Dec 5 and Dec 24 (today + 23) all end within 23 days; 1 left is not below 1
    assert ids(queue["authorizations_ending"]) == [
        queue_world.ending_authorization.pk,
        queue_world.low_authorization.pk,
        queue_world.roomy_authorization.pk,
    ]
    assert queue["authorizations_units_low"] == []


def test_today_is_each_clinics_own_date(frozen_time, admissions):
    """At 04:00 UTC on Dec 2 it is still Dec 1 in Honolulu: a review of Dec 2 is tomorrow's
    there, and today's in Berlin."""
    now = datetime.datetime(2026, 12, 2, 4, tzinfo=datetime.UTC)
    rows = {}
    for zone in ("Pacific/Honolulu", "Europe/Berlin"):
        clinic = ClinicFactory(time_zone=zone)
        staff = staff_user(role="admissions", clinics=[clinic])
        stay = EnrollmentFactory(
            program=ProgramFactory(clinic=clinic), start_date=nov(25), actor=staff
        )
        authorization = AuthorizationFactory(
            enrollment=stay, start_date=nov(25), end_date=dec(20), approved=True, actor=staff
        )
        authorizations.review_schedule(
            actor=staff, authorization=authorization, kind="concurrent", scheduled_on=dec(2)
        )
        rows[zone] = staff_user(role="utilization_review", clinics=[clinic])

    honolulu = ur_queue(user=rows["Pacific/Honolulu"], now=now)
    berlin = ur_queue(user=rows["Europe/Berlin"], now=now)

    assert [len(honolulu[s]) for s in ("reviews_due_today", "reviews_due_tomorrow")] == [0, 1]
    assert [len(berlin[s]) for s in ("reviews_due_today", "reviews_due_tomorrow")] == [1, 0]


def test_another_clinics_queue_is_not_shown(queue_world, admissions):
    outsider = staff_user(role="utilization_review", clinics=[ClinicFactory()])

    queue = ur_queue(user=outsider, now=TUESDAY_10AM)

    assert all(rows == [] for rows in queue.values())


def test_expired_and_denied_authorizations_leave_the_review_lists(queue_world, reviewer):
    """An expired authorization takes no outcome: its open reviews leave the queue. A denial's
    (an appeal) stays."""
    appeal = authorizations.review_schedule(
        actor=reviewer,
        authorization=queue_world.denied_authorization,
        kind="appeal",
        scheduled_on=dec(1),
    )
    Authorization.objects.filter(pk=queue_world.roomy_authorization.pk).update(status="expired")

    queue = ur_queue(user=reviewer, now=TUESDAY_10AM)

    assert ids(queue["reviews_due_today"]) == [appeal.pk]
    assert queue["reviews_past_due"] == queue["reviews_due_tomorrow"] == []


def test_the_queue_takes_the_same_queries_whatever_its_size(
    queue_world, reviewer, clinic, admissions
):
    ur_queue(user=reviewer, now=TUESDAY_10AM)  # the user caches their clinics
    with CaptureQueriesContext(connection) as small:
        ur_queue(user=reviewer, now=TUESDAY_10AM)
    for _ in range(3):
        stay = EnrollmentFactory(program=queue_world.program, start_date=nov(25), actor=admissions)
        CoverageFactory(patient=stay.patient, payer=queue_world.payer, actor=admissions)
        stay = EnrollmentFactory(program=queue_world.program, start_date=nov(25), actor=admissions)
        coverage = CoverageFactory(patient=stay.patient, payer=queue_world.payer, actor=admissions)
        AuthorizationFactory(
            enrollment=stay,
            coverage=coverage,
            units_requested=7,
            start_date=nov(25),
            end_date=dec(2),
            approved=True,
            actor=admissions,
        )

    with CaptureQueriesContext(connection) as large:
        queue = ur_queue(user=reviewer, now=TUESDAY_10AM)

    assert len(queue["enrollments_without_authorization"]) == 5
    assert len(queue["authorizations_units_low"]) == 4
    assert len(small) == len(large) == 3
