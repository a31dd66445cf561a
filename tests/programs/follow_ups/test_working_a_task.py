"""Working a follow-up: attempts on open tasks, the outcome once (409 after), a visit elsewhere
dated between the discharge and today, a risk check-in that alerts the care team as the
patient's own, If-Match, and who may work it."""

import datetime

import pytest

from clinic.models import AlertKind, AuditEvent, StaffAlert
from programs.models import CheckIn, FollowUpAttempt, FollowUpTask
from tests.factories import client_of, staff_user
from tests.programs.follow_ups.conftest import DISCHARGED_ON, at_noon

pytestmark = pytest.mark.django_db

TODAY = DISCHARGED_ON + datetime.timedelta(days=3)


@pytest.fixture
def task(discharge):
    return discharge().follow_up_tasks.get(days_after_discharge=2)


def url(task, action=""):
    return f"/api/v1/follow-up-tasks/{task.pk}/" + (f"{action}/" if action else "")


def post(user, path, body, **headers):
    with at_noon(TODAY):
        return client_of(user).post(path, body, format="json", headers=headers)


def test_an_attempt_is_recorded_and_shown_with_the_task(task, clinician):
    # when
    response = post(clinician, url(task, "attempts"), {"method": "phone", "reached": False})

    # then
    assert response.status_code == 201, response.json()
    attempt = FollowUpAttempt.objects.get()
    assert (attempt.task, attempt.method, attempt.reached, attempt.recorded_by) == (
        task,
        "phone",
        False,
        clinician,
    )
    assert AuditEvent.objects.filter(
        object_type="programs.followupattempt", actor=clinician, patient_id=task.patient_id
    ).exists()
    with at_noon(TODAY):
        detail = client_of(clinician).get(url(task))
    assert detail.status_code == 200
    assert [a["method"] for a in detail.json()["attempts"]] == ["phone"]
    assert detail.json()["overdue"] is True
    assert detail["ETag"] == f'"{task.pk}-{task.version}"'


def test_a_bad_method_is_a_400(task, clinician):
    response = post(clinician, url(task, "attempts"), {"method": "pigeon", "reached": True})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"method"}


def test_completing_closes_the_task_once(task, clinician):
    # when
    first = post(clinician, url(task, "complete"), {"outcome": "reached_well", "note": "Fine."})
    second = post(clinician, url(task, "complete"), {"outcome": "declined"})
    attempt = post(clinician, url(task, "attempts"), {"method": "sms", "reached": True})

    # then
    assert first.status_code == 200, first.json()
    assert (first.json()["status"], first.json()["outcome"]) == ("done", "reached_well")
    assert (second.status_code, second.json()["code"]) == (409, "follow_up_completed")
    assert (attempt.status_code, attempt.json()["code"]) == (409, "follow_up_completed")
    task.refresh_from_db()
    assert (task.outcome, task.outcome_note, task.completed_by) == (
        "reached_well",
        "Fine.",
        clinician,
    )


@pytest.mark.parametrize(
    ("seen_on", "status"),
    [
        (None, 400),
        (DISCHARGED_ON - datetime.timedelta(days=1), 400),
        (TODAY + datetime.timedelta(days=1), 400),
        (DISCHARGED_ON, 200),
        (TODAY, 200),
    ],
)
def test_seen_elsewhere_needs_a_date_from_the_discharge_to_today(task, clinician, seen_on, status):
    body = {"outcome": "seen_elsewhere"}
    if seen_on is not None:
        body["seen_elsewhere_on"] = seen_on.isoformat()

    response = post(clinician, url(task, "complete"), body)

    assert response.status_code == status, response.json()
    if status == 400:
        assert set(response.json()["fields"]) == {"seen_elsewhere_on"}
        assert FollowUpTask.objects.get(pk=task.pk).is_open
    else:
        assert FollowUpTask.objects.get(pk=task.pk).seen_elsewhere_on == seen_on


def test_a_date_elsewhere_with_another_outcome_is_a_400(task, clinician):
    response = post(
        clinician,
        url(task, "complete"),
        {"outcome": "reached_well", "seen_elsewhere_on": DISCHARGED_ON.isoformat()},
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"seen_elsewhere_on"}


def test_a_risky_check_in_on_the_call_alerts_the_care_team(task, alumni_coordinator, clinician):
    # given: the tasks went to the alumni coordinators
    FollowUpTask.objects.filter(pk=task.pk).update(
        assignee=None, assignee_role="alumni_coordinator"
    )
    body = {
        "outcome": "reached_struggling",
        "check_in": {"craving": 9, "mood": 2, "used_substance": False, "note": "Hard week."},
    }

    # when
    response = post(alumni_coordinator, url(task, "complete"), body)

    # then: recorded on the episode's plan, linked, and the primary clinician is alerted
    assert response.status_code == 200, response.json()
    check_in = CheckIn.objects.get()
    assert (check_in.plan.enrollment_id, check_in.recorded_by) == (
        task.enrollment_id,
        alumni_coordinator,
    )
    assert response.json()["check_in"] == check_in.pk
    alert = StaffAlert.objects.get(kind=AlertKind.RISKY_CHECK_IN)
    assert (alert.recipient, alert.patient_id) == (clinician, task.patient_id)


def test_a_check_in_without_an_open_plan_is_a_409_and_nothing_is_written(discharge, clinician):
    task = discharge(with_plan=False).follow_up_tasks.first()
    body = {
        "outcome": "reached_well",
        "check_in": {"craving": 1, "mood": 4, "used_substance": False},
    }

    response = post(clinician, url(task, "complete"), body)

    assert (response.status_code, response.json()["code"]) == (409, "no_open_plan")
    assert FollowUpTask.objects.get(pk=task.pk).is_open


def test_a_stale_if_match_is_a_412(task, clinician, supervisor):
    # given: the tag as read, then a change by someone else (the version moves on)
    with at_noon(TODAY):
        etag = client_of(clinician).get(url(task))["ETag"]
    FollowUpTask.objects.filter(pk=task.pk).update(assignee=supervisor)

    response = post(clinician, url(task, "complete"), {"outcome": "reached_well"}, If_Match=etag)
    fresh = post(
        clinician,
        url(task, "complete"),
        {"outcome": "reached_well"},
        If_Match=f'"{task.pk}-{FollowUpTask.objects.get(pk=task.pk).version}"',
    )

    assert (response.status_code, response.json()["code"]) == (412, "precondition_failed")
    assert fresh.status_code == 200


def test_who_works_a_task(task, clinic, admissions, supervisor, alumni_coordinator, other_clinic):
    # The primary clinician's task: supervisors work it, an alumni coordinator not assigned
    # does not (403), admissions and utilization review have no such role (403), and another
    # clinic's staff do not see it (404).
    body = {"method": "phone", "reached": False}
    ur = staff_user(role="utilization_review", clinics=[clinic])
    outsider = staff_user(role="clinician", clinics=[other_clinic])

    answers = {
        who: post(user, url(task, "attempts"), body).status_code
        for who, user in {
            "supervisor": supervisor,
            "alumni_coordinator": alumni_coordinator,
            "admissions": admissions,
            "utilization_review": ur,
            "outsider": outsider,
        }.items()
    }

    assert answers == {
        "supervisor": 201,
        "alumni_coordinator": 403,
        "admissions": 403,
        "utilization_review": 403,
        "outsider": 404,
    }
