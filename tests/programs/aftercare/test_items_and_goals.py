"""A plan's items and goals: added, listed, removed, their progress recorded, unknown values
refused."""

import pytest
from django.core.exceptions import ValidationError

from clinic.models import AuditAction, AuditEvent
from programs.services import aftercare as services
from tests.programs.aftercare.helpers import BASE, make_plan

pytestmark = pytest.mark.django_db


# Items and goals ----------------------------------------------------------------------------------


def test_items_are_added_listed_and_removed(client_for, plan, clinician, clinic):
    client = client_for(clinician)
    items = f"{BASE}{plan.pk}/items/"

    trigger = client.post(items, {"kind": "trigger", "text": "Payday evenings"}, format="json")
    follow_up = client.post(
        items,
        {
            "kind": "follow_up",
            "text": "Dr Ortiz, outpatient review",
            "scheduled_for": "2027-01-10T15:00:00Z",
        },
        format="json",
    )
    listed = client.get(items)
    removed = client.delete(f"{items}{trigger.json()['id']}/")
    after = client.get(f"{BASE}{plan.pk}/").json()["items"]

    assert trigger.status_code == 201, trigger.json()
    assert follow_up.status_code == 201, follow_up.json()
    assert [item["kind"] for item in listed.json()["results"]] == ["follow_up", "trigger"]
    assert removed.status_code == 204
    assert [item["text"] for item in after] == ["Dr Ortiz, outpatient review"]
    actions = set(
        AuditEvent.objects.filter(
            object_type="programs.aftercareitem", patient_id=plan.patient_id, clinic=clinic
        ).values_list("action", flat=True)
    )
    assert actions == {AuditAction.CREATE, AuditAction.LIST, AuditAction.DELETE}


def test_only_a_follow_up_appointment_has_a_time(client_for, plan, clinician):
    response = client_for(clinician).post(
        f"{BASE}{plan.pk}/items/",
        {"kind": "support_group", "text": "SMART Recovery", "scheduled_for": "2027-01-10T15:00Z"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"scheduled_for"}


def test_an_item_of_another_plan_is_404(client_for, plan, clinic, admissions, clinician):
    other = make_plan(clinic, admissions, clinician)
    item = services.aftercare_item_add(actor=clinician, plan=other, kind="trigger", text="Bars")

    response = client_for(clinician).delete(f"{BASE}{plan.pk}/items/{item.pk}/")

    assert response.status_code == 404
    assert other.items.count() == 1


def test_goals_are_added_and_their_progress_recorded(client_for, plan, clinician):
    client = client_for(clinician)
    goals = f"{BASE}{plan.pk}/goals/"

    created = client.post(
        goals,
        {"description": "Attend 3 meetings a week", "target_date": "2027-03-01"},
        format="json",
    )
    goal_id = created.json()["id"]
    updated = client.patch(f"{goals}{goal_id}/", {"status": "in_progress"}, format="json")
    achieved = client.patch(
        f"{goals}{goal_id}/", {"status": "achieved", "target_date": None}, format="json"
    )
    listed = client.get(goals)

    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "open"
    assert updated.json()["status"] == "in_progress"
    assert achieved.status_code == 200
    assert achieved.json()["target_date"] is None
    assert [(g["id"], g["status"]) for g in listed.json()["results"]] == [(goal_id, "achieved")]
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.UPDATE,
            object_type="programs.aftercaregoal",
            object_id=str(goal_id),
            patient_id=plan.patient_id,
        ).count()
        == 2
    )


def test_an_unknown_goal_status_is_a_400(client_for, plan, clinician):
    goal = services.aftercare_goal_add(actor=clinician, plan=plan, description="Stay sober")

    response = client_for(clinician).patch(
        f"{BASE}{plan.pk}/goals/{goal.pk}/", {"status": "finished"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"status"}


def test_goal_update_refuses_fields_outside_the_allowlist(plan, clinician):
    goal = services.aftercare_goal_add(actor=clinician, plan=plan, description="Stay sober")

    with pytest.raises(ValidationError) as error:
        services.aftercare_goal_update(actor=clinician, goal=goal, plan=plan)

    assert set(error.value.message_dict) == {"plan"}
