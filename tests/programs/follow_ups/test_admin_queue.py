"""The follow-up queue in the admin: the staff member's clinics only, the queue filters, an
attempt and the outcome recorded through the service from the task's page, audited reads."""

import datetime

import pytest

from clinic.models import AuditAction, AuditEvent
from programs.models import FollowUpAttempt, FollowUpTask
from tests.factories import admin_login, staff_user
from tests.programs.follow_ups.conftest import DISCHARGED_ON, at_noon

pytestmark = pytest.mark.django_db

QUEUE = "/admin/programs/followuptask/"
TODAY = DISCHARGED_ON + datetime.timedelta(days=8)


@pytest.fixture
def stay(discharge):
    return discharge(first_name="Ana")


def log_in(client, user):
    # Signed in on the day the pages are read (an admin session's lifetime is hours).
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    with at_noon(TODAY):
        admin_login(client, user)


def page(client, url, data=None):
    with at_noon(TODAY):
        if data is None:
            return client.get(url)
        return client.post(url, data, follow=True)


def test_the_queue_filters_and_audits(client, stay, clinician, other_clinic):
    log_in(client, clinician)

    listed = {
        queue: page(client, f"{QUEUE}?queue={queue}").context["cl"].result_list
        for queue in ("open", "overdue", "mine", "done")
    }

    assert [t.days_after_discharge for t in listed["open"]] == [2, 7, 30]
    assert [t.days_after_discharge for t in listed["overdue"]] == [2, 7]
    assert [t.days_after_discharge for t in listed["mine"]] == [2, 7, 30]
    assert list(listed["done"]) == []
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, object_type="programs.followuptask", actor=clinician
    ).exists()


def test_another_clinics_staff_see_nothing(client, stay, other_clinic):
    log_in(client, staff_user(role="clinician", clinics=[other_clinic]))

    assert list(page(client, QUEUE).context["cl"].result_list) == []
    task = stay.follow_up_tasks.first()
    assert page(client, f"{QUEUE}{task.pk}/change/").status_code in (302, 404)


def test_an_attempt_then_the_outcome_from_the_tasks_page(client, stay, clinician):
    log_in(client, clinician)
    task = stay.follow_up_tasks.get(days_after_discharge=2)
    url = f"{QUEUE}{task.pk}/change/"
    assert page(client, url).status_code == 200

    page(client, url, {"attempt_method": "phone", "record_version": task.version})
    task.refresh_from_db()
    page(
        client,
        url,
        {
            "outcome": "seen_elsewhere",
            "seen_elsewhere_on": (DISCHARGED_ON + datetime.timedelta(days=3)).isoformat(),
            "record_version": task.version,
        },
    )

    task.refresh_from_db()
    assert FollowUpAttempt.objects.filter(task=task, recorded_by=clinician).count() == 1
    assert (task.outcome, task.completed_by) == ("seen_elsewhere", clinician)


def test_a_refused_outcome_leaves_no_attempt(client, stay, clinician):
    log_in(client, clinician)
    task = stay.follow_up_tasks.get(days_after_discharge=2)

    response = page(
        client,
        f"{QUEUE}{task.pk}/change/",
        {"attempt_method": "sms", "outcome": "seen_elsewhere", "record_version": task.version},
    )

    assert "Give the date" in response.content.decode()
    assert not FollowUpAttempt.objects.exists()
    assert FollowUpTask.objects.get(pk=task.pk).is_open
