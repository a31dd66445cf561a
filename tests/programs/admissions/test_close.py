"""Closing an inquiry as not admitted (issue 28, item 1): with a reason, releasing the place it
held, which goes to the program's waitlist."""

import pytest
from django.core.exceptions import ValidationError

from clinic.errors import Conflict
from programs.models import HoldStatus, InquiryStatus, WaitlistOffer
from programs.services import admission_holds
from tests.conftest import TUESDAY_10AM
from tests.factories import EnrollmentFactory, InquiryFactory, ProgramFactory
from tests.programs.admissions.holds import TODAY, days, schedule, verified

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]


@pytest.mark.parametrize("status", ["new", "screening", "verifying"])
def test_an_open_inquiry_is_closed_with_its_reason_and_note_in_the_history(
    clinic, admissions, status
):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions, status=status)

    closed = admission_holds.inquiry_close(
        actor=admissions, inquiry=inquiry, reason="unable_to_reach", note=" Three calls. "
    )

    closed.refresh_from_db()
    assert (closed.status, closed.not_admitted_reason) == (
        InquiryStatus.NOT_ADMITTED,
        "unable_to_reach",
    )
    change = closed.status_changes.last()
    assert (change.from_status, change.to_status, change.reason, change.changed_by) == (
        status,
        "not_admitted",
        "Three calls.",
        admissions,
    )


def test_closing_releases_the_held_place_and_offers_it_to_the_waitlist(clinic, admissions):
    # given: a one-place program whose place is held, and a patient waiting for it
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    inquiry = verified(clinic, admissions)
    hold = schedule(admissions, inquiry, program, TODAY + days(1))
    waiting = EnrollmentFactory(program=program, waitlisted=True)

    # when
    admission_holds.inquiry_close(actor=admissions, inquiry=inquiry, reason="chose_elsewhere")

    # then
    hold.refresh_from_db()
    assert (hold.status, hold.closed_at) == (HoldStatus.RELEASED, TUESDAY_10AM)
    offer = WaitlistOffer.objects.get()
    assert (offer.enrollment_id, offer.offered_at) == (waiting.pk, TUESDAY_10AM)


def test_a_closed_inquiry_stays_closed_and_the_reason_must_be_known(clinic, admissions):
    inquiry = verified(clinic, admissions)

    with pytest.raises(ValidationError) as unknown:
        admission_holds.inquiry_close(actor=admissions, inquiry=inquiry, reason="bored")
    admission_holds.inquiry_close(actor=admissions, inquiry=inquiry, reason="no_coverage")
    with pytest.raises(Conflict) as again:
        admission_holds.inquiry_close(actor=admissions, inquiry=inquiry, reason="no_show")

    assert "reason" in unknown.value.message_dict
    assert again.value.code == "invalid_state"
    inquiry.refresh_from_db()
    assert inquiry.not_admitted_reason == "no_coverage"
