"""Who may read and write aftercare, other clinics out of reach, filters, audit rows and the list's
query count."""

import pytest

from clinic.models import AuditAction, AuditEvent
from programs.models import Level
from programs.services import aftercare as services
from tests.factories import ProgramFactory, staff_user
from tests.programs.aftercare.helpers import BASE, check_in, make_enrollment, make_plan

pytestmark = pytest.mark.django_db


# Roles and scoping --------------------------------------------------------------------------------


def test_supervisors_read_and_record_check_ins_but_do_not_edit_plans(
    client_for, plan, supervisor, clinician
):
    item = services.aftercare_item_add(actor=clinician, plan=plan, kind="trigger", text="Bars")
    goal = services.aftercare_goal_add(actor=clinician, plan=plan, description="Stay sober")
    client = client_for(supervisor)
    url = f"{BASE}{plan.pk}/"

    reads = [client.get(path) for path in (BASE, url, f"{url}items/", f"{url}goals/")]
    writes = [
        client.post(BASE, {"enrollment": plan.enrollment_id}, format="json"),
        client.patch(url, {"status": "active"}, format="json"),
        client.post(f"{url}items/", {"kind": "trigger", "text": "x"}, format="json"),
        client.delete(f"{url}items/{item.pk}/"),
        client.post(f"{url}goals/", {"description": "x"}, format="json"),
        client.patch(f"{url}goals/{goal.pk}/", {"status": "achieved"}, format="json"),
    ]
    # A check-in taken on a follow-up call after discharge (supervisors work those calls).
    checkin = client.post(f"{url}check-ins/", {"craving": 1, "mood": 3, "used_substance": False})

    assert [r.status_code for r in reads] == [200] * 4
    assert [r.status_code for r in writes] == [403] * 6
    assert checkin.status_code == 201


def test_admissions_record_check_ins_but_do_not_edit_plans(client_for, plan, admissions):
    client = client_for(admissions)

    edit = client.patch(f"{BASE}{plan.pk}/", {"notes": "x"}, format="json")
    item = client.post(f"{BASE}{plan.pk}/items/", {"kind": "trigger", "text": "x"}, format="json")
    checkin = client.post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 1, "mood": 3, "used_substance": False},
        format="json",
    )

    assert (edit.status_code, item.status_code, checkin.status_code) == (403, 403, 201)


def test_a_user_without_a_role_gets_403(client_for, plan, user_without_role):
    client = client_for(user_without_role)

    responses = [
        client.get(BASE),
        client.get(f"{BASE}{plan.pk}/"),
        client.post(f"{BASE}{plan.pk}/check-ins/", {"craving": 1, "mood": 3}),
        client.get("/api/v1/alerts/"),
    ]

    assert [r.status_code for r in responses] == [403] * 4


def test_another_clinics_plan_is_404_and_absent_from_lists(client_for, plan, other_clinic):
    outsider = staff_user(role="clinician", clinics=[other_clinic])
    outsider_admissions = staff_user(role="admissions", clinics=[other_clinic])
    own_plan = make_plan(other_clinic, outsider_admissions, outsider)
    client = client_for(outsider)
    url = f"{BASE}{plan.pk}/"

    listed = client.get(BASE).json()["results"]
    responses = [
        client.get(url),
        client.patch(url, {"notes": "x"}, format="json"),
        client.get(f"{url}items/"),
        client.post(f"{url}goals/", {"description": "x"}, format="json"),
        client.post(f"{url}check-ins/", {"craving": 1, "mood": 3, "used_substance": False}),
        client.post(BASE, {"enrollment": plan.enrollment_id}, format="json"),
    ]

    assert [row["id"] for row in listed] == [own_plan.pk]
    assert [r.status_code for r in responses[:-1]] == [404] * 5
    # Naming an outside enrollment reads as "does not exist".
    assert responses[-1].status_code == 400
    assert set(responses[-1].json()["fields"]) == {"enrollment"}


def test_plans_filter_by_patient_enrollment_and_status(
    client_for, plan, clinic, admissions, clinician
):
    other = make_plan(clinic, admissions, clinician)
    services.aftercare_plan_update(actor=clinician, plan=other, status="active")
    client = client_for(clinician)

    def ids(query):
        return [row["id"] for row in client.get(f"{BASE}?{query}").json()["results"]]

    assert ids(f"patient={plan.patient_id}") == [plan.pk]
    assert ids(f"enrollment={other.enrollment_id}") == [other.pk]
    assert ids("status=active") == [other.pk]
    assert ids("status=draft") == [plan.pk]


def test_reads_are_audited_with_the_patient_id(client_for, plan, supervisor, clinician, clinic):
    check_in(plan, clinician)
    client = client_for(supervisor)

    listed = client.get(BASE)
    read = client.get(f"{BASE}{plan.pk}/")
    check_ins = client.get(f"{BASE}{plan.pk}/check-ins/")

    assert all(r.status_code == 200 for r in (listed, read, check_ins))
    assert "no-store" in check_ins.headers["Cache-Control"]
    events = AuditEvent.objects.filter(actor=supervisor)
    assert set(events.values_list("action", "object_type", "patient_id", "clinic_id")) == {
        (AuditAction.LIST, "programs.aftercareplan", plan.patient_id, clinic.pk),
        (AuditAction.READ, "programs.aftercareplan", plan.patient_id, clinic.pk),
        (AuditAction.LIST, "programs.checkin", plan.patient_id, clinic.pk),
    }


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_plan_list_queries_do_not_grow_with_the_page(
    client_for, clinic, admissions, clinician, supervisor, page_size, django_assert_num_queries
):
    program = ProgramFactory(clinic=clinic, capacity=250, level=Level.IOP, track="day")
    for _ in range(200):
        plan = services.aftercare_plan_create(
            actor=clinician, enrollment=make_enrollment(clinic, admissions, program=program)
        )
        services.aftercare_item_add(actor=clinician, plan=plan, kind="trigger", text="Payday")
        services.aftercare_goal_add(actor=clinician, plan=plan, description="Meetings")
    client = client_for(supervisor)

    # roles, clinic ids, count, page, items (prefetch), goals (prefetch), audit insert
    with django_assert_num_queries(7):
        response = client.get(f"{BASE}?page_size={page_size}")

    results = response.json()["results"]
    assert len(results) == page_size
    assert all(len(row["items"]) == 1 and len(row["goals"]) == 1 for row in results)
