"""The beat's lapse of held places (issue 28, item 4): past the grace days the hold lapses, the
inquiry is closed as a no-show by the system, and the place goes to the waitlist; two passes at
once lapse it once."""

import datetime

import pytest
import time_machine
from django.conf import settings

from programs.models import HoldStatus, InquiryStatus, WaitlistOffer
from programs.services import admission_holds
from programs.tasks import admission_holds_lapse_task
from tests.concurrency import InThread, held_transaction
from tests.conftest import TUESDAY_10AM
from tests.factories import EnrollmentFactory, ProgramFactory, staff_user
from tests.programs.admissions.holds import TODAY, days, schedule, verified

# The clinics' day after a hold of TODAY with one grace day waited (New York is UTC-5).
NEW_YORK = datetime.timezone(-datetime.timedelta(hours=5))
LAST_DAY_EVENING = datetime.datetime(2026, 12, 2, 23, 59, tzinfo=NEW_YORK)
NEXT_MORNING = datetime.datetime(2026, 12, 3, 0, 1, tzinfo=NEW_YORK)


def a_held_full_program(clinic, admissions):
    """A one-place program whose place is held for TODAY (one grace day: it waits through
    tomorrow), with a patient on its waitlist."""
    program = ProgramFactory(
        clinic=clinic, outpatient=True, capacity=1, admission_hold_grace_days=1
    )
    with time_machine.travel(TUESDAY_10AM, tick=False):
        inquiry = verified(clinic, admissions)
        hold = schedule(admissions, inquiry, program, TODAY)
        waiting = EnrollmentFactory(program=program, waitlisted=True)
    return inquiry, hold, waiting


@pytest.mark.django_db
def test_a_hold_waits_through_its_last_day_then_lapses_to_the_waitlist(clinic, admissions):
    inquiry, hold, waiting = a_held_full_program(clinic, admissions)

    assert admission_holds.admission_holds_lapse(now=LAST_DAY_EVENING) == 0
    with time_machine.travel(NEXT_MORNING, tick=False):
        assert admission_holds.admission_holds_lapse(now=NEXT_MORNING) == 1

    hold.refresh_from_db()
    inquiry.refresh_from_db()
    assert (hold.status, hold.closed_at) == (HoldStatus.LAPSED, NEXT_MORNING)
    assert (inquiry.status, inquiry.not_admitted_reason) == (InquiryStatus.NOT_ADMITTED, "no_show")
    change = inquiry.status_changes.last()
    assert (change.changed_by, change.reason) == (None, admission_holds.LAPSE_REASON)
    offer = WaitlistOffer.objects.get()
    assert (offer.enrollment_id, offer.offered_at) == (waiting.pk, NEXT_MORNING)
    # Idempotent: the next pass finds nothing.
    assert admission_holds.admission_holds_lapse(now=NEXT_MORNING + days(1)) == 0


@pytest.mark.django_db
def test_closed_or_converted_holds_never_lapse(clinic, admissions):
    inquiry, hold, _waiting = a_held_full_program(clinic, admissions)
    with time_machine.travel(TUESDAY_10AM, tick=False):
        admission_holds.inquiry_close(actor=admissions, inquiry=inquiry, reason="chose_elsewhere")

    assert admission_holds.admission_holds_lapse(now=NEXT_MORNING + days(5)) == 0
    hold.refresh_from_db()
    assert hold.status == HoldStatus.RELEASED


@pytest.mark.django_db
def test_the_task_runs_the_lapse_and_beat_runs_the_task():
    entry = settings.CELERY_BEAT_SCHEDULE["admission-holds-lapse"]

    assert entry["task"] == "programs.tasks.admission_holds_lapse_task"
    assert entry["schedule"] == settings.ADMISSION_HOLD_SCAN_SECONDS
    assert admission_holds_lapse_task() == 0


@pytest.mark.django_db(transaction=True)
def test_two_passes_at_once_lapse_a_hold_once_and_offer_the_place_once(clinic):
    # given
    admissions = staff_user(role="admissions", clinics=[clinic])
    inquiry, hold, waiting = a_held_full_program(clinic, admissions)

    # when: a pass holds its transaction open (the inquiry locked) while a second one runs
    with (
        time_machine.travel(NEXT_MORNING, tick=False),
        held_transaction(lambda: admission_holds.admission_holds_lapse(now=NEXT_MORNING)) as first,
    ):
        second = InThread(lambda: admission_holds.admission_holds_lapse(now=NEXT_MORNING)).start()
        # The second skips the locked inquiry instead of waiting for it.
        assert second.join() == 0

    # then
    assert first == 1
    hold.refresh_from_db()
    assert hold.status == HoldStatus.LAPSED
    assert inquiry.status_changes.filter(to_status="not_admitted").count() == 1
    assert list(WaitlistOffer.objects.values_list("enrollment_id", flat=True)) == [waiting.pk]
