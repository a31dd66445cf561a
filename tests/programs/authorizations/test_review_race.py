"""Two review outcomes of one authorization recorded at the same moment: the authorization's row
lock orders them, so the second adds its units to the first's, and neither is lost."""

import pytest
import time_machine

from programs.services import authorizations
from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock
from tests.conftest import TUESDAY_10AM
from tests.factories import AuthorizationFactory, EnrollmentFactory, ProgramFactory


@pytest.mark.django_db(transaction=True)
def test_two_outcomes_at_once_both_add_their_units(clinic, admissions):
    # given: 14 days approved, a concurrent review and a peer-to-peer booked
    with time_machine.travel(TUESDAY_10AM, tick=False):
        stay = EnrollmentFactory(program=ProgramFactory(clinic=clinic, level="residential"))
        authorization = AuthorizationFactory(enrollment=stay, approved=True, actor=admissions)
        first, second = (
            authorizations.review_schedule(
                actor=admissions,
                authorization=authorization,
                kind=kind,
                scheduled_on=authorization.start_date,
            )
            for kind in ("concurrent", "peer_to_peer")
        )

        def record(review, units):
            return lambda: authorizations.review_record(
                actor=admissions,
                review=review,
                outcome="approved_more",
                done_on=review.scheduled_on,
                units_added=units,
            )

        # when: the first outcome holds its transaction open while the second is recorded
        with held_transaction(record(first, 7)):
            recording = InThread(record(second, 3)).start()
            waited = someone_waits_for_a_lock()
        recording.join()

    # then
    assert waited, "the second outcome did not wait for the authorization's row lock"
    authorization.refresh_from_db()
    assert (authorization.units_approved, authorization.status) == (24, "approved")
