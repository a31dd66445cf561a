"""The UR queue's alerts (``programs.services.utilization.ur_alerts_raise``, run by beat): one
per authorization and threshold, per overdue review and per covered enrollment without an
authorization, to the clinic's utilization-review role, with no patient name; exactly once,
even when two beats run at the same moment."""

import datetime

import pytest
from django.conf import settings

from clinic.models import AlertDelivery, StaffAlert
from clinic.services import alert_delivery
from programs.services.utilization import ur_alerts_raise, utilization_review_scan
from programs.tasks import utilization_review_scan_task
from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock
from tests.conftest import TUESDAY_10AM
from tests.factories import ClinicFactory, staff_user

WEDNESDAY = TUESDAY_10AM + datetime.timedelta(days=1)


def raised() -> list[tuple[str, str, str]]:
    return sorted(
        StaffAlert.objects.values_list("kind", "object_type", "object_id").order_by("kind", "id")
    )


def expected_on_tuesday(world) -> list[tuple[str, str, str]]:
    return sorted(
        [
            ("review_overdue", "programs.concurrentreview", str(world.reviews["past_due"].pk)),
            ("authorization_ending", "programs.authorization", str(world.ending_authorization.pk)),
            ("authorization_units_low", "programs.authorization", str(world.low_authorization.pk)),
            ("authorization_missing", "programs.enrollment", str(world.uncovered.pk)),
            ("authorization_missing", "programs.enrollment", str(world.denied.pk)),
        ]
    )


@pytest.mark.django_db
def test_each_queue_item_raises_its_alert_to_utilization_review(queue_world, clinic, reviewer):
    alerts = ur_alerts_raise(now=TUESDAY_10AM)

    assert raised() == expected_on_tuesday(queue_world)
    assert len(alerts) == 5
    assert {(a.recipient_role, a.recipient_id, a.clinic_id) for a in alerts} == {
        ("utilization_review", None, clinic.pk)
    }
    low = StaffAlert.objects.get(kind="authorization_units_low")
    assert low.patient_id == queue_world.low.patient_id
    assert low.message == (
        "An authorization of residential care in House has 1 of 8 days left as of 2026-12-01 "
        "(it ends on 2026-12-05)."
    )
    assert StaffAlert.objects.get(kind="review_overdue").message == (
        "A concurrent review of an authorization of residential care in House was due on "
        "2026-11-30 and is not recorded."
    )
    # one e-mail for the clinic's reviewer per alert; it names the kind and a link, no patient
    assert AlertDelivery.objects.filter(recipient=reviewer).count() == 5
    subject, text = alert_delivery.render(low)
    assert "House" not in subject + text  # not even the program: only the kind and a link
    assert "few units left" in text
    assert settings.PUBLIC_BASE_URL.rstrip("/") in text


@pytest.mark.django_db
def test_no_message_names_a_patient(queue_world):
    ur_alerts_raise(now=TUESDAY_10AM)

    names = {
        name
        for stay in (queue_world.low, queue_world.ending, queue_world.uncovered, queue_world.denied)
        for name in (stay.patient.first_name, stay.patient.last_name)
    }
    messages = list(StaffAlert.objects.values_list("message", flat=True))
    assert messages
    assert [m for m in messages if any(name in m for name in names)] == []


@pytest.mark.django_db
def test_a_later_beat_raises_nothing_twice_and_only_what_is_new(queue_world):
    """Wednesday: the review due Tuesday is overdue now (new); the low authorization is
    exhausted, so its stay has no authorization (new); nothing raised Tuesday is raised again."""
    ur_alerts_raise(now=TUESDAY_10AM)
    assert ur_alerts_raise(now=TUESDAY_10AM) == []

    outcome = utilization_review_scan(now=WEDNESDAY)

    assert outcome == {"expired": 0, "exhausted": 1, "alerts": 2}
    new = set(raised()) - set(expected_on_tuesday(queue_world))
    assert new == {
        ("review_overdue", "programs.concurrentreview", str(queue_world.reviews["today"].pk)),
        ("authorization_missing", "programs.enrollment", str(queue_world.low.pk)),
    }


@pytest.mark.django_db
def test_another_clinics_reviewers_get_no_e_mail(queue_world, reviewer):
    staff_user(role="utilization_review", clinics=[ClinicFactory()])
    staff_user(role="supervisor", clinics=[queue_world.program.clinic])

    ur_alerts_raise(now=TUESDAY_10AM)

    assert set(AlertDelivery.objects.values_list("recipient_id", flat=True)) == {reviewer.pk}


@pytest.mark.django_db
def test_beat_runs_the_scan_every_quarter_hour(queue_world):
    schedule = settings.CELERY_BEAT_SCHEDULE["utilization-review-scan"]

    assert schedule == {
        "task": "programs.tasks.utilization_review_scan_task",
        "schedule": 900,
    }
    # the task itself: the clock's now (frozen on Tuesday), the same pass as the service
    assert utilization_review_scan_task() == {"expired": 0, "exhausted": 0, "alerts": 5}


@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_raise_each_alert_once_with_one_e_mail_each(
    queue_world, clinic, reviewer
):
    # given: the hand-computed clinic on Wednesday, and two reviewers to e-mail
    reviewers = [reviewer, staff_user(role="utilization_review", clinics=[clinic])]

    def beat():
        return utilization_review_scan(now=WEDNESDAY)

    # when: one beat holds its transaction open (its alerts written, not committed; the
    # exhausted authorization locked) while the other runs
    with held_transaction(beat) as first:
        second = InThread(beat).start()
        waited = someone_waits_for_a_lock()
    second = second.join()

    # then: the second waited, then found everything done: two reviews overdue, one
    # authorization ending, three stays without an authorization (one just exhausted)
    assert waited, "the second beat did not wait for the first"
    assert first == {"expired": 0, "exhausted": 1, "alerts": 6}
    assert second["exhausted"] == 0
    subjects = list(StaffAlert.objects.values_list("kind", "object_type", "object_id"))
    assert len(subjects) == len(set(subjects)) == 6
    for user in reviewers:
        assert AlertDelivery.objects.filter(recipient=user).count() == 6
    assert AlertDelivery.objects.count() == 12
    assert queue_world.low.authorizations.get().status == "exhausted"
