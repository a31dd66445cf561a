"""Two identical submissions at once (the app retrying while the first is still in flight): the
patient's row lock orders them, so there is one response and one safety alert."""

import uuid

import pytest
import time_machine

from clinic.models import AlertKind, StaffAlert
from programs.models import MeasureResponse
from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock
from tests.conftest import TUESDAY_10AM
from tests.factories import EnrollmentFactory, ProgramFactory, answers_for, app_account, client_of

MEASURES = "/api/v1/me/measures/"


@pytest.mark.django_db(transaction=True)
def test_two_identical_posts_at_once_make_one_response_and_one_alert(clinic, clinician):
    with time_machine.travel(TUESDAY_10AM, tick=False):
        stay = EnrollmentFactory(
            program=ProgramFactory(clinic=clinic, iop=True), primary_clinician=clinician
        )
        user = app_account(stay.patient)
        body = {
            "instrument": "phq9",
            "answers": answers_for("phq9", 14, item_9=2),
            "submission_key": str(uuid.uuid4()),
        }

        def post():
            return client_of(user).post(MEASURES, body, format="json")

        with held_transaction(post) as first:
            second = InThread(post).start()
            waited = someone_waits_for_a_lock()
        retried = second.join()

    assert waited, "the second submission did not wait for the first's lock"
    assert (first.status_code, retried.status_code) == (201, 200)
    assert retried.json() == first.json()
    assert first.json()["safety"] is True
    assert MeasureResponse.objects.count() == 1
    assert StaffAlert.objects.filter(kind=AlertKind.MEASURE_SAFETY).count() == 1
