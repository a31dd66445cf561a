"""Two desks taking a call about the same person at the same moment: the clinic's intake lock
orders them, so the second sees the first and is refused as a possible duplicate."""

import pytest

from clinic.errors import Conflict
from programs.models import Inquiry
from programs.services import inquiries
from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock
from tests.factories import referral_source, staff_user


@pytest.mark.django_db(transaction=True)
def test_of_two_calls_about_one_person_at_once_the_second_is_a_possible_duplicate(clinic):
    # given: two admissions members of the clinic
    desks = [staff_user(role="admissions", clinics=[clinic]) for _ in range(2)]
    source = referral_source(clinic)

    def take_call(actor):
        return lambda: inquiries.inquiry_create(
            actor=actor,
            clinic=clinic,
            referral_source=source,
            first_name="Jamie",
            last_name="Ortiz",
            phone="202-555-0143",
        )

    # when: the first call's transaction is held open while the second is taken
    with held_transaction(take_call(desks[0])) as first:
        second = InThread(take_call(desks[1])).start()
        waited = someone_waits_for_a_lock()

    # then
    assert waited, "the second call did not wait for the clinic's intake lock"
    with pytest.raises(Conflict) as refused:
        second.join()
    assert refused.value.code == "possible_duplicate"
    assert refused.value.extra["duplicates"]["inquiries"] == [first.pk]
    assert list(Inquiry.objects.values_list("pk", flat=True)) == [first.pk]
