"""The follow-up queue (``GET follow-up-tasks/``): the caller's clinics only, soonest due first,
filtered by status, overdue, mine, clinic and patient; every row audited."""

import datetime

import pytest

from clinic.models import AuditEvent
from programs.models import FollowUpTask
from programs.services import follow_ups
from tests.factories import client_of, staff_user
from tests.programs.follow_ups.conftest import DISCHARGED_ON, at_noon

pytestmark = pytest.mark.django_db

TODAY = DISCHARGED_ON + datetime.timedelta(days=8)


@pytest.fixture
def queue(discharge, clinician):
    """Ana's tasks (2 done, 7 overdue, 30 open) for the clinician; Ben's for the alumni
    coordinators (2 and 7 overdue, 30 open)."""
    ana, ben = discharge(first_name="Ana"), discharge(first_name="Ben")
    FollowUpTask.objects.filter(enrollment=ben).update(
        assignee=None, assignee_role="alumni_coordinator"
    )
    with at_noon(DISCHARGED_ON + datetime.timedelta(days=2)):
        follow_ups.follow_up_complete(
            ana.follow_up_tasks.get(days_after_discharge=2), actor=clinician, outcome="reached_well"
        )
    return ana, ben


def ids(user, query=""):
    with at_noon(TODAY):
        response = client_of(user).get(f"/api/v1/follow-up-tasks/?{query}")
    assert response.status_code == 200, response.json()
    return [(row["patient"], row["days_after_discharge"]) for row in response.json()["results"]]


def test_filters(queue, clinician, alumni_coordinator, other_clinic):
    ana, ben = (stay.patient_id for stay in queue)

    assert ids(clinician) == [(ana, 2), (ben, 2), (ana, 7), (ben, 7), (ana, 30), (ben, 30)]
    assert ids(clinician, "status=done") == [(ana, 2)]
    assert ids(clinician, "status=open&overdue=true") == [(ben, 2), (ana, 7), (ben, 7)]
    assert ids(clinician, "overdue=false") == [(ana, 2), (ana, 30), (ben, 30)]
    assert ids(clinician, "mine=true") == [(ana, 2), (ana, 7), (ana, 30)]
    assert ids(alumni_coordinator, "mine=true") == [(ben, 2), (ben, 7), (ben, 30)]
    assert ids(clinician, f"patient={ben}&ordering=-due_date") == [(ben, 30), (ben, 7), (ben, 2)]
    assert ids(clinician, f"clinic={other_clinic.pk}") == []
    assert ids(staff_user(role="clinician", clinics=[other_clinic])) == []


def test_every_row_is_audited(queue, alumni_coordinator):
    with at_noon(TODAY):
        response = client_of(alumni_coordinator).get("/api/v1/follow-up-tasks/")

    rows = response.json()["results"]
    audited = AuditEvent.objects.filter(action="list", object_type="programs.followuptask")
    assert sorted(audited.values_list("object_id", flat=True)) == sorted(
        str(row["id"]) for row in rows
    )
    assert set(audited.values_list("actor", flat=True)) == {alumni_coordinator.pk}
